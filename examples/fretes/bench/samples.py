"""One measured request, and the ``Server-Timing`` parser that fills in its DB numbers."""

from __future__ import annotations

import json
import re
from dataclasses import astuple, dataclass
from pathlib import Path

_DB = re.compile(r'(?:^|,)\s*db;dur=(?P<dur>[0-9.]+)(?:;desc="(?P<n>\d+) quer(?:y|ies)")?')
_APP = re.compile(r"(?:^|,)\s*app;dur=(?P<dur>[0-9.]+)")


@dataclass(frozen=True)
class ServerTiming:
    """What the app reported about one request."""

    queries: int
    db_ms: float
    app_ms: float


def parse_server_timing(value: str | None) -> ServerTiming | None:
    """Parse ``db;dur=12.3;desc="7 queries", app;dur=45.6``; None when absent or unreadable."""
    if not value:
        return None
    db = _DB.search(value)
    app = _APP.search(value)
    if db is None or app is None:
        return None
    return ServerTiming(
        queries=int(db.group("n") or 0),
        db_ms=float(db.group("dur")),
        app_ms=float(app.group("dur")),
    )


@dataclass(frozen=True)
class Sample:
    """One request as the client saw it. ``error`` is None for a 2xx/3xx answer."""

    label: str
    started: float  # seconds since the epoch
    latency_ms: float
    status: int  # 0 when the connection failed
    queries: int | None = None
    db_ms: float | None = None
    app_ms: float | None = None
    error: str | None = None
    mode: str | None = None  # the X-Fretes-Mode the request was sent with (pages only)


def write_samples(path: Path, samples: list[Sample]) -> None:
    """Store samples compactly (one JSON array per sample)."""
    with path.open("w", encoding="utf-8") as out:
        json.dump([astuple(s) for s in samples], out, separators=(",", ":"))


def read_samples(path: Path) -> list[Sample]:
    """Inverse of ``write_samples``."""
    with path.open(encoding="utf-8") as source:
        return [Sample(*row) for row in json.load(source)]
