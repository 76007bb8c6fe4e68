"""Hit rate and stale reads of the cache on the `fretes` workload: ``python -m bench.cache_workload``.

Builds a `fretes` dataset (SQLite, ``--scale tiny`` by default), then replays a page mix in
process — each operation in its own app context, like a request — with ``--writes`` (5 %)
of the operations being committed writes of the kinds the real system makes: ORM inserts and
updates (logs, comentários, entregas delivered, frete status), an ORM bulk update (embarques)
and a raw SQL update (faturamento). The page data functions (the optimized forms) are read
through three paths on every read operation:

- ``fresh``: the function itself, uncached — the truth;
- ``turbina``: ``TurbinaCache`` (memory backend, dependencies recorded automatically);
- ``seed``: the sprint plan's design reimplemented — key ``prefix:md5(str(args))[:8]``,
  TTL-only freshness (its JSON ``default=str`` bug left out, so values compare at all).

Every cached answer is compared with the fresh one; a difference is a stale read. Writes
JSON + Markdown to ``bench/results/cache_workload.{json,md}``.
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
from pathlib import Path
from typing import Any

from bench.cache_workload_mix import SeedCache, build_pages, build_writes
from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.region import TurbinaCache

RESULTS = Path(__file__).resolve().parent / "results"
WORKDIR_PREFIX = "turbina-cache-workload-"


def run(scale: str, ops: int, write_ratio: float, seed: int) -> dict[str, Any]:
    from fretes.app import create_app
    from fretes.datagen import REFERENCE_DATE, generate

    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    url = f"sqlite:///{workdir / 'fretes.db'}"
    started = time.perf_counter()
    generate(url, scale=scale, seed=seed, reset=True, progress=False)
    build_seconds = time.perf_counter() - started
    app = create_app({"DATABASE_URL": url, "TURBINA_ENABLED": False, "TESTING": True})
    cache = TurbinaCache(MemoryBackend())
    cache.track_session_writes(None)
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


PATCHED = (
    ("monitoramento/listar", "entregas", "fretes.views.optimized.entregas", "listar_entregas"),
    ("embarques/dashboard", "embarques", "fretes.views.optimized.embarques", "dashboard_embarques"),
    ("fretes/consulta", "embarques", "fretes.views.optimized.embarques", "consultar_fretes"),
    (
        "faturamento/relatorio",
        "faturamento",
        "fretes.views.optimized.relatorios",
        "relatorio_faturamento",
    ),
    ("pedidos/status", "dashboards", "fretes.views.optimized.relatorios", "status_pedidos"),
)


def run_planner(scale: str, ops: int, write_ratio: float, seed: int) -> dict[str, Any]:
    """The harness's own workload (``bench.workload``: Zipf-distributed parameters, logged-in
    vendedores and admins, writes through the app's POST endpoints) replayed with the Flask
    test client; the optimized data functions are wrapped to answer through each cache and
    to check every answer against a fresh computation."""
    import importlib

    from bench.catalog import build_catalog
    from bench.workload import Workload
    from fretes.app import create_app
    from fretes.datagen import DEMO_PASSWORD, generate

    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    url = f"sqlite:///{workdir / 'fretes.db'}"
    started = time.perf_counter()
    generate(url, scale=scale, seed=seed, reset=True, progress=False)
    build_seconds = time.perf_counter() - started
    workload = Workload(build_catalog(url, DEMO_PASSWORD), write_ratio=write_ratio)
    app = create_app(
        {"DATABASE_URL": url, "TURBINA_ENABLED": False, "TESTING": True, "FRETES_MODE": "optimized"}
    )
    cache = TurbinaCache(MemoryBackend())
    cache.track_session_writes(None)
    seed_cache = SeedCache()
    per_page = {name: {"reads": 0, "turbina_stale": 0, "seed_stale": 0} for name, *_ in PATCHED}
    seconds: dict[str, list[float]] = {"fresh": [], "turbina": [], "seed": []}
    originals = []
    for name, context, module_name, attr in PATCHED:
        module = importlib.import_module(module_name)
        func = getattr(module, attr)
        originals.append((module, attr, func))
        paths = (
            ("fresh", func),
            ("turbina", cache.cached(context)(func)),
            ("seed", seed_cache.cached(context)(func)),
        )

        def checked(*args: Any, _name: str = name, _paths: Any = paths) -> Any:
            results = {}
            for label, fn in _paths:
                t0 = time.perf_counter()
                results[label] = fn(*args)
                seconds[label].append(time.perf_counter() - t0)
            counts = per_page[_name]
            counts["reads"] += 1
            counts["turbina_stale"] += results["turbina"] != results["fresh"]
            counts["seed_stale"] += results["seed"] != results["fresh"]
            return results["fresh"]

        setattr(module, attr, checked)
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    done = 0
    try:
        while done < ops:
            account = workload.pick_account(rng)
            client = app.test_client()
            client.post("/login", json=workload.login_body(account))
            for _ in range(workload.session_requests(rng)):
                planned = workload.next_request(rng, account)
                if planned.label.endswith("exportar"):
                    continue  # the export streams a spreadsheet; not a cached page here
                params = dict(planned.params)
                if not planned.is_write:
                    params["format"] = "json"
                response = client.open(
                    planned.path, method=planned.method, query_string=params, json=planned.json
                )
                key = f"{'write' if planned.is_write else 'read'} {response.status_code}"
                statuses[key] = statuses.get(key, 0) + 1
                done += 1
                if done >= ops:
                    break
    finally:
        for module, attr, func in originals:
            setattr(module, attr, func)
    stats = cache.stats()
    cache.close()
    return _report(
        "bench.workload (Zipf, logged-in users, POST writes)",
        scale,
        seed,
        build_seconds,
        ops,
        write_ratio,
        per_page,
        statuses,
        seconds,
        stats,
        seed_cache,
    )


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
    used = [
        v for k, v in stats["contexts"].items() if v["hits"] + v["misses"] + v["stale_prevented"]
    ]
    hits = sum(c["hits"] for c in used)
    lookups = sum(c["hits"] + c["misses"] + c["stale_prevented"] for c in used)
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
                k: {f: v[f] for f in ("hits", "misses", "stale_prevented", "bypassed")}
                for k, v in stats["contexts"].items()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--writes", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mix", choices=("planner", "simple", "both"), default="both")
    args = parser.parse_args()
    reports = []
    try:
        if args.mix in ("planner", "both"):
            reports.append(run_planner(args.scale, args.ops, args.writes, args.seed))
        if args.mix in ("simple", "both"):
            reports.append(run(args.scale, args.ops, args.writes, args.seed))
    finally:
        for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}{os.getpid()}-*"):
            shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "\n".join(markdown(r) for r in reports)
    (RESULTS / "cache_workload.json").write_text(json.dumps(reports, indent=2, default=str) + "\n")
    (RESULTS / "cache_workload.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
