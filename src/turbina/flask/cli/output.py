"""What every Turbina command prints: fixed-width tables and the one-line error.

One printer for every part, so the columns of ``queries``, ``nplusone`` and ``cache stats``
line up the same way and the error line has one shape on both entry points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from turbina.errors import TurbinaError


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Fixed-width text table; numeric columns right-aligned, text left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and value.endswith("%") and _looks_numeric(value[:-1])


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if value is None:
        return "-"
    return str(value)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 3] + "..."


def error_line(prog_name: str, exc: TurbinaError) -> str:
    """``turbina: error: <reason> (fix: <fix>)`` — the whole message on one line."""
    reason = " ".join(str(exc.message).split())
    fix = " ".join(str(exc.fix).split()) if exc.fix else ""
    return f"{prog_name}: error: {reason}" + (f" (fix: {fix})" if fix else "")


def echo_error(prog_name: str, exc: TurbinaError) -> None:
    click.echo(error_line(prog_name, exc), err=True)
