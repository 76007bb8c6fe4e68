"""`fretes` console script."""

from __future__ import annotations

import sys

import click

from fretes.datagen.command import datagen
from fretes.db_command import db_group
from turbina import TurbinaError


@click.group(help="fretes: the reference freight app Turbina is measured on.")
def cli() -> None:
    """The ``fretes`` command group."""


cli.add_command(datagen)
cli.add_command(db_group)


def main(argv: list[str] | None = None) -> int:
    """Run the ``fretes`` group; an expected error is one line on stderr and exit code 1."""
    try:
        result = cli.main(args=argv, prog_name="fretes", standalone_mode=False)
    except TurbinaError as exc:
        fix = f" (fix: {exc.fix})" if exc.fix else ""
        click.echo(f"fretes: error: {exc.message}{fix}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
