"""Throughput under gunicorn with the request monitor on and off: ``python -m bench.monitor_throughput
[--rounds 6] [--seconds 5] [--concurrency 6]``.

Two gunicorn servers (``-w 2``, sync workers) serve the same small app — one SQLite query
through Flask-SQLAlchemy and one ``@turbina.cached`` call per request, Turbina on in both
(queries and cache glue), the request monitor on in one only (SQLite store, the default
flush interval). A load generator in a second process drives one server at a time in a
closed loop at saturation (``--concurrency`` connections, each sending its next request
when the last answer arrived; bounded by ``--seconds`` and ``--max-requests``), in
alternating rounds (on/off, then off/on, ...) so that both see the same machine. Loss = 1 -
median(on) / median(off) of the requests per second, with the median of the per-round
ratios beside it. Writes ``bench/results/monitor_throughput.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turbina.monitor import api
from turbina.store.backends.sqlite import SQLiteStore

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_LOSS = 0.03

APP = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    import turbina

    app = Flask(__name__, instance_path=os.environ["BENCH_INSTANCE"])
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DB"],
        TURBINA_EXPLAIN=False,
        TURBINA_MONITOR=os.environ["BENCH_MONITOR"] == "1",
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_CACHE_CONTEXTS={"pages": 60},
    )
    db = SQLAlchemy(app)
    turbina.Turbina(app)


    @turbina.cached("pages", depends_on=["item"])
    def label(n):
        return f"item {n}"


    @app.get("/item/<int:n>")
    def item(n):
        row = db.session.execute(sa.text("SELECT id, name FROM item WHERE id = :id"), {"id": n % 100}).first()
        return {"id": row[0] if row else None, "label": label(n % 10)}


    if __name__ == "__main__":
        with app.app_context():
            with db.engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
                conn.exec_driver_sql("DELETE FROM item")
                conn.exec_driver_sql(
                    "INSERT INTO item (id, name) VALUES " + ", ".join(f"({i}, 'n{i}')" for i in range(100))
                )
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """One gunicorn (2 sync workers) serving the bench app, the monitor on or off."""

    def __init__(self, workdir: Path, monitor: bool) -> None:
        self.port = _free_port()
        name = "on" if monitor else "off"
        instance = workdir / f"instance-{name}"
        instance.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TURBINA_", "FLASK_"))}
        env.update(
            BENCH_DB=f"sqlite:///{workdir / f'{name}.db'}",
            BENCH_INSTANCE=str(instance),
            BENCH_MONITOR="1" if monitor else "0",
            PYTHONPATH=str(workdir),
        )
        subprocess.run([sys.executable, "benchapp.py"], cwd=workdir, env=env, check=True)
        self.log = (workdir / f"gunicorn-{name}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "benchapp:app",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--backlog",
                "256",
                "--preload",
            ],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.url = f"http://127.0.0.1:{self.port}/item/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "1", timeout=5) as answer:
                    answer.read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({name}) did not start; see {self.log.name}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


# --- the load generator (its own process) -------------------------------------------------


def _one_request(port: int, path: bytes) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        head = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            head = head or chunk
    return head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")


def loadgen(port: int, seconds: float, concurrency: int, max_requests: int) -> dict[str, Any]:
    """Closed loop: ``concurrency`` threads, each sending its next request when the last
    one was answered, until ``seconds`` passed or ``max_requests`` were sent."""
    lock = threading.Lock()
    counts = {"ok": 0, "errors": 0, "sent": 0}
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            with lock:
                if counts["sent"] >= max_requests:
                    return
                counts["sent"] += 1
            n += concurrency
            try:
                ok = _one_request(port, f"/item/{n % 1000}".encode())
            except OSError:
                ok = False
            with lock:
                counts["ok" if ok else "errors"] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return {**counts, "seconds": round(elapsed, 3), "rps": round(counts["ok"] / elapsed, 2)}


def _drive(server: Gunicorn, args: argparse.Namespace) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.monitor_throughput",
            "--loadgen",
            str(server.port),
            "--seconds",
            str(args.seconds),
            "--concurrency",
            str(args.concurrency),
            "--max-requests",
            str(args.max_requests),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=args.seconds + 120,
        check=True,
    )
    return dict(json.loads(done.stdout))


def _store_calls(workdir: Path) -> int:
    """Requests the monitored server's workers flushed into its store (every worker)."""
    store = SQLiteStore(workdir / "instance-on" / "turbina-store.db")
    return int(api.overview(store.read(time.time() - 3600))["requests"]["calls"])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="turbina-throughput-"))
    (workdir / "benchapp.py").write_text(APP)
    servers = {"on": Gunicorn(workdir, True), "off": Gunicorn(workdir, False)}
    rounds: list[dict[str, Any]] = []
    warmed_on = 0
    try:
        warm = argparse.Namespace(**{**vars(args), "seconds": 1.0})
        # warm up both (imports, first queries, cache entries); the start-up probe is 1 more
        warmed_on = 1 + _drive(servers["on"], warm)["ok"]
        _drive(servers["off"], warm)
        for number in range(args.rounds):
            order = ("on", "off") if number % 2 == 0 else ("off", "on")
            result: dict[str, Any] = {name: _drive(servers[name], args) for name in order}
            result["order"] = list(order)
            rounds.append(result)
            print(
                f"round {number + 1}: on {result['on']['rps']:.1f} req/s, "
                f"off {result['off']['rps']:.1f} req/s",
                file=sys.stderr,
            )
    finally:
        for server in servers.values():
            server.stop()  # the workers flush at exit
    on = [r["on"]["rps"] for r in rounds]
    off = [r["off"]["rps"] for r in rounds]
    ratios = [r["on"]["rps"] / r["off"]["rps"] for r in rounds if r["off"]["rps"]]
    served_on = sum(r["on"]["ok"] for r in rounds) + warmed_on
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {
        "rounds": rounds,
        "median_rps_on": round(statistics.median(on), 2),
        "median_rps_off": round(statistics.median(off), 2),
        "loss": round(1 - statistics.median(on) / statistics.median(off), 4),
        "median_round_ratio": round(statistics.median(ratios), 4),
        "round_ratio_quartiles": [round(q, 4) for q in (quartiles[0], quartiles[2])],
        "errors": sum(r[n]["errors"] for r in rounds for n in ("on", "off")),
        "served_with_monitor": served_on,
        "in_store": _store_calls(workdir),
    }


def _markdown(report: dict[str, Any]) -> str:
    m = report["result"]
    a = report["args"]
    lines = [
        "# Request monitor: throughput under gunicorn, monitor on vs off",
        "",
        f"{report['when']}, {report['platform']}, Python {report['python']}, "
        f"{os.cpu_count()} CPUs (shared with the load generator); command: `{report['command']}`. "
        "Two gunicorn servers (2 sync workers each) serve one small view (a SQLite query, "
        "a cached call); Turbina is on in both, the request monitor in one. A load generator "
        f"in a second process drives one server at a time, closed loop with {a['concurrency']} "
        f"connections, {a['seconds']} s per server per round, {a['rounds']} alternating rounds.",
        "",
        "| round | order | on req/s | off req/s | on / off |",
        "|---:|---|---:|---:|---:|",
    ]
    for number, r in enumerate(m["rounds"], start=1):
        ratio = r["on"]["rps"] / r["off"]["rps"] if r["off"]["rps"] else 0.0
        lines.append(
            f"| {number} | {'/'.join(r['order'])} | {r['on']['rps']:.1f} | {r['off']['rps']:.1f} "
            f"| {ratio:.3f} |"
        )
    verdict = "met" if m["loss"] <= TARGET_LOSS else "missed"
    lines += [
        "",
        f"Median throughput: **{m['median_rps_on']:.1f} req/s with the monitor, "
        f"{m['median_rps_off']:.1f} without** — loss **{100 * m['loss']:.1f} %** "
        f"(target ≤ {100 * TARGET_LOSS:.0f} %: {verdict}); median of the per-round ratios "
        f"{m['median_round_ratio']:.3f} (quartiles {m['round_ratio_quartiles'][0]:.3f}–"
        f"{m['round_ratio_quartiles'][1]:.3f}: the spread between rounds is this machine's "
        f"noise, and bounds what one run can resolve). Failed requests: {m['errors']}. "
        f"Requests the monitored workers answered (warm-up and start-up probe included): "
        f"{m['served_with_monitor']}; counted in its store after their exit flush: "
        f"{m['in_store']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--loadgen", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen is not None:
        result = loadgen(args.loadgen, args.seconds, args.concurrency, args.max_requests)
        print(json.dumps(result))
        return 0
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "command": "python -m bench.monitor_throughput " + " ".join(argv or sys.argv[1:]),
        "args": {k: v for k, v in vars(args).items() if k != "loadgen"},
        "result": measure(args),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "monitor_throughput.json").write_text(json.dumps(report, indent=1))
    markdown = _markdown(report)
    (RESULTS / "monitor_throughput.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
