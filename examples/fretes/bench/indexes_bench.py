"""Index advisor benchmark: no extra indexes vs the seed's hand-written set vs the advisor's set.

One run, same data, same workload: the six slow pages of ``fretes`` are requested through the
Flask test client with the query recorder on (parameters planned by ``bench.workload`` from
the data), one captured workload per page; the 5 % write mix (``bench.workload``'s write
requests) is captured the same way on a scratch copy of the dataset. For each index set the
page workloads are replayed (every captured statement with its sample parameters, median of
``--runs``, times its calls), the set's size is measured, and so is its write cost: the
captured writes replayed in a transaction that is rolled back, Σ calls × median, scaled to
5 % of the requests. The advisor is timed on the combined workload (reads and writes); by
default its storage budget is the size of the seed's set (same storage, who is faster?).

    python -m bench.indexes_bench --scale real --db both
    python -m bench.indexes_bench --scale large --db postgresql --capture-scale real --rounds 1

Writes bench/results/indexes_<scale>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from turbina.indexes import (
    DEFAULT_MIN_IMPROVEMENT,
    Advice,
    WorkloadQuery,
    WriteLoad,
    advise_workload,
    create_sql,
    from_samples,
    from_sql_file,
    time_workload,
    writes_from_samples,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FALLBACK_WORKLOAD = ROOT / "bench" / "workloads" / "fretes.sql"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITE_SHARE = 0.05  # of the requests: the workload's default write mix
WRITE_REQUESTS = 60  # write requests captured (their calls are scaled to WRITE_SHARE)

# The seed's indices_criticos.sql, as it would have to be written to run at all: the three
# CURRENT_DATE predicates (rejected by PostgreSQL: not IMMUTABLE) pinned by hand to fixed
# dates relative to the dataset's reference date (2026-11-27).
SEED_FIXED = [
    "CREATE INDEX IF NOT EXISTS idx_entregas_data_embarque_vendedor ON entregas_monitoradas (data_embarque, vendedor) WHERE entregue = false",
    "CREATE INDEX IF NOT EXISTS idx_entregas_cliente_periodo ON entregas_monitoradas (cliente, data_embarque) WHERE data_embarque >= DATE '2026-08-29'",
    "CREATE INDEX IF NOT EXISTS idx_embarques_status_data ON embarques (status, data_embarque) WHERE status = 'ativo'",
    "CREATE INDEX IF NOT EXISTS idx_faturamento_data_cliente ON relatorio_faturamento_importado (data_fatura, nome_cliente)",
    "CREATE INDEX IF NOT EXISTS idx_faturamento_valor_periodo ON relatorio_faturamento_importado (data_fatura, valor_total) WHERE data_fatura >= DATE '2026-10-28'",
    "CREATE INDEX IF NOT EXISTS idx_fretes_status_transportadora ON fretes (status, transportadora_id, criado_em)",
    "CREATE INDEX IF NOT EXISTS idx_pedidos_status_expedicao ON pedidos (status, expedicao) WHERE expedicao >= DATE '2026-10-28'",
]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _sqlite_seed(statement: str) -> str:
    return statement.replace("DATE '", "'")  # SQLite compares ISO date text


# --- dataset ---------------------------------------------------------------------------------
def ensure_dataset(db: str, scale: str, pg_admin: str) -> str:
    """URL of a generated fretes dataset (built once, reused by later runs)."""
    from fretes.datagen import generate

    if db == "sqlite":
        path = ROOT / "instance" / f"idxbench-{scale}.db"
        url = f"sqlite:///{path}"
    else:
        name = f"turbina_idxbench_{scale}"
        admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}
            ).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = sa.make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            filled = sa.inspect(conn).has_table("entregas_monitoradas") and bool(
                conn.execute(sa.text("SELECT count(*) FROM entregas_monitoradas")).scalar()
            )
    finally:
        engine.dispose()
    if not filled:
        _say(f"generating {scale} dataset on {db} ...")
        generate(url, scale=scale, seed=42, reset=True, progress=False)
    return url


# --- workload capture --------------------------------------------------------------------------
def capture(url: str, per_page: int, seed: int = 42) -> dict[str, list[WorkloadQuery]]:
    """Each page's captured SELECTs (recorder on, pages requested through the test client)."""
    from bench.catalog import build_catalog
    from bench.workload import PAGES, Workload
    from fretes.app import create_app
    from fretes.datagen import DEMO_PASSWORD
    from turbina import Turbina

    app = create_app({"DATABASE_URL": url, "TESTING": True, "FRETES_TURBINA": False})
    state = Turbina(cache_backend="null", explain=False, server_timing=False).init_app(app)
    recorder = state.queries
    assert recorder is not None  # the recorder is on: Turbina(app) with TURBINA_ENABLED
    workload = Workload(build_catalog(url, DEMO_PASSWORD), write_ratio=0.0)
    rng = random.Random(seed)
    pages: dict[str, list[WorkloadQuery]] = {}
    with app.test_client() as client:
        for label in PAGES:
            recorder.reset()
            for _ in range(per_page):
                account = workload.pick_account(rng)
                planned = workload._page(
                    rng, account, label
                )  # a GET of this page, realistic params
                client.post("/login", json=workload.login_body(account))
                response = client.get(planned.path, query_string=planned.params)
                if response.status_code != 200:
                    raise RuntimeError(f"{label} answered {response.status_code}")
            samples = [
                s
                for s in recorder.workload_samples()
                if "users" not in s.statement.split("WHERE")[0]
            ]
            pages[label] = [_labelled(q, label) for q in from_samples(samples)]
    recorder.close()
    return pages


@dataclass(frozen=True)
class CapturedWrite:
    """One recorded write statement with its sample parameters and scaled calls."""

    sql: str
    params: Any
    calls: float


def scratch_copy(db: str, url: str, pg_admin: str) -> str:
    """A throw-away copy of the dataset at ``url`` (the write capture changes data)."""
    if db == "sqlite":
        source = Path(sa.make_url(url).database or "")
        target = source.with_name(source.stem + "-writes.db")
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    name = f"{sa.make_url(url).database}_writes"
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{sa.make_url(url).database}"')
    admin.dispose()
    return sa.make_url(pg_admin).set(database=name).render_as_string(hide_password=False)


def drop_scratch(db: str, url: str, pg_admin: str) -> None:
    if db == "sqlite":
        Path(sa.make_url(url).database or "").unlink(missing_ok=True)
        return
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')
    admin.dispose()


def capture_writes(
    url: str, page_requests: int, seed: int = 7
) -> tuple[list[WriteLoad], list[CapturedWrite]]:
    """The write mix: ``WRITE_REQUESTS`` write requests (recorder on), their statements'
    calls scaled so that writes are ``WRITE_SHARE`` of ``page_requests`` + writes."""
    from bench.catalog import build_catalog
    from bench.workload import Workload
    from fretes.app import create_app
    from fretes.datagen import DEMO_PASSWORD
    from turbina import Turbina

    app = create_app({"DATABASE_URL": url, "TESTING": True, "FRETES_TURBINA": False})
    state = Turbina(cache_backend="null", explain=False, server_timing=False).init_app(app)
    recorder = state.queries
    assert recorder is not None  # the recorder is on: Turbina(app) with TURBINA_ENABLED
    workload = Workload(build_catalog(url, DEMO_PASSWORD), write_ratio=1.0)
    rng = random.Random(seed)
    sent = 0
    with app.test_client() as client:
        account = workload.pick_account(rng)
        client.post("/login", json=workload.login_body(account))
        recorder.reset()
        while sent < WRITE_REQUESTS:
            planned = workload.next_request(rng, account)
            if not planned.is_write:
                account = workload.pick_account(rng)
                client.post("/login", json=workload.login_body(account))
                continue
            response = client.open(planned.path, method=planned.method, json=planned.json)
            if response.status_code >= 400:
                raise RuntimeError(f"{planned.label} answered {response.status_code}")
            sent += 1
        samples = recorder.workload_samples()
    recorder.close()
    scale = page_requests * WRITE_SHARE / (1.0 - WRITE_SHARE) / WRITE_REQUESTS
    loads = [
        WriteLoad(w.table, w.kind, w.calls * scale, w.rows, w.columns, w.source)
        for w in writes_from_samples(samples)
    ]
    replay = [
        CapturedWrite(str(s.statement), s.parameters, s.calls * scale)
        for s in samples
        if str(s.statement).lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    return loads, replay


def time_writes(engine: sa.Engine, writes: list[CapturedWrite], runs: int) -> float:
    """Σ calls × median time (ms) of the captured writes, each run rolled back."""
    total = 0.0
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        for write in writes:
            samples = []
            for _ in range(runs):
                cursor = raw.cursor()
                cursor.execute("SAVEPOINT bench_w")
                started = time.perf_counter()
                batch = (
                    isinstance(write.params, list)
                    and write.params
                    and isinstance(write.params[0], tuple | dict | list)
                )
                if batch:
                    cursor.executemany(write.sql, write.params)
                else:
                    cursor.execute(write.sql, write.params or ())
                samples.append((time.perf_counter() - started) * 1000.0)
                cursor.execute("ROLLBACK TO SAVEPOINT bench_w")
                cursor.close()
            total += write.calls * statistics.median(samples)
        raw.rollback()
    return total


def _labelled(query: WorkloadQuery, label: str) -> WorkloadQuery:
    return WorkloadQuery(
        query.sql, query.params, query.calls, query.mean_ms, query.fingerprint, label
    )


def fallback_pages() -> dict[str, list[WorkloadQuery]]:
    pages: dict[str, list[WorkloadQuery]] = {}
    for query in from_sql_file(FALLBACK_WORKLOAD):
        pages.setdefault(query.label or "workload", []).append(query)
    return pages


# --- index sets --------------------------------------------------------------------------------
def drop_extra_indexes(engine: sa.Engine) -> None:
    """Back to the naive schema: drop every index that does not back a constraint."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            names = (
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
                )
                .scalars()
                .all()
            )
        else:
            names = (
                conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                )
                .scalars()
                .all()
            )
        for name in names:
            conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')


def index_bytes(engine: sa.Engine, names: list[str]) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return sum(
                int(
                    conn.exec_driver_sql(
                        "SELECT pg_relation_size(to_regclass(%(n)s))", {"n": n}
                    ).scalar()
                    or 0
                )
                for n in names
            )
        return sum(
            int(
                conn.exec_driver_sql(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?", (n,)
                ).scalar()
                or 0
            )
            for n in names
        )


def build(engine: sa.Engine, statements: list[str]) -> list[str]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("ANALYZE")
    return [s.split("EXISTS", 1)[1].split()[0] for s in statements]


def measure(
    engine: sa.Engine, pages: dict[str, list[WorkloadQuery]], runs: int
) -> dict[str, float]:
    """Per page: Σ calls × median statement time (ms), replayed on this index set."""
    out = {}
    for label, queries in pages.items():
        times = time_workload(engine, queries, runs)
        out[label] = sum(q.calls * t for q, t in zip(queries, times, strict=True))
    return out


def run_db(
    db: str,
    scale: str,
    per_page: int,
    runs: int,
    rounds: int,
    budget: str | None,
    pg_admin: str,
    capture_scale: str | None = None,
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
) -> dict[str, Any]:
    url = ensure_dataset(db, scale, pg_admin)
    # At `large` the naive pages' N+1 loads make capturing slow: capture the same pages on a
    # smaller dataset (same generator, same vocabularies) and replay their statements here.
    capture_url = ensure_dataset(db, capture_scale, pg_admin) if capture_scale else url
    scratch = scratch_copy(db, capture_url, pg_admin)
    try:
        write_loads, write_replay = capture_writes(scratch, per_page * 6)
    finally:
        drop_scratch(db, scratch, pg_admin)
    _say(f"{db}: {len(write_replay)} write statements captured (5 % write mix)")
    engine = sa.create_engine(url)
    drop_extra_indexes(engine)
    if db == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
            conn.exec_driver_sql("ANALYZE")
    try:
        pages = capture(capture_url, per_page)
        source = f"captured (recorder + test client) on `{capture_scale or scale}`"
    except Exception as exc:  # the pages are another part's work: fall back to the SQL file
        _say(f"capture failed ({exc!r}); using {FALLBACK_WORKLOAD}")
        pages, source = fallback_pages(), f"hand-written {FALLBACK_WORKLOAD.name}"
    combined = [q for queries in pages.values() for q in queries]
    _say(f"{db}: {len(combined)} statements over {len(pages)} pages")
    seed_statements = SEED_FIXED if db == "postgresql" else [_sqlite_seed(s) for s in SEED_FIXED]
    seed_bytes = index_bytes(engine, build(engine, seed_statements))
    drop_extra_indexes(engine)
    started = time.perf_counter()
    advice = advise_workload(
        engine,
        combined,
        budget=budget or f"{seed_bytes}b",
        min_improvement=min_improvement,
        progress=_say,
        writes=write_loads,
    )
    advising_s = time.perf_counter() - started
    _say(f"{db}: advised {len(advice.specs)} indexes in {advising_s:.1f} s")
    sets = {
        "none": [],
        "seed": seed_statements,
        "advisor": [create_sql(s, engine.dialect.name, if_not_exists=True) for s in advice.specs],
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in sets}
    write_ms: dict[str, list[float]] = {name: [] for name in sets}
    sizes: dict[str, int] = {}
    for round_no in range(rounds):
        order = list(sets)[round_no % 3 :] + list(sets)[: round_no % 3]  # rotate: cancels drift
        for name in order:
            drop_extra_indexes(engine)
            names = build(engine, sets[name])
            sizes[name] = index_bytes(engine, names)
            measure(engine, pages, 1)  # warm-up pass
            samples[name].append(measure(engine, pages, runs))
            write_ms[name].append(time_writes(engine, write_replay, runs))
            _say(
                f"{db} round {round_no + 1} {name}: {sum(samples[name][-1].values()):.1f} ms, "
                f"writes {write_ms[name][-1]:.1f} ms"
            )
    drop_extra_indexes(engine)
    engine.dispose()
    result: dict[str, Any] = {
        "db": db,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "scale": scale,
        "workload": source,
        "statements": len(combined),
        "runs": runs,
        "rounds": rounds,
        "write_statements": len(write_replay),
        "sets": {},
    }
    for name in sets:
        page_ms = {page: statistics.median(r[page] for r in samples[name]) for page in pages}
        result["sets"][name] = {
            "pages_ms": page_ms,
            "rounds_pages_ms": samples[name],
            "total_ms": statistics.median(sum(r.values()) for r in samples[name]),
            "index_bytes": sizes[name],
            "indexes": len(sets[name]),
            "write_ms": statistics.median(write_ms[name]),
        }
    result["sets"]["advisor"].update(_advice_summary(advice, advising_s, min_improvement))
    return result


def _advice_summary(advice: Advice, seconds: float, min_improvement: float) -> dict[str, Any]:
    return {
        "min_improvement": min_improvement,
        "advising_s": round(seconds, 2),
        "backend": advice.backend,
        "rounds": advice.rounds,
        "stopped": advice.stopped,
        "budget_bytes": advice.budget,
        "estimated_bytes": advice.total_size,
        "estimated_write_cost": advice.write_cost,
        "cost_unit": advice.cost_unit,
        "ddl": [create_sql(r.spec, advice.dialect, True, True) for r in advice.recommendations],
        "notes": advice.notes,
        "skipped": [f"{s.source}: {s.reason}" for s in advice.skipped],
    }


# --- report ------------------------------------------------------------------------------------
def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["# Index advisor benchmark", ""]
    for res in results:
        sets = res["sets"]
        lines += [
            f"## {res['db']} — scale `{res['scale']}`",
            "",
            f"Run {res.get('when', 'before 2026-12-01')}"
            + (f", load average {res['load_average']}" if res.get("load_average") else "")
            + ".",
            "",
            f"Workload: {res['workload']}, {res['statements']} statements. Page time = Σ over its "
            f"statements of calls × median of {res['runs']} replays (ms); median of {res['rounds']} "
            "interleaved rounds; the range is advisor / seed in each round (the spread of the noise).",
            "",
            "| page | none | seed | advisor | advisor / seed | per-round range |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for page in sets["none"]["pages_ms"]:
            n, s, a = (sets[k]["pages_ms"][page] for k in ("none", "seed", "advisor"))
            ratios = [
                r_a[page] / r_s[page]
                for r_a, r_s in zip(
                    sets["advisor"].get("rounds_pages_ms", []),
                    sets["seed"].get("rounds_pages_ms", []),
                    strict=False,
                )
                if r_s[page]
            ]
            spread = f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else ""
            lines.append(
                f"| {page} | {n:.1f} | {s:.1f} | {a:.1f} | {a / s if s else float('nan'):.2f} | {spread} |"
            )
        lines.append(
            "| **total** | "
            + " | ".join(f"{sets[k]['total_ms']:.1f}" for k in ("none", "seed", "advisor"))
            + f" | {sets['advisor']['total_ms'] / sets['seed']['total_ms']:.2f} | |"
        )
        lines += [
            "",
            f"Write cost: the {res.get('write_statements', 0)} captured write statements of the "
            "5 % write mix, replayed and rolled back (Σ calls × median, ms).",
            "",
            "| set | indexes | size (bytes) | write cost (ms) |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {k} | {sets[k]['indexes']} | {sets[k]['index_bytes']:,} | {sets[k].get('write_ms', 0):.1f} |"
            for k in ("none", "seed", "advisor")
        ]
        adv = sets["advisor"]
        lines += [
            "",
            f"Advising: {adv['advising_s']} s ({adv['backend']}, {adv['rounds']} rounds, stopped by the {adv['stopped']}), "
            f"budget {adv['budget_bytes']:,} bytes (estimated size {adv.get('estimated_bytes', 0):,}, "
            f"built {sets['advisor']['index_bytes']:,}), min improvement {adv['min_improvement']:g}; "
            f"estimated write cost {adv.get('estimated_write_cost', 0):,.1f} {adv.get('cost_unit', '')}. "
            "Advised:",
            "",
        ]
        lines += [f"- `{d}`" for d in adv["ddl"]] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="real", choices=["tiny", "real", "large"])
    parser.add_argument("--db", default="both", choices=["postgresql", "sqlite", "both"])
    parser.add_argument("--per-page", type=int, default=6, help="Requests per page when capturing.")
    parser.add_argument("--runs", type=int, default=5, help="Replays per statement (median).")
    parser.add_argument(
        "--rounds", type=int, default=5, help="Interleaved rounds per set (median)."
    )
    parser.add_argument("--budget", help="Advisor budget (default: the seed set's size).")
    parser.add_argument(
        "--min-improvement", type=float, default=DEFAULT_MIN_IMPROVEMENT, help="Advisor stop rule."
    )
    parser.add_argument(
        "--capture-scale", help="Capture the pages on this scale's dataset instead."
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    args = parser.parse_args(argv)
    dbs = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    results = [
        run_db(
            db,
            args.scale,
            args.per_page,
            args.runs,
            args.rounds,
            args.budget,
            args.pg_admin_url,
            args.capture_scale,
            args.min_improvement,
        )
        for db in dbs
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    tuned = args.min_improvement != DEFAULT_MIN_IMPROVEMENT
    name = f"indexes_{args.scale}" + (f"_mi{args.min_improvement:g}" if tuned else "")
    previous = RESULTS / f"{name}.json"
    if args.db != "both" and previous.is_file():
        # One database re-run: the other's section of the last run stays, marked by its date.
        kept = [r for r in json.loads(previous.read_text()) if r.get("db") not in dbs]
        results = sorted(kept + results, key=lambda r: r.get("db") != "postgresql")
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
