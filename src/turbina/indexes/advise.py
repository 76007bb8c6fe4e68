"""Advise end to end: open a what-if backend, run the advisor, keep only valid DDL.

The Python equivalent of ``turbina indexes advise``; the CLI is a thin layer over it.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from turbina.errors import TurbinaError
from turbina.indexes import ddl
from turbina.indexes.advisor import DEFAULT_MAX_SECONDS, DEFAULT_MIN_IMPROVEMENT, Advice, Advisor
from turbina.indexes.sqlite_whatif import SQLiteHypotheticalBackend
from turbina.indexes.whatif import HypoPGBackend, TransactionBackend, WhatIfBackend
from turbina.indexes.workload import Skipped, Workload, WorkloadQuery, WriteLoad, as_workload

HYPOPG_FALLBACK = (
    "HypoPG not installed: costing with real indexes built in rolled-back "
    "transactions (fix: run CREATE EXTENSION hypopg)"
)


class NoUsableWorkload(TurbinaError):
    """No statement of the workload can be advised on; ``skipped`` says why for each."""

    def __init__(self, skipped: list[Skipped], total: int) -> None:
        reasons = sorted({s.reason.split(":")[0] for s in skipped})
        super().__init__(
            f"none of the {total} workload statement(s) is usable"
            + (f" ({'; '.join(reasons[:3])})" if reasons else ""),
            "fix the statements listed as skipped, or pass a workload of SELECTs",
        )
        self.skipped = skipped


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|b|kb|mb|gb)?\s*$", re.I)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """``--budget``: bytes (``500MB``) or a share of the data size (``30%``)."""
    if text is None:
        return None, None
    match = _SIZE.match(text)
    if not match:
        raise TurbinaError(
            f"--budget {text!r} is not a size", "write e.g. --budget 200MB or --budget 25%"
        )
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    if unit == "%":
        return None, number / 100.0
    return int(number * _UNITS[unit]), None


def open_backend(engine: sa.Engine, backend: str = "auto") -> WhatIfBackend:
    """``auto`` = HypoPG when installed on PostgreSQL, hypothetical indexes in a schema copy on
    SQLite, else the transactional fallback (real indexes, rolled back)."""
    if backend not in {"auto", "hypopg", "transaction"}:
        raise TurbinaError(
            f"unknown what-if backend {backend!r}", "use --backend auto, hypopg or transaction"
        )
    if backend == "auto" and engine.dialect.name == "sqlite":
        return SQLiteHypotheticalBackend(engine)
    if backend == "hypopg" or (backend == "auto" and engine.dialect.name == "postgresql"):
        try:
            return HypoPGBackend(engine)
        except TurbinaError:
            if backend == "hypopg":
                raise
    fallback = TransactionBackend(engine)
    if backend == "auto" and engine.dialect.name == "postgresql":
        fallback.notes.insert(0, HYPOPG_FALLBACK)
    return fallback


def advise_workload(
    engine: sa.Engine,
    queries: Workload | list[WorkloadQuery],
    backend: str = "auto",
    budget: str | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
    progress: Any = None,
    writes: list[WriteLoad] | None = None,
) -> Advice:
    """Run the advisor end to end (the Python equivalent of ``turbina indexes advise``).

    ``queries`` is a ``Workload`` (reads, writes, statements already skipped) or a list of
    reads; ``writes`` adds write load. Raises ``NoUsableWorkload`` when no statement can be
    advised on (each one is in its ``skipped``, with the reason)."""
    budget_bytes, share = parse_budget(budget)
    workload = as_workload(queries)
    whatif = open_backend(engine, backend)
    if progress is not None:
        for note in whatif.notes:  # the fallback note first, before any round
            progress(f"turbina: note: {note}")
    try:
        kwargs: dict[str, Any] = {"budget": budget_bytes}
        if share is not None:
            kwargs["budget_share"] = share
        advisor = Advisor(
            whatif,
            workload,
            max_seconds=max_seconds,
            min_improvement=min_improvement,
            progress=progress,
            writes=writes or (),
            **kwargs,
        )
        advice = advisor.run()
    finally:
        whatif.close()
    if not advice.effects:
        raise NoUsableWorkload(advice.skipped, len(workload.queries) + len(workload.skipped))
    specs, notes = ddl.checked(advice.specs, engine.dialect.name)
    advice.notes += notes
    advice.recommendations = [r for r in advice.recommendations if r.spec in specs]
    return advice
