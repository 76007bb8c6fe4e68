"""Shared fixtures: real SQLite always; real PostgreSQL and Redis when present.

A test that needs a service skips with the reason when the service is absent, and fails
instead when ``CI`` or ``TURBINA_REQUIRE_SERVICES`` is set. Every run works in its own
PostgreSQL database and its own Redis key prefix, and cleans them up.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

PG_ADMIN_URL = os.environ.get(
    "TURBINA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TURBINA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"


def services_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("TURBINA_REQUIRE_SERVICES"))


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required."""
    if services_required():
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def service_missing() -> Callable[[str], None]:
    """``missing_service`` for fixtures in other conftest files (which cannot import this
    module by name: ``conftest`` may be another folder's)."""
    return missing_service


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any connection failure means "absent"
        engine.dispose()
        missing_service(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def make_pg_database(pg_admin_engine: sa.Engine) -> Iterator[Callable[[str], str]]:
    """Factory: create a fresh database for this run and return its URL; all dropped at the end."""
    created: list[str] = []

    def make(tag: str = "db") -> str:
        name = f"turbina_t_{RUN_ID}_{tag}_{len(created)}".lower()
        with pg_admin_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with pg_admin_engine.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(make_pg_database: Callable[[str], str]) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return make_pg_database("t")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test once on SQLite and once on PostgreSQL (fresh database each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


# --- Redis -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        missing_service(f"Redis not reachable at {REDIS_TEST_URL}: {exc.__class__.__name__}")
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to one test; its keys are deleted afterwards."""
    import redis

    prefix = f"turbina_t:{RUN_ID}:{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- Chromium ----------------------------------------------------------------------------
# Flags for a headless Chromium on a closed network (without the background-networking
# flags it keeps trying to reach Google's hosts).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright, one per session: Playwright's sync API
    runs an event loop, so a second one started while the first lives would be refused."""
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing_service("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("playwright is not installed (pip install -r tests/requirements.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


# --- a live server (the Chromium tests) ---------------------------------------------------


class LiveServer:
    """A real threaded WSGI server on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server() -> Callable[[Any], LiveServer]:
    """``live_server(app)``: ``app`` served for real (``.url``); the caller ``close()``s it."""
    return LiveServer
