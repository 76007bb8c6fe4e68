"""The ``fretes db`` commands: the schema's migration history (``fretes.schema_migrations``)."""

from __future__ import annotations

import click

from fretes import schema_migrations
from fretes.app import default_database_url, instance_path, normalize_database_url

DATABASE_URL = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="Target database (default: $DATABASE_URL, else the app's instance/fretes.db).",
)


def _url(database_url: str | None) -> str:
    return normalize_database_url(database_url or default_database_url(instance_path()))


@click.group("db", help="The fretes schema: migrations (Alembic) up and down.")
def db_group() -> None:
    """The ``fretes db`` group."""


@db_group.command("upgrade")
@DATABASE_URL
@click.argument("revision", default="head")
def upgrade_command(database_url: str | None, revision: str) -> None:
    """Bring the database to REVISION (default: head). A database `fretes datagen` built is
    stamped at the baseline (0001) first, never re-created."""
    url = _url(database_url)
    applied = schema_migrations.upgrade(url, revision)
    now = schema_migrations.current(url)
    if applied:
        click.echo(
            f"fretes: applied {', '.join(applied)}; {schema_migrations.shown_url(url)} is at {now}"
        )
    else:
        click.echo(f"fretes: nothing to apply; {schema_migrations.shown_url(url)} is at {now}")


@db_group.command("downgrade")
@DATABASE_URL
@click.argument("revision")
def downgrade_command(database_url: str | None, revision: str) -> None:
    """Take the database back to REVISION (e.g. 0001: the naive schema; base: no tables)."""
    url = _url(database_url)
    undone = schema_migrations.downgrade(url, revision)
    now = schema_migrations.current(url) or "base"
    if undone:
        click.echo(
            f"fretes: undid {', '.join(undone)}; {schema_migrations.shown_url(url)} is at {now}"
        )
    else:
        click.echo(f"fretes: nothing to undo; {schema_migrations.shown_url(url)} is at {now}")


@db_group.command("current")
@DATABASE_URL
def current_command(database_url: str | None) -> None:
    """Print the revision the database is at ("none" when it has no version yet)."""
    url = _url(database_url)
    click.echo(schema_migrations.current(url) or "none")
