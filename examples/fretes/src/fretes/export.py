"""Spreadsheet exports with bounded memory: XLSX and CSV.

XLSX: XlsxWriter in ``constant_memory`` mode writes each row to a per-sheet temporary file
as soon as the next row starts, so memory does not grow with the row count; the finished
workbook is an anonymous temporary file streamed back in chunks and deleted when the stream
closes. Rows of one sheet must arrive in order; sheets may be interleaved.

CSV: written line by line into a spooled temporary file (memory up to ``CSV_SPOOL_BYTES``,
then disk), then streamed the same way. Both formats are finished before the first byte is
sent, so a failure while producing rows is an error answer, never a truncated file marked 200.
A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is prefixed with ``'`` so a
spreadsheet opening the CSV shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import xlsxwriter

CHUNK_BYTES = 64 * 1024
CSV_SPOOL_BYTES = 1024 * 1024
# What a spreadsheet treats as the start of a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
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
    XlsxWriter's per-sheet row files live in a temporary directory of our own, removed
    whatever happens (a failed build would otherwise leave them open and on disk).
    """
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by stream_file
    with tempfile.TemporaryDirectory(prefix="fretes-xlsx-") as rows_dir:
        workbook = xlsxwriter.Workbook(
            handle,
            {
                "constant_memory": True,
                "tmpdir": rows_dir,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        try:
            _write_sheets(workbook, sheets, records)
            workbook.close()
            handle.seek(0)
        except BaseException:
            with contextlib.suppress(Exception):
                workbook.close()  # closes the per-sheet row files
            handle.close()
            raise
    return handle


def _write_sheets(
    workbook: xlsxwriter.Workbook,
    sheets: Sequence[Sheet],
    records: Iterable[tuple[str, Sequence[Any]]],
) -> None:
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
                ws.write_datetime(row, col, datetime(value.year, value.month, value.day), date_fmt)
            elif isinstance(value, Decimal):
                ws.write_number(row, col, float(value), money_fmt)
            elif isinstance(value, bool):
                ws.write_boolean(row, col, value)
            elif value is None:
                continue
            else:
                ws.write(row, col, value)
        next_row[name] = row + 1


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
    """CSV text of one cell: ISO dates, Decimals via ``decimal_text``, booleans as sim/nao,
    text that a spreadsheet would run as a formula prefixed with ``'``."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "nao"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)


def build_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> IO[bytes]:
    """Write the header line and one UTF-8 line per row into a new spooled temporary file;
    returned at its start, for ``stream_file``."""
    handle = tempfile.SpooledTemporaryFile(max_size=CSV_SPOOL_BYTES)  # noqa: SIM115 - closed by stream_file
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\r\n")
    try:
        for values in itertools.chain([columns], rows):
            line.seek(0)
            line.truncate(0)
            writer.writerow([csv_value(v) for v in values])
            handle.write(line.getvalue().encode("utf-8"))
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle
