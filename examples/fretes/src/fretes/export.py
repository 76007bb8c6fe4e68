"""Spreadsheet exports with bounded memory: XLSX and CSV.

XLSX: XlsxWriter in ``constant_memory`` mode writes each row to a per-sheet temporary file
as soon as the next row starts, so memory does not grow with the row count; the finished
workbook is an anonymous temporary file streamed back in chunks and deleted when the stream
closes. Rows of one sheet must arrive in order; sheets may be interleaved.

CSV: a generator that yields one encoded line at a time (the caller wraps it in
``stream_with_context`` when producing rows needs the database).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import xlsxwriter

CHUNK_BYTES = 64 * 1024
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
# Excel's hard limit; a sheet that reaches it stops taking rows (counted, not a crash).
XLSX_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class Sheet:
    """A worksheet: its name and column headers."""

    name: str
    columns: Sequence[str]


def build_xlsx(sheets: Sequence[Sheet], records: Iterable[tuple[str, Sequence[Any]]]) -> IO[bytes]:
    """Write ``records`` (sheet name, row values) into a new workbook on a temporary file.

    Returns the file positioned at its start; the caller closes it (``stream_file`` does).
    """
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by stream_file
    try:
        workbook = xlsxwriter.Workbook(
            handle,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        header = workbook.add_format({"bold": True, "bg_color": "#E8EEF4"})
        date_fmt = workbook.add_format({"num_format": "dd/mm/yyyy"})
        datetime_fmt = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        money_fmt = workbook.add_format({"num_format": "#,##0.00"})
        worksheets = {}
        next_row: dict[str, int] = {}
        for sheet in sheets:
            ws = workbook.add_worksheet(sheet.name)
            ws.write_row(0, 0, list(sheet.columns), header)
            ws.freeze_panes(1, 0)
            worksheets[sheet.name] = ws
            next_row[sheet.name] = 1
        for name, values in records:
            row = next_row[name]
            if row >= XLSX_MAX_ROWS:
                continue
            ws = worksheets[name]
            for col, value in enumerate(values):
                if isinstance(value, datetime):
                    ws.write_datetime(row, col, value, datetime_fmt)
                elif isinstance(value, date):
                    ws.write_datetime(
                        row, col, datetime(value.year, value.month, value.day), date_fmt
                    )
                elif isinstance(value, Decimal):
                    ws.write_number(row, col, float(value), money_fmt)
                elif isinstance(value, bool):
                    ws.write_boolean(row, col, value)
                elif value is None:
                    continue
                else:
                    ws.write(row, col, value)
            next_row[name] = row + 1
        workbook.close()
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def stream_file(handle: IO[bytes]) -> Iterator[bytes]:
    """Yield ``handle`` in chunks and close (delete) it at the end or when abandoned."""
    try:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


def decimal_text(value: Decimal) -> str:
    """A Decimal as text with at least 2 decimal places (money), keeping any finer scale
    the column has (weights have 3); the same text on SQLite and PostgreSQL."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return str(value)
    return str(value.quantize(Decimal("0.01")))


def csv_value(value: Any) -> str:
    """CSV text of one cell: ISO dates, Decimals via ``decimal_text``, booleans as sim/nao."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "nao"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)


def stream_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """Yield the header line, then one UTF-8 line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> bytes:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow([csv_value(v) for v in values])
        return buffer.getvalue().encode("utf-8")

    yield line(columns)
    for row in rows:
        yield line(row)
