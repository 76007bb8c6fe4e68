"""Percentiles from raw samples, Server-Timing parsing, and the result/Markdown format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench.report import (
    ALL,
    TABLE_HEADER,
    build_result,
    compare_table,
    markdown_table,
    percentile,
    run_metadata,
    write_result,
)
from bench.samples import Sample, ServerTiming, parse_server_timing, read_samples, write_samples
from bench.workload import LISTAR, LOGIN, PEDIDOS, W_LOG


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_parse_server_timing() -> None:
    assert parse_server_timing('db;dur=12.3;desc="7 queries", app;dur=45.6') == ServerTiming(
        7, 12.3, 45.6
    )
    assert parse_server_timing('app;dur=2, db;dur=0.5;desc="1 query"') == ServerTiming(1, 0.5, 2.0)
    assert parse_server_timing(None) is None
    assert parse_server_timing("cache;desc=hit") is None


def samples() -> list[Sample]:
    out = [
        Sample(LISTAR, 1000.0 + i, float(ms), 200, 26, 10.0, 40.0)
        for i, ms in enumerate(range(10, 110))
    ]
    out += [
        Sample(PEDIDOS, 1000.0, 30.0, 200, 4, 2.0, 8.0),
        Sample(PEDIDOS, 1001.0, 50.0, 500, None, None, None, "500: INTERNAL SERVER ERROR boom"),
        Sample(W_LOG, 1002.0, 20.0, 201, 3, 1.0, 5.0),
        Sample(LOGIN, 999.0, 80.0, 200, 1, 0.2, 70.0),
    ]
    return out


def test_build_result_per_page_and_totals() -> None:
    result = build_result(samples(), run_metadata(scale="tiny", db="sqlite", users=2))
    pages = result["pages"]
    assert list(pages) == [LISTAR, PEDIDOS, W_LOG, LOGIN, ALL]  # pages, writes, login, total
    listar = pages[LISTAR]
    assert listar["requests"] == 100 and listar["errors"] == 0
    assert listar["p50_ms"] == pytest.approx(59.5)
    assert listar["p95_ms"] == pytest.approx(104.05)
    assert listar["queries_per_req"] == 26 and listar["db_ms_per_req"] == 10.0
    pedidos = pages[PEDIDOS]
    assert pedidos["errors"] == 1 and pedidos["error_messages"] == [
        "500: INTERNAL SERVER ERROR boom"
    ]
    assert pedidos["queries_per_req"] == 4  # errors carry no timing and are left out of the means
    assert pages[ALL]["requests"] == 104 and pages[ALL]["errors"] == 1
    assert result["totals"]["requests"] == 104 and result["totals"]["throughput_rps"] > 0
    meta = result["meta"]
    for key in ("scale", "db", "users", "git_commit", "date", "python", "sqlalchemy", "cpus"):
        assert key in meta


def test_markdown_table_and_files(tmp_path: Path) -> None:
    result = build_result(
        samples(), run_metadata(scale="tiny", db="sqlite", users=2, note="loaded machine")
    )
    table = markdown_table(result).splitlines()
    assert table[0] == "| " + " | ".join(TABLE_HEADER) + " |"
    assert table[2].startswith(f"| `{LISTAR}` | 100 | 59.5 | 104.0 | ")
    assert table[2].endswith(" | 26.0 | 10.0 | 0 |")
    assert table[-1].startswith(f"| **{ALL}** | 104 |")
    json_path, md_path = write_result(result, "unit", tmp_path)
    assert json.loads(json_path.read_text())["pages"][LISTAR]["requests"] == 100
    text = md_path.read_text()
    assert "# unit" in text and "Note: loaded machine" in text and "First errors:" in text


def test_compare_table_shows_ratios() -> None:
    base = build_result(samples(), {})
    faster = [
        Sample(
            s.label, s.started, s.latency_ms / 2, s.status, s.queries, s.db_ms, s.app_ms, s.error
        )
        for s in samples()
    ]
    lines = compare_table(base, build_result(faster, {})).splitlines()
    listar = next(line for line in lines if LISTAR in line)
    assert "0.50×" in listar and "59.5 → 29.8" in listar


def test_samples_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_samples(path, samples())
    assert read_samples(path) == samples()


def test_run_cli_rejects_bad_arguments_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.run import main

    assert main(["--scale", "tiny", "--users", "0"]) == 2
    assert "users must be >= 1, got 0" in capsys.readouterr().err
    assert main(["--scale", "tiny", "--write-ratio", "1.5"]) == 2
    assert "write ratio must be within [0, 1], got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--scale", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
