"""Build a benchmark dataset once, reuse it, and give every run a fresh copy of it.

The pristine dataset is never served: a run writes (5 % of its requests by default), so each
run gets a working copy — a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for
PostgreSQL (a server-side file copy, seconds even at ``real`` scale) — and two runs of the
same settings start from identical data.

SQLite: ``instance/bench-<scale>.db`` plus a ``.json`` sidecar saying which scale and seed
it holds. PostgreSQL: its own database ``turbina_bench_<scale>``, marked with a database
COMMENT; a database with that name that the harness did not create is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from turbina import TurbinaError

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARK = "turbina-bench"


@dataclass(frozen=True)
class Dataset:
    """A pristine dataset: where it is and whether this call had to build it."""

    db: str
    scale: str
    seed: int
    url: str
    build_seconds: float | None  # None when an existing dataset was reused
    report: str | None = None


def datagen_fingerprint() -> str:
    """Hash of the generator's and the models' source: a changed generator means a new dataset."""
    import fretes.datagen
    import fretes.models

    digest = hashlib.sha256()
    package = Path(fretes.datagen.__file__).parent
    for path in [*sorted(package.glob("*.py")), Path(fretes.models.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _generate(url: str, scale: str, seed: int) -> str:
    from fretes.datagen import generate

    return generate(url, scale=scale, seed=seed, reset=True).summary()


# --- SQLite ----------------------------------------------------------------------------


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _stamp(path: Path) -> dict[str, int]:
    info = path.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns}


def ensure_sqlite(
    scale: str,
    seed: int,
    *,
    directory: Path = INSTANCE,
    generate: Callable[[str, str, int], str] = _generate,
) -> Dataset:
    """Reuse ``<directory>/bench-<scale>.db`` if it holds ``scale`` + ``seed``, else build it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{scale}.db"
    sidecar = path.with_suffix(".db.json")
    expected = {"mark": MARK, "scale": scale, "seed": seed, "datagen": datagen_fingerprint()}
    if path.exists() and sidecar.exists():
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
        if {k: saved.get(k) for k in expected} == expected and saved.get("file") == _stamp(path):
            return Dataset("sqlite", scale, seed, _sqlite_url(path), None, saved.get("report"))
    # Both files are the harness's own (fixed names under instance/): safe to replace.
    sidecar.unlink(missing_ok=True)
    for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    report = generate(_sqlite_url(path), scale, seed)
    seconds = time.perf_counter() - started
    sidecar.write_text(
        json.dumps(
            {
                **expected,
                "file": _stamp(path),
                "build_seconds": round(seconds, 2),
                "report": report,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return Dataset("sqlite", scale, seed, _sqlite_url(path), seconds, report)


SQLITE_JOURNAL_MODE = "wal"


@contextmanager
def sqlite_copy(dataset: Dataset) -> Iterator[str]:
    """A throw-away copy of a SQLite dataset in WAL mode; yields its URL, deletes it afterwards.

    WAL is how a multi-process SQLite deployment must run: in the default rollback-journal
    mode every long read blocks writers, and gunicorn's workers then fail writes with
    "database is locked" — an artefact of the file's mode, not of the app under test.
    """
    source = Path(sa.make_url(dataset.url).database or "")
    # One name per process: two runs of the same scale at once must not share a copy.
    target = source.with_name(f"{source.stem}-run-{os.getpid()}.db")
    shutil.copyfile(source, target)
    with closing(sqlite3.connect(target)) as conn:
        conn.execute(f"PRAGMA journal_mode={SQLITE_JOURNAL_MODE}")
    try:
        yield _sqlite_url(target)
    finally:
        for leftover in (target, target.with_suffix(".db-wal"), target.with_suffix(".db-shm")):
            leftover.unlink(missing_ok=True)


# --- PostgreSQL ------------------------------------------------------------------------


def _admin_engine(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _comment(conn: sa.Connection, name: str) -> str | None:
    row = conn.execute(
        sa.text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
        {"n": name},
    ).first()
    if row is None:
        return None
    return str(row[0] or "")


def _set_comment(conn: sa.Connection, name: str, text: str) -> None:
    conn.execute(sa.text(f"COMMENT ON DATABASE \"{name}\" IS '{text}'"))


def _with_database(server_url: str, name: str) -> str:
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def ensure_postgres(
    scale: str,
    seed: int,
    *,
    server_url: str = DEFAULT_PG_URL,
    generate: Callable[[str, str, int], str] = _generate,
) -> Dataset:
    """Reuse database ``turbina_bench_<scale>`` if it holds ``scale`` + ``seed``, else build it."""
    name = f"turbina_bench_{scale}"
    ready = f"{MARK} scale={scale} seed={seed} datagen={datagen_fingerprint()} complete"
    url = _with_database(server_url, name)
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            comment = _comment(conn, name)
            if comment == ready:
                return Dataset("postgres", scale, seed, url, None)
            if comment is not None and not comment.startswith(MARK):
                raise TurbinaError(
                    f"database {name!r} exists and was not created by the benchmark harness",
                    f"drop it yourself (DROP DATABASE {name}) or point --pg-url at another server",
                )
            if comment is not None:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            _set_comment(conn, name, f"{MARK} scale={scale} seed={seed} building")
        started = time.perf_counter()
        report = generate(url, scale, seed)
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            _set_comment(conn, name, ready)
        return Dataset("postgres", scale, seed, url, seconds, report)
    finally:
        engine.dispose()


@contextmanager
def postgres_copy(dataset: Dataset, server_url: str = DEFAULT_PG_URL) -> Iterator[str]:
    """A throw-away copy (``<name>_run``) of a PostgreSQL dataset; dropped afterwards."""
    source = sa.make_url(dataset.url).database or ""
    name = f"{source}_run_{os.getpid()}"  # one per process, as for SQLite
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            comment = _comment(conn, name)
            if comment is not None and not comment.startswith(MARK):
                raise TurbinaError(
                    f"database {name!r} exists and was not created by the benchmark harness",
                    f"drop it yourself (DROP DATABASE {name})",
                )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            _set_comment(conn, name, f"{MARK} run copy of {source}")
        yield _with_database(server_url, name)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def working_database(
    db: str, scale: str, seed: int, *, server_url: str = DEFAULT_PG_URL, directory: Path = INSTANCE
) -> Iterator[tuple[Dataset, str]]:
    """Ensure the pristine dataset, then yield it with the URL of a fresh working copy."""
    if db == "sqlite":
        dataset = ensure_sqlite(scale, seed, directory=directory)
        with sqlite_copy(dataset) as url:
            yield dataset, url
    elif db == "postgres":
        dataset = ensure_postgres(scale, seed, server_url=server_url)
        with postgres_copy(dataset, server_url) as url:
            yield dataset, url
    else:
        raise TurbinaError(
            f"unknown database kind {db!r} for --db", "use --db sqlite or --db postgres"
        )
