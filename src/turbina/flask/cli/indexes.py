"""CLI: ``flask turbina indexes advise|verify|apply|check`` (also ``turbina indexes ...``).

Outside an app, ``--database-url`` and ``--workload FILE.sql`` say what to work on; inside an
app they default to the app's engine and the workload the running app recorded: the store's
fingerprints over ``--window`` (every worker and host, planned generically: the store keeps
no values), or, with ``--recorder`` or without a request monitor, what this process's query
recorder captured. ``advise`` inside an app saves its report to the instance folder, where
the dashboard's Indexes page reads it (``--no-save`` to skip).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import (
    TurbinaGroup,
    current_app_or_none,
    open_engine,
    readable_file,
)
from turbina.flask.cli.requests import store_reading
from turbina.indexes import ddl, workload
from turbina.indexes.advise import NoUsableWorkload, advise_workload, parse_budget
from turbina.indexes.advisor import DEFAULT_MAX_SECONDS, DEFAULT_MIN_IMPROVEMENT, Advice
from turbina.indexes.check import check_file
from turbina.indexes.generic import from_fingerprints
from turbina.indexes.report import drop_suggestions, render_lines, to_json
from turbina.indexes.saved import report_path, save_report
from turbina.indexes.verify import apply_verified
from turbina.indexes.verify import verify as verify_indexes
from turbina.indexes.workload_file import read_workload
from turbina.monitor import api
from turbina.store.model import WINDOW_HELP, parse_window

STORE_WINDOW = "24h"


@contextmanager
def _target(database_url: str | None, needs_app: bool = True) -> Iterator[tuple[sa.Engine, Any]]:
    """(engine, app or None): ``--database-url`` wins over the app's engine. With
    ``needs_app=False`` (URL and workload both given) the app is not even loaded."""
    app = current_app_or_none() if needs_app or database_url is None else None
    if database_url is not None:
        with open_engine(database_url) as engine:
            yield engine, app
        return
    if app is None:
        raise TurbinaError(
            "no database to work on",
            "pass --database-url URL, or run it as flask --app yourapp turbina indexes ...",
        )
    with app.app_context():
        extension = app.extensions.get("sqlalchemy")
        if extension is None:
            raise TurbinaError("the app has no Flask-SQLAlchemy engine", "pass --database-url URL")
        yield extension.engine, app


_SQL_FIX = "pass an existing .sql file"


def _read_workload_files(files: tuple[str, ...]) -> workload.Workload:
    """Reads, writes and skipped statements of every ``--workload`` file (read before any
    database is opened)."""
    out = workload.Workload()
    for path in files:
        readable_file(path, "workload file", _SQL_FIX)
        out += read_workload(path)
    return out


def _engine_labels(engine: sa.Engine, state: Any) -> set[str]:
    """The names the store knows ``engine`` by (its recorders' labels)."""
    recorders = getattr(state.queries, "recorders", {}) if state.queries is not None else {}
    labels = {name for name, rec in recorders.items() if getattr(rec, "engine", None) is engine}
    return labels or {engine.url.database or engine.dialect.name}


def _store_workload(engine: sa.Engine, app: Any, state: Any, window: str) -> workload.Workload:
    """The SELECT fingerprints the running app recorded over ``window`` (every worker)."""
    rows = api.queries(store_reading(state, window, "indexes advise"))["queries"]
    if app is not None and _is_app_engine(app, engine):
        labels = _engine_labels(engine, state)
        rows = [row for row in rows if row["engine"] in labels]
    return from_fingerprints(rows, engine.dialect.name)


def _is_app_engine(app: Any, engine: sa.Engine) -> bool:
    """Whether ``engine`` is the app's Flask-SQLAlchemy engine (whose ``engine`` property
    needs the app's context: ``--database-url`` runs the command without one)."""
    extension = app.extensions.get("sqlalchemy")
    if extension is None:
        return False
    with app.app_context():
        return engine is getattr(extension, "engine", None)


def _recorded_workload(engine: sa.Engine, state: Any) -> workload.Workload:
    """What this process's query recorder captured (with parameter samples)."""
    samples = [
        s
        for s in state.queries.workload_samples()
        if getattr(s, "dialect", engine.dialect.name) == engine.dialect.name
    ]
    return workload.workload_from_samples(samples)


def _workload(
    engine: sa.Engine,
    app: Any,
    from_files: workload.Workload,
    pg_stat: bool,
    given: bool,
    window: str,
    recorder: bool,
) -> tuple[workload.Workload, str]:
    """The workload and where it came from (for the report)."""
    out = workload.Workload()
    out += from_files
    sources = ["workload files"] if given else []
    if pg_stat:
        out += workload.pg_workload(engine)
        sources.append("pg_stat_statements")
    if given or pg_stat:
        return out, " + ".join(sources)
    state = app.extensions.get("turbina") if app is not None else None
    from_store = state is not None and state.monitor is not None and not recorder
    if from_store:
        stored = _store_workload(engine, app, state, window)
        if stored.queries:
            return stored, f"the store, last {window}"
    if state is None or state.queries is None:
        if from_store:
            raise _empty_store(window)
        raise TurbinaError(
            "no workload to advise on", "pass --workload FILE.sql or --pg-stat-statements"
        )
    recorded = _recorded_workload(engine, state)
    if not recorded.queries:
        if from_store:
            raise _empty_store(window)
        raise TurbinaError(
            "the query recorder has captured no SELECT yet",
            "exercise the app first, or pass --workload FILE.sql",
        )
    if from_store:  # nothing flushed yet, but this process ran the statements itself
        return recorded, "this process's query recorder (the store had none yet)"
    return recorded, "this process's query recorder"


def _empty_store(window: str) -> TurbinaError:
    return TurbinaError(
        f"the store holds no SELECT of this database in the last {window}",
        "exercise the app first, pass a longer --window, or --workload FILE.sql",
    )


def _say(line: str) -> None:
    click.echo(line, err=True)


def _common(fn: Any) -> Any:
    options = [
        click.option("--database-url", help="Database to advise on (default: the app's engine)."),
        click.option(
            "--workload",
            "workload_files",
            multiple=True,
            type=click.Path(),  # checked by _read_workload_files: one line, exit 1
            help="SQL file of SELECTs (default: the app's store, else its query recorder).",
        ),
        click.option(
            "--window",
            default=STORE_WINDOW,
            show_default=True,
            help=f"The store's window to take the workload from: {WINDOW_HELP}.",
        ),
        click.option(
            "--recorder",
            is_flag=True,
            help="Take the workload from this process's query recorder, not the store.",
        ),
        click.option(
            "--pg-stat-statements", is_flag=True, help="Take the workload from pg_stat_statements."
        ),
        click.option(
            "--budget",
            help="Storage budget: bytes (500MB) or share of the data size (30%). Default 50%.",
        ),
        click.option(
            "--max-seconds",
            type=float,
            default=DEFAULT_MAX_SECONDS,
            show_default=True,
            help="Bound on advising time.",
        ),
        click.option(
            "--min-improvement",
            type=float,
            default=DEFAULT_MIN_IMPROVEMENT,
            show_default=True,
            help="Smallest share of the workload cost a move must save.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["auto", "hypopg", "transaction"]),
            default="auto",
            show_default=True,
            help="What-if costing: HypoPG or real indexes in a rolled-back transaction.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class _Progress:
    """Progress lines on stderr, headed by "advising on N statements" — printed only once
    advising has really started, so a failure before it (no HypoPG, ...) stays one line."""

    def __init__(self, header: str) -> None:
        self.header: str | None = header

    def __call__(self, line: str) -> None:
        if line.startswith("turbina: note:"):  # the backend's notes come before the rounds
            _say(line)
            return
        self.start()
        _say(line)

    def start(self) -> None:
        if self.header is not None:
            _say(self.header)
            self.header = None


class _Run:
    """What an advice run worked on: the engine, the app (or None), the statements and where
    they came from, and the advice."""

    def __init__(
        self, engine: sa.Engine, app: Any, found: workload.Workload, source: str, advice: Advice
    ) -> None:
        self.engine, self.app, self.source, self.advice = engine, app, source, advice
        self.queries = found.queries


@contextmanager
def _run_advice(
    database_url: str | None,
    workload_files: tuple[str, ...],
    pg_stat_statements: bool,
    budget: str | None,
    max_seconds: float,
    min_improvement: float,
    backend: str,
    window: str,
    recorder: bool,
) -> Iterator[_Run]:
    parse_budget(budget)  # a bad --budget or --window fails before any database is opened
    parse_window(window)
    from_files = _read_workload_files(workload_files)
    needs_app = not (workload_files or pg_stat_statements)
    with _target(database_url, needs_app) as (engine, app):
        found, source = _workload(
            engine, app, from_files, pg_stat_statements, bool(workload_files), window, recorder
        )
        progress = _Progress(
            f"turbina: advising on {len(found.queries)} statements ({engine.dialect.name})\n"
            f"turbina: workload: from {source}"
        )
        try:
            advice = advise_workload(
                engine, found, backend, budget, max_seconds, min_improvement, progress
            )
        except NoUsableWorkload as exc:
            for skipped in exc.skipped:  # every statement, with its line and reason
                click.echo(skipped.line())
            raise
        progress.start()
        yield _Run(engine, app, found, source, advice)


def _save(run: _Run, drops: list[Any]) -> None:
    """Save the report where the app's dashboard reads it (the instance folder)."""
    path = report_path(run.app.instance_path)
    save_report(
        path,
        to_json(run.advice, drops),
        render_lines(run.advice, drops),
        dialect=run.engine.dialect.name,
        database=run.engine.url.render_as_string(hide_password=True),
        source=run.source,
    )
    _say(f"turbina: saved the report to {path} (the dashboard's Indexes page shows it)")


def _writable(output: str | None) -> None:
    """A bad ``--output`` fails before advising, not after minutes of it."""
    if output is None:
        return
    target = Path(output)
    fix = "pass --output a file path in an existing directory"
    if target.is_dir():
        raise TurbinaError(f"--output {output} is a directory", fix)
    if not target.parent.is_dir():
        raise TurbinaError(f"--output {output}: directory {target.parent} does not exist", fix)


def _migration(run: _Run) -> str:
    """One Alembic revision for PostgreSQL and SQLite (the upgrade picks the statements for
    the database it runs on): the advised set for this database's dialect, the same indexes
    for the other. Its docstring says which command, database and workload produced it."""
    dialect = run.engine.dialect.name
    if dialect not in ddl.PORTABLE_DIALECTS:
        return ddl.migration_text(run.advice.specs, uuid.uuid4().hex[:12], None, dialect=dialect)
    sets, notes = ddl.portable_sets(run.advice.specs, dialect)
    others = ", ".join(d for d in sets if d != dialect)
    database = run.engine.url.render_as_string(hide_password=True)
    lines = [
        f"Generated by `turbina indexes advise --format migration` on {database} ({dialect}),",
        f"workload: {run.source}; {len(run.advice.specs)} indexes advised.",
        f"The {others} statements are the same indexes, not advice measured there: run the",
        "command on such a database and paste its set to tune it.",
        *notes,
    ]
    return ddl.portable_migration_text(
        sets, uuid.uuid4().hex[:12], None, "turbina: advised indexes", "\n".join(lines)
    )


@click.group("indexes", cls=TurbinaGroup, help="Index advice: advise, verify, apply, check.")
def indexes_group() -> None:
    """The ``indexes`` command group."""


@indexes_group.command("advise")
@_common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "sql", "migration", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(),  # checked by _writable: one line, exit 1
    help="Write the SQL/migration/JSON here instead of stdout.",
)
@click.option(
    "--no-save",
    is_flag=True,
    help="Do not save the report to the app's instance folder (for the dashboard).",
)
def advise_command(fmt: str, output: str | None, no_save: bool, **options: Any) -> None:
    """Suggest indexes for the workload (changes nothing)."""
    _writable(output)
    with _run_advice(**options) as run:
        engine, advice = run.engine, run.advice
        saving = run.app is not None and not no_save
        drops = drop_suggestions(engine, run.queries) if saving or fmt in ("text", "json") else []
        if fmt == "text":
            text = "\n".join(render_lines(advice, drops)) + "\n"
        elif fmt == "sql":
            text = ddl.emit_sql(advice.specs, engine.dialect.name)
        elif fmt == "migration":
            text = _migration(run)
        else:
            text = json.dumps(to_json(advice, drops), indent=2) + "\n"
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise TurbinaError(
                    f"cannot write --output {output}: {exc.strerror or exc}",
                    "pass --output a writable file path",
                ) from None
            _say(f"turbina: wrote {output}")
        else:
            click.echo(text, nl=False)
        if saving:
            _save(run, drops)


@indexes_group.command("verify")
@_common
@click.option(
    "--keep", is_flag=True, help="Keep the indexes after measuring (default: drop them again)."
)
@click.option(
    "--runs", type=int, default=5, show_default=True, help="Timed runs per statement (median)."
)
def verify_command(keep: bool, runs: int, **options: Any) -> None:
    """Advise, build the indexes for real, re-run the workload and report measured speedups."""
    if runs < 1:
        raise TurbinaError(f"--runs {runs} is not a positive count", "pass --runs 1 or more")
    with _run_advice(**options) as run:
        engine, queries, advice = run.engine, run.queries, run.advice
        for line in render_lines(advice):
            click.echo(line)
        if not advice.specs:
            return
        result = verify_indexes(engine, advice.specs, queries, runs=runs, keep=keep, progress=_say)
        for line in result.lines():
            click.echo(line)


@indexes_group.command("apply")
@_common
@click.option("--lock-timeout-ms", type=int, default=5000, show_default=True)
@click.option(
    "--dry-run", is_flag=True, help="Advise and print what would be built; change nothing."
)
@click.option("--force", is_flag=True, help="Keep an index even when verify measured it slower.")
@click.option(
    "--runs", type=int, default=5, show_default=True, help="Timed runs per statement (median)."
)
def apply_command(
    lock_timeout_ms: int, dry_run: bool, force: bool, runs: int, **options: Any
) -> None:
    """Advise, build the indexes (CONCURRENTLY, advisory lock, lock_timeout, INVALID dropped),
    measure, and keep only those that made their statements faster (unless --force)."""
    if runs < 1:
        raise TurbinaError(f"--runs {runs} is not a positive count", "pass --runs 1 or more")
    with _run_advice(**options) as run:
        engine, queries, advice = run.engine, run.queries, run.advice
        if dry_run:
            for rec in advice.recommendations:
                click.echo(
                    f"turbina: would create: {ddl.create_sql(rec.spec, engine.dialect.name, True, True)}"
                )
            click.echo(
                f"turbina: dry run: {len(advice.recommendations)} index(es) would be built and "
                "verified; nothing changed"
            )
            return
        if not advice.recommendations:
            click.echo("turbina: nothing to apply: no index passes the threshold rule")
            return
        applied = apply_verified(
            engine, advice.recommendations, queries, runs=runs, force=force, progress=_say
        )
        for line in applied.lines():
            click.echo(line)
        for spec in applied.verification.applied.existing:
            click.echo(f"turbina: exists: {spec.name}")
        if applied.verification.applied.invalid:
            raise TurbinaError(
                f"{len(applied.verification.applied.invalid)} index build(s) failed and were dropped",
                "see the lines above",
            )


@indexes_group.command("check")
@click.argument("sql_file", type=click.Path())  # checked below: one line, exit 1
@click.option("--database-url", help="Also check tables and columns against this database.")
def check_command(sql_file: str, database_url: str | None) -> None:
    """Tell which statements of SQL_FILE would fail, and why. Exit 1 when any would."""
    readable_file(sql_file, "SQL file", _SQL_FIX)
    if database_url is not None:
        with open_engine(database_url) as engine:
            findings = check_file(sql_file, engine)
    else:
        findings = check_file(sql_file)
    for finding in findings:
        click.echo(finding.render(sql_file))
    errors = [f for f in findings if f.severity == "error"]
    click.echo(
        f"turbina: check: {sql_file}: {len(errors)} statement(s) would fail, "
        f"{len(findings) - len(errors)} note(s)"
    )
    if errors:
        raise TurbinaError(
            f"{len(errors)} statement(s) in {sql_file} would fail", "apply the fixes shown above"
        )
