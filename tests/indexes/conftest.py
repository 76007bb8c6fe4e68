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


@pytest.fixture
def events_db(pg_url: str) -> Iterator[sa.Engine]:
    """PostgreSQL with HypoPG and one table: 100k events of 50 tenants, a fifth of them of
    kind 'billing'."""
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
    except sa.exc.DBAPIError as exc:
        missing_service(f"HypoPG not available: {exc.orig}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE events (id serial PRIMARY KEY, tenant_id int NOT NULL, "
            "kind text NOT NULL, payload text)"
        )
        conn.exec_driver_sql(
            "INSERT INTO events (tenant_id, kind, payload) SELECT mod(g, 50), "
            "CASE WHEN mod(g, 5) = 0 THEN 'billing' ELSE 'k' || mod(g, 4) END, repeat('x', 20) "
            "FROM generate_series(1, 100000) g"
        )
        conn.exec_driver_sql("ANALYZE events")
    yield engine
    engine.dispose()


@pytest.fixture
def orders_db(pg_url: str) -> Iterator[sa.Engine]:
    """PostgreSQL with HypoPG: a child table looked up by its FK 300k rows deep (the N+1 pages'
    kind of statement) and a small page's table read newest first."""
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
    except sa.exc.DBAPIError as exc:
        missing_service(f"HypoPG not available: {exc.orig}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id serial PRIMARY KEY, created timestamp)")
        conn.exec_driver_sql(
            "INSERT INTO orders (created) SELECT timestamp '2024-01-01' + g * interval '7 minutes' "
            "FROM generate_series(1, 30000) g"
        )
        conn.exec_driver_sql(
            "CREATE TABLE items (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders, "
            "sku text NOT NULL, qty int NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO items (order_id, sku, qty) SELECT 1 + mod(g::bigint * 7919, 30000)::int, "
            "'sku-' || mod(g, 500), mod(g, 9) FROM generate_series(1, 300000) g"
        )
        conn.exec_driver_sql(
            "CREATE TABLE tickets (id serial PRIMARY KEY, created timestamp NOT NULL, "
            "subject text NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO tickets (created, subject) SELECT timestamp '2024-01-01' + "
            "g * interval '3 minutes', 'subject ' || g FROM generate_series(1, 40000) g"
        )
        conn.exec_driver_sql("ANALYZE")
    yield engine
    engine.dispose()
