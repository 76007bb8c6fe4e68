"""`turbina ...` console script and `flask turbina ...` commands.

Each part contributes a click group from its own ``commands`` module; this file only
assembles them and turns ``TurbinaError`` into a one-line message and exit code 1.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from turbina.errors import TurbinaError

turbina_group = AppGroup("turbina", help="Turbina performance tools.")


def _register_parts(group: click.Group) -> None:
    # Parts register lazily so a missing optional dependency only disables its commands.
    for module_name in (
        "turbina.queries.commands",
        "turbina.indexes.commands",
        "turbina.cache.commands",
    ):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(group)


_register_parts(turbina_group)


def run_group(group: click.Group, argv: list[str] | None, prog_name: str) -> int:
    """Run a click group and return its exit code: a ``TurbinaError`` becomes one line with
    the reason, one with the fix, and exit code 1 (no traceback)."""
    try:
        result = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except TurbinaError as exc:
        click.echo(f"{prog_name}: error: {exc.message}", err=True)
        if exc.fix:
            click.echo(f"{prog_name}: fix: {exc.fix}", err=True)
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``turbina`` console script (outside a Flask app)."""
    standalone = click.Group(
        "turbina", help="Turbina performance tools.", commands=turbina_group.commands
    )
    return run_group(standalone, argv, "turbina")


if __name__ == "__main__":
    sys.exit(main())
