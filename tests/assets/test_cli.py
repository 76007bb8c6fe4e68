"""``flask turbina assets build`` on the test site: the table, then nothing to do.

(Its bad inputs — no app, a missing source, a syntax error — are in tests/cli/test_contract.py
with every other command's.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

from click_compat import SEPARATE_STDERR


def run(app: Flask, *args: str) -> tuple[int, str, str]:
    cli = FlaskGroup(create_app=lambda: app, add_default_commands=False, load_dotenv=False)
    result = CliRunner(**SEPARATE_STDERR).invoke(
        cli, ["turbina", "assets", "build", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_build_prints_one_line_per_bundle_then_finds_nothing_to_do(
    make_app: Callable[..., Flask], site: Path
) -> None:
    app = make_app()
    code, out, err = run(app)
    assert (code, err) == (0, ""), out + err
    lines = out.splitlines()
    assert lines[0].split() == ["bundle", "file", "source_bytes", "bytes", "br", "gzip", "status"]
    assert set(lines[1]) <= {"-", " "}
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    assert set(rows) == {"site.css", "site.js", "chart.js", "turbina-lazy.js"}
    assert all(row[-1] == "built" for row in rows.values())
    assert rows["site.css"][1].startswith("site.") and rows["site.css"][1].endswith(".css")
    assert (site / "static" / "dist" / rows["site.css"][1]).is_file()
    assert lines[-1].startswith("4 built, 0 unchanged, ")
    assert lines[-1].endswith("manifest.json")

    code, out, err = run(app)
    assert (code, err) == (0, "")
    assert all(line.split()[-1] == "unchanged" for line in out.splitlines()[2:-1])
    assert out.splitlines()[-1].startswith("0 built, 4 unchanged, 0 file(s) written in ")
    assert out.splitlines()[-1].endswith("(unchanged)")


def test_zstd_adds_a_column(make_app: Callable[..., Flask]) -> None:
    code, out, _err = run(make_app(TURBINA_ASSETS_ZSTD=True), "--force")
    assert code == 0
    assert out.splitlines()[0].split()[4:] == ["br", "gzip", "zstd", "status"]
