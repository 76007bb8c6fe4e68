"""The CLI contract, command by command and bad input by bad input.

Every expected error prints ONE stderr line, ``turbina: error: <reason> (fix: <fix>)``, and
exits 1 — under ``flask turbina ...`` and under the ``turbina`` script, in-process (click's
runner on a ``FlaskGroup``, and ``main``) and in real subprocesses of the installed scripts.
A command that reads a file or a URL works with no Flask app at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

import turbina
from click_compat import SEPARATE_STDERR
from turbina.flask.cli import main, turbina_group
from turbina.queries.nplusone import LAZY_LOAD, Finding

CRITICOS = Path(__file__).parents[1] / "indexes" / "data" / "indices_criticos.sql"
BIN = Path(sys.executable).parent
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/x"

# The apps a command may run in; "none" is no app at all, "broken_module" fails to import.
APP_CONFIG: dict[str, dict[str, Any] | None] = {
    "noturb_app": None,  # a Flask app without Turbina
    "disabled_app": {"TURBINA_ENABLED": False},
    "redisbad_app": {
        "TURBINA_CACHE_BACKEND": "redis",
        "TURBINA_REDIS_URL": "redis://127.0.0.1:1/0",
        "TURBINA_EXPLAIN": False,
    },
    "storebad_app": {  # the request monitor's store on a Redis that does not answer
        "TURBINA_STORE": "redis",
        "TURBINA_REDIS_URL": "redis://127.0.0.1:1/0",
        "TURBINA_EXPLAIN": False,
    },  # asset bundles over workdir/static: a source that is not there, a JS syntax error
    "assetsmissing_app": {
        "TURBINA_ASSETS_BUNDLES": {"app.css": ["css/missing.css"]},
        "TURBINA_EXPLAIN": False,
        "TURBINA_MONITOR": False,
    },
    "assetssyntax_app": {
        "TURBINA_ASSETS_BUNDLES": {"app.js": ["js/broken.js"]},
        "TURBINA_EXPLAIN": False,
        "TURBINA_MONITOR": False,
    },
}
BROKEN_SOURCE = "import turbina_tests_no_such_module  # noqa: F401\n"


def _app_source(config: dict[str, Any] | None) -> str:
    lines = ["from flask import Flask", "", "app = Flask(__name__)"]
    if config is not None:
        lines[:0] = ["from turbina import Turbina"]
        lines += [f"app.config.update({config!r})", "Turbina(app)"]
    return "\n".join(lines) + "\n"


def _make_app(kind: str, config: dict[str, Any] | None = None) -> Flask:
    app = Flask(kind)
    config = config if config is not None else APP_CONFIG[kind]
    if config is not None:
        app.config.update(config)
        turbina.Turbina(app)
    return app


# --- the files the commands are given ---------------------------------------------------


def _write_good_snapshot(path: Path, db: Path) -> None:
    """A real ``QueriesState.save_snapshot``: queries recorded on SQLite, one N+1 finding."""
    engine = sa.create_engine(f"sqlite:///{db}")
    state = turbina.QueriesState(explain=False)
    state.attach(engine, name="main")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(5):
            conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": f"secret-{i}"})
            conn.execute(sa.text("SELECT v FROM t WHERE id = :id"), {"id": i}).all()
    state.findings.add(
        [Finding(LAZY_LOAD, "Author.books", 12, 3.5, "app.py:10", "selectinload(Author.books)")]
    )
    state.save_snapshot(path)
    state.close()
    engine.dispose()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """App modules and input files; no app.py/wsgi.py, so "no app" really is no app."""
    root = tmp_path_factory.mktemp("cli")
    for kind, config in APP_CONFIG.items():
        (root / f"{kind}.py").write_text(_app_source(config))
    (root / "broken_module.py").write_text(BROKEN_SOURCE)
    _write_good_snapshot(root / "good.json", root / "recorded.db")
    (root / "notjson.json").write_text("{nope")
    (root / "array.json").write_text("[1, 2]")
    (root / "otherobj.json").write_text('{"foo": 1}')
    (root / "badrow.json").write_text(json.dumps({"queries": [{"engine": "x"}], "findings": []}))
    (root / "binary.json").write_bytes(bytes(range(256)) * 4)
    (root / "adir").mkdir()
    (root / "static" / "js").mkdir(parents=True)
    (root / "static" / "js" / "broken.js").write_text('var ok = 1;\nvar s = "unterminated;\n')
    (root / "empty.sql").write_text("")
    (root / "select.sql").write_text("SELECT * FROM t WHERE v = 'a';\n")
    return root


def _args(args: tuple[str, ...], workdir: Path) -> list[str]:
    names = {"sqlite": f"sqlite:///{workdir / 'advise.db'}", "criticos": str(CRITICOS)}
    return [a.format(**names) for a in args]


# --- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    app: str  # "none", "broken_module" or a key of APP_CONFIG
    expect: str  # part of the error line
    stdout: str = ""  # part of stdout, when the command prints findings before failing


CASES = [
    # queries / nplusone --from: no app needed, every kind of bad file
    Case("queries-missing", ("queries", "--from", "missing.json"), "noturb_app", "does not exist"),
    Case("queries-notjson", ("queries", "--from", "notjson.json"), "none", "not valid JSON"),
    Case("queries-array", ("queries", "--from", "array.json"), "none", "found an array"),
    Case("queries-badrow", ("queries", "--from", "badrow.json"), "none", "lacks one of"),
    Case("queries-dir", ("queries", "--from", "adir"), "none", "is a directory"),
    Case("nplusone-object", ("nplusone", "--from", "otherobj.json"), "none", "no 'queries'"),
    Case("nplusone-binary", ("nplusone", "--from", "binary.json"), "none", "not text"),
    # queries / nplusone from the app
    Case("nplusone-no-turbina", ("nplusone",), "noturb_app", "does not use Turbina"),
    Case("nplusone-no-app", ("nplusone",), "none", "needs a Flask app"),
    Case("queries-disabled", ("queries",), "disabled_app", "query recording is off"),
    Case("queries-broken-app", ("queries",), "broken_module", "turbina_tests_no_such_module"),
    # slow: a snapshot or the app, like queries
    Case("slow-missing", ("slow", "--from", "missing.json"), "none", "does not exist"),
    Case("slow-disabled", ("slow",), "disabled_app", "query recording is off"),
    # cache
    Case("cache-stats-no-app", ("cache", "stats"), "none", "needs a Flask app"),
    Case("cache-stats-no-turbina", ("cache", "stats", "--json"), "noturb_app", "Turbina(app)"),
    Case("cache-stats-disabled", ("cache", "stats"), "disabled_app", "cache is not installed"),
    Case("cache-invalidate-redis", ("cache", "invalidate", "ctx"), "redisbad_app", "unreachable"),
    Case(
        "cache-invalidate-tables-redis",
        ("cache", "invalidate-tables", "a", "b"),
        "redisbad_app",
        "redis://127.0.0.1:1/0 is unreachable",
    ),
    # the PostgreSQL trigger bridge: another database, or none at all
    Case(
        "install-triggers-sqlite",
        ("cache", "install-triggers", "--database-url", "{sqlite}"),
        "none",
        "install-triggers needs PostgreSQL",
    ),
    Case(
        "uninstall-triggers-sqlite",
        ("cache", "uninstall-triggers", "t", "--database-url", "{sqlite}"),
        "broken_module",
        "uninstall-triggers needs PostgreSQL",
    ),
    Case("triggers-no-database", ("cache", "triggers"), "none", "needs a database"),
    Case("triggers-app-without-db", ("cache", "triggers"), "noturb_app", "no Flask-SQLAlchemy"),
    # requests (reads the store)
    Case("requests-no-app", ("requests",), "none", "needs a Flask app"),
    Case("requests-disabled", ("requests", "--json"), "disabled_app", "request monitor is off"),
    Case("requests-bad-window", ("requests", "--window", "3y"), "redisbad_app", "is not a window"),
    Case(
        "requests-old-window",
        ("requests", "--window", "30d"),
        "redisbad_app",
        "reaches past what the store keeps",
    ),
    Case("requests-store-down", ("requests",), "storebad_app", "cannot read the Redis store"),
    # report (the store, a snapshot or a benchmark document)
    Case("report-no-app", ("report",), "none", "needs a Flask app"),
    Case("report-disabled", ("report", "--format", "json"), "disabled_app", "monitor is off"),
    Case("report-bench-missing", ("report", "--bench", "missing.json"), "none", "does not exist"),
    Case(
        "report-bench-not-benchmark",
        ("report", "--bench", "otherobj.json"),
        "none",
        "not a benchmark document",
    ),
    Case("report-from-notjson", ("report", "--from", "notjson.json"), "none", "not valid JSON"),
    Case("report-store-down", ("report",), "storebad_app", "cannot read the Redis store"),
    # the reports that read the store: --window and --json on each
    Case("queries-bad-window", ("queries", "--window", "3y"), "redisbad_app", "is not a window"),
    Case(
        "queries-json-store-down",
        ("queries", "--json"),
        "storebad_app",
        "cannot read the Redis store",
    ),
    Case(
        "nplusone-old-window",
        ("nplusone", "--window", "30d"),
        "redisbad_app",
        "reaches past what the store keeps",
    ),
    Case(
        "nplusone-json-store-down",
        ("nplusone", "--json", "--window", "1h"),
        "storebad_app",
        "cannot read the Redis store",
    ),
    Case(
        "slow-future-window",
        ("slow", "--window", "2999-01-01T00:00"),
        "redisbad_app",
        "is in the future",
    ),
    Case("slow-json-store-down", ("slow", "--json"), "storebad_app", "cannot read the Redis"),
    Case(
        "cache-stats-bad-window",
        ("cache", "stats", "--window", "0m"),
        "storebad_app",
        "window '0m' is empty",
    ),
    Case(
        "cache-stats-json-store-down",
        ("cache", "stats", "--json"),
        "storebad_app",
        "cannot read the Redis store",
    ),
    # assets build: needs the app; a missing source or a syntax error names the file
    Case("assets-build-no-app", ("assets", "build"), "none", "needs a Flask app"),
    Case("assets-build-disabled", ("assets", "build", "--force"), "disabled_app", "no assets"),
    Case(
        "assets-build-missing-source",
        ("assets", "build"),
        "assetsmissing_app",
        "source file css/missing.css does not exist",
    ),
    Case(
        "assets-build-syntax-error",
        ("assets", "build", "--prune"),
        "assetssyntax_app",
        "js/broken.js:2:9: unterminated string literal",
    ),
    # indexes check
    Case(
        "check-failing-statements",
        ("indexes", "check", "{criticos}"),
        "noturb_app",
        "3 statement(s)",
        stdout="3 statement(s) would fail, 1 note(s)",
    ),
    Case("check-missing", ("indexes", "check", "missing.sql"), "none", "does not exist"),
    Case("check-dir", ("indexes", "check", "adir"), "none", "is a directory"),
    Case(
        "check-bad-url",
        ("indexes", "check", "select.sql", "--database-url", "notaurl"),
        "none",
        "'notaurl' is not a database URL",
    ),
    Case(
        "check-empty-url",
        ("indexes", "check", "select.sql", "--database-url", ""),
        "none",
        "--database-url is empty",
    ),
    # indexes advise / verify / apply
    Case(
        "advise-unknown-dialect",
        ("indexes", "advise", "--database-url", "foo://x", "--workload", "select.sql"),
        "none",
        "unknown database dialect",
    ),
    Case(
        "advise-unreachable",
        ("indexes", "advise", "--database-url", UNREACHABLE_PG, "--workload", "select.sql"),
        "none",
        "cannot connect to the database",
    ),
    Case(
        "advise-no-database",
        ("indexes", "advise", "--workload", "select.sql"),
        "none",
        "no database to work on",
    ),
    Case("advise-app-without-db", ("indexes", "advise"), "noturb_app", "Flask-SQLAlchemy"),
    Case("advise-bad-window", ("indexes", "advise", "--window", "3y"), "none", "is not a window"),
    Case(
        "advise-old-window",
        ("indexes", "advise", "--window", "30d", "--no-save"),
        "broken_module",
        "reaches past what the store keeps",
    ),
    Case(
        "advise-output-dir-missing",
        (
            *("indexes", "advise", "--database-url", "{sqlite}", "--workload", "select.sql"),
            *("--output", "nodir/x.sql"),
        ),
        "none",
        "does not exist",
    ),
    Case(
        "verify-workload-missing",
        ("indexes", "verify", "--database-url", "{sqlite}", "--workload", "missing.sql"),
        "none",
        "workload file missing.sql does not exist",
    ),
    Case(
        "verify-workload-empty",
        ("indexes", "verify", "--database-url", "{sqlite}", "--workload", "empty.sql"),
        "none",
        "has no SELECT",
    ),
    Case(
        "apply-budget",
        (
            *("indexes", "apply", "--database-url", "{sqlite}", "--workload", "select.sql"),
            *("--budget", "abc"),
        ),
        "none",
        "--budget 'abc' is not a size",
    ),
    Case(
        "apply-bad-url-ignores-broken-app",  # URL + workload given: the app is not loaded
        ("indexes", "apply", "--database-url", "notaurl", "--workload", "select.sql"),
        "broken_module",
        "not a database URL",
    ),
    Case(
        "advise-no-usable-statement",  # every statement listed on stdout, then one error line
        ("indexes", "advise", "--database-url", "{sqlite}", "--workload", "select.sql"),
        "none",
        "none of the 1 workload statement(s) is usable",
        stdout="turbina: skipped: select.sql:1: unknown table(s): t",
    ),
    Case(
        "apply-dry-run-no-usable-statement",
        (
            *("indexes", "apply", "--database-url", "{sqlite}", "--workload", "select.sql"),
            "--dry-run",
        ),
        "none",
        "is usable",
        stdout="turbina: skipped: select.sql:1",
    ),
    Case(
        "apply-runs-zero",
        (
            *("indexes", "apply", "--database-url", "{sqlite}", "--workload", "select.sql"),
            *("--runs", "0", "--force"),
        ),
        "none",
        "--runs 0 is not a positive count",
    ),
]


def assert_one_error_line(code: int, out: str, err: str, case: Case) -> None:
    """Exit 1; stderr is one line with the reason and the fix; no traceback anywhere."""
    where = f"exit {code}\n--- stdout:\n{out}\n--- stderr:\n{err}"
    assert "Traceback" not in out + err, where
    assert code == 1, where
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), where
    assert lines[0].startswith("turbina: error: "), where
    assert "(fix: " in lines[0], where
    assert case.expect in lines[0], where
    assert case.stdout in out, where


# --- in-process: click's runner on a FlaskGroup, and main() --------------------------------


@pytest.fixture
def isolated(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """cwd = workdir, no FLASK_APP; sys.path and the app modules imported are undone."""
    monkeypatch.chdir(workdir)
    for name in ("FLASK_APP", "FLASK_DEBUG", "FLASK_RUN_FROM_CLI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # flask prepends the app's directory
    yield
    for name in [*APP_CONFIG, "broken_module"]:
        module = sys.modules.pop(name, None)
        state = getattr(getattr(module, "app", None), "extensions", {}).get("turbina")
        if state is not None and state.cache is not None:
            state.cache.close()


def run_flask_group(
    app: str, args: list[str], config: dict[str, Any] | None = None
) -> tuple[int, str, str]:
    """``flask [--app broken_module] turbina ...`` through click's runner; ``config`` makes
    an app with Turbina and that configuration."""
    created: list[Flask] = []

    def factory() -> Flask:
        created.append(_make_app(app, config))
        return created[-1]

    cli = FlaskGroup(
        create_app=factory if app in APP_CONFIG or config is not None else None,
        add_default_commands=False,
        load_dotenv=False,
    )
    prefix = ["--app", "broken_module"] if app == "broken_module" else []
    try:
        result = CliRunner(**SEPARATE_STDERR).invoke(
            cli, [*prefix, "turbina", *args], catch_exceptions=False
        )
    finally:
        for flask_app in created:
            state = flask_app.extensions.get("turbina")
            if state is not None and state.cache is not None:
                state.cache.close()
    return result.exit_code, result.stdout, result.stderr


def run_main(
    app: str, args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """The ``turbina`` script's ``main``, the app named by ``FLASK_APP``."""
    if app != "none":
        monkeypatch.setenv("FLASK_APP", app)
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_flask_group_in_process(case: Case, workdir: Path) -> None:
    assert_one_error_line(*run_flask_group(case.app, _args(case.args, workdir)), case)


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_main_in_process(
    case: Case,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert_one_error_line(*run_main(case.app, _args(case.args, workdir), capsys, monkeypatch), case)


def assert_table(code: int, out: str, err: str, header: str, row: str) -> None:
    where = f"exit {code}\n--- stdout:\n{out}\n--- stderr:\n{err}"
    assert code == 0, where
    assert err == "", where
    lines = out.splitlines()
    assert lines[0].split()[:2] == header.split(), where
    assert set(lines[1]) <= {"-", " "}, where
    assert any(row in line for line in lines[2:]), where
    assert "secret-" not in out  # snapshots are redacted


POSITIVE = [
    ("queries", "engine calls", "select v from t where id = ?"),
    ("nplusone", "requests max_loads", "selectinload(Author.books)"),
]


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("app", ["none", "broken_module"])
@pytest.mark.parametrize(("command", "header", "row"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_from_file_needs_no_app(
    command: str,
    header: str,
    row: str,
    app: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = [command, "--from", "good.json"]
    assert_table(*run_flask_group(app, args), header, row)
    assert_table(*run_main(app, args, capsys, monkeypatch), header, row)


# --- real subprocesses of the installed scripts ------------------------------------------------

# (script, case id): a bad input for every command across the two scripts, and the former
# failures under both. They all run at once, in parallel, in `subprocess_results`.
SUBPROCESS_CASES = [
    ("turbina", "requests-bad-window"),
    ("flask", "requests-store-down"),
    ("turbina", "nplusone-old-window"),
    ("flask", "queries-json-store-down"),
    ("turbina", "slow-future-window"),
    ("flask", "cache-stats-json-store-down"),
    ("turbina", "queries-missing"),
    ("turbina", "nplusone-no-turbina"),
    ("turbina", "queries-broken-app"),
    ("turbina", "slow-missing"),
    ("turbina", "cache-stats-no-app"),
    ("turbina", "cache-invalidate-tables-redis"),
    ("turbina", "install-triggers-sqlite"),
    ("flask", "uninstall-triggers-sqlite"),
    ("turbina", "triggers-no-database"),
    ("turbina", "check-bad-url"),
    ("turbina", "advise-unreachable"),
    ("turbina", "verify-workload-empty"),
    ("turbina", "apply-budget"),
    ("flask", "advise-no-usable-statement"),
    ("flask", "queries-missing"),
    ("flask", "nplusone-no-turbina"),
    ("flask", "queries-broken-app"),
    ("flask", "cache-invalidate-redis"),
    ("flask", "check-failing-statements"),
    ("turbina", "assets-build-missing-source"),
    ("flask", "assets-build-syntax-error"),
    ("turbina", "report-bench-not-benchmark"),
    ("flask", "report-disabled"),
]
# (script, command) reading good.json with no app at all.
SUBPROCESS_POSITIVE = [("turbina", "queries"), ("turbina", "nplusone"), ("flask", "nplusone")]
BY_ID = {case.id: case for case in CASES}


def _command_line(script: str, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "PYTEST_", "TURBINA_"))
    }
    env["FLASK_SKIP_DOTENV"] = "1"
    if script == "turbina":
        if app != "none":
            env["FLASK_APP"] = app
        return [str(BIN / "turbina"), *args], env
    prefix = ["--app", app] if app != "none" else []
    return [str(BIN / "flask"), *prefix, "turbina", *args], env


def _run(workdir: Path, script: str, app: str, args: list[str]) -> tuple[int, str, str]:
    argv, env = _command_line(script, app, args)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    done = subprocess.run(
        argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def subprocess_results(workdir: Path) -> dict[tuple[str, ...], tuple[int, str, str]]:
    """Every subprocess at once (each is mostly interpreter start-up)."""
    jobs: dict[tuple[str, ...], tuple[str, str, list[str]]] = {}
    for script, case_id in SUBPROCESS_CASES:
        case = BY_ID[case_id]
        jobs[(script, case_id)] = (script, case.app, _args(case.args, workdir))
    for script, command in SUBPROCESS_POSITIVE:
        jobs[(script, command)] = (script, "none", [command, "--from", "good.json"])
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(_run, workdir, *job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(("script", "case_id"), SUBPROCESS_CASES, ids=lambda v: str(v))
def test_installed_scripts(
    script: str,
    case_id: str,
    subprocess_results: dict[tuple[str, ...], tuple[int, str, str]],
) -> None:
    assert_one_error_line(*subprocess_results[(script, case_id)], BY_ID[case_id])


@pytest.mark.parametrize(("script", "command"), SUBPROCESS_POSITIVE, ids=lambda v: str(v))
def test_installed_scripts_read_a_snapshot_without_an_app(
    script: str,
    command: str,
    subprocess_results: dict[tuple[str, ...], tuple[int, str, str]],
) -> None:
    _command, header, row = next(p for p in POSITIVE if p[0] == command)
    assert_table(*subprocess_results[(script, command)], header, row)


def _leaf_commands(group: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= _leaf_commands(command, (*prefix, name))
        else:
            found.add((*prefix, name))
    return found


def test_every_command_has_bad_inputs_in_process_and_in_a_subprocess() -> None:
    leaves = _leaf_commands(turbina_group)
    assert ("indexes", "check") in leaves and ("queries",) in leaves
    in_subprocess = [BY_ID[case_id] for _script, case_id in SUBPROCESS_CASES]
    for cases in (CASES, in_subprocess):
        missing = {p for p in leaves if not any(c.args[: len(p)] == p for c in cases)}
        assert not missing, f"no bad input for {sorted(missing)}"


# --- the same commands against the real services: the contrast to the bad inputs ----------


@pytest.mark.postgres
@pytest.mark.usefixtures("isolated")
def test_check_against_a_real_database_still_ends_in_one_line(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = (
        main(["indexes", "check", str(CRITICOS), "--database-url", pg_url]),
        *capsys.readouterr(),
    )
    case = Case("pg", (), "none", "statement(s) in", stdout="table entregas_monitoradas")
    assert_one_error_line(code, out, err, case)


@pytest.mark.redis
@pytest.mark.usefixtures("isolated")
def test_cache_invalidate_with_redis_up(redis_url: str, redis_prefix: str) -> None:
    config = {
        "TURBINA_CACHE_BACKEND": "redis",
        "TURBINA_REDIS_URL": redis_url,
        "TURBINA_CACHE_PREFIX": redis_prefix,
        "TURBINA_EXPLAIN": False,
    }
    code, out, err = run_flask_group("redis_app", ["cache", "invalidate", "ctx"], config)
    assert (code, out, err) == (0, "invalidated context ctx\n", "")
