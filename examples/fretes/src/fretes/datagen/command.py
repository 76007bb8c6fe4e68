"""The ``fretes datagen`` command."""

from __future__ import annotations

import click
import sqlalchemy as sa

from fretes.app import default_database_url, instance_path, normalize_database_url
from fretes.datagen.pipeline import generate
from fretes.datagen.scales import SCALES
from turbina import TurbinaError


@click.command("datagen")
@click.option(
    "--scale",
    type=click.Choice(list(SCALES)),
    default="tiny",
    show_default=True,
    help="Dataset size: tiny (tests), real (the real system's size), large (~20x real).",
)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="Target database (default: $DATABASE_URL, else the app's instance/fretes.db).",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed; the same seed always gives the same data.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Drop and recreate the fretes tables first (other tables are untouched).",
)
def datagen(scale: str, database_url: str | None, seed: int, reset: bool) -> None:
    """Fill a database with a deterministic, realistic fretes dataset."""
    url = normalize_database_url(database_url or default_database_url(instance_path()))
    try:
        report = generate(url, scale=scale, seed=seed, reset=reset)
    except TurbinaError as exc:
        # ClickException: one "Error: ..." line on stderr and exit status 1, both under
        # `fretes` (standalone_mode=False) and under click's own runner.
        raise click.ClickException(str(exc)) from exc
    target = sa.make_url(url).render_as_string(hide_password=True)
    click.echo(f"{report.summary()} -> {target}")
