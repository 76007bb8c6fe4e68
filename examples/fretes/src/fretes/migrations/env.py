"""Alembic environment of `fretes`: runs on the connection ``fretes.schema_migrations`` hands
over (``config.attributes["connection"]``), or on ``sqlalchemy.url`` when run by the
``alembic`` command itself. One transaction per revision, so a failed revision leaves the
earlier ones applied and recorded."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from fretes.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transaction_per_migration=True,
        # SQLite cannot ALTER most things: autogenerate then writes batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: use `fretes db upgrade --database-url URL`")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: fretes needs a database")
run_migrations_online()
