"""The ``turbina`` console script and the ``flask turbina`` command group.

Both entry points run the same commands (``queries``, ``slow``, ``nplusone``, ``report``, ``cache``,
``indexes``, ``assets``) under the contract in ``contract``: expected errors print one line and exit 1. Under
``flask``, the app comes from ``--app``/``FLASK_APP``; the ``turbina`` script also honours
``FLASK_APP``, and commands that read a file or a database URL need no app at all.
"""

from __future__ import annotations

import os
import sys

import click
from flask.cli import ScriptInfo

from turbina.flask.cli.assets import assets_group
from turbina.flask.cli.cache import cache_group
from turbina.flask.cli.contract import TurbinaGroup
from turbina.flask.cli.indexes import indexes_group
from turbina.flask.cli.queries import nplusone_command, queries_command, slow_command
from turbina.flask.cli.report import report_command
from turbina.flask.cli.requests import requests_command

__all__ = ["main", "turbina_group"]


@click.group("turbina", cls=TurbinaGroup, help="Turbina performance tools.")
def turbina_group() -> None:
    """The ``turbina`` command group."""


turbina_group.add_command(queries_command)
turbina_group.add_command(slow_command)
turbina_group.add_command(nplusone_command)
turbina_group.add_command(cache_group)
turbina_group.add_command(indexes_group)
turbina_group.add_command(requests_command)
turbina_group.add_command(assets_group)
turbina_group.add_command(report_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``turbina`` console script; returns the exit code.

    The app is the one ``FLASK_APP`` names (as under ``flask``), else ``wsgi.py``/``app.py``
    in the current directory, else none — which only the commands that need one mind.
    """
    info = ScriptInfo(app_import_path=os.environ.get("FLASK_APP") or None)
    try:
        turbina_group.main(args=argv, prog_name="turbina", obj=info, standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
