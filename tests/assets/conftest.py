"""Fixtures of the assets tests: a copy of the test site, its app, a real server, Chromium.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it) and is
driven by Playwright with ``executable_path`` — Playwright never downloads a browser here.
Browser tests skip with the reason when Chromium is absent and fail when ``CI`` or
``TURBINA_REQUIRE_SERVICES`` is set, like the other services (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from .siteapp import copy_site, create_site_app


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required (as tests/conftest.py does)."""
    if os.environ.get("CI") or os.environ.get("TURBINA_REQUIRE_SERVICES"):
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A fresh copy of tests/assets/site (static/ and templates/)."""
    return copy_site(tmp_path / "site")


@pytest.fixture
def make_app(site: Path) -> Callable[..., Flask]:
    def make(**options: Any) -> Flask:
        return create_site_app(site, **options)

    return make


class LiveServer:
    """A real threaded WSGI server on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    started: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        started.append(LiveServer(app))
        return started[-1]

    yield start
    for server in started:
        server.close()


# `browser` is the root conftest's (one Playwright per session).
