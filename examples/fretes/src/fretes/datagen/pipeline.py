"""``generate()``: build a deterministic fretes dataset into a database, streaming."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from fretes.app import normalize_database_url
from fretes.datagen.catalog import (
    PEDIDOS_COLUMNS,
    TRANSPORTADORAS_COLUMNS,
    USERS_COLUMNS,
    Row,
    build_catalog,
    pedido_rows,
    transportadora_rows,
    user_rows,
)
from fretes.datagen.distributions import Timeline
from fretes.datagen.generate import COLUMNS, GROUP_TABLES, movement_groups
from fretes.datagen.loaders import Sink, bulk_engine, sink_for
from fretes.datagen.scales import CHILDREN_PER_ENTREGA, REFERENCE_DATE, SCALES, Scale, resolve_scale
from fretes.datagen.schema import TABLE_NAMES, analyze, finish, first_line, prepare
from turbina import TurbinaError

DEMO_PASSWORD = "fretes-demo"
# Buffered rows across the movement tables before they are written (bounds memory; also
# the number of rows per COPY / executemany, large enough to amortize each statement).
FLUSH_ROWS = 50_000
PEDIDO_BATCH = 20_000


@dataclass(frozen=True)
class GenerateReport:
    """What ``generate()`` wrote: rows per table, wall time and throughput."""

    scale: str
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rows_per_second: float = 0.0

    @property
    def total_rows(self) -> int:
        """Rows written over all tables."""
        return sum(self.rows.values())

    def summary(self) -> str:
        """One line: scale, seed, rows, seconds and rows/s."""
        return (
            f"datagen {self.scale} (seed {self.seed}): {self.total_rows:,} rows in "
            f"{self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s)"
        )


class Progress:
    """A one-line progress display on ``stream``, redrawn at most ~5 times a second."""

    def __init__(
        self, label: str, expected_rows: int, enabled: bool, stream: TextIO | None = None
    ) -> None:
        self.label, self.expected, self.enabled = label, max(1, expected_rows), enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._started = self._drawn = time.perf_counter()

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows written; redraw when enough time has passed."""
        self.done += rows
        now = time.perf_counter()
        if self.enabled and now - self._drawn >= 0.2:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(99, 100 * self.done // self.expected)
        self.stream.write(
            f"\r{self.label}: {share:3d}%  {self.done:,} rows  {now - self._started:.1f} s"
        )
        self.stream.flush()

    def close(self) -> None:
        """Clear the progress line."""
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def expected_rows(scale: Scale) -> int:
    """Rows a scale writes, with the drawn child counts at their mean."""
    fixed = sum(SCALES[scale.name].values())
    return fixed + scale.entregas * sum(CHILDREN_PER_ENTREGA) // 2


def generate(
    database_url: str,
    scale: str = "tiny",
    seed: int = 42,
    reset: bool = False,
    progress: bool | None = None,
) -> GenerateReport:
    """Create the fretes tables in ``database_url`` and fill them with the ``scale`` dataset.

    Same ``seed`` -> same rows. Refuses a database whose fretes tables hold rows
    (``DataExistsError``) unless ``reset``, which drops and recreates only those tables.
    ``progress`` None shows a progress line only when stderr is a terminal.
    Every user's password is ``DEMO_PASSWORD``.
    """
    plan = resolve_scale(scale)
    url = normalize_database_url(database_url)
    backend = sa.make_url(url).get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise TurbinaError(
            f"datagen supports PostgreSQL and SQLite, not {backend}",
            "pass a postgresql:// or sqlite:/// URL",
        )
    _ensure_sqlite_directory(url)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(f"datagen {scale}", expected_rows(plan), show)
    started = time.perf_counter()
    engine = bulk_engine(url)
    try:
        with engine.connect() as connection:
            with connection.begin():
                preparation = prepare(connection, reset)
                rows = _load(sink_for(connection, freeze=preparation.fresh), plan, seed, bar)
                finish(connection, preparation)
            with connection.begin():
                analyze(connection)
    except sa.exc.OperationalError as exc:
        raise TurbinaError(
            f"cannot use the database at {_redacted(url)}: {first_line(exc)}",
            "check --database-url / DATABASE_URL and that the server is running",
        ) from exc
    except sa.exc.DBAPIError as exc:
        raise TurbinaError(
            f"datagen failed: {first_line(exc)}",
            "run again with --reset on an empty or disposable database",
        ) from exc
    finally:
        bar.close()
        engine.dispose()
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    return GenerateReport(
        scale=scale,
        seed=seed,
        rows=rows,
        seconds=seconds,
        rows_per_second=total / seconds if seconds > 0 else 0.0,
    )


def _load(sink: Sink, plan: Scale, seed: int, bar: Progress) -> dict[str, int]:
    """Write every table in foreign-key order; returns rows per table (model order)."""
    rows = dict.fromkeys(TABLE_NAMES, 0)
    timeline = Timeline(REFERENCE_DATE)
    catalog = build_catalog(plan, seed)

    def put(table: str, columns: tuple[str, ...], batch: Iterable[Row]) -> None:
        written = sink.write(table, columns, batch)
        rows[table] += written
        bar.advance(written)

    # One hash for every user: scrypt takes ~0.1 s per call, so hashing per user would cost
    # seconds at real scale for identical passwords (the salt is shared; fine for demo data).
    password_hash = generate_password_hash(DEMO_PASSWORD)
    put("users", USERS_COLUMNS, user_rows(catalog, plan, seed, timeline, password_hash))
    put("transportadoras", TRANSPORTADORAS_COLUMNS, transportadora_rows(catalog))

    buffers: dict[str, list[Row]] = {t: [] for t in GROUP_TABLES}
    buffered = 0
    for group in movement_groups(catalog, plan, seed, timeline):
        for table, group_rows in group.items():
            buffers[table].extend(group_rows)
            buffered += len(group_rows)
        if buffered >= FLUSH_ROWS:
            for table in GROUP_TABLES:  # parents first
                put(table, COLUMNS[table], buffers[table])
                buffers[table] = []
            buffered = 0
    for table in GROUP_TABLES:
        put(table, COLUMNS[table], buffers[table])

    for batch in _batches(pedido_rows(catalog, plan, seed, timeline), PEDIDO_BATCH):
        put("pedidos", PEDIDOS_COLUMNS, batch)
    return rows


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ensure_sqlite_directory(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _redacted(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)
