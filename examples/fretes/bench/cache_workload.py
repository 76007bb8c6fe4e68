"""Hit rate and stale reads of the cache on the `fretes` workload: ``python -m bench.cache_workload``.

Default (``--mix planner``): builds a `fretes` dataset (SQLite, ``--scale tiny``), then
replays the harness's own workload (``bench.workload``: Zipf parameters, logged-in vendedores
and admins, ``--writes`` 5 % writes through the app's POST endpoints) in process with the
Flask test client against the app's real ``cached`` mode (``X-Fretes-Mode: cached``; the
functions of ``fretes.views.cached`` on the app's memory cache). Every cached read is
followed at once by the naive read of the same URL as the same user — same process,
sequential, so nothing commits in between — and a different body counts as a stale read.
The hit rate comes from the cache's own stats. The same workload is then replayed with the
seed's design (key ``prefix:md5(str(args))[:8]``, TTL-only freshness, reimplemented in
``bench.cache_workload_mix``) in the cached mode's place, for the comparison.

``--mix simple`` is the older function-level mix (uniform parameters, direct ORM, bulk and
raw-SQL writes, dependencies recorded instead of declared). Writes JSON + Markdown to
``bench/results/cache_workload.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.cache_workload_mix import SeedCache, build_pages, build_writes
from turbina import MemoryBackend, TurbinaCache

RESULTS = Path(__file__).resolve().parent / "results"
WORKDIR_PREFIX = "turbina-cache-workload-"


def run(scale: str, ops: int, write_ratio: float, seed: int) -> dict[str, Any]:
    from fretes.app import CACHE_CONTEXTS, create_app
    from fretes.datagen import REFERENCE_DATE, generate
    from fretes.models import db

    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    url = f"sqlite:///{workdir / 'fretes.db'}"
    started = time.perf_counter()
    generate(url, scale=scale, seed=seed, reset=True, progress=False)
    build_seconds = time.perf_counter() - started
    app = create_app({"DATABASE_URL": url, "TURBINA_ENABLED": False, "TESTING": True})
    cache = TurbinaCache(MemoryBackend(), CACHE_CONTEXTS)
    with app.app_context():  # the app's engine and db.session: nothing else is tracked
        cache.track_session_writes(db.engine, metadata=[db.metadata])
    cache.track_session_writes(db.session)
    seed_cache = SeedCache()
    pages = build_pages(REFERENCE_DATE)
    cached = {name: cache.cached(context)(func) for name, context, func, _ in pages}
    seeded = {name: seed_cache.cached(context)(func) for name, context, func, _ in pages}
    writes = build_writes()
    rng = random.Random(seed)
    per_page = {name: {"reads": 0, "turbina_stale": 0, "seed_stale": 0} for name, *_ in pages}
    write_counts = {name: 0 for name, _ in writes}
    seconds: dict[str, list[float]] = {"fresh": [], "turbina": [], "seed": []}
    for _ in range(ops):
        with app.app_context():
            if rng.random() < write_ratio:
                name, write = rng.choice(writes)
                write(rng)
                write_counts[name] += 1
                continue
            name, _, func, make_args = rng.choice(pages)
            args = make_args(rng)
            results = {}
            for label, fn in (("fresh", func), ("turbina", cached[name]), ("seed", seeded[name])):
                t0 = time.perf_counter()
                results[label] = fn(*args)
                seconds[label].append(time.perf_counter() - t0)
            counts = per_page[name]
            counts["reads"] += 1
            counts["turbina_stale"] += results["turbina"] != results["fresh"]
            counts["seed_stale"] += results["seed"] != results["fresh"]
    stats = cache.stats()
    cache.close()
    return _report(
        "simple (uniform parameters, direct ORM/raw writes)",
        scale,
        seed,
        build_seconds,
        ops,
        write_ratio,
        per_page,
        write_counts,
        seconds,
        stats,
        seed_cache,
    )


# Per-context counters reported (misses by cause: first sight is unavoidable, the rest is not).
_CONTEXT_FIELDS = (
    "hits",
    "misses",
    "miss_first",
    "miss_invalidated",
    "miss_expired",
    "miss_evicted",
    "miss_error",
    "not_stored",
    "not_stored_learning",
    "not_stored_raced",
    "not_stored_unknown_deps",
    "stale_prevented",
    "bypassed",
    "hit_rate",
    "hit_rate_seen",
)

# Page label of bench.workload -> the cache context of its cached data function.
CACHED_PAGES = {
    "GET /monitoramento/listar": "entregas",
    "GET /monitoramento/badges": "entregas",
    "GET /embarques/dashboard": "embarques",
    "GET /fretes/consulta": "embarques",
    "GET /faturamento/relatorio": "faturamento",
    "GET /pedidos/status": "dashboards",
}


def run_planner(
    scale: str,
    ops: int,
    write_ratio: float,
    seed: int,
    design: str = "turbina",
    fresh: str = "naive",
) -> dict[str, Any]:
    """The harness's own workload (``bench.workload``: Zipf-distributed parameters, logged-in
    vendedores and admins, writes through the app's POST endpoints) replayed with the Flask
    test client against the app's real ``cached`` mode (``X-Fretes-Mode: cached``, the app's
    memory cache). Every cached read is followed at once by a fresh read of the same URL
    as the same user in the ``fresh`` mode (``naive``, or ``optimized``: uncached too, same
    answers, much faster at ``real`` scale) — same process, sequential: nothing can commit in
    between; a different answer is a stale read. ``design="seed"`` puts the seed's design in
    the cached mode's place (``fretes.views.cached``'s functions), for the comparison."""
    from bench.catalog import build_catalog
    from bench.workload import Workload
    from fretes.access import cached as cached_mode
    from fretes.access import optimized as embarques
    from fretes.access import optimized as entregas
    from fretes.access import optimized as relatorios
    from fretes.app import create_app
    from fretes.datagen import DEMO_PASSWORD, generate

    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    url = f"sqlite:///{workdir / 'fretes.db'}"
    started = time.perf_counter()
    generate(url, scale=scale, seed=seed, reset=True, progress=False)
    build_seconds = time.perf_counter() - started
    workload = Workload(build_catalog(url, DEMO_PASSWORD), write_ratio=write_ratio)
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "TURBINA_CACHE_BACKEND": "memory",
            "TURBINA_CACHE_PREFIX": f"cw-{os.getpid()}-{design}",
        }
    )
    seed_cache = SeedCache()
    started = time.perf_counter()  # the replay's wall time (logins included, not the build)
    originals = {name: getattr(cached_mode, name) for name in cached_mode.CONTEXTS}
    if design == "seed":
        sources = {m.__name__.rsplit(".", 1)[1]: m for m in (embarques, entregas, relatorios)}
        for name, context in cached_mode.CONTEXTS.items():
            module = next(m for m in sources.values() if hasattr(m, name))
            setattr(cached_mode, name, seed_cache.cached(context)(getattr(module, name)))
    per_page = {label: {"reads": 0, "stale": 0} for label in CACHED_PAGES}
    seconds: dict[str, list[float]] = {"cached": [], fresh: []}
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    clients: dict[str, Any] = {}
    done = 0
    try:
        while done < ops:
            account = workload.pick_account(rng)
            client = clients.get(account.username)
            if client is None:
                # One logged-in client per account (the password hash is slow by design).
                client = clients[account.username] = app.test_client()
                client.post("/login", json=workload.login_body(account))
            for _ in range(workload.session_requests(rng)):
                planned = workload.next_request(rng, account)
                if planned.label.endswith("exportar"):
                    continue  # streamed, never cached
                params = dict(planned.params)
                if not planned.is_write:
                    params["format"] = "json"
                answers = []
                for mode in ("cached", fresh) if not planned.is_write else (None,):
                    t0 = time.perf_counter()
                    response = client.open(
                        planned.path,
                        method=planned.method,
                        query_string=params,
                        json=planned.json,
                        headers={"X-Fretes-Mode": mode} if mode else None,
                    )
                    if mode is not None:
                        seconds[mode].append(time.perf_counter() - t0)
                    answers.append(response.get_data())
                key = f"{'write' if planned.is_write else 'read'} {response.status_code}"
                statuses[key] = statuses.get(key, 0) + 1
                if not planned.is_write and planned.label in per_page:
                    counts = per_page[planned.label]
                    counts["reads"] += 1
                    counts["stale"] += answers[0] != answers[1]
                done += 1
                if done >= ops:
                    break
        with app.app_context():
            stats = app.extensions["turbina"].cache.stats()
    finally:
        for name, func in originals.items():
            setattr(cached_mode, name, func)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "design": design,
        "scale": scale,
        "seed": seed,
        "dataset_build_seconds": round(build_seconds, 1),
        "operations": ops,
        "write_ratio": write_ratio,
        "reads": sum(c["reads"] for c in per_page.values()),
        "stale_reads": sum(c["stale"] for c in per_page.values()),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "hit_rate": _hit_rate(design, stats, seed_cache),
        **(_totals(stats) if design == "turbina" else {}),
        "contexts": {
            name: {f: stats["contexts"].get(name, {}).get(f, 0) for f in _CONTEXT_FIELDS}
            for name in sorted(set(CACHED_PAGES.values()))
        }
        if design == "turbina"
        else None,
        "fresh_mode": fresh,
        "cached_median_ms": _median_ms(seconds["cached"]),
        "fresh_median_ms": _median_ms(seconds[fresh]),
        "pages": per_page,
        "requests": statuses,
    }


def _median_ms(values: list[float]) -> float | None:
    return round(statistics.median(values) * 1000, 3) if values else None


def _totals(stats: dict[str, Any]) -> dict[str, Any]:
    """Lookups over every context of the cached pages; the keys seen for the first time
    (first-sight misses: one per distinct key) and the hit rate they leave possible."""
    used = [stats["contexts"].get(name, {}) for name in set(CACHED_PAGES.values())]
    hits = sum(c.get("hits", 0) for c in used)
    lookups = hits + sum(c.get("misses", 0) for c in used)
    first = sum(c.get("miss_first", 0) for c in used)
    return {
        "lookups": lookups,
        "distinct_keys": first,
        "hit_rate_seen": round(hits / (lookups - first), 4) if lookups > first else 0.0,
        "hit_rate_ceiling": round(1 - first / lookups, 4) if lookups else 0.0,
    }


def _hit_rate(design: str, stats: dict[str, Any], seed_cache: SeedCache) -> float:
    if design == "seed":
        return round(seed_cache.hits / max(1, seed_cache.hits + seed_cache.misses), 4)
    used = [stats["contexts"].get(name, {}) for name in set(CACHED_PAGES.values())]
    hits = sum(c.get("hits", 0) for c in used)
    lookups = sum(c.get("hits", 0) + c.get("misses", 0) for c in used)  # misses: every cause
    return round(hits / lookups, 4) if lookups else 0.0


def planner_markdown(runs: list[dict[str, Any]]) -> str:
    """One table for the cached-mode runs (Turbina and the seed design) of one workload."""
    first = runs[0]
    fresh = first.get("fresh_mode", "naive")
    lines = [
        "# Cached mode on the fretes workload (in process, real `cached` mode)",
        "",
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; `bench.workload` mix (Zipf "
        "parameters, logged-in vendedores and admins, writes through the POST endpoints); "
        f"scale `{first['scale']}` (seed {first['seed']}, SQLite); {first['write_ratio']:.0%} "
        f"writes. Every cached-mode read (`X-Fretes-Mode: cached`) is followed by the `{fresh}` "
        "read of the same URL as the same user (uncached: a fresh computation); a different "
        "body is a stale read. Command: `python -m bench.cache_workload "
        f"--scale {first['scale']} --ops {first['operations']}"
        + (f" --seed-ops {runs[1]['operations']}" if len(runs) > 1 else " --seed-ops 0")
        + f" --fresh {fresh}"
        + (" --parallel" if first.get("parallel") else "")
        + "`.",
        "",
        "| design | operations | cached-page reads | hit rate | hit rate, keys seen before | "
        f"stale reads | median ms cached read | median ms {fresh} read | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "turbina": "Turbina (`cached` mode, scoped dependencies)",
        "seed": "seed design (md5(str(args))[:8], TTL only)",
    }
    for r in runs:
        seen = f"{r['hit_rate_seen']:.1%}" if "hit_rate_seen" in r else "-"
        lines.append(
            f"| {names[r['design']]} | {r['operations']} | {r['reads']} | {r['hit_rate']:.1%} | "
            f"{seen} | {r['stale_reads']} | {r['cached_median_ms']} | "
            f"{r.get('fresh_median_ms', r.get('naive_median_ms'))} | {r.get('wall_seconds', '-')} |"
        )
    turbina = next((r for r in runs if r["design"] == "turbina"), None)
    if turbina is not None and turbina["contexts"]:
        lines += [
            "",
            f"Turbina: {turbina['lookups']} cache lookups (the list page is two: its page of "
            f"rows and its badge counters; the pedidos page two: counters and page) of "
            f"{turbina['distinct_keys']} distinct keys (first-sight misses), so at most "
            f"{turbina['hit_rate_ceiling']:.1%} of the lookups could hit in this run.",
            "",
            "| context | hits | misses | first sight | invalidated | expired | evicted | "
            "error | not stored | bypassed | hit rate | hit rate, keys seen before |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, c in turbina["contexts"].items():
            lines.append(
                f"| {name} | {c['hits']} | {c['misses']} | {c['miss_first']} | "
                f"{c['miss_invalidated']} | {c['miss_expired']} | {c['miss_evicted']} | "
                f"{c['miss_error']} | {c['not_stored']} | {c['bypassed']} | "
                f"{c['hit_rate']:.1%} | {c['hit_rate_seen']:.1%} |"
            )
    lines += ["", "| page | reads | " + " | ".join(f"{r['design']} stale" for r in runs) + " |"]
    lines.append("|---|---:|" + "---:|" * len(runs))
    for label in CACHED_PAGES:
        cells = [str(r["pages"][label]["stale"]) for r in runs]
        lines.append(
            f"| `{label}` | {first['pages'][label]['reads']} | " + " | ".join(cells) + " |"
        )
    lines += ["", "Requests: " + ", ".join(f"{k} {v}" for k, v in first["requests"].items()), ""]
    return "\n".join(lines)


def _report(
    mix: str,
    scale: str,
    seed: int,
    build_seconds: float,
    ops: int,
    write_ratio: float,
    per_page: dict[str, dict[str, int]],
    writes: dict[str, int],
    seconds: dict[str, list[float]],
    stats: dict[str, Any],
    seed_cache: SeedCache,
) -> dict[str, Any]:
    reads = sum(c["reads"] for c in per_page.values())
    used = [v for k, v in stats["contexts"].items() if v["hits"] + v["misses"]]
    hits = sum(c["hits"] for c in used)
    lookups = sum(c["hits"] + c["misses"] for c in used)  # misses: every cause
    return {
        "benchmark": "cache_workload",
        "mix": mix,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale": scale,
        "seed": seed,
        "database": "sqlite",
        "dataset_build_seconds": round(build_seconds, 1),
        "operations": ops,
        "write_ratio": write_ratio,
        "reads": reads,
        "writes": writes,
        "turbina": {
            "hit_rate": round(hits / lookups, 4) if lookups else 0.0,
            "stale_reads": sum(c["turbina_stale"] for c in per_page.values()),
            "median_ms": round(statistics.median(seconds["turbina"]) * 1000, 3)
            if seconds["turbina"]
            else None,
            "contexts": {
                k: {f: v[f] for f in _CONTEXT_FIELDS} for k, v in stats["contexts"].items()
            },
        },
        "seed_design": {
            "hit_rate": round(seed_cache.hits / max(1, seed_cache.hits + seed_cache.misses), 4),
            "stale_reads": sum(c["seed_stale"] for c in per_page.values()),
            "median_ms": round(statistics.median(seconds["seed"]) * 1000, 3)
            if seconds["seed"]
            else None,
        },
        "fresh_median_ms": round(statistics.median(seconds["fresh"]) * 1000, 3)
        if seconds["fresh"]
        else None,
        "pages": per_page,
    }


def markdown(report: dict[str, Any]) -> str:
    t, s = report["turbina"], report["seed_design"]
    lines = [
        "# Cache on the fretes workload",
        "",
        f"{report['when']}; mix: {report['mix']}; scale `{report['scale']}` (seed {report['seed']}, SQLite); "
        f"{report['operations']} operations, {report['write_ratio']:.0%} writes, "
        f"{report['reads']} cached-page reads; every cached answer "
        "compared with a fresh computation. Command: `python -m bench.cache_workload`.",
        "",
        "| cache | hit rate | stale reads | median ms/read |",
        "|---|---:|---:|---:|",
        f"| Turbina (stamps, recorded dependencies) | {t['hit_rate']:.1%} | {t['stale_reads']} | {t['median_ms']:.3f} |",
        f"| seed design (md5(str(args))[:8], TTL only) | {s['hit_rate']:.1%} | {s['stale_reads']} | {s['median_ms']:.3f} |",
        f"| no cache | - | 0 | {report['fresh_median_ms']:.3f} |",
        "",
        "| page | reads | Turbina stale | seed stale |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {c['reads']} | {c['turbina_stale']} | {c['seed_stale']} |"
        for name, c in report["pages"].items()
    ]
    lines += ["", "Operations: " + ", ".join(f"{k} {v}" for k, v in report["writes"].items()), ""]
    return "\n".join(lines)


def _run_job(job: tuple[Any, ...]) -> dict[str, Any]:
    scale, ops, writes, seed, design, fresh = job
    return run_planner(scale, ops, writes, seed, design, fresh=fresh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument(
        "--seed-ops", type=int, default=None, help="ops of the seed-design run (0: none)"
    )
    parser.add_argument(
        "--fresh",
        choices=("naive", "optimized"),
        default="naive",
        help="the uncached mode every cached read is checked against",
    )
    parser.add_argument("--writes", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mix", choices=("planner", "simple", "both"), default="planner")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="replay the two designs at the same time, in two processes",
    )
    args = parser.parse_args()
    planner: list[dict[str, Any]] = []
    reports = []
    try:
        if args.mix in ("planner", "both"):
            seed_ops = args.ops if args.seed_ops is None else args.seed_ops
            jobs: list[tuple[Any, ...]] = [
                (args.scale, args.ops, args.writes, args.seed, "turbina", args.fresh)
            ]
            if seed_ops:
                jobs.append((args.scale, seed_ops, args.writes, args.seed, "seed", args.fresh))
            if args.parallel and len(jobs) > 1:
                # Both designs at once, one process each (each its own dataset copy and app).
                with ProcessPoolExecutor(max_workers=len(jobs)) as pool:
                    planner.extend(pool.map(_run_job, jobs))
            else:
                planner.extend(_run_job(job) for job in jobs)
            for report in planner:
                report["parallel"] = bool(args.parallel and len(jobs) > 1)
        if args.mix in ("simple", "both"):
            reports.append(run(args.scale, args.ops, args.writes, args.seed))
    finally:
        for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}{os.getpid()}-*"):
            shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "\n".join(
        ([planner_markdown(planner)] if planner else []) + [markdown(r) for r in reports]
    )
    document = {"planner": planner, "simple": reports}
    (RESULTS / "cache_workload.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (RESULTS / "cache_workload.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
