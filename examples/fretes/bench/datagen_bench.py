"""Benchmark of ``fretes datagen``: wall time, rows/s and peak memory per scale and database.

Each measurement runs ``generate()`` in a fresh child process (so its peak RSS is its own)
into a throwaway database that this script creates and drops: PostgreSQL
``turbina_bench_datagen_<pid>`` (on the server of ``--pg-url``), SQLite a temporary file.
Writes ``bench/results/<name>.json`` and ``.md``; results for scale/database pairs not
measured in this run are kept from the previous file, so ``large`` can be added later.

    python -m bench.datagen_bench --scales real --dbs postgres,sqlite
    python -m bench.datagen_bench --scales large --rounds 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from statistics import median
from typing import Any

import sqlalchemy as sa

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PG_URL = os.environ.get(
    "TURBINA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_SECONDS = {("real", "postgres"): 60.0}


def measure_one(url: str, scale: str, seed: int) -> dict[str, Any]:
    """Run in the child: generate, then report time, rows and this process's peak RSS."""
    from fretes.datagen import generate

    before = resource.getrusage(resource.RUSAGE_SELF)
    report = generate(url, scale=scale, seed=seed, progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "client_cpu_seconds": round(cpu, 2),
        "seconds": round(report.seconds, 3),
        "rows": report.total_rows,
        "rows_per_second": round(report.rows_per_second, 1),
        "rows_by_table": report.rows,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _child(url: str, scale: str, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.datagen_bench",
            "--child",
            url,
            "--scales",
            scale,
            "--seed",
            str(seed),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"datagen {scale} failed:\n{done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    return result


def run_postgres(admin_url: str, scale: str, seed: int) -> dict[str, Any]:
    """One measurement into a throwaway PostgreSQL database (always dropped)."""
    name = f"turbina_bench_datagen_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        result = _child(url, scale, seed)
        with admin.connect() as conn:
            size = conn.exec_driver_sql(f"SELECT pg_database_size('{name}')").scalar() or 0
        result["db_size_mb"] = round(int(size) / 2**20, 1)
        return result
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run_sqlite(scale: str, seed: int) -> dict[str, Any]:
    """One measurement into a temporary SQLite file (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="turbina_bench_datagen_") as directory:
        path = Path(directory) / "datagen.db"
        result = _child(f"sqlite:///{path}", scale, seed)
        result["db_size_mb"] = round(path.stat().st_size / 2**20, 1)
        return result


def _server_version(admin_url: str) -> str | None:
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median per (scale, db) over its rounds."""
    keys = sorted({(r["scale"], r["db"]) for r in runs}, key=lambda k: (k[0] != "real", k))
    rows = []
    for scale, db in keys:
        mine = [r for r in runs if (r["scale"], r["db"]) == (scale, db)]
        seconds = median(r["seconds"] for r in mine)
        target = TARGET_SECONDS.get((scale, db))
        rows.append(
            {
                "scale": scale,
                "db": db,
                "rounds": len(mine),
                "rows": mine[0]["rows"],
                "seconds": round(seconds, 2),
                "rows_per_second": round(median(r["rows_per_second"] for r in mine)),
                "client_cpu_seconds": median(r.get("client_cpu_seconds", math.nan) for r in mine),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                "load_average_1m": max(r.get("load_average_1m", math.nan) for r in mine),
                "measured": max(r["when"] for r in mine),
                "db_size_mb": mine[0]["db_size_mb"],
                "target_seconds": target,
                "meets_target": None if target is None else seconds < target,
            }
        )
    return rows


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def markdown(doc: dict[str, Any]) -> str:
    """The result as a Markdown report."""
    lines = [
        "# Dataset generator (`fretes datagen`)",
        "",
        f"{doc['when']}, {doc['platform']}, Python {doc['python']}, PostgreSQL "
        f"{doc['postgres'] or 'n/a'}, SQLite {doc['sqlite']}, {doc['cpus']} CPUs; last "
        f"command: `{doc['command']}`. Wall time of "
        "`generate()` (schema, load, sequences, ANALYZE); medians over rounds; peak RSS of the "
        "generating process; client CPU = user + system time of that process.",
        "",
        "| scale | database | rows | wall s | rows/s | client CPU s | peak RSS MB | database MB "
        "| load (1 min) | measured | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in doc["summary"]:
        target = (
            ""
            if s["target_seconds"] is None
            else (f"< {s['target_seconds']:.0f} s: {'met' if s['meets_target'] else 'MISSED'}")
        )
        lines.append(
            f"| {s['scale']} | {s['db']} | {s['rows']:,} | {s['seconds']:.1f} | "
            f"{s['rows_per_second']:,} | {s['client_cpu_seconds']:.1f} | {s['peak_rss_mb']:.0f} | "
            f"{s['db_size_mb']:.0f} | {_number(s['load_average_1m'])} | {s['measured']} | {target} |"
        )
    lines += [
        "",
        "The machine is shared (2 cores, other jobs running): wall time and rows/s vary with its",
        "load; client CPU (the generating process: row building, COPY/executemany encoding) is",
        "the steadier number. PostgreSQL's own work (COPY, foreign keys, ANALYZE) is in the",
        "wall time only.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="real", help="comma-separated: tiny,real,large")
    parser.add_argument("--dbs", default="postgres,sqlite", help="comma-separated: postgres,sqlite")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server/admin database URL")
    parser.add_argument("--name", default="datagen", help="result file name (no extension)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(measure_one(args.child, args.scales, args.seed)))
        return 0

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    json_path = RESULTS_DIR / f"{args.name}.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    measured = {(s, d) for s in args.scales.split(",") for d in args.dbs.split(",")}
    runs = [r for r in previous.get("runs", []) if (r["scale"], r["db"]) not in measured]
    for scale in args.scales.split(","):
        for db in args.dbs.split(","):
            for n in range(args.rounds):
                print(f"datagen {scale} on {db}, round {n + 1}/{args.rounds} ...", flush=True)
                load_1m = round(os.getloadavg()[0], 2)
                result = (
                    run_postgres(args.pg_url, scale, args.seed)
                    if db == "postgres"
                    else run_sqlite(scale, args.seed)
                )
                result.update(
                    load_average_1m=load_1m,
                    scale=scale,
                    db=db,
                    round=n + 1,
                    when=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
                print(
                    f"  {result['rows']:,} rows in {result['seconds']:.1f} s "
                    f"({result['rows_per_second']:,.0f} rows/s, peak RSS "
                    f"{result['peak_rss_mb']:.0f} MB)",
                    flush=True,
                )
                runs.append(result)

    doc = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "psycopg": metadata.version("psycopg"),
        "postgres": _server_version(args.pg_url),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average": load_at_start,
        "command": "python -m bench.datagen_bench " + " ".join(argv or sys.argv[1:]),
        "seed": args.seed,
        "runs": runs,
    }
    doc["summary"] = summarize(runs)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS_DIR / f"{args.name}.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
