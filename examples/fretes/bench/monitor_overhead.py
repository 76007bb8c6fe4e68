"""The request monitor, measured: ``python -m bench.monitor_overhead [--rounds 31] [--requests 1000]``.

1. Added cost per request (Flask test client, a trivial view, CPU µs) against a bare app,
   side by side in one run, variants shuffled within each round: an empty
   before/after_request pair (the floor of any hook-based monitor), Turbina with the monitor
   off (queries + cache glue only), Turbina with everything on (per-endpoint histogram, DB
   and cache attribution, alerts; SQLite store, flushed in the background),
   prometheus_flask_exporter, and OpenTelemetry's Flask instrumentation (SDK, simple span
   processor, in-memory exporter). Added = median over rounds of the per-round difference to
   the bare app. The monitor's own cost adds the flush thread's CPU for folding each
   recorded request (measured apart: the paired rounds' medians skip the flush's spikes).
   On a loaded machine use many short rounds (``--rounds 301 --requests 50``): each
   difference then pairs batches run a fraction of a second apart.
2. Percentile accuracy: latencies from three distributions, recorded by four "workers"
   (aggregator -> flusher -> one SQLite store file), read back merged; p50/p95/p99 against
   the exact nearest-rank percentiles of the same values.
   Also the Python opcodes each request executes (a count of work that does not move with
   the machine's load).
3. Memory at the caps: Python heap (tracemalloc) of one worker's structures with 200
   endpoints, 1000 fingerprints and 500 findings at full histograms; and Redis memory for
   24 h of 100 endpoints x 10 workers (one minute bucket filled, MEMORY USAGE, times the
   buckets the retention keeps).
Writes ``bench/results/monitor_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from flask import Flask

import turbina
from turbina.monitor.requests import RequestAggregator, RequestsSource
from turbina.store import Flusher, LabelCap, SQLiteStore

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_US = 20.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def _app(kind: str, workdir: Path) -> tuple[Flask, Callable[[], None]]:
    app = Flask(f"bench_{kind.replace(' ', '_')}")

    @app.get("/hello/<int:n>")
    def hello(n: int) -> str:
        return "hello"

    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if kind == "empty hook pair":
        app.before_request(lambda: None)
        app.after_request(lambda response: response)
    elif kind.startswith("turbina"):
        app.config.update(
            TURBINA_EXPLAIN=False,
            TURBINA_MONITOR=kind == "turbina monitor",
            TURBINA_STORE_PATH=str(workdir / f"{kind.replace(' ', '_')}.db"),
        )
        turbina.Turbina(app)
    elif kind == "prometheus_flask_exporter":
        from prometheus_client import CollectorRegistry
        from prometheus_flask_exporter import PrometheusMetrics

        PrometheusMetrics(app, registry=CollectorRegistry())
    elif kind == "opentelemetry":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
        cleanup = exporter.clear
    return app, cleanup


VARIANTS = (
    "bare",
    "empty hook pair",
    "turbina without monitor",
    "turbina monitor",
    "prometheus_flask_exporter",
    "opentelemetry",
)


def measure_overhead(rounds: int, n: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="turbina-monitor-bench-"))
    apps = {kind: _app(kind, workdir) for kind in VARIANTS}
    clients = {kind: app.test_client() for kind, (app, _c) in apps.items()}
    paths = [f"/hello/{i}" for i in range(n)]

    def run(kind: str) -> float:
        get = clients[kind].get
        gc.collect()
        start = time.process_time()
        for path in paths:
            get(path)
        spent = (time.process_time() - start) / n * 1e6
        apps[kind][1]()
        return spent

    for kind in VARIANTS:
        run(kind)  # warm up
    rng = random.Random(11)
    per_round: dict[str, list[float]] = {kind: [] for kind in VARIANTS}
    for _ in range(rounds):
        order = list(VARIANTS)
        rng.shuffle(order)
        for kind in order:
            per_round[kind].append(run(kind))
    state = turbina.get_state(apps["turbina monitor"][0]).monitor
    assert state is not None
    state.flush()
    calls = sum(
        f.get("n", 0) for (_k, _l), f in state.store.totals().counters.items() if _k == "req"
    )
    out: dict[str, Any] = {"rounds": rounds, "requests_per_round": n, "variants": {}}
    for kind in VARIANTS:
        values, bare = per_round[kind], per_round["bare"]
        diffs = [v - b for v, b in zip(values, bare, strict=True)]
        out["variants"][kind] = {
            "cpu_us_per_request": round(statistics.median(values), 2),
            "added_us": round(statistics.median(diffs), 2) if kind != "bare" else 0.0,
            "best_us": round(min(values), 2),
        }
    monitor_only = [
        m - w
        for m, w in zip(
            per_round["turbina monitor"], per_round["turbina without monitor"], strict=True
        )
    ]
    fold = _fold_us_per_request()
    out["monitor_request_path_us"] = round(statistics.median(monitor_only), 2)
    out["monitor_fold_us"] = fold
    out["monitor_alone_added_us"] = round(statistics.median(monitor_only) + fold, 2)
    out["monitor_requests_in_store"] = calls
    return out


def _fold_us_per_request(n: int = 20_000, repeats: int = 9) -> float:
    """CPU µs per request the flush thread spends folding recorded requests into the
    per-endpoint counters (off the request path, so the paired batches above mostly miss
    it; added to the monitor's cost so that nothing is hidden). Median of ``repeats``."""
    aggregator = RequestAggregator()
    record, spent = aggregator.record, []
    for _ in range(repeats):
        for i in range(n):
            record("/hello/<int:n>", "GET", 200, 0.05 + (i % 97) / 10, 0.0, 0, 0, 0)
        start = time.process_time()
        aggregator.drain()
        spent.append((time.process_time() - start) / n * 1e6)
    return round(statistics.median(spent), 3)


def measure_bytecode(n: int = 200) -> dict[str, Any]:
    """Python opcodes executed per request (``sys.settrace`` opcode events): Turbina with
    the monitor off and on, through the test client; and per request folded by the flush
    thread. A count of work, not a time: it does not move with the machine's load, so it
    shows a change that the CPU-time medians above cannot resolve on a shared machine."""
    count = [0]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            count[0] += 1
        return tracer

    workdir = Path(tempfile.mkdtemp(prefix="turbina-monitor-opcodes-"))
    per_request: dict[str, float] = {}
    for kind in ("turbina without monitor", "turbina monitor"):
        client = _app(kind, workdir)[0].test_client()
        for i in range(30):
            client.get(f"/hello/{i}")
        count[0] = 0
        sys.settrace(tracer)
        for i in range(n):
            client.get(f"/hello/{i}")
        sys.settrace(None)
        per_request[kind] = count[0] / n
    aggregator = RequestAggregator()
    for i in range(n):
        aggregator.record("/hello/<int:n>", "GET", 200, 0.05 + i % 50, 0.0, 0, 0, 0)
    count[0] = 0
    sys.settrace(tracer)
    aggregator.drain()
    sys.settrace(None)
    request_path = per_request["turbina monitor"] - per_request["turbina without monitor"]
    return {
        "without_monitor": round(per_request["turbina without monitor"]),
        "with_monitor": round(per_request["turbina monitor"]),
        "request_path": round(request_path),
        "flush_thread": round(count[0] / n),
    }


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]  # nearest rank, as ours


def measure_accuracy() -> dict[str, Any]:
    rng = random.Random(5)
    distributions: dict[str, Callable[[], float]] = {
        "lognormal (median 40 ms)": lambda: rng.lognormvariate(math.log(40), 0.8),
        "bimodal (cache hit 3 ms / miss 300 ms)": lambda: (
            rng.gauss(3, 0.5) if rng.random() < 0.8 else rng.gauss(300, 60)
        ),
        "uniform 1-2000 ms": lambda: rng.uniform(1, 2000),
    }
    out: dict[str, Any] = {}
    for name, draw in distributions.items():
        path = Path(tempfile.mkdtemp()) / "store.db"
        store = SQLiteStore(path)
        values: list[float] = []
        for _worker in range(4):
            aggregator = RequestAggregator(alert_slow_ms=0)
            flusher = Flusher(store, [RequestsSource(aggregator, LabelCap(), p99_factor=0)])
            for i in range(25_000):
                ms = max(0.05, draw())
                values.append(ms)
                aggregator.record("/page", "GET", 200, ms)
                if i % 5000 == 0:
                    flusher.flush()
            flusher.flush()
        from turbina.monitor import api

        [row] = api.endpoints(store.read(time.time() - 600))["endpoints"]
        errors = {}
        for q in (50, 95, 99):
            exact = _exact(values, q)
            errors[f"p{q}"] = {
                "store_ms": row[f"p{q}_ms"],
                "exact_ms": round(exact, 3),
                "relative_error": round(abs(row[f"p{q}_ms"] - exact) / exact, 4),
            }
        out[name] = {"samples": len(values), "calls_in_store": row["calls"], **errors}
    return out


def measure_memory() -> dict[str, Any]:
    from turbina.store.model import QUERIES, REQUESTS, Batch
    from turbina.store.sources import QueriesSource

    rng = random.Random(3)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    cap = LabelCap({REQUESTS: 200, QUERIES: 1000})
    aggregator = RequestAggregator(max_endpoints=200, alert_slow_ms=0)
    for e in range(200):
        for method in ("GET",):
            for _ in range(400):  # every bucket a request can land in, from 0.1 ms to 60 s
                aggregator.record(
                    f"/endpoint/{e}/<int:id>", method, 200, rng.lognormvariate(3, 2.5)
                )
    source = RequestsSource(aggregator, cap, p99_factor=2.0, on_alert=[])
    for _ in range(60):  # a full 5-minute rolling window of flushes
        for e in range(200):
            for _ in range(20):
                aggregator.record(f"/endpoint/{e}/<int:id>", "GET", 200, rng.lognormvariate(3, 2.5))
        source.collect(Batch(at=time.time(), worker="w"))
    for e in range(200):  # and a table waiting for the next flush
        for _ in range(400):
            aggregator.record(f"/endpoint/{e}/<int:id>", "GET", 200, rng.lognormvariate(3, 2.5))

    class FakeStats:
        def __init__(self, fp: str) -> None:
            from turbina.queries.histogram import LatencyHistogram

            self.fingerprint, self.calls, self.total_ms, self.rows = fp, 0, 0.0, 0
            self.histogram = LatencyHistogram()
            for _ in range(300):
                ms = rng.lognormvariate(0, 2)
                self.histogram.record(ms)
                self.calls += 1
                self.total_ms += ms

    class FakeRecorder:
        stats: ClassVar[list[Any]] = [
            FakeStats(f"select c{i}, d from t{i} where id = ? and x in (?)" * 3)
            for i in range(1000)
        ]

    class FakeQueries:
        recorders: ClassVar[dict[str, Any]] = {"default": FakeRecorder()}

    QueriesSource(FakeQueries(), cap).collect(Batch(at=time.time(), worker="w"))  # type: ignore[arg-type]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    fake = sys.getsizeof(FakeRecorder.stats) + sum(
        sys.getsizeof(s.histogram.buckets) for s in FakeRecorder.stats
    )
    out: dict[str, Any] = {
        "worker_structures_mb": round((grown - fake) / 2**20, 2),
        "note": "aggregator (200 endpoints, full histograms), rolling p99 windows, label caps, "
        "queries source's last-sent state for 1000 fingerprints; excludes the stand-in "
        "QueryStats objects (the recorder's own memory)",
    }
    try:
        import redis

        from turbina.store.backends.redis import RedisStore
        from turbina.store.model import HOUR_RETENTION_S, MINUTE_RETENTION_S, label_id

        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        prefix = f"bench-mem-{rng.getrandbits(32):x}"
        store = RedisStore(client, prefix)
        now = time.time()
        batches = []
        for worker in range(10):
            batch = Batch(at=now, worker=f"host:{worker}", gauges={"pid": worker, "pools": {}})
            for e in range(100):
                label = label_id(REQUESTS, (f"/endpoint/{e}", "GET"))
                fields: dict[str, int] = {"n": 600, "us": 600 * 40_000, "s2": 590, "s5": 10}
                for _ in range(600):
                    index = math.ceil(math.log2(rng.lognormvariate(3, 1.5)) * 8)
                    fields[f"b{index}"] = fields.get(f"b{index}", 0) + 1
                batch.add(REQUESTS, label, fields)
                batch.describe(REQUESTS, label, {"endpoint": f"/endpoint/{e}", "method": "GET"})
            batches.append(batch)
        store.write(batches)

        def usage(pattern: str) -> tuple[int, set[bytes]]:
            keys = set(client.scan_iter(match=pattern, count=1000))
            return sum(int(client.memory_usage(k) or 0) for k in keys), keys

        per_minute, _minute_keys = usage(store.key("c", 60, int(now // 60), REQUESTS, "*"))
        per_hour, _hour_keys = usage(store.key("c", 3600, int(now // 3600), REQUESTS, "*"))
        everything, _all_keys = usage(f"{prefix}*")
        others = everything - per_minute - per_hour
        minutes, hours = MINUTE_RETENTION_S // 60, HOUR_RETENTION_S // 3600
        total = per_minute * minutes + per_hour * hours + others
        out["redis"] = {
            "minute_bucket_bytes": per_minute,
            "hour_bucket_bytes": per_hour,
            "labels_totals_gauges_bytes": others,
            "buckets_kept": {"minutes": minutes, "hours": hours},
            "24h_100_endpoints_10_workers_mb": round(total / 2**20, 2),
        }
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()
    except Exception as exc:  # Redis absent: report without it
        out["redis"] = {"skipped": f"{exc.__class__.__name__}: {exc}"}
    return out


def _markdown(report: dict[str, Any]) -> str:
    o = report["overhead"]
    lines = [
        "# Request monitor: cost per request, percentile accuracy, memory at caps",
        "",
        f"{report['when']}, {report['platform']}, Python {report['python']}; command: "
        f"`{report['command']}`. CPU time per request through the Flask test client, a trivial "
        f"view; {o['rounds']} shuffled rounds x {o['requests_per_round']} requests; added = median "
        "of per-round differences to the bare app.",
        "",
        "| variant | CPU µs/request (median) | added µs | best round µs |",
        "|---|---:|---:|---:|",
    ]
    for kind, row in o["variants"].items():
        lines.append(
            f"| {kind} | {row['cpu_us_per_request']:.1f} | {row['added_us']:.1f} | {row['best_us']:.1f} |"
        )
    lines += [
        "",
        f"The monitor alone (everything on minus Turbina with the monitor off): "
        f"**{o['monitor_alone_added_us']:.1f} µs** per request (target ≤ {TARGET_US:.0f} µs) = "
        f"{o['monitor_request_path_us']:.1f} µs on the request path (median of paired rounds) + "
        f"{o['monitor_fold_us']:.2f} µs folding in the flush thread; "
        f"requests it counted into the store: {o['monitor_requests_in_store']}.",
        "",
        f"Python opcodes per request (deterministic, load-independent): Turbina without the "
        f"monitor {report['bytecode']['without_monitor']}, with it "
        f"{report['bytecode']['with_monitor']} — the monitor adds "
        f"**{report['bytecode']['request_path']}** on the request path and "
        f"{report['bytecode']['flush_thread']} in the flush thread (folding the request into "
        "its endpoint's counters).",
        "",
        "## Percentile accuracy (4 workers, 100,000 samples each distribution, merged from one SQLite store)",
        "",
        "| distribution | p50 store / exact | p95 store / exact | p99 store / exact | worst relative error |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in report["accuracy"].items():
        cells = [
            f"{row[q]['store_ms']:.2f} / {row[q]['exact_ms']:.2f}" for q in ("p50", "p95", "p99")
        ]
        worst = max(row[q]["relative_error"] for q in ("p50", "p95", "p99"))
        lines.append(f"| {name} | {' | '.join(cells)} | {100 * worst:.2f} % |")
    m = report["memory"]
    lines += [
        "",
        "## Memory at the caps",
        "",
        f"- one worker's structures: **{m['worker_structures_mb']} MB** (target ≤ 20 MB) — {m['note']}.",
    ]
    redis_mem = m["redis"]
    if "skipped" in redis_mem:
        lines.append(f"- Redis: skipped ({redis_mem['skipped']}).")
    else:
        lines.append(
            f"- Redis, 24 h of 100 endpoints x 10 workers: **{redis_mem['24h_100_endpoints_10_workers_mb']} MB** "
            f"(target ≤ 50 MB): one minute bucket (100 small hashes) {redis_mem['minute_bucket_bytes']:,} B x "
            f"{redis_mem['buckets_kept']['minutes']} kept + one hour bucket {redis_mem['hour_bucket_bytes']:,} B x "
            f"{redis_mem['buckets_kept']['hours']} + labels/totals/gauges {redis_mem['labels_totals_gauges_bytes']:,} B. "
            "Workers share the bucket hashes (HINCRBY into one hash per label and bucket), so the size does "
            "not grow with the number of workers except for their gauges."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "command": "python -m bench.monitor_overhead " + " ".join(argv or sys.argv[1:]),
        "overhead": measure_overhead(args.rounds, args.requests),
        "bytecode": measure_bytecode(),
        "accuracy": measure_accuracy(),
        "memory": measure_memory(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "monitor_overhead.json").write_text(json.dumps(report, indent=1))
    markdown = _markdown(report)
    (RESULTS / "monitor_overhead.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
