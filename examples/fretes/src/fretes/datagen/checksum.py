"""Checksums of table contents, comparable across PostgreSQL and SQLite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from fretes.app import normalize_database_url
from fretes.datagen.schema import FRETES_TABLES

# The demo password is hashed with a random salt on every run: not part of the data.
EXCLUDED_COLUMNS = frozenset({("users", "password_hash")})


def _text(value: object, scale: int | None) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, Decimal | float) and scale is not None:
        return f"{Decimal(str(value)):.{scale}f}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def data_checksums(database_url: str, tables: Iterable[str] | None = None) -> dict[str, str]:
    """SHA-256 per fretes table over its rows in id order, with values normalized (money to
    its scale, dates ISO) so that the same data gives the same digest on either database."""
    wanted = set(tables) if tables is not None else None
    engine = sa.create_engine(normalize_database_url(database_url), poolclass=sa.pool.NullPool)
    digests: dict[str, str] = {}
    try:
        with engine.connect() as connection:
            for table in FRETES_TABLES:
                if wanted is not None and table.name not in wanted:
                    continue
                columns = [c for c in table.columns if (table.name, c.name) not in EXCLUDED_COLUMNS]
                scales = [getattr(c.type, "scale", None) for c in columns]
                digest = hashlib.sha256()
                query = sa.select(*columns).order_by(table.c.id)
                for row in connection.execution_options(yield_per=5_000).execute(query):
                    line = "\t".join(_text(v, s) for v, s in zip(row, scales, strict=True))
                    digest.update(line.encode() + b"\n")
                digests[table.name] = digest.hexdigest()
    finally:
        engine.dispose()
    return digests
