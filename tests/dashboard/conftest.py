"""Fixtures of the dashboard tests: the test app, a real server on 127.0.0.1, Chromium.

Chromium is Debian's (``.ci/run`` installs it), driven by Playwright with
``executable_path`` — no browser download. Browser tests skip with the reason when Chromium
or Playwright is absent, and fail when ``CI`` or ``TURBINA_REQUIRE_SERVICES`` is set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from .site import create_app

ARTIFACTS = Path(__file__).parent / "artifacts"


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required (as the root conftest does)."""
    if os.environ.get("CI") or os.environ.get("TURBINA_REQUIRE_SERVICES"):
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        return create_app(str(tmp_path / "instance"), **config)

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


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
def live(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.close()
