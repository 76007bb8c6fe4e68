"""``python -m bench.proof`` (what ``make bench`` runs): the before/after benchmark of `fretes`.

Each form of the app is measured in its own **phase**, one after the other, each against its
own gunicorn and its own fresh copy of the dataset, so one form's slowness never lands on
another's numbers:

- ``naive``: ``FRETES_MODE=naive`` on the naive schema (the generated data, no extra index),
  the seed's plain assets (``FRETES_ASSETS=plain``);
- ``optimized``: ``FRETES_MODE=optimized`` (the loaders) on the optimized schema (the
  advisor's indexes applied to the copy), plain assets, no cache;
- ``cached``: everything — ``FRETES_MODE=cached`` on the optimized schema, Turbina's cache,
  monitor and dashboard, lazy assets (``FRETES_ASSETS=lazy``; the lazy parts are fetched
  after each page, as a browser would, and get their own rows).

Every phase runs Turbina's recorder and monitor (Server-Timing, and the phase's own store: an
embedded SQLite store file on SQLite, a Redis prefix on PostgreSQL). In each phase: a short
warm-up (not recorded); a closed-loop **saturation** run (``--users`` back to back for
``--saturation`` s: throughput at saturation); then the **open-loop** run: Poisson arrivals at
one fixed rate for every phase (``--rate``, default ``--rate-share`` x the naive phase's
saturation throughput) for ``--duration`` s, from a separate process (``bench.openloop``),
latency counted from each request's scheduled time; the same seeded request plan in every
phase. The phase store is read before and after the open-loop run: its difference gives the
statements over 500 ms / 1 s and the cache counters of that run only. In the cached phase a
stale-read checker (``bench.stale_check``) compares served pages with uncached ones. After
the load, each page is loaded cold in Chromium a few times (``--page-loads``).

Writes ``bench/results/proof-<db>-<scale>.{json,md,html}`` (the JSON is the benchmark document
``turbina.report`` reads) and prints the tables, the seed's checklist and the extra targets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

from bench.catalog import Catalog, build_catalog
from bench.datasets import DEFAULT_PG_URL, INSTANCE, working_database
from bench.openloop import LoadReport, Result, Sender
from bench.report import percentile, run_metadata
from bench.runcache import DEFAULT_REDIS_URL, RunCache, redis_reachable
from bench.server import ROOT, Server, ServerError
from bench.workload import PAGES
from turbina import TurbinaError

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WORK_DIR = INSTANCE / "bench-proof"
INDEXES_FILE = RESULTS_DIR / "indexes_real.json"
LAZY_PARTS = ("GET /monitoramento/badges", "GET /faturamento/grafico")
DASHBOARD_PATH = "/_turbina/"
BROWSER_PAGES = tuple(p for p in PAGES if "exportar" not in p)  # the export is a download
SLOW_MS = 500.0
VERY_SLOW_MS = 1000.0
DB_KINDS = ("sqlite", "postgres")
MISS_CAUSES = ("miss_first", "miss_invalidated", "miss_expired", "miss_evicted", "miss_error")


@dataclass(frozen=True)
class Form:
    """One phase's form of the app."""

    name: str
    label: str
    mode: str
    indexes: bool
    assets: str
    cache: bool


FORMS = {
    "naive": Form("naive", "seed code on the seed schema", "naive", False, "plain", False),
    "optimized": Form(
        "optimized",
        "loaders + the advisor's indexes, no cache, plain assets",
        "optimized",
        True,
        "plain",
        False,
    ),
    "cached": Form(
        "cached",
        "everything: loaders + indexes + cache + monitor + dashboard + lazy assets",
        "cached",
        True,
        "lazy",
        True,
    ),
}


@dataclass
class Options:
    """Everything one proof run needs."""

    db: str = "sqlite"
    scale: str = "real"
    phases: tuple[str, ...] = ("naive", "optimized", "cached")
    seed: int = 42
    duration_s: float = 60.0
    saturation_s: float = 20.0
    users: int = 8
    rate: float | None = None
    rate_share: float = 0.6
    warmup: int = 20
    workers: int | None = None
    threads: int = 2
    concurrency: int = 64
    write_ratio: float = 0.05
    page_loads: int = 3
    stale_interval_s: float = 2.0
    pg_url: str = DEFAULT_PG_URL
    redis_url: str = DEFAULT_REDIS_URL
    results_dir: Path = RESULTS_DIR
    name: str | None = None
    html: bool = True
    cache: str = "auto"  # "auto": Redis when reachable, else memory; "memory": never Redis
    users_auto: bool = False  # --users not given: 2 x workers x threads of each database
    work_dir: Path = WORK_DIR  # the phases' store files
    data_dir: Path = INSTANCE  # the SQLite datasets

    @property
    def result_name(self) -> str:
        return self.name or f"proof-{self.db}-{self.scale}"


@dataclass
class PhaseRun:
    """What one phase measured, before it becomes the document's phase object."""

    form: Form
    saturation: LoadReport | None = None
    load: LoadReport | None = None
    offered_rps: float = 0.0
    reading: Any = None  # turbina.store.model.Reading of the open-loop run
    stale: dict[str, Any] | None = None
    page_loads: dict[str, list[float]] = field(default_factory=dict)
    page_load_note: str | None = None
    dashboard: dict[str, int] | None = None
    workers: int = 0
    indexes: list[str] = field(default_factory=list)
    store: str = ""
    env: dict[str, str] = field(default_factory=dict)
    store_file: Path | None = None  # the embedded store's file (kept after the run)


# --- the optimized schema ------------------------------------------------------------------


def apply_indexes(url: str, db: str) -> list[str]:
    """Put the optimized schema on ``url``: fretes's Alembic migrations
    (``fretes.schema_migrations.upgrade``: the advisor's indexes, revision 0002) when the app
    has them, else the advisor's saved DDL for this database
    (``bench/results/indexes_real.json``); the names (or statements) of what it built."""
    try:
        from fretes import schema_migrations
    except ImportError:
        return apply_saved_ddl(url, db)
    applied = schema_migrations.upgrade(url)
    dialect = "postgresql" if db == "postgres" else "sqlite"
    built = schema_migrations.revision_indexes(dialect)
    return [name for revision in applied for name in built.get(revision, [])]


def apply_saved_ddl(url: str, db: str, path: Path = INDEXES_FILE) -> list[str]:
    """The advisor's DDL of ``path`` for ``db``, run in autocommit (CONCURRENTLY on
    PostgreSQL cannot run in a transaction block)."""
    import sqlalchemy as sa

    dialect = "postgresql" if db == "postgres" else "sqlite"
    saved = json.loads(path.read_text(encoding="utf-8"))
    entry = next((e for e in saved if e.get("db") == dialect), None)
    if entry is None:
        raise TurbinaError(
            f"{path.name} holds no advice for {dialect}",
            "run python -m bench.indexes_bench to produce it",
        )
    statements = list(entry["sets"]["advisor"]["ddl"])
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
    return statements


# --- one phase -----------------------------------------------------------------------------


def _store_env(options: Options, form: Form, tag: str) -> tuple[dict[str, str], str, Path | None]:
    """The phase's store and cache settings; its description; the SQLite store file."""
    prefix = f"turbina-bench-proof:{tag}:{form.name}"
    env = {
        "FRETES_MODE": form.mode,
        "FRETES_ASSETS": form.assets,
        "TURBINA_FLUSH_INTERVAL_S": "1",
        "TURBINA_CACHE_PREFIX": prefix,
        "TURBINA_MONITOR": "1",
        "TURBINA_DASHBOARD": "1",
    }
    redis_ok = uses_redis(options)
    if options.db == "postgres" and redis_ok:
        env.update(TURBINA_STORE="redis", TURBINA_REDIS_URL=options.redis_url)
        env["TURBINA_CACHE_BACKEND"] = "redis"
        return env, f"Redis store + cache under {prefix}", None
    options.work_dir.mkdir(parents=True, exist_ok=True)
    store_file = options.work_dir / f"{tag}-{form.name}-store.db"
    for leftover in (store_file, Path(f"{store_file}-wal"), Path(f"{store_file}-shm")):
        leftover.unlink(missing_ok=True)
    env.update(TURBINA_STORE="sqlite", TURBINA_STORE_PATH=str(store_file))
    if redis_ok:
        env.update(TURBINA_CACHE_BACKEND="redis", TURBINA_REDIS_URL=options.redis_url)
        return env, f"SQLite store file {store_file.name}, Redis cache under {prefix}", store_file
    env["TURBINA_CACHE_BACKEND"] = "memory"
    return env, f"SQLite store file {store_file.name}, memory cache", store_file


def uses_redis(options: Options) -> bool:
    """Whether the phases' cache (and the store on PostgreSQL) is Redis."""
    return options.cache != "memory" and redis_reachable(options.redis_url) is None


def workers_for(options: Options) -> int:
    """gunicorn workers: ``--workers``, else 4 on PostgreSQL (the deployment's), else 2; one
    without Redis (the memory cache is per process: several workers would serve stale)."""
    if options.workers:
        return options.workers
    if not uses_redis(options):
        return 1
    return 4 if options.db == "postgres" else 2


def _open_store(env: dict[str, str]) -> Any:
    from turbina.config import load_settings
    from turbina.store.connect import open_store

    settings = load_settings({k: v for k, v in env.items() if k.startswith("TURBINA_")})
    return open_store(settings)


def delta_reading(before: Any, after: Any, since: float, until: float) -> Any:
    """``after`` minus ``before`` (running totals of the store): the counters of the window."""
    from turbina.store.model import Reading

    counters: dict[tuple[str, str], dict[str, int]] = {}
    for key, fields in after.counters.items():
        old = before.counters.get(key, {})
        diff = {name: int(value) - int(old.get(name, 0)) for name, value in fields.items()}
        diff = {name: value for name, value in diff.items() if value}
        if diff:
            counters[key] = diff
    return Reading(
        since=since,
        until=until,
        resolution=after.resolution,
        counters=counters,
        labels=dict(after.labels),
        gauges=dict(after.gauges or {}),
    )


def run_generator(plan: dict[str, Any], log: Path) -> tuple[LoadReport, dict[str, Any] | None]:
    """``python -m bench.openloop`` on ``plan`` in its own process."""
    with tempfile.TemporaryDirectory(prefix="turbina-proof-") as tmp:
        plan_path, out = Path(tmp) / "plan.json", Path(tmp) / "out.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        with log.open("w", encoding="utf-8") as log_file:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.openloop",
                    "--plan",
                    str(plan_path),
                    "--out",
                    str(out),
                ],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=float(plan["duration_s"]) + 900,
                check=False,
            )
        if done.returncode != 0 or not out.exists():
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise ServerError(f"the load generator failed (exit {done.returncode}):\n{tail}")
        data = json.loads(out.read_text(encoding="utf-8"))
    return LoadReport.from_json(data), data.get("stale")


def saturation_rps(report: LoadReport | None) -> float | None:
    """Planned requests answered without error per second of the closed-loop run."""
    if report is None or report.wall_s <= 0:
        return None
    done = [r for r in report.results if r.parent is None and r.error is None]
    return round(len(done) / report.wall_s, 2)


def measure_page_loads(
    base: str, password: str, loads: int
) -> tuple[dict[str, list[float]], str | None]:
    """Cold loads (fresh browser context, logged in as admin) of each page: loadEventEnd ms;
    empty with the reason when Chromium or Playwright is missing."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if loads <= 0:
        return {}, "not measured (--page-loads 0)"
    if executable is None:
        return {}, "not measured: Chromium is not installed (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}, "not measured: playwright is not installed"
    from bench.assets_bench import CHROMIUM_FLAGS

    out: dict[str, list[float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            answer = context.request.post(
                base + "/login",
                data=json.dumps({"username": "admin", "password": password}),
                headers={"Content-Type": "application/json"},
            )
            if answer.status != 200:
                return {}, f"not measured: login as admin answered {answer.status}"
            state = context.storage_state()
            context.close()
            for run in range(loads + 1):  # run 0 warms the server and the OS cache
                for label in BROWSER_PAGES:
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 800}, storage_state=state
                    )
                    try:
                        page = context.new_page()
                        page.goto(base + label.split(" ", 1)[1], wait_until="load", timeout=120_000)
                        value = page.evaluate(
                            "performance.getEntriesByType('navigation')[0].loadEventEnd"
                        )
                    finally:
                        context.close()
                    if run:
                        out.setdefault(label, []).append(float(value))
        finally:
            browser.close()
    return out, None


def check_dashboard(base: str, password: str) -> dict[str, int]:
    """Status of the dashboard for an admin and for an anonymous client."""
    sender = Sender(base)
    try:
        sender.login("admin", password)
        authorized = sender.fetch("GET", DASHBOARD_PATH, "admin")[0]
        anonymous = sender.fetch("GET", DASHBOARD_PATH, None)[0]
    finally:
        sender.http.close()
    return {"authorized_status": authorized, "anonymous_status": anonymous}


def run_phase(
    options: Options,
    form: Form,
    catalog: Catalog,
    url: str,
    *,
    tag: str,
    rate: float | None,
    echo: Callable[[str], None],
) -> PhaseRun:
    """Serve one form, saturate it, then offer the fixed rate (``None``: derive it from this
    phase's saturation, the first phase's job)."""
    from dataclasses import asdict

    phase = PhaseRun(form)
    if form.indexes:
        started = time.perf_counter()
        phase.indexes = apply_indexes(url, options.db)
        echo(
            f"  schema: {len(phase.indexes)} indexes applied in {time.perf_counter() - started:.1f} s"
        )
    env, phase.store, phase.store_file = _store_env(options, form, tag)
    phase.env = env
    phase.workers = workers_for(options)
    log_dir = INSTANCE / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = Server(
        url,
        workers=phase.workers,
        threads=options.threads,
        log_path=log_dir / f"{tag}-{form.name}-gunicorn.log",
        extra_env=env,
    )
    base_plan = {
        "catalog": asdict(catalog),
        "seed": options.seed,
        "workload": {"write_ratio": options.write_ratio},
        "fragments": True,
    }
    store = _open_store(env)
    try:
        with server:
            echo(f"  server: gunicorn {phase.workers}x{options.threads}, {phase.store}")
            if options.warmup:
                run_generator(
                    {
                        **base_plan,
                        "base": server.url,
                        "kind": "closed",
                        "seed": options.seed + 1,
                        "users": 2,
                        "duration_s": 60,
                        "max_requests": options.warmup,
                    },
                    log_dir / f"{tag}-{form.name}-warmup.log",
                )
            if options.saturation_s > 0:
                phase.saturation, _ = run_generator(
                    {
                        **base_plan,
                        "base": server.url,
                        "kind": "closed",
                        "users": options.users,
                        "duration_s": options.saturation_s,
                        "max_requests": 20_000,
                    },
                    log_dir / f"{tag}-{form.name}-saturation.log",
                )
                echo(
                    f"  saturation: {saturation_rps(phase.saturation)} req/s "
                    f"({options.users} users, {options.saturation_s:.0f} s)"
                )
            if rate is None:
                measured = saturation_rps(phase.saturation)
                if not measured:
                    raise TurbinaError(
                        f"the {form.name} phase measured no saturation throughput to derive "
                        "the offered rate from",
                        "pass --rate N (requests per second) or a --saturation above 0",
                    )
                rate = round(max(0.2, measured * options.rate_share), 2)
            phase.offered_rps = rate
            time.sleep(2.2)  # the workers' last flush of the saturation run
            before = store.totals()
            since = time.time()
            echo(f"  open loop: {rate} req/s for {options.duration_s:.0f} s ...")
            phase.load, phase.stale = run_generator(
                {
                    **base_plan,
                    "base": server.url,
                    "kind": "open",
                    "rate": rate,
                    "duration_s": options.duration_s,
                    "concurrency": options.concurrency,
                    "stale_check": form.cache,
                    "stale_interval_s": options.stale_interval_s,
                },
                log_dir / f"{tag}-{form.name}-openloop.log",
            )
            until = time.time()
            time.sleep(2.2)
            phase.reading = delta_reading(before, store.totals(), since, until)
            if form.cache:
                phase.dashboard = check_dashboard(server.url, catalog.password)
            phase.page_loads, phase.page_load_note = measure_page_loads(
                server.url, catalog.password, options.page_loads
            )
    finally:
        store.close()
        if env.get("TURBINA_STORE") == "redis" or env.get("TURBINA_CACHE_BACKEND") == "redis":
            RunCache("redis", env["TURBINA_CACHE_PREFIX"], options.redis_url).cleanup()
    return phase


# --- the document --------------------------------------------------------------------------


def _stats(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "mean": round(fmean(values), 2),
    }


def slow_statements(reading: Any, threshold_ms: float) -> tuple[int, int]:
    """Statements of the window slower than ``threshold_ms`` (from the store's per-statement
    log-bucket histograms: a bucket counts when its upper edge is above the threshold, so the
    count may include statements up to 4.4 % below it) and all statements."""
    from turbina.queries.histogram import bucket_upper
    from turbina.store.model import QUERIES

    over = total = 0
    for _label, _info, fields in reading.of_kind(QUERIES):
        total += int(fields.get("n", 0))
        for name, count in fields.items():
            is_bucket = name.startswith("b") and name[1:].lstrip("-").isdigit()
            if is_bucket and count > 0 and bucket_upper(int(name[1:])) > threshold_ms:
                over += int(count)
    return over, total


def endpoint_rows(reading: Any) -> dict[str, dict[str, Any]]:
    """The store's endpoint rows keyed ``"GET /path"``."""
    from turbina.monitor import api

    return {
        f"{row['method']} {row['endpoint']}": row for row in api.endpoints(reading)["endpoints"]
    }


def cache_summary(reading: Any) -> dict[str, Any] | None:
    """Lookups, hits, hit rate and misses by cause over every context; None without lookups."""
    from turbina.monitor import api

    contexts = api.cache(reading)["contexts"]
    hits = sum(int(c.get("hits", 0)) for c in contexts)
    misses = {cause: sum(int(c.get(cause, 0)) for c in contexts) for cause in MISS_CAUSES}
    lookups = hits + sum(misses.values())
    if not lookups:
        return None
    return {
        "lookups": lookups,
        "hits": hits,
        "hit_rate": round(hits / lookups, 4),
        "misses_by_cause": {k.removeprefix("miss_"): v for k, v in misses.items() if v},
        "contexts": {
            str(c["context"]): {
                "hits": c.get("hits", 0),
                "misses": c.get("misses", 0),
                "hit_rate": c.get("hit_rate"),
            }
            for c in contexts
        },
    }


def view_times(results: Sequence[Result]) -> dict[tuple[str | None, float], float]:
    """Per planned request (account, scheduled time): ms until it and its lazy parts were
    all back (the page view as a user waits for it)."""
    views: dict[tuple[str | None, float], float] = {}
    for r in results:
        if r.parent is None:
            key = (r.account, r.scheduled)
            views[key] = max(views.get(key, 0.0), r.latency_ms)
    parents = sorted((r for r in results if r.parent is None), key=lambda r: r.scheduled)
    by_account: dict[str | None, list[Result]] = {}
    for r in parents:
        by_account.setdefault(r.account, []).append(r)
    for r in results:
        if r.parent is None:
            continue
        # a lazy part follows its page: the latest page of the account sent before it
        candidates = [p for p in by_account.get(r.account, []) if p.scheduled <= r.sent]
        if candidates:
            page = candidates[-1]
            key = (page.account, page.scheduled)
            end = (r.sent - page.scheduled) * 1000.0 + r.service_ms
            views[key] = max(views[key], end)
    return views


def phase_document(run: PhaseRun) -> dict[str, Any]:
    """The contract's phase object (plus extra fields) of one phase."""
    results = run.load.results if run.load else []
    planned = [r for r in results if r.parent is None]
    reading = run.reading
    over_500, statements = slow_statements(reading, SLOW_MS) if reading else (0, 0)
    over_1s, _ = slow_statements(reading, VERY_SLOW_MS) if reading else (0, 0)
    endpoints = endpoint_rows(reading) if reading else {}
    labels = [p for p in PAGES if any(r.label == p for r in results)]
    labels += [p for p in LAZY_PARTS if any(r.label == p for r in results)]
    pages = []
    for label in labels:
        rows = [r for r in results if r.label == label]
        ok = [r for r in rows if r.error is None]
        timed = [r for r in ok if r.app_ms is not None]
        store_row = endpoints.get(label)
        loads = run.page_loads.get(label, [])
        pages.append(
            {
                "page": label,
                "requests": len(rows),
                "errors": len(rows) - len(ok),
                "client_ms": _stats([r.latency_ms for r in rows]),
                "server_ms": _stats([float(r.app_ms or 0.0) for r in timed]),
                "db_ms_mean": round(fmean(float(r.db_ms or 0) for r in timed), 2)
                if timed
                else None,
                "queries_mean": round(fmean(float(r.queries or 0) for r in timed), 2)
                if timed
                else None,
                "cache_hit_rate": store_row["cache_hit_rate"]
                if store_row and (store_row["cache_hits"] + store_row["cache_misses"])
                else None,
                "cache_lookups": (store_row["cache_hits"] + store_row["cache_misses"])
                if store_row
                else None,
                "page_load_ms": {
                    "p50": round(percentile(loads, 50), 1),
                    "p95": round(percentile(loads, 95), 1),
                    "samples": len(loads),
                }
                if loads
                else None,
            }
        )
    page_rows = [
        r
        for r in results
        if r.error is None and r.app_ms is not None and r.label in (*PAGES, *LAZY_PARTS)
    ]
    views = view_times(results)
    writes = [r for r in planned if not r.label.startswith("GET ")]
    cache = cache_summary(reading) if reading is not None and run.form.cache else None
    return {
        "name": run.form.name,
        "label": run.form.label,
        "offered_rps": run.offered_rps,
        "duration_s": round(run.load.wall_s, 2) if run.load else 0.0,
        "requests": len(results),
        "planned_requests": len(planned),
        "errors": sum(1 for r in results if r.error is not None),
        "error_examples": [r.error for r in results if r.error][:5],
        "saturation_rps": saturation_rps(run.saturation),
        "saturation_requests": len(run.saturation.results) if run.saturation else 0,
        # every HTTP request of the saturation run per second, the lazy parts included
        "saturation_http_rps": round(
            sum(1 for r in run.saturation.results if r.error is None) / run.saturation.wall_s, 2
        )
        if run.saturation and run.saturation.wall_s > 0
        else None,
        "db_ms_mean": round(fmean(float(r.db_ms or 0) for r in page_rows), 2)
        if page_rows
        else None,
        "queries_over_500ms": over_500,
        "queries_over_1s": over_1s,
        "statements": statements,
        "cache": cache,
        "stale_reads": run.stale["confirmed"] if run.stale else None,
        "stale_check": run.stale,
        "client_ms_mean": round(fmean(r.latency_ms for r in planned), 2) if planned else None,
        "view_ms": _stats(list(views.values())),
        "writes": len(writes),
        "dispatch_lag_ms_max": round(run.load.dispatch_lag_ms_max, 1) if run.load else None,
        "workers": run.workers,
        "store": run.store,
        "indexes": run.indexes,
        "page_load_note": run.page_load_note,
        "pages": pages,
    }


METHOD = (
    "Each form in its own phase, one after the other, against its own gunicorn and its own "
    "fresh copy of the dataset; per phase a closed-loop saturation run, then open-loop Poisson "
    "arrivals at the same fixed rate for every form (the same seeded request plan), latency "
    "measured from each request's scheduled send time, from a separate process."
)


def build_document(
    options: Options, runs: Sequence[PhaseRun], meta_extra: dict[str, Any]
) -> dict[str, Any]:
    """The benchmark document (contract §1) of the phases."""
    facts = run_metadata()
    names = [run.form.name for run in runs]
    cached = next((run for run in runs if run.form.cache), None)
    return {
        "kind": "turbina.benchmark",
        "version": 1,
        "meta": {
            "db": options.db,
            "scale": options.scale,
            "workers": max((run.workers for run in runs), default=0),
            "threads": options.threads,
            "commit": facts.get("git_commit"),
            "git_dirty": facts.get("git_dirty"),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "method": METHOD,
            "seed": options.seed,
            "users": options.users,
            "saturation_s": options.saturation_s,
            "write_ratio": options.write_ratio,
            "rate_share": options.rate_share if options.rate is None else None,
            "python": facts.get("python"),
            "cpus": facts.get("cpus"),
            **meta_extra,
        },
        "before": names[0] if names else None,
        "after": "cached" if "cached" in names else (names[-1] if names else None),
        "phases": [phase_document(run) for run in runs],
        "dashboard": cached.dashboard if cached else None,
    }


# --- targets -------------------------------------------------------------------------------


def _phase(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in doc["phases"] if p["name"] == name), None)


def _seed_pages(phase: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in phase["pages"] if p["page"] in PAGES]


def extra_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets beyond the seed's, with measured values (defined at ``real`` on
    PostgreSQL; evaluated on whatever this run was)."""
    naive, optimized, cached = (_phase(doc, n) for n in ("naive", "optimized", "cached"))
    out: list[dict[str, Any]] = []

    def add(name: str, target: str, measured: str, passed: bool | None) -> None:
        out.append({"name": name, "target": target, "measured": measured, "passed": passed})

    for label, phase, bound in (("uncached (optimized)", optimized, 50.0), ("cached", cached, 5.0)):
        if phase is None:
            add(
                f"every seed page p95 server time, {label}",
                f"<= {bound:g} ms",
                "phase not run",
                None,
            )
            continue
        worst = [(p["page"], p["server_ms"]["p95"]) for p in _seed_pages(phase) if p["server_ms"]]
        over = [f"{page} {p95:.1f} ms" for page, p95 in worst if p95 > bound]
        top = max(worst, key=lambda item: item[1]) if worst else None
        measured = (
            f"worst {top[0]} {top[1]:.1f} ms" + (f"; over: {', '.join(over)}" if over else "")
            if top
            else "no samples"
        )
        add(
            f"every seed page p95 server time, {label}",
            f"<= {bound:g} ms",
            measured,
            (not over) if worst else None,
        )
    after = cached or optimized
    if naive and after and naive.get("view_ms") and after.get("view_ms"):
        ratio = naive["view_ms"]["mean"] / max(after["view_ms"]["mean"], 1e-9)
        add(
            "mean response across the workload vs naive",
            ">= 10x faster",
            f"{ratio:.1f}x ({naive['view_ms']['mean']:.1f} -> {after['view_ms']['mean']:.1f} ms, "
            "page views incl. lazy parts, open loop)",
            ratio >= 10,
        )
    if naive and after:
        before_slow = naive["queries_over_500ms"]
        if before_slow:
            gone = 1 - after["queries_over_500ms"] / before_slow
            add(
                ">500 ms statements eliminated",
                ">= 95 %",
                f"{gone:.1%} ({before_slow} -> {after['queries_over_500ms']})",
                gone >= 0.95,
            )
        else:
            add(">500 ms statements eliminated", ">= 95 %", "naive had none over 500 ms", None)
        if naive.get("saturation_rps") and after.get("saturation_rps"):
            ratio = after["saturation_rps"] / naive["saturation_rps"]
            add(
                "throughput at saturation vs naive",
                ">= 5x",
                f"{ratio:.1f}x ({naive['saturation_rps']} -> {after['saturation_rps']} req/s)",
                ratio >= 5,
            )
    return out


# --- output --------------------------------------------------------------------------------


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.0%}"


def pages_table(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| page | phase | requests | client p50 | client p95 | client p99 | server p50 | "
        "server p95 | db ms/req | queries/req | cache hits | page load p50 | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels: list[str] = []
    for phase in doc["phases"]:
        for page in phase["pages"]:
            if page["page"] not in labels:
                labels.append(page["page"])
    for label in labels:
        for phase in doc["phases"]:
            page = next((p for p in phase["pages"] if p["page"] == label), None)
            if page is None:
                continue
            c, s = page["client_ms"] or {}, page["server_ms"] or {}
            load = page["page_load_ms"]
            load_text = f"{_f(load['p50'])} (n={load['samples']})" if load else "–"
            lines.append(
                f"| `{label}` | {phase['name']} | {page['requests']} | {_f(c.get('p50'))} | "
                f"{_f(c.get('p95'))} | {_f(c.get('p99'))} | {_f(s.get('p50'))} | "
                f"{_f(s.get('p95'))} | {_f(page['db_ms_mean'])} | {_f(page['queries_mean'])} | "
                f"{_pct(page['cache_hit_rate'])} | "
                f"{load_text} | "
                f"{page['errors']} |"
            )
    return lines


def phases_table(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| phase | offered req/s | planned requests | errors | saturation req/s (HTTP) | "
        "mean view ms | "
        "p95 view ms | db ms/page | statements | >500 ms | >1 s | cache hit rate | stale reads |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in doc["phases"]:
        view = p["view_ms"] or {}
        cache = p["cache"]
        lines.append(
            f"| {p['name']} | {p['offered_rps']} | {p['planned_requests']} | {p['errors']} | "
            f"{_f(p['saturation_rps'], 2)} ({_f(p.get('saturation_http_rps'), 1)}) | "
            f"{_f(view.get('mean'))} | {_f(view.get('p95'))} | "
            f"{_f(p['db_ms_mean'])} | {p['statements']} | {p['queries_over_500ms']} | "
            f"{p['queries_over_1s']} | {_pct(cache['hit_rate']) if cache else '–'} | "
            f"{_f(p['stale_reads'])} |"
        )
    return lines


def ratios_table(doc: dict[str, Any]) -> list[str]:
    base = _phase(doc, doc["before"])
    others = [p for p in doc["phases"] if base is not None and p["name"] != base["name"]]
    if base is None or not others:
        return []
    head = " | ".join(f"{p['name']}: client p95 / server p95" for p in others)
    lines = [f"| page | {head} |", "|---|" + "---:|" * len(others)]
    for page in _seed_pages(base):
        cells = []
        for other in others:
            mine = next((x for x in other["pages"] if x["page"] == page["page"]), None)
            if mine is None or not mine["client_ms"] or not page["client_ms"]:
                cells.append("–")
                continue
            client = page["client_ms"]["p95"] / max(mine["client_ms"]["p95"], 1e-9)
            server = (
                page["server_ms"]["p95"] / max(mine["server_ms"]["p95"], 1e-9)
                if page["server_ms"] and mine["server_ms"]
                else math.nan
            )
            cells.append(f"{client:.1f}x / {server:.1f}x faster")
        lines.append(f"| `{page['page']}` | " + " | ".join(cells) + " |")
    return lines


def growth_table(doc: dict[str, Any], results_dir: Path) -> list[str]:
    """At ``large``: each page's p95 (server) against the ``real`` run of the same database."""
    if doc["meta"]["scale"] == "real":
        return []
    real_path = results_dir / f"proof-{doc['meta']['db']}-real.json"
    if not real_path.exists():
        return [f"(no {real_path.name} to compare the growth with)"]
    real = json.loads(real_path.read_text(encoding="utf-8"))
    scale = doc["meta"]["scale"]
    lines = [
        f"| page | phase | n real | n {scale} | server p95 real | server p95 {scale} | growth |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for phase in doc["phases"]:
        old = _phase(real, phase["name"])
        if old is None:
            continue
        for page in phase["pages"]:
            was = next((p for p in old["pages"] if p["page"] == page["page"]), None)
            if not was or not was["server_ms"] or not page["server_ms"]:
                continue
            a, b = was["server_ms"]["p95"], page["server_ms"]["p95"]
            lines.append(
                f"| `{page['page']}` | {phase['name']} | {was['requests']} | "
                f"{page['requests']} | {a:.1f} | {b:.1f} | {b / max(a, 1e-9):.1f}x |"
            )
    return lines


def checklist(
    doc: dict[str, Any], reading: Any = None
) -> tuple[list[dict[str, Any]], str | None, Any]:
    """The seed's checklist through ``turbina.report`` (None when it is not available);
    ``reading`` (the before phase's store window) adds its findings to the report."""
    try:
        from turbina.report import build_report
    except ImportError:
        return [], None, None
    report = build_report(reading=reading, benchmark=doc)
    checks = [c.to_json() for c in report.checklist]
    return checks, report.verdict, report


def markdown(
    doc: dict[str, Any],
    targets: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    verdict: str | None,
    results_dir: Path,
) -> str:
    meta = doc["meta"]
    lines = [
        f"# Before/after benchmark: `fretes` on {meta['db']}, scale `{meta['scale']}`",
        "",
        f"{meta['when']}, commit {str(meta.get('commit') or '?')[:12]}"
        f"{' (dirty)' if meta.get('git_dirty') else ''}, {meta.get('cpus')} CPUs, "
        f"gunicorn {meta['workers']}x{meta['threads']}, load average "
        f"{'/'.join(f'{x:.1f}' for x in meta['load_average'])} at the end, "
        f"seed {meta['seed']}, {meta['write_ratio']:.0%} writes.",
        "",
        f"Method: {meta['method']} Saturation: {meta['users']} users for "
        f"{meta['saturation_s']:.0f} s. Offered rate: "
        + (
            f"{meta['rate_share']:g} x the naive saturation throughput."
            if meta.get("rate_share")
            else "given with --rate."
        )
        + " Saturation req/s counts planned requests (page views and writes) answered per "
        "second; in brackets every HTTP request, the lazy parts a lazy page fetches included. "
        "A view is a planned request until it and its lazy parts are back."
        " Server times are the app's own (`Server-Timing: app`); DB time and queries per "
        "request too (`db`); statements over 500 ms / 1 s come from the phase store's "
        "per-statement histograms (bucket precision 4.4 %) of the open-loop run; the cache hit "
        "rate is the phase store's; page loads are cold Chromium loads (loadEventEnd) of an "
        "idle server after the load.",
        "",
        "## Phases",
        "",
        *phases_table(doc),
        "",
        "## Per page",
        "",
        "Rows with few requests (the export, and every row at `large`, where the naive "
        "phase's rate allows few): their p95 and p99 are close to their maximum and say "
        "little; the request counts are in the table.",
        "",
        *pages_table(doc),
        "",
        "## Ratios to naive (p95)",
        "",
        *ratios_table(doc),
        "",
    ]
    growth = growth_table(doc, results_dir)
    if growth:
        lines += [f"## Growth from `real` to `{meta['scale']}`", "", *growth, ""]
    lines += ["## The seed's checklist (turbina.report)", ""]
    if checks:
        lines += ["| criterion | target | measured | passed |", "|---|---|---|---|"]
        for c in checks:
            mark = {True: "yes", False: "**no**", None: "–"}[c.get("passed")]
            note = f" ({c['note']})" if c.get("note") else ""
            lines.append(f"| {c['name']} | {c['target']} | {c['measured']}{note} | {mark} |")
        lines += ["", f"Verdict: {verdict}", ""]
    else:
        lines += ["turbina.report is not available in this checkout: checklist not evaluated.", ""]
    lines += [
        "## Targets beyond the seed's (defined at `real` on PostgreSQL)",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    for t in targets:
        mark = {True: "yes", False: "**no**", None: "–"}[t["passed"]]
        lines.append(f"| {t['name']} | {t['target']} | {t['measured']} | {mark} |")
    missed = [t for t in targets if t["passed"] is False]
    lines += [
        "",
        "Missed: "
        + ("; ".join(f"{t['name']}: {t['measured']}" for t in missed) if missed else "none")
        + ".",
    ]
    stale = next((p["stale_check"] for p in doc["phases"] if p.get("stale_check")), None)
    if stale:
        lines += [
            "",
            f"Stale-read check (cached phase): {stale['checks']} pages compared, "
            f"{stale['first_mismatches']} differed at first, {stale['confirmed']} confirmed "
            f"stale after a recheck, {stale['errors']} failed fetches.",
        ]
    if doc.get("dashboard"):
        d = doc["dashboard"]
        lines += [
            "",
            f"Dashboard: {d['authorized_status']} for an admin, {d['anonymous_status']} anonymous.",
        ]
    for p in doc["phases"]:
        if p.get("page_load_note"):
            lines += ["", f"Page loads ({p['name']}): {p['page_load_note']}."]
        if p.get("error_examples"):
            lines += [
                "",
                f"Errors ({p['name']}): " + "; ".join(str(e)[:160] for e in p["error_examples"]),
            ]
    return "\n".join(lines) + "\n"


def write_outputs(
    doc: dict[str, Any],
    options: Options,
    echo: Callable[[str], None],
    *,
    show: bool = True,
    reading: Any = None,
) -> dict[str, Any]:
    """Check the document against the contract, add the targets and the checklist, write the
    JSON, the Markdown and (with ``turbina.report``) the HTML report; ``reading`` is the
    before phase's store window, whose findings the HTML report shows."""
    from bench.document import problems

    wrong = problems(doc)
    if wrong:  # the writer's own bug: say where, never save a document the reader refuses
        raise TurbinaError(
            f"the benchmark document breaks the contract: {'; '.join(wrong[:5])}",
            "fix bench/proof.py (or bench/document.py if the contract changed)",
        )
    targets = extra_targets(doc)
    doc["targets"] = targets
    checks, verdict, report = checklist(doc, reading)
    doc["checklist"] = checks
    doc["verdict"] = verdict
    options.results_dir.mkdir(parents=True, exist_ok=True)
    base = options.results_dir / options.result_name
    text = markdown(doc, targets, checks, verdict, options.results_dir)
    Path(f"{base}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    Path(f"{base}.md").write_text(text, encoding="utf-8")
    if show:
        echo(text)
    echo(f"wrote {base}.json and {base}.md")
    if report is not None and options.html:
        from turbina.report import render_html

        Path(f"{base}.html").write_text(render_html(report), encoding="utf-8")
        echo(f"wrote {base}.html")
    return doc


# --- the run -------------------------------------------------------------------------------


AfterPhase = Callable[["PhaseRun", str, dict[str, str]], None]


def run_phases(
    options: Options, echo: Callable[[str], None] = print, after_phase: AfterPhase | None = None
) -> tuple[dict[str, Any], list[PhaseRun]]:
    """Every phase of ``options`` in turn; the document (not written yet) and the phase runs.
    ``after_phase(run, database_url, server_env)`` runs while the phase's database copy still
    exists (the demo asks the index advisor about the naive phase's workload there)."""
    from fretes.datagen import DEMO_PASSWORD, REFERENCE_DATE

    tag = f"{options.db}-{options.scale}-{uuid.uuid4().hex[:6]}"
    # The phase stores are kept after a run (`turbina report` can read them); a new run of the
    # same database and scale replaces the last one's, so they cannot pile up.
    for old in options.work_dir.glob(f"{options.db}-{options.scale}-*-store.db*"):
        old.unlink(missing_ok=True)
    runs: list[PhaseRun] = []
    rate = options.rate
    catalog: Catalog | None = None
    started = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    dataset_s: float | None = None
    for name in options.phases:
        form = FORMS[name]
        echo(f"phase {name}: {form.label}")
        with working_database(
            options.db,
            options.scale,
            options.seed,
            server_url=options.pg_url,
            directory=options.data_dir,
        ) as (dataset, url):
            if dataset.build_seconds is not None:
                dataset_s = round(dataset.build_seconds, 1)
                echo(f"  dataset {options.scale} on {options.db}: built in {dataset_s} s")
            if catalog is None:
                catalog = build_catalog(url, DEMO_PASSWORD, reference_date=REFERENCE_DATE)
            run = run_phase(options, form, catalog, url, tag=tag, rate=rate, echo=echo)
            rate = run.offered_rps
            runs.append(run)
            if after_phase is not None:
                after_phase(run, url, run.env)
    echo("phases done")
    doc = build_document(
        options,
        runs,
        {
            "load_average_before": load_before,
            "dataset_built_s": dataset_s,
            "total_s": round(time.perf_counter() - started, 1),
        },
    )
    return doc, runs


def run_proof(options: Options, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Every phase of ``options`` in turn; the document (also written to the results)."""
    started = time.perf_counter()

    def timed(line: str) -> None:
        echo(f"[{time.perf_counter() - started:6.1f} s] {line}" if line else line)

    doc, runs = run_phases(options, timed)
    return write_outputs(doc, options, echo, reading=runs[0].reading if runs else None)


def parse_args(argv: Sequence[str] | None) -> Options:
    """Command line -> options; a bad value is a one-line error naming the option."""
    from fretes.datagen import SCALES

    parser = argparse.ArgumentParser(
        prog="python -m bench.proof", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or all (default sqlite)")
    parser.add_argument("--scale", default="real", help=f"dataset scale: {', '.join(SCALES)}")
    parser.add_argument(
        "--phases",
        default="naive,optimized,cached",
        help="phases in order, comma-separated (default naive,optimized,cached)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="seconds of the open-loop run per phase (default 60)",
    )
    parser.add_argument(
        "--saturation",
        type=float,
        default=20.0,
        help="seconds of the closed-loop saturation run per phase (default 20)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="users of the saturation run (default 2 x workers x threads)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offered requests per second (default: --rate-share x naive saturation)",
    )
    parser.add_argument(
        "--rate-share",
        type=float,
        default=0.6,
        help="share of the first phase's saturation throughput offered (default 0.6)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers (default 4 on postgres, 2 on sqlite, 1 without Redis)",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="threads of the open-loop sender (default 64)"
    )
    parser.add_argument("--write-ratio", type=float, default=0.05, help="share of writes (0.05)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests (default 20)")
    parser.add_argument(
        "--page-loads",
        type=int,
        default=3,
        help="cold Chromium loads per page per phase (default 3; 0: none)",
    )
    parser.add_argument("--seed", type=int, default=42, help="dataset and plan seed (default 42)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis (cache and store)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where to write")
    parser.add_argument("--name", default=None, help="result name (default proof-<db>-<scale>)")
    args = parser.parse_args(argv)
    problems = []
    if args.db not in (*DB_KINDS, "all"):
        problems.append(
            (f"--db {args.db!r} is not a database kind", "use --db sqlite, postgres or all")
        )
    if args.scale not in SCALES:
        problems.append((f"--scale {args.scale!r} is unknown", f"use one of {', '.join(SCALES)}"))
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    if not phases or any(p not in FORMS for p in phases) or len(set(phases)) != len(phases):
        problems.append(
            (
                f"--phases {args.phases!r} is invalid",
                f"give distinct names among {', '.join(FORMS)}",
            )
        )
    for name, value, low in (
        ("--duration", args.duration, 0.0),
        ("--rate-share", args.rate_share, 0.0),
    ):
        if not value > low:
            problems.append((f"{name} must be > 0, got {value}", f"pass a positive {name}"))
    if args.saturation < 0:
        problems.append(("--saturation must be >= 0", "pass 0 to skip it (then give --rate)"))
    if args.rate is not None and args.rate <= 0:
        problems.append((f"--rate must be > 0, got {args.rate}", "pass requests per second"))
    if args.rate is None and args.saturation == 0:
        problems.append(
            ("--saturation 0 leaves no throughput to derive the rate from", "pass --rate N")
        )
    if not 0 <= args.write_ratio <= 1:
        problems.append(("--write-ratio must be within [0, 1]", "pass e.g. 0.05"))
    for name, value in (("--threads", args.threads), ("--concurrency", args.concurrency)):
        if value < 1:
            problems.append((f"{name} must be >= 1", f"pass a positive {name}"))
    if args.workers is not None and args.workers < 1:
        problems.append(("--workers must be >= 1", "pass a positive --workers"))
    if problems:
        raise TurbinaError(*problems[0])
    options = Options(
        db=args.db,
        scale=args.scale,
        phases=phases,
        seed=args.seed,
        duration_s=args.duration,
        saturation_s=args.saturation,
        rate=args.rate,
        rate_share=args.rate_share,
        warmup=args.warmup,
        workers=args.workers,
        threads=args.threads,
        concurrency=args.concurrency,
        write_ratio=args.write_ratio,
        page_loads=args.page_loads,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        results_dir=args.results_dir,
        name=args.name,
    )
    if args.users is not None:
        if args.users < 1:
            raise TurbinaError("--users must be >= 1", "pass a positive --users")
        options.users = args.users
    else:
        options.users_auto = True
        if options.db != "all":
            options.users = 2 * workers_for(options) * options.threads
    return options


def print_failure(exc: TurbinaError | ServerError) -> int:
    """A known failure as ``error:`` (and ``fix:``) lines on stderr; the exit status, 1."""
    if isinstance(exc, TurbinaError):
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def stop_on_sigterm(signum: int, _frame: Any) -> None:
    # SIGTERM (a CI timeout, ``kill``) as an exit: the ``finally`` and ``with`` blocks stop
    # the phase's gunicorn and drop its database copy and Redis keys, as Ctrl-C does.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; a known failure is one line (and its fix), exit 1."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        options = parse_args(argv)
        kinds = DB_KINDS if options.db == "all" else (options.db,)
        for kind in kinds:
            one = Options(**{**options.__dict__, "db": kind})
            if one.users_auto:
                one.users = 2 * workers_for(one) * one.threads
            run_proof(one)
    except (TurbinaError, ServerError) as exc:
        return print_failure(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
