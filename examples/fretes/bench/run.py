"""``python -m bench.run``: one benchmark run of `fretes`, written to ``bench/results/``.

Builds or reuses the dataset, serves a fresh copy of it with gunicorn, warms the server up,
replays the workload with Locust for a bounded number of requests / seconds, and writes
``bench/results/<name>.json`` and ``<name>.md``.

The page modes (``--modes``, default naive,optimized,cached) are measured side by side in
the one run: page requests take the modes in turn through the ``X-Fretes-Mode`` header, so
every mode sees the same machine conditions. The server's cache is Redis under a per-run
prefix (``bench.runcache``), its keys deleted afterwards; the result carries the hit rate
per cache context.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.catalog import build_catalog
from bench.datasets import DEFAULT_PG_URL, INSTANCE, SQLITE_JOURNAL_MODE, working_database
from bench.loadgen import KNOWN_MODES, LoadError, LoadSpec, run_load
from bench.modes import markdown_modes
from bench.report import RESULTS_DIR, build_result, markdown_table, run_metadata, write_result
from bench.runcache import DEFAULT_REDIS_URL, RunCache, run_cache
from bench.server import Server, ServerError
from fretes.datagen import SCALES
from turbina import TurbinaError

LOG_DIR = INSTANCE / "bench-logs"


@dataclass(frozen=True)
class RunOptions:
    """Everything one run needs besides the load itself."""

    scale: str = "real"
    db: str = "sqlite"
    name: str | None = None
    workers: int = 2
    threads: int = 2
    warmup_requests: int = 40
    pg_url: str = DEFAULT_PG_URL
    redis_url: str = DEFAULT_REDIS_URL
    note: str | None = None
    results_dir: Path = RESULTS_DIR

    @property
    def result_name(self) -> str:
        """``<name>`` of the result files."""
        return self.name or f"{self.db}-{self.scale}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_benchmark(
    options: RunOptions, spec: LoadSpec, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run once and write the result files; returns the result document."""
    from fretes.datagen import DEMO_PASSWORD, REFERENCE_DATE

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    name = options.result_name
    echo(f"dataset: {options.scale} on {options.db} (seed {spec.seed}) ...")
    with working_database(options.db, options.scale, spec.seed, server_url=options.pg_url) as (
        dataset,
        url,
    ):
        if dataset.build_seconds is None:
            echo("dataset: reused the existing one")
        else:
            echo(f"dataset: built in {dataset.build_seconds:.1f} s")
        catalog = build_catalog(url, DEMO_PASSWORD, reference_date=REFERENCE_DATE)
        with run_cache(name, spec.modes, options.redis_url) as cache:
            if cache.warning:
                echo(f"warning: {cache.warning}")
            outcome, workers, load_average_before, cache_stats = _serve_and_load(
                options, spec, url, catalog, cache, echo
            )
            cache_doc = {
                "backend": cache.backend,
                "prefix": cache.prefix,
                "warning": cache.warning,
                "stats": cache_stats,
            }
    meta = run_metadata(
        name=name,
        scale=options.scale,
        db=options.db,
        seed=spec.seed,
        users=spec.users,
        max_requests=spec.max_requests,
        duration_s=spec.duration_s,
        write_ratio=spec.write_ratio,
        admin_share=spec.admin_share,
        session_length=spec.session_length,
        stop_timeout_s=spec.stop_timeout_s,
        workers=workers,
        threads=options.threads,
        modes=list(spec.modes),
        warmup_requests=options.warmup_requests,
        dataset_built_s=None if dataset.build_seconds is None else round(dataset.build_seconds, 2),
        load_average_before=load_average_before,
        note=options.note,
        sqlite_journal_mode=SQLITE_JOURNAL_MODE if options.db == "sqlite" else None,
        loadgen_cpu_s=outcome.loadgen_cpu_s,
        loadgen_wall_s=outcome.wall_s,
    )
    result = build_result(outcome.samples, meta)
    if spec.modes:
        result["cache"] = cache_doc
    json_path, md_path = write_result(result, name, options.results_dir)
    echo("")
    if "by_mode" in result:
        echo(markdown_modes(result))
        echo("## Every request (all modes together; writes and logins)")
        echo("")
    echo(markdown_table(result))
    echo("")
    echo(f"wrote {json_path} and {md_path}")
    return result


def _serve_and_load(
    options: RunOptions,
    spec: LoadSpec,
    url: str,
    catalog: Any,
    cache: RunCache,
    echo: Callable[[str], None],
) -> tuple[Any, int, list[float], dict[str, Any] | None]:
    """Serve ``url`` with gunicorn, warm up, replay the load; the outcome, the worker count,
    the load average before the load and the cache counters the load added."""
    name = options.result_name
    workers = cache.workers or options.workers
    server = Server(
        url,
        workers=workers,
        threads=options.threads,
        log_path=LOG_DIR / f"{name}-gunicorn.log",
        extra_env=cache.env,
    )
    with server:
        echo(f"server: gunicorn {workers}x{options.threads} at {server.url}, cache {cache.backend}")
        if options.warmup_requests > 0:
            warm = LoadSpec(
                users=spec.users,
                max_requests=options.warmup_requests,
                duration_s=min(30.0, spec.duration_s),
                write_ratio=0.0,
                seed=spec.seed + 1,
                stop_timeout_s=spec.stop_timeout_s,
                modes=spec.modes,
            )
            run_load(server.url, catalog, warm, log=LOG_DIR / f"{name}-warmup-locust.log")
        modes = ", ".join(spec.modes) if spec.modes else "server default"
        echo(
            f"load: {spec.users} users, up to {spec.max_requests} requests or "
            f"{spec.duration_s:.0f} s, {spec.write_ratio:.0%} writes, modes: {modes} ..."
        )
        before = cache.stats()
        load_average_before = list(os.getloadavg())
        outcome = run_load(server.url, catalog, spec, log=LOG_DIR / f"{name}-locust.log")
        # Workers flush their counters at most once a second: give the last flush a moment.
        time.sleep(1.2)
        after = cache.stats()
    return outcome, workers, load_average_before, stats_delta(before, after)


def stats_delta(
    before: dict[str, dict[str, Any]] | None, after: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]] | None:
    """Counters added between two reads (the warm-up excluded), with the hit rate."""
    from bench.runcache import with_hit_rate

    if after is None:
        return None
    out = {}
    for context, counters in after.items():
        old = (before or {}).get(context, {})
        out[context] = with_hit_rate(
            {
                k: int(v) - int(old.get(k, 0))
                for k, v in counters.items()
                if isinstance(v, int) and k not in ("lookups", "hit_rate")
            }
        )
    return out


def parse_args(argv: Sequence[str] | None) -> tuple[RunOptions, LoadSpec]:
    """Command line -> options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--scale", default="real", choices=tuple(SCALES), help="dataset scale (default real)"
    )
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users (default 8)")
    parser.add_argument(
        "--requests", type=int, default=5000, help="stop after this many requests (default 5000)"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="stop after this many seconds (default 60)"
    )
    parser.add_argument(
        "--write-ratio", type=float, default=0.05, help="share of writes (default 0.05)"
    )
    parser.add_argument(
        "--admin-share", type=float, default=0.2, help="share of admin sessions (default 0.2)"
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="dataset and workload seed (default 42)"
    )
    parser.add_argument("--name", default=None, help="result name: bench/results/<name>.json/.md")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--threads", type=int, default=2, help="threads per gunicorn worker (default 2)"
    )
    parser.add_argument(
        "--stop-timeout",
        type=int,
        default=60,
        help="seconds in-flight requests may still finish after --duration (default 60)",
    )
    parser.add_argument(
        "--warmup", type=int, default=40, help="warm-up requests, not recorded (default 40)"
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (its database part is replaced)"
    )
    parser.add_argument(
        "--modes",
        default=",".join(KNOWN_MODES),
        help="page modes measured side by side, comma-separated (default naive,optimized,cached)",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="Redis for the server's cache (a per-run prefix; memory backend if unreachable)",
    )
    parser.add_argument("--note", default=None, help="free text stored with the result")
    args = parser.parse_args(argv)
    modes = tuple(m.strip().lower() for m in args.modes.split(",") if m.strip())
    options = RunOptions(
        scale=args.scale,
        db=args.db,
        name=args.name,
        workers=args.workers,
        threads=args.threads,
        warmup_requests=args.warmup,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        note=args.note,
    )
    spec = LoadSpec(
        users=args.users,
        max_requests=args.requests,
        duration_s=args.duration,
        write_ratio=args.write_ratio,
        admin_share=args.admin_share,
        seed=args.seed,
        stop_timeout_s=args.stop_timeout,
        modes=modes,
    )
    return options, spec


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit 1 with a one-line reason on a known failure."""
    try:
        options, spec = parse_args(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_and_report(options, spec)


def run_and_report(options: RunOptions, spec: LoadSpec) -> int:
    """``run_benchmark`` with known failures turned into a message and exit code 1."""
    try:
        run_benchmark(options, spec)
    except TurbinaError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 1
    except (LoadError, ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
