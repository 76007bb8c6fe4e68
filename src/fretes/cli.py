"""`fretes` console script."""

from __future__ import annotations

import sys

import click

from turbina.cli import run_group


@click.group(help="fretes: the reference freight app Turbina is measured on.")
def cli() -> None:
    pass


def _register() -> None:
    try:
        from fretes.datagen.command import datagen
    except ModuleNotFoundError:
        return
    cli.add_command(datagen)


_register()


def main(argv: list[str] | None = None) -> int:
    return run_group(cli, argv, "fretes")


if __name__ == "__main__":
    sys.exit(main())
