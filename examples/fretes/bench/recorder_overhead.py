"""Added cost per query of the query recorder, side by side in one run:
``python -m bench.recorder_overhead [--rounds 9] [--queries 2000] [--no-postgres]``.

Workload: a primary-key lookup (``SELECT id, name FROM bench_t WHERE id = :id``, fetchall)
through SQLAlchemy Core on one held connection, on SQLite (file) and PostgreSQL.
Variants, each on its own engine over the same database:
- ``bare``: no instrumentation (the floor);
- ``empty event listeners``: an empty before/after_cursor_execute pair (reference: the cost
  of SQLAlchemy's engine event dispatch that the recorder avoids);
- ``turbina recorder``: ``QueryRecorder`` on the engine with a per-request collector active;
- ``Turbina(app)``: a Flask app with Flask-SQLAlchemy and ``Turbina(app)`` (recorder + the
  cache's write tracking and read recording on the recorder's hook, memory cache backend),
  its ``db.engine`` queried with a per-request collector active — what a Flask request pays
  end to end;
- ``engine not given``: a plain engine created in the same process after ``Turbina(app)``
  (nothing of Turbina may touch it: the target is 0);
- ``opentelemetry``: opentelemetry-instrumentation-sqlalchemy with the SDK, a
  SimpleSpanProcessor and an in-memory exporter. Its 0.66 releases declare
  ``sqlalchemy < 2.1`` and silently instrument nothing on 2.1 unless ``instrument(...,
  skip_dep_check=True)`` is passed — done here, and checked by counting exported spans.

Many short rounds, variants in shuffled order within each round, so load drift on a shared
machine hits every variant alike; per round each variant's mean µs/query is taken, the added
cost is the per-round difference to ``bare``, and medians over rounds are reported — in
process CPU time (excludes waiting for the server and being descheduled) and wall time.
An isolated measurement of the recorder alone (the wrapped ``dialect.do_execute`` against
the original, on a raw DBAPI cursor, no SQLAlchemy Connection) is reported too.
Writes ``bench/results/recorder_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench.report import micro_facts, save_document
from turbina import QueryRecorder, Turbina, collect

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROWS = 1000
TABLE = sa.table("bench_t", sa.column("id"), sa.column("name"))
LOOKUP = sa.select(TABLE.c.id, TABLE.c.name).where(TABLE.c.id == sa.bindparam("id"))
TARGET_US = 6.0  # Turbina(app) end to end, per query; 0 on an engine Turbina was not given


def _prepare(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_t")
        conn.exec_driver_sql("CREATE TABLE bench_t (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        conn.execute(
            sa.text("INSERT INTO bench_t (id, name) VALUES (:id, :name)"),
            [{"id": i, "name": f"row {i}"} for i in range(ROWS)],
        )
    engine.dispose()


def _otel(engine: sa.Engine) -> Callable[[], int]:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=provider, skip_dep_check=True
    )

    def drain() -> int:
        count = len(exporter.get_finished_spans())
        exporter.clear()
        return count

    return drain


def _turbina_app(url: str) -> tuple[sa.Engine, Any]:
    """``db.engine`` of a Flask app under ``Turbina(app)``, and the app."""
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("bench_overhead")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_CACHE_CONTEXTS={"bench": 60},
        TURBINA_EXPLAIN=False,
        TURBINA_SLOW_QUERY_MS=1e9,
    )
    db = SQLAlchemy()
    db.init_app(app)
    Turbina(app)
    with app.app_context():
        engine = db.engine
    return engine, app


def _engines(url: str, with_otel: bool) -> dict[str, tuple[sa.Engine, Any]]:
    engines: dict[str, tuple[sa.Engine, Any]] = {"bare": (sa.create_engine(url), None)}
    events = sa.create_engine(url)
    sa.event.listen(events, "before_cursor_execute", lambda *args: None)
    sa.event.listen(events, "after_cursor_execute", lambda *args: None)
    engines["empty event listeners"] = (events, None)
    recorded = sa.create_engine(url)
    engines["turbina recorder"] = (recorded, QueryRecorder(recorded, slow_query_ms=1e9))
    engines["Turbina(app)"] = _turbina_app(url)
    engines["engine not given"] = (sa.create_engine(url), None)
    if with_otel:
        traced = sa.create_engine(url)
        engines["opentelemetry"] = (traced, _otel(traced))
    return engines


def _run_core(conn: sa.Connection, n: int, ids: list[int], collecting: bool) -> tuple[float, float]:
    """(CPU µs/query, wall µs/query) of ``n`` lookups."""
    execute = conn.execute
    gc.collect()
    with collect("/bench") if collecting else contextlib.nullcontext():
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            execute(LOOKUP, {"id": ids[i]}).fetchall()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / n * 1e6, wall / n * 1e6


def measure_backend(name: str, url: str, rounds: int, n: int, with_otel: bool) -> dict[str, Any]:
    """Interleaved rounds of every variant on one database."""
    _prepare(url)
    engines = _engines(url, with_otel)
    rng = random.Random(42)
    ids = [rng.randrange(ROWS) for _ in range(n)]
    conns = {label: engine.connect() for label, (engine, _) in engines.items()}
    collecting = {"turbina recorder", "Turbina(app)"}
    for label, conn in conns.items():  # warm caches, compiled statement cache, fingerprint LRU
        _run_core(conn, min(n, 300), ids, label in collecting)
    cpu_rounds: dict[str, list[float]] = {label: [] for label in engines}
    wall_rounds: dict[str, list[float]] = {label: [] for label in engines}
    spans = 0
    for _ in range(rounds):
        order = list(engines)
        rng.shuffle(order)
        for label in order:
            cpu, wall = _run_core(conns[label], n, ids, label in collecting)
            cpu_rounds[label].append(cpu)
            wall_rounds[label].append(wall)
            if label == "opentelemetry":
                spans += engines[label][1]()
    recorder = engines["turbina recorder"][1]
    recorded_calls = sum(e.calls for e in recorder.stats)
    app = engines["Turbina(app)"][1]
    app_engine = engines["Turbina(app)"][0]
    app_recorder = app_engine.dialect._turbina_recorder
    result_hooks = {
        "Turbina(app) cache subscribers on the recorder's hook": len(app_recorder._subscribers),
        "Turbina(app) engine event listeners": _listeners(app_engine),
        "engine not given: event listeners": _listeners(engines["engine not given"][0]),
        "engine not given: wrapped dialect methods": sorted(
            name
            for name in ("do_execute", "do_executemany", "do_commit", "do_rollback")
            if name in engines["engine not given"][0].dialect.__dict__
        ),
    }
    for conn in conns.values():
        conn.close()
    result: dict[str, Any] = {
        "backend": name,
        "rounds": rounds,
        "queries_per_round": n,
        "variants": {},
    }
    for label in engines:
        row: dict[str, Any] = {}
        for clock, per_round in (("cpu", cpu_rounds), ("wall", wall_rounds)):
            values, bare = per_round[label], per_round["bare"]
            added = [v - b for v, b in zip(values, bare, strict=True)]
            row[f"{clock}_us_per_query"] = round(statistics.median(values), 3)
            row[f"{clock}_added_us"] = (
                round(statistics.median(added), 3) if label != "bare" else 0.0
            )
            row[f"{clock}_min_us_per_query"] = round(min(values), 3)
            row[f"{clock}_added_min_us"] = (
                round(min(values) - min(bare), 3) if label != "bare" else 0.0
            )
            row[f"{clock}_rounds_us"] = [round(v, 2) for v in values]
        result["variants"][label] = row
    result["hooks"] = result_hooks
    app.extensions["turbina"].cache.close()
    result["isolated_recorder_us"] = _isolated(url, n, rounds, ids)
    result["otel_spans_exported"] = spans
    result["recorder_calls_recorded"] = recorded_calls
    for engine, _ in engines.values():
        engine.dispose()
    recorder.close()
    if with_otel:
        # The instrumentor is a singleton: without this, instrumenting the next backend's
        # engine only logs "already instrumented" and instruments nothing.
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        if spans < recorded_calls:
            raise SystemExit(
                f"OpenTelemetry exported {spans} spans for {recorded_calls} queries: not instrumenting"
            )
    return result


def _listeners(engine: sa.Engine) -> int:
    names = ("before_cursor_execute", "after_cursor_execute", "commit", "rollback", "begin")
    count = sum(len(list(getattr(engine.dispatch, name))) for name in names)
    return count + sum(len(list(getattr(engine.pool.dispatch, n))) for n in ("checkin", "reset"))


def _isolated(url: str, n: int, rounds: int, ids: list[int]) -> dict[str, float]:
    """CPU µs/query of the wrapped ``dialect.do_execute`` against the original on one raw
    DBAPI cursor (alternating rounds)."""
    engine = sa.create_engine(url)
    dialect = engine.dialect
    original = dialect.do_execute
    with engine.connect() as conn:
        compiled = LOOKUP.compile(dialect=dialect)
        statement = str(compiled)
        positional = dialect.positional
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()

        def params(i: int) -> Any:
            return (ids[i],) if positional else {"id": ids[i]}

        def run(execute: Callable[..., Any]) -> float:
            gc.collect()
            start = time.process_time()
            for i in range(n):
                execute(cursor, statement, params(i), None)
                cursor.fetchall()
            return (time.process_time() - start) / n * 1e6

        recorder = QueryRecorder(engine, slow_query_ms=1e9)
        wrapped = dialect.do_execute
        run(original), run(wrapped)
        plain_rounds, wrapped_rounds = [], []
        with collect("/bench"):
            for r in range(rounds):
                if r % 2:
                    wrapped_rounds.append(run(wrapped))
                    plain_rounds.append(run(original))
                else:
                    plain_rounds.append(run(original))
                    wrapped_rounds.append(run(wrapped))
        recorder.close()
    engine.dispose()
    diffs = [w - p for w, p in zip(wrapped_rounds, plain_rounds, strict=True)]
    return {
        "plain_min_us": round(min(plain_rounds), 3),
        "wrapped_min_us": round(min(wrapped_rounds), 3),
        "added_min_us": round(min(wrapped_rounds) - min(plain_rounds), 3),
        "plain_us": round(statistics.median(plain_rounds), 3),
        "wrapped_us": round(statistics.median(wrapped_rounds), 3),
        "added_us_median": round(statistics.median(diffs), 3),
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Query recorder overhead",
        "",
        f"{report['when']}, {report['platform']}, Python {report['python']}, SQLAlchemy {report['sqlalchemy']}; "
        f"command: `{report['command']}`.",
        "",
        "CPU = process CPU time per query (robust on a shared machine; excludes time waiting for the "
        "database server); wall = elapsed time. Added = median over interleaved rounds of the per-round "
        "difference to bare.",
        "",
    ]
    for backend in report["backends"]:
        lines += [
            f"## {backend['backend']} — primary-key lookup ({backend['rounds']} rounds x "
            f"{backend['queries_per_round']} queries)",
            "",
            "| variant | CPU µs/query (median) | added CPU µs (median of paired diffs) | "
            "CPU µs/query (best round) | added CPU µs (best - best) | wall µs/query (median) | added wall µs |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, row in backend["variants"].items():
            lines.append(
                f"| {label} | {row['cpu_us_per_query']:.2f} | {row['cpu_added_us']:.2f} | "
                f"{row['cpu_min_us_per_query']:.2f} | {row['cpu_added_min_us']:.2f} | "
                f"{row['wall_us_per_query']:.2f} | {row['wall_added_us']:.2f} |"
            )
        iso = backend["isolated_recorder_us"]
        variants = backend["variants"]
        lines += [
            "",
            f"Recorder alone (wrapped vs original `do_execute` on a raw DBAPI cursor, CPU): "
            f"median {iso['plain_us']:.2f} -> {iso['wrapped_us']:.2f} µs, **added {iso['added_us_median']:.2f} µs/query** "
            f"(median of paired diffs); best rounds {iso['plain_min_us']:.2f} -> {iso['wrapped_min_us']:.2f} µs, "
            f"**added {iso['added_min_us']:.2f} µs/query**.",
        ]
        if "opentelemetry" in variants and variants["opentelemetry"]["cpu_added_us"] > 0:
            otel = variants["opentelemetry"]["cpu_added_us"]
            ratio = variants["turbina recorder"]["cpu_added_us"] / otel
            app_ratio = variants["Turbina(app)"]["cpu_added_us"] / otel
            lines.append(
                f"Added CPU cost / OpenTelemetry's: recorder {ratio:.3f}, Turbina(app) "
                f"{app_ratio:.3f} (target < 0.1); OpenTelemetry spans exported: "
                f"{backend['otel_spans_exported']}."
            )
        lines.append(f"Statements recorded by the recorder: {backend['recorder_calls_recorded']}.")
        for what, value in backend.get("hooks", {}).items():
            lines.append(f"- {what}: {value}")
        lines.append("")
    lines += [
        f"Target: `Turbina(app)` <= {TARGET_US:.0f} µs added per query end to end, 0 on an engine "
        "Turbina was not given; under a tenth of OpenTelemetry's added cost.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-otel", action="store_true")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args(argv)
    backends = []
    with tempfile.TemporaryDirectory() as tmp:
        backends.append(
            measure_backend(
                "SQLite", f"sqlite:///{tmp}/bench.db", args.rounds, args.queries, not args.no_otel
            )
        )
    if not args.no_postgres:
        backends.append(
            measure_backend(
                "PostgreSQL",
                args.pg_url,
                args.rounds,
                args.queries,
                not args.no_otel,
            )
        )
        engine = sa.create_engine(args.pg_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_t")
        engine.dispose()
    report = {
        **micro_facts("bench.recorder_overhead", argv),
        "target_added_us": TARGET_US,
        "backends": backends,
    }
    save_document(report, _markdown(report), "recorder_overhead")
    print(_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
