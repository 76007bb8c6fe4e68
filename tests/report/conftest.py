"""Fixtures of the report tests: the report app served for real, its store read back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

import turbina
from app_teardown import close
from turbina.store.model import Reading

from .app import make_app

BOOKS_REQUESTS = 20


def serve(app: Flask) -> None:
    """Traffic: an N+1 page, a repeated statement, a slow statement, a cached page whose
    table is written between reads, and a statement on a table with a markup name."""
    client = app.test_client()
    for _ in range(BOOKS_REQUESTS):
        assert client.get("/books").status_code == 200
    for _ in range(10):
        assert client.get("/emails").status_code == 200
    for _ in range(2):
        assert client.get("/slow").status_code == 200
    for i in range(30):
        assert client.get("/cached").status_code == 200
        assert client.post(f"/author/{i % 3}").status_code == 200
    assert client.get("/evil").status_code == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Reading]]:
    """The app after its traffic, and the store's window over it (every worker's numbers)."""
    tmp = tmp_path_factory.mktemp("report")
    app, db = make_app(tmp)
    serve(app)
    state = turbina.get_state(app)
    assert state.monitor is not None
    assert state.monitor.flush()
    reading = state.monitor.store.read(time.time() - 300)
    yield app, reading
    close(app, db)


@pytest.fixture
def reading(served: tuple[Flask, Any]) -> Reading:
    return served[1]
