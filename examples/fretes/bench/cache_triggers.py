"""Delay from an external commit to the stamp bump: ``python -m bench.cache_triggers``.

A separate PostgreSQL connection (another program, as far as the app knows) commits an UPDATE
on a table that has the trigger bridge's trigger; the bench then polls the cache store until
the table's stamp moves. The delay is commit-returned -> stamp-visible: trigger, NOTIFY at
commit, delivery to the listener's connection, coalescing, the bump in the store. Side by
side in the same run, for each backend (memory, Redis):

- the app's own write through a tracked engine (the bump lands before ``commit()`` returns:
  the floor, 0 by construction — measured the same way);
- the same external commit with no listener running (the pre-bridge behaviour: the stamp
  never moves; stale until the entry's TTL), over a bounded window;
- the bridge: median / p95 / max over N sequential commits (a short gap between them so each
  is its own notification), and ``psql`` processes as the writer;
- a burst of back-to-back commits: how many notifications were coalesced into one bump, and
  the delay from the burst's last commit to its bump.

Results go to ``bench/results/cache_triggers.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from bench.report import micro_facts, save_document
from turbina import MemoryBackend, RedisBackend, TriggerBridge, TriggerListener, TurbinaCache

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOKEN = "t:bench_itens"
POLL_LIMIT_S = 5.0


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A database of its own for this run, dropped afterwards."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"turbina_bench_triggers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_for_bump(cache: TurbinaCache, before: int, limit_s: float = POLL_LIMIT_S) -> float | None:
    """Seconds until the stamp differs from ``before`` (polled as fast as the store
    answers); ``None`` if it did not move within ``limit_s``."""
    start = time.perf_counter()
    while True:
        if cache.backend.read_stamps([TOKEN])[0] != before:
            return time.perf_counter() - start
        if time.perf_counter() - start > limit_s:
            return None
        # Let the listener's thread have the GIL: a pure-Python poll of the memory backend
        # would otherwise hold it for a whole switch interval (5 ms) and add that to the delay.
        time.sleep(50e-6)


def stamp(cache: TurbinaCache) -> int:
    return int(cache.backend.read_stamps([TOKEN])[0])


def summary(delays_s: Sequence[float | None]) -> dict[str, Any]:
    seen = sorted(d * 1000 for d in delays_s if d is not None)
    out: dict[str, Any] = {"commits": len(delays_s), "bumped": len(seen)}
    if seen:
        out.update(
            median_ms=round(statistics.median(seen), 3),
            p95_ms=round(seen[min(len(seen) - 1, int(0.95 * len(seen)))], 3),
            max_ms=round(seen[-1], 3),
            min_ms=round(seen[0], 3),
        )
    return out


def external_commits(
    url: str, cache: TurbinaCache, count: int, gap_s: float, limit_s: float = POLL_LIMIT_S
) -> list[float | None]:
    """Commit ``count`` UPDATEs on a connection of its own; the delay of each to its bump."""
    delays: list[float | None] = []
    with psycopg.connect(libpq_url(url)) as conn:
        for _ in range(count):
            before = stamp(cache)
            conn.execute("UPDATE bench_itens SET v = v + 1 WHERE id = 1")
            conn.commit()
            delays.append(wait_for_bump(cache, before, limit_s))
            time.sleep(gap_s)
    return delays


def tracked_commits(engine: sa.Engine, cache: TurbinaCache, count: int) -> list[float | None]:
    """The app's own write through the engine the cache tracks."""
    delays: list[float | None] = []
    for _ in range(count):
        before = stamp(cache)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE bench_itens SET v = v + 1 WHERE id = 2"))
        delays.append(wait_for_bump(cache, before))
    return delays


def psql_commits(url: str, cache: TurbinaCache, count: int) -> list[float | None]:
    """``psql`` processes as the writer: the delay from the process's exit to the bump."""
    binary = shutil.which("psql")
    if binary is None:
        return []
    delays: list[float | None] = []
    for _ in range(count):
        before = stamp(cache)
        sql = "UPDATE bench_itens SET v = v + 1 WHERE id = 1"
        subprocess.run([binary, libpq_url(url), "-X", "-q", "-c", sql], check=True)
        delays.append(wait_for_bump(cache, before))
    return delays


def burst(url: str, cache: TurbinaCache, listener: TriggerListener, count: int) -> dict[str, Any]:
    """``count`` back-to-back commits: notifications per bump, and the last one's delay."""
    time.sleep(0.2)  # the earlier phases' notifications are all counted
    counts = listener.stats()
    with psycopg.connect(libpq_url(url)) as conn:
        start = time.perf_counter()
        for _ in range(count):
            conn.execute("UPDATE bench_itens SET v = v + 1 WHERE id = 1")
            conn.commit()
        before = stamp(cache)
        conn.execute("UPDATE bench_itens SET v = v + 1 WHERE id = 1")
        conn.commit()
        committed = time.perf_counter() - start
        last = wait_for_bump(cache, before)
    deadline = time.monotonic() + POLL_LIMIT_S
    while listener.stats()["notifications"] - counts["notifications"] < count + 1:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    after = listener.stats()
    notifications = after["notifications"] - counts["notifications"]
    batches = after["batches"] - counts["batches"]
    return {
        "commits": count + 1,
        "commits_per_s": round((count + 1) / committed, 1),
        "notifications": notifications,
        "bumps": batches,
        "notifications_per_bump": round(notifications / batches, 2) if batches else None,
        "last_commit_to_bump_ms": None if last is None else round(last * 1000, 3),
    }


def run_backend(
    name: str,
    make_backend: Callable[[], Any],
    url: str,
    engine: sa.Engine,
    commits: int,
    psql_count: int,
    burst_count: int,
    gap_s: float,
) -> dict[str, Any]:
    cache = TurbinaCache(make_backend(), {"itens": 600})
    cache.track_session_writes(engine)
    try:
        tracked = tracked_commits(engine, cache, max(20, commits // 5))
        unlistened = external_commits(url, cache, 3, 0.0, limit_s=1.0)
        listener = TriggerListener.for_engine(engine, cache.commit_seen)
        if not listener.start():
            raise SystemExit(f"the listener could not connect: {listener.last_error}")
        try:
            external_commits(url, cache, 5, gap_s)  # warm-up
            bridged = external_commits(url, cache, commits, gap_s)
            by_psql = psql_commits(url, cache, psql_count)
            burst_result = burst(url, cache, listener, burst_count)
            stats = listener.stats()
        finally:
            listener.stop()
    finally:
        cache.close()
    return {
        "backend": name,
        "tracked_app_write": summary(tracked),
        "external_without_listener": {
            **summary(unlistened),
            "window_s": 1.0,
            "note": "stamp never moved: stale until the entry's TTL",
        },
        "external_with_bridge": summary(bridged),
        "psql_with_bridge": summary(by_psql) if by_psql else None,
        "burst": burst_result,
        "listener": {k: stats[k] for k in ("notifications", "batches", "own", "errors")},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with scratch_database(args.database_url) as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE bench_itens (id int PRIMARY KEY, v int)"))
            conn.execute(sa.text("INSERT INTO bench_itens VALUES (1, 0), (2, 0)"))
        TriggerBridge(engine).install(["bench_itens"])
        backends: list[tuple[str, Callable[[], Any]]] = [("memory", MemoryBackend)]
        if not args.no_redis:
            prefix = f"turbina_bench_triggers:{uuid.uuid4().hex[:8]}"
            backends.append(
                ("redis", lambda: RedisBackend(redis.Redis.from_url(args.redis_url), prefix))
            )
        for name, make in backends:
            results.append(
                run_backend(
                    name, make, url, engine, args.commits, args.psql, args.burst, args.gap_ms / 1000
                )
            )
        engine.dispose()
        if not args.no_redis:
            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
    return {
        "benchmark": "cache_triggers",
        **micro_facts("bench.cache_triggers", args.argv),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "database": sa.make_url(args.database_url).render_as_string(),
        "commits": args.commits,
        "gap_ms": args.gap_ms,
        "target": "measure the delay from an external commit to the bump (issue #9)",
        "results": results,
    }


def _cell(row: dict[str, Any] | None, key: str) -> str:
    if not row or key not in row:
        return "–"
    return f"{row[key]:.2f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Trigger bridge: external commit -> stamp bump",
        "",
        f"{report['when']}, {report['platform']}, Python {report['python']}; load average "
        f"{report['load_average']}; PostgreSQL at {report['database']}; {report['commits']} "
        f"sequential commits per backend, {report['gap_ms']} ms apart. Delay = from the "
        "writer's `commit()` returning to the table's stamp changing in the store (polled "
        f"as fast as the store answers). Command: `{report['command']}`.",
        "",
        "| backend | writer | commits | bumped | median ms | p95 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        rows = [
            ("the app itself (tracked engine) — baseline", r["tracked_app_write"]),
            ("another connection, no listener — before the bridge", r["external_without_listener"]),
            ("another connection, with the bridge", r["external_with_bridge"]),
            ("psql process, with the bridge (from its exit)", r["psql_with_bridge"]),
        ]
        for label, row in rows:
            if row is None:
                continue
            lines.append(
                f"| {r['backend']} | {label} | {row['commits']} | {row['bumped']} | "
                f"{_cell(row, 'median_ms')} | {_cell(row, 'p95_ms')} | {_cell(row, 'max_ms')} |"
            )
    lines += [
        "",
        "No listener: the stamp did not move within the 1 s window — the entry stays stale "
        "until its TTL. The app's own writes are bumped before `commit()` returns.",
        "",
        "| backend | burst commits | commits/s | notifications | bumps | notifications per bump "
        "| last commit -> bump ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        b = r["burst"]
        lines.append(
            f"| {r['backend']} | {b['commits']} | {b['commits_per_s']} | {b['notifications']} | "
            f"{b['bumps']} | {b['notifications_per_bump']} | {b['last_commit_to_bump_ms']} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--psql", type=int, default=20, help="psql processes as writers")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    report = run(args)
    save_document(report, markdown(report), "cache_triggers")
    print(markdown(report))


if __name__ == "__main__":
    main()
