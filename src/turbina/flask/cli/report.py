"""``turbina report``: the Performance Optimizer — ranked findings and the seed's checklist.

Reads the app's store over ``--window`` (every worker, every host) by default, or a
``QueriesState`` snapshot (``--from``); ``--bench FILE`` adds a benchmark document (and alone
needs no app); the saved index advice and the assets manifest of the app are read when
present (``--advice`` / ``--assets`` name other files). ``--explain`` plans the slow SELECTs
generically on the app's engine. ``--format`` text (default), markdown, html or json;
``--output`` writes a file instead of printing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaCommand, current_app_or_none, readable_file
from turbina.flask.cli.queries import _read_snapshot
from turbina.flask.cli.requests import store_reading
from turbina.flask.queries import _engines_of
from turbina.flask.report_inputs import assets_facts, saved_index_advice, slow_rules
from turbina.flask.state import find_state
from turbina.indexes.saved import load_report
from turbina.report import build_report, render_html, render_markdown, render_text
from turbina.store.model import WINDOW_HELP

__all__ = ["report_command"]

MAX_INPUT_BYTES = 32 * 1024 * 1024  # a benchmark or assets file larger than this is refused


def _read_json(path: Path, what: str, fix: str) -> Any:
    readable_file(path, what, fix)
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise TurbinaError(f"{what} {path} is larger than {MAX_INPUT_BYTES >> 20} MB", fix)
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise TurbinaError(f"{what} {path} is not text (not UTF-8)", fix) from None
    except ValueError as exc:
        raise TurbinaError(f"{what} {path} is not valid JSON: {exc}", fix) from None
    except RecursionError:
        raise TurbinaError(f"{what} {path} is nested too deeply", fix) from None
    except OSError as exc:
        raise TurbinaError(f"cannot read {what} {path}: {exc.strerror or exc}", fix) from None


_BENCH_FIX = "pass the JSON document `make bench` writes (kind turbina.benchmark)"
_ASSETS_FIX = "pass the assets manifest.json `turbina assets build` writes"


@click.command("report", cls=TurbinaCommand)
@click.option("--window", default="1h", show_default=True, help=f"Store window: {WINDOW_HELP}.")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),  # checked by _read_snapshot: one line, exit 1
    default=None,
    help="Read a JSON snapshot (QueriesState.save_snapshot) instead of the store.",
)
@click.option(
    "--bench",
    type=click.Path(path_type=Path),
    default=None,
    help="A benchmark document (make bench): the checklist is evaluated on it. Alone, no app.",
)
@click.option(
    "--advice",
    type=click.Path(path_type=Path),
    default=None,
    help="Saved index advice (default: the app's instance/turbina-index-advice.json).",
)
@click.option(
    "--assets",
    "assets_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Assets manifest or facts JSON (default: the app's built manifest).",
)
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(["text", "markdown", "html", "json"]),
    help="Output format.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the report to this file instead of printing it.",
)
@click.option(
    "--top", default=5, show_default=True, type=click.IntRange(min=1), help="Findings in text."
)
@click.option(
    "--explain", is_flag=True, default=False, help="Plan the slow SELECTs on the app's engine."
)
def report_command(
    window: str,
    source: Path | None,
    bench: Path | None,
    advice: Path | None,
    assets_file: Path | None,
    fmt: str,
    output: Path | None,
    top: int,
    explain: bool,
) -> None:
    """What to change first: N+1, slow queries, indexes, cache and assets findings ranked by the
    time they save per hour, and the seed's acceptance checklist."""
    ctx = click.get_current_context()
    window_given = ctx.get_parameter_source("window") is ParameterSource.COMMANDLINE
    benchmark = _read_json(bench, "benchmark file", _BENCH_FIX) if bench is not None else None
    snapshot = _read_snapshot(source) if source is not None else None
    wants_store = source is None and (bench is None or window_given)
    app = current_app_or_none() if (wants_store or explain or bench is None) else None
    state = find_state(app) if app is not None else None
    if wants_store or explain:
        if app is None:
            raise TurbinaError(
                "`report` reads the app's store and needs a Flask app; none was found",
                "run it as `flask --app yourapp turbina report`, or pass --from SNAPSHOT / "
                "--bench FILE",
            )
        if state is None:
            raise TurbinaError(
                f"the app {app.import_name!r} does not use Turbina",
                "call Turbina(app) in its app factory",
            )
    reading = store_reading(state, window, "report") if wants_store and state else None
    engine = None
    if explain and app is not None:
        engines = _engines_of(app)
        if not engines:
            raise TurbinaError(
                "--explain needs the app's Flask-SQLAlchemy engine", "drop --explain"
            )
        engine = engines.get("default") or next(iter(engines.values()))
    saved = None
    if advice is not None:
        readable_file(advice, "index advice file", "pass a file `turbina indexes advise` saved")
        saved = load_report(advice)
    elif app is not None:
        saved = saved_index_advice(app)
    assets: Any = None
    if assets_file is not None:
        assets = _read_json(assets_file, "assets file", _ASSETS_FIX)
        if not isinstance(assets, dict):
            raise TurbinaError(f"assets file {assets_file} is not a JSON object", _ASSETS_FIX)
    else:
        assets = assets_facts(state)
    rules = slow_rules(state)
    report = build_report(
        reading=reading,
        snapshot=snapshot,
        benchmark=benchmark,
        index_advice=saved,
        assets=assets,
        engine=engine,
        rules=rules,
    )
    if fmt == "json":
        text = json.dumps(report.to_json(), indent=1, sort_keys=True, default=str) + "\n"
    elif fmt == "markdown":
        text = render_markdown(report)
    elif fmt == "html":
        text = render_html(report)
    else:
        text = render_text(report, top=top)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TurbinaError(
            f"cannot write the report to {output}: {exc.strerror or exc}",
            "pass --output a writable file path",
        ) from None
    click.echo(f"turbina: report written to {output}")
