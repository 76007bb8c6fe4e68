"""Fixtures of the assets tests: a copy of the test site, its app, a real server, Chromium.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it) and is
driven by Playwright with ``executable_path`` — Playwright never downloads a browser here.
Browser tests skip with the reason when Chromium is absent and fail when ``CI`` or
``TURBINA_REQUIRE_SERVICES`` is set, like the other services (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

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


@pytest.fixture
def serve(live_server: Callable[[Flask], Any]) -> Iterator[Callable[[Flask], Any]]:
    started: list[Any] = []

    def start(app: Flask) -> Any:
        started.append(live_server(app))
        return started[-1]

    yield start
    for server in started:
        server.close()


# `browser` is the root conftest's (one Playwright per session).
