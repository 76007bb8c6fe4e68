"""Whole-request time in the ``Server-Timing`` header (``app;dur=45.6``).

The database part of the header (``db;dur=12.3;desc="7 queries"``) comes from Turbina's query
recorder, installed by ``create_app``; this module only adds the app's own wall time, so the
benchmark harness can tell database time from the rest. The exports are written whole before
their answer starts, so their work is in both figures.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g

HEADER = "Server-Timing"
_G_KEY = "_fretes_request_start"


def _start_request() -> None:
    setattr(g, _G_KEY, time.perf_counter())


def _add_header(response: Response) -> Response:
    started: float | None = g.get(_G_KEY)
    if started is not None:
        metric = f"app;dur={(time.perf_counter() - started) * 1000.0:.1f}"
        existing = response.headers.get(HEADER)
        response.headers[HEADER] = f"{existing}, {metric}" if existing else metric
    return response


def init_timing(app: Flask) -> None:
    """Add ``app;dur`` to the ``Server-Timing`` header of every response of ``app``."""
    app.before_request(_start_request)
    app.after_request(_add_header)
