"""``turbina report`` and ``flask turbina report``: the store of a served app, a benchmark
document with no app, every format, and bad inputs as one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

from click_compat import SEPARATE_STDERR
from turbina.flask.cli import main

from .app import SECRET
from .test_checklist import benchmark


def _flask(app: Flask, args: list[str]) -> tuple[int, str, str]:
    cli = FlaskGroup(create_app=lambda: app, add_default_commands=False, load_dotenv=False)
    result = CliRunner(**SEPARATE_STDERR).invoke(
        cli, ["turbina", "report", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def no_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLASK_APP", raising=False)
    (tmp_path / "bench.json").write_text(json.dumps(benchmark()))
    return tmp_path


def test_flask_turbina_report_reads_the_served_apps_store(served: tuple[Flask, Any]) -> None:
    app, _reading = served
    code, out, err = _flask(app, ["--window", "10m", "--top", "3"])
    assert code == 0, err
    assert out.startswith("Turbina report: the store")
    assert "[nplusone]" in out or "[slow_query]" in out
    assert "Verdict: " in out
    assert SECRET not in out
    code, out, err = _flask(app, ["--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert {f["kind"] for f in data["findings"]} >= {"nplusone", "repeated", "slow_query"}


def test_explain_puts_plans_in_the_report(served: tuple[Flask, Any]) -> None:
    app, _reading = served
    code, out, err = _flask(app, ["--explain", "--format", "json"])
    assert code == 0, err
    plans = json.loads(out)["plans"]
    assert any(p["fingerprint"].startswith("with recursive") and p["plan"] for p in plans)


def test_a_benchmark_needs_no_app(no_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--bench", "bench.json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "Verdict: 6 of 7 seed criteria met; not measured: all tests passing" in out
    assert "GET /monitoramento/listar" in out


@pytest.mark.parametrize(("fmt", "start"), [("html", "<!doctype html>"), ("markdown", "# Turbina")])
def test_output_writes_a_file(
    no_app: Path, capsys: pytest.CaptureFixture[str], fmt: str, start: str
) -> None:
    target = no_app / f"report.{fmt}"
    assert main(["report", "--bench", "bench.json", "--format", fmt, "--output", str(target)]) == 0
    assert target.read_text().startswith(start)
    assert str(target) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--bench", "nope.json"], "benchmark file nope.json does not exist"),
        (["--bench", "bad.json"], "is not valid JSON"),
        (["--bench", "bench.json", "--output", "no/such/dir/r.html"], "cannot write the report"),
        (["--bench", "bench.json", "--assets", "list.json"], "is not a JSON object"),
        (["--bench", "bench.json", "--advice", "bad.json"], "is not JSON"),
        ([], "needs a Flask app"),
    ],
)
def test_bad_inputs_are_one_line(
    no_app: Path, capsys: pytest.CaptureFixture[str], args: list[str], expect: str
) -> None:
    (no_app / "bad.json").write_text("{nope")
    (no_app / "list.json").write_text("[]")
    assert main(["report", *args]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("turbina: error: "), err
    assert expect in lines[0] and "(fix: " in lines[0]
    assert "Traceback" not in out + err
