"""The CLI contract shared by every command, under ``flask turbina`` and ``turbina``.

- An expected error (``TurbinaError``, a bad database URL, a database that does not answer)
  prints one line, ``turbina: error: <reason> (fix: <fix>)``, and exits 1 — never a
  traceback. Flask's own CLI does not know ``TurbinaError``, so the commands catch it
  themselves (``TurbinaCommand.invoke``) instead of relying on the entry point.
- A command that reads a file or a URL works without a Flask app; one that needs the app
  asks for it with ``current_app_state()`` and gets a one-line error when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from flask.cli import NoAppException, ScriptInfo

from turbina.errors import TurbinaError
from turbina.flask.cli.output import error_line
from turbina.flask.state import TurbinaState, find_state


class TurbinaFailure(click.ClickException):
    """A ``TurbinaError`` on its way out of click: one line on stderr, exit code 1."""

    exit_code = 1

    def __init__(self, error: TurbinaError) -> None:
        super().__init__(error.message)
        self.error = error

    def show(self, file: Any = None) -> None:
        click.echo(error_line("turbina", self.error), err=True, file=file)


class TurbinaCommand(click.Command):
    """A command whose expected errors become one line and exit 1 on any entry point."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TurbinaError as exc:
            raise TurbinaFailure(exc) from None
        except sa.exc.SQLAlchemyError as exc:
            raise TurbinaFailure(database_error(exc)) from None


class TurbinaGroup(click.Group):
    """A group whose commands and subgroups follow the contract."""

    command_class = TurbinaCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TurbinaError as exc:
            raise TurbinaFailure(exc) from None


TurbinaGroup.group_class = TurbinaGroup


def database_error(exc: sa.exc.SQLAlchemyError) -> TurbinaError:
    """A database failure as a one-line ``TurbinaError`` (the driver's first line only)."""
    orig = getattr(exc, "orig", None)
    detail = str(orig if orig is not None else exc).strip().splitlines()
    first = detail[0] if detail else exc.__class__.__name__
    return TurbinaError(f"database error: {first}", "check the database URL and that it is up")


@contextmanager
def open_engine(url: str) -> Iterator[sa.Engine]:
    """An engine for ``--database-url`` that has answered once; disposed afterwards.

    Plain ``postgresql://`` URLs use the psycopg 3 driver. A malformed URL, an unknown
    dialect, a missing driver or a database that does not answer is a ``TurbinaError``.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        engine = sa.create_engine(url)
    except sa.exc.ArgumentError:
        raise TurbinaError(
            f"--database-url {url!r} is not a database URL",
            "write e.g. postgresql://user@host/db or sqlite:///path/to/file.db",
        ) from None
    except sa.exc.NoSuchModuleError as exc:
        raise TurbinaError(
            f"--database-url names an unknown database dialect: {exc}",
            "use a postgresql:// or sqlite:/// URL",
        ) from None
    except ModuleNotFoundError as exc:
        raise TurbinaError(
            f"the database driver {exc.name!r} is not installed",
            f"pip install {exc.name}",
        ) from None
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise TurbinaError(
                f"cannot connect to the database: {first}",
                "check --database-url and that the database is running",
            ) from None
        yield engine
    finally:
        engine.dispose()


def current_app_or_none() -> Flask | None:
    """The Flask app this command runs in: the active one, else the one ``flask --app`` (or
    ``FLASK_APP``) names; ``None`` when there is none. An app that fails to import is an
    error, not "no app"."""
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    if info is None:
        return None
    try:
        return info.load_app()
    except NoAppException as exc:
        if "Could not locate a Flask application" in str(exc):
            return None
        first = str(exc).strip().splitlines()[0]
        raise TurbinaError(
            f"cannot load the Flask app: {first}", "check --app / FLASK_APP"
        ) from None


def require_app(command: str) -> Flask:
    """The app, or a one-line error saying how to name one."""
    app = current_app_or_none()
    if app is None:
        raise TurbinaError(
            f"`{command}` needs a Flask app and none was found",
            f"run it as `flask --app yourapp turbina {command}` (or set FLASK_APP)",
        )
    return app


def require_state(command: str) -> tuple[Flask, TurbinaState]:
    """The app and its Turbina state, or a one-line error."""
    app = require_app(command)
    state = find_state(app)
    if state is None:
        raise TurbinaError(
            f"the app {app.import_name!r} does not use Turbina",
            "call Turbina(app) in its app factory",
        )
    return app, state
