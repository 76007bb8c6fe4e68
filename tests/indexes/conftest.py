"""Fixtures of the index-advisor tests: fretes tables with a small deterministic dataset."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from idx_dataset import populate

DATA = Path(__file__).parent / "data"


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required (same rule as the root conftest)."""
    if os.environ.get("CI") or os.environ.get("TURBINA_REQUIRE_SERVICES"):
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def make_fretes_db(pg_url: str) -> Iterator[Callable[..., sa.Engine]]:
    """Factory: a populated fretes database on PostgreSQL (with HypoPG when requested)."""
    engines: list[sa.Engine] = []

    def make(entregas: int = 3000, hypopg: bool = True) -> sa.Engine:
        engine = sa.create_engine(pg_url)
        engines.append(engine)
        if hypopg:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
            except sa.exc.DBAPIError as exc:
                missing_service(f"HypoPG not available: {exc.orig}")
        populate(engine, entregas)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
