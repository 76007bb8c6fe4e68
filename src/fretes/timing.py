"""Per-request query count and DB time, returned in a ``Server-Timing`` header.

SQLAlchemy cursor events count the statements a request runs and add up the time spent
inside the driver; ``after_request`` reports them as
``Server-Timing: db;dur=12.3;desc="7 queries", app;dur=45.6``. The benchmark harness reads
this header, so the numbers come from inside the app rather than being guessed from outside.
Kept tiny on purpose: Turbina's query analyzer takes this job over later.

Only the work done before the response object is returned is counted: a streamed body
(the XLSX/CSV export) runs its queries after the headers are sent.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

from fretes.models import db

HEADER = "Server-Timing"
_START_KEY = "fretes_timing_starts"
# A connection runs one statement at a time; the cap only guards against a driver error that
# skips after_cursor_execute and would otherwise let the stack grow.
_MAX_PENDING = 16


class RequestTiming:
    """Totals of one request: statements run and seconds spent in the database."""

    __slots__ = ("db_seconds", "queries", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.queries = 0
        self.db_seconds = 0.0

    def header_value(self, now: float | None = None) -> str:
        """The ``Server-Timing`` value, durations in milliseconds."""
        end = time.perf_counter() if now is None else now
        app_ms = (end - self.started) * 1000.0
        db_ms = self.db_seconds * 1000.0
        return f'db;dur={db_ms:.1f};desc="{self.queries} queries", app;dur={app_ms:.1f}'


def _current() -> RequestTiming | None:
    if not has_app_context():
        return None
    timing: RequestTiming | None = g.get("_fretes_timing")
    return timing


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    starts: list[float] = conn.info.setdefault(_START_KEY, [])
    if len(starts) >= _MAX_PENDING:
        del starts[0]
    starts.append(time.perf_counter())


def _after_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    starts: list[float] = conn.info.get(_START_KEY) or []
    if not starts:
        return
    elapsed = time.perf_counter() - starts.pop()
    timing = _current()
    if timing is not None:
        timing.queries += 1
        timing.db_seconds += elapsed


def _handle_error(exception_context: Any) -> None:
    conn = exception_context.connection
    if conn is not None:
        starts = conn.info.get(_START_KEY)
        if starts:
            starts.pop()


def instrument_engine(engine: Engine) -> None:
    """Listen to ``engine``'s cursor events (idempotent)."""
    if event.contains(engine, "before_cursor_execute", _before_cursor_execute):
        return
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine, "after_cursor_execute", _after_cursor_execute)
    event.listen(engine, "handle_error", _handle_error)


def _start_request() -> None:
    g._fretes_timing = RequestTiming()


def _add_header(response: Response) -> Response:
    timing = _current()
    if timing is not None:
        response.headers[HEADER] = timing.header_value()
    return response


def init_timing(app: Flask) -> None:
    """Add the ``Server-Timing`` header to every response of ``app`` (after ``db.init_app``)."""
    with app.app_context():
        for engine in db.engines.values():
            instrument_engine(engine)
    app.before_request(_start_request)
    app.after_request(_add_header)
