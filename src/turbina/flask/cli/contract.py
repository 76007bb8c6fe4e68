"""The CLI contract shared by every command, under ``flask turbina`` and ``turbina``.

- An expected error (``TurbinaError``, a bad database URL, a database that does not answer)
  prints one line, ``turbina: error: <reason> (fix: <fix>)``, and exits 1 — never a
  traceback. Flask's own CLI does not know ``TurbinaError``, so the commands catch it
  themselves (``TurbinaCommand.invoke``) instead of relying on the entry point.
- A command that reads a file or a URL works without a Flask app; one that needs the app
  asks for it with ``current_app_state()`` and gets a one-line error when there is none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
            with _no_last_resort_logging():
                return super().invoke(ctx)
        except TurbinaError as exc:
            raise TurbinaFailure(exc) from None
        except sa.exc.SQLAlchemyError as exc:
            raise TurbinaFailure(database_error(exc)) from None


@contextmanager
def _no_last_resort_logging() -> Iterator[None]:
    """Keep the library's own warnings (e.g. "could not invalidate context") off stderr when
    nobody configured logging: the command reports the failure itself, in its one line.
    Handlers the app configured still receive every record."""
    logger = logging.getLogger("turbina")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class TurbinaGroup(click.Group):
    """A group whose commands and subgroups follow the contract."""

    command_class = TurbinaCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TurbinaError as exc:
            raise TurbinaFailure(exc) from None


TurbinaGroup.group_class = TurbinaGroup


def readable_file(path: str | Path, what: str, fix: str) -> Path:
    """``path`` if it names an existing regular file, else a one-line ``TurbinaError``.

    Paths are checked here rather than by ``click.Path``, whose complaints are usage errors
    (exit 2, several lines) instead of the contract's one line.
    """
    target = Path(path)
    if not target.exists():
        raise TurbinaError(f"{what} {path} does not exist", fix)
    if target.is_dir():
        raise TurbinaError(f"{what} {path} is a directory, not a file", fix)
    return target


# The pip name of a database driver, when it is not the module's name.
_DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient",
    "psycopg": "'psycopg[binary]'",
    "psycopg2": "psycopg2-binary",
    "pymysql": "PyMySQL",
}


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
    example = "write e.g. postgresql://user@host/db or sqlite:///path/to/file.db"
    if not url.strip():
        raise TurbinaError("--database-url is empty", example)
    given = url
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        engine = sa.create_engine(url)
    except sa.exc.NoSuchModuleError:  # a subclass of ArgumentError: test it first
        scheme = given.split("://", 1)[0]
        raise TurbinaError(
            f"--database-url names an unknown database dialect or driver: {scheme!r}",
            "use a postgresql:// or sqlite:/// URL",
        ) from None
    except (sa.exc.ArgumentError, ValueError):
        raise TurbinaError(
            f"--database-url {hide_password(given)!r} is not a database URL", example
        ) from None
    except ModuleNotFoundError as exc:
        package = _DRIVER_PACKAGES.get(str(exc.name), exc.name)
        raise TurbinaError(
            f"the database driver {exc.name!r} is not installed", f"pip install {package}"
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
        raise TurbinaError(
            f"cannot load the Flask app: {_no_app_reason(str(exc))}",
            f"check --app / FLASK_APP; {_traceback_hint(info)}",
        ) from None
    except TurbinaError:
        raise  # e.g. a ConfigError from Turbina(app): it says what to fix itself
    except Exception as exc:  # the app module (or its factory) raised while loading
        target = info.app_import_path or "the app"
        reason = " ".join(str(exc).split()) or "(no message)"
        raise TurbinaError(
            f"cannot load the Flask app: loading {target!r} raised "
            f"{exc.__class__.__name__}: {reason}",
            f"fix the app module; {_traceback_hint(info)}",
        ) from None


def _traceback_hint(info: ScriptInfo) -> str:
    """How to see the traceback this one-line error leaves out."""
    module = (info.app_import_path or "").split(":", 1)[0]
    if not module or module.endswith(".py") or "/" in module or "\\" in module:
        module = "yourapp"
    return f"`python -c 'import {module}'` shows the traceback"


def _no_app_reason(message: str) -> str:
    """Flask's ``NoAppException`` text on one line: its first line, plus the exception line
    that ends the traceback Flask appends for an ``ImportError``."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    if len(lines) > 1 and any(line.startswith("Traceback") for line in lines):
        return f"{lines[0].rstrip(':')}: {lines[-1]}"
    return lines[0]


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (error lines end up in CI logs)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


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
