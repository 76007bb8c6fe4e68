"""Open-loop load: requests leave at planned (Poisson) times, latency counts from that time.

Why our own generator and not Locust (``bench.locustfile``): Locust is closed-loop — a
virtual user sends its next request only when the last one is back, so a slow server is
offered less load and its queueing never shows in the numbers ("coordinated omission").
Here the arrival times are fixed before the run (seeded exponential gaps at ``rate`` per
second), a dispatcher hands each request to a thread pool at its time, and a request's
latency is measured from its *scheduled* time, so the time it waited for a free thread or
a free server is part of it. Threads, not asyncio: the stdlib ``http.client`` keeps one
keep-alive connection per thread and costs little CPU, which matters on a 2-core machine
shared with the server under test.

The same module runs the closed-loop saturation run (``run_closed``: N users back to back,
throughput at saturation). Sessions follow ``bench.workload``: each session is one account
(picked as the workload picks them) for a geometric number of requests; every account of the
plan logs in once before the timed part, and its cookie is reused by its sessions (logins are
not part of the measured load). When a page links lazy parts (``data-lazy`` ... ``data-src``,
FRETES_ASSETS=lazy), they are fetched right after the page, as the browser would, and
recorded as their own rows.

``python -m bench.openloop --plan PLAN.json --out SAMPLES.json`` runs one load from a plan
file in its own process (what ``bench.proof`` does, so the generator's CPU and GIL are not the
harness's).
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.catalog import Account, Catalog
from bench.samples import parse_server_timing
from bench.workload import PlannedRequest, Workload

MODE_HEADER = "X-Fretes-Mode"
TIMEOUT_S = 300.0
ERROR_BODY_CHARS = 300
MAX_RESULTS = 1_000_000  # hard cap on memory whatever the run length
LAZY_SRC = re.compile(r'data-lazy="[^"]*"[^>]*?data-src="([^"]+)"')
# The lazy parts, each its own row: "GET /monitoramento/badges", "GET /faturamento/grafico".


@dataclass(frozen=True)
class Arrival:
    """One planned request: when (seconds after the start) and as which account."""

    at: float
    account: str
    request: PlannedRequest


@dataclass
class Result:
    """One answered (or failed) request. ``latency_ms`` counts from the scheduled time,
    ``service_ms`` from the moment it was sent; ``parent`` is the page a lazy part belongs to."""

    label: str
    path: str
    scheduled: float  # epoch seconds
    sent: float
    latency_ms: float
    service_ms: float
    status: int
    queries: int | None = None
    db_ms: float | None = None
    app_ms: float | None = None
    error: str | None = None
    parent: str | None = None
    account: str | None = None
    query: str = ""


def poisson_times(rate: float, duration_s: float, rng: random.Random) -> list[float]:
    """Arrival offsets in ``[0, duration_s)`` of a Poisson process of ``rate`` per second."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError(f"rate and duration must be > 0, got {rate} and {duration_s}")
    times: list[float] = []
    at = rng.expovariate(rate)
    while at < duration_s:
        times.append(at)
        at += rng.expovariate(rate)
    return times


def plan_requests(workload: Workload, times: Sequence[float], seed: int) -> list[Arrival]:
    """One request per time, in sessions as the workload plans them (same seed: same plan)."""
    rng = random.Random(f"openloop:{seed}")
    account: Account | None = None
    left = 0
    out = []
    for at in times:
        if account is None or left <= 0:
            account = workload.pick_account(rng)
            left = workload.session_requests(rng)
        out.append(Arrival(at, account.username, workload.next_request(rng, account)))
        left -= 1
    return out


def plan_open(workload: Workload, rate: float, duration_s: float, seed: int) -> list[Arrival]:
    """The open-loop plan: Poisson arrivals at ``rate`` for ``duration_s``."""
    return plan_requests(workload, poisson_times(rate, duration_s, random.Random(seed)), seed)


class Http:
    """One keep-alive connection per thread to ``base`` (reconnects on a closed socket)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this client opened, in any thread."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], list[str], bytes]:
        """Status, headers (last value wins), every Set-Cookie, body."""
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, target, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
                continue
            cookies = answer.headers.get_all("Set-Cookie") or []
            if answer.headers.get("Connection", "").lower() == "close":
                conn.close()
                self._local.conn = None
            return answer.status, dict(answer.headers.items()), cookies, data
        raise AssertionError("unreachable")


def target_of(planned: PlannedRequest) -> str:
    """Path plus query string."""
    return planned.path + ("?" + urlencode(planned.params) if planned.params else "")


class Sender:
    """Sends planned requests as logged-in accounts and turns answers into ``Result``."""

    def __init__(
        self,
        base: str,
        cookies: dict[str, str] | None = None,
        *,
        mode: str | None = None,
        fragments: bool = True,
        on_page: Callable[[Result, bytes], None] | None = None,
    ) -> None:
        self.http = Http(base)
        self.cookies = dict(cookies or {})
        self.mode = mode
        self.fragments = fragments
        self.on_page = on_page

    def login(self, username: str, password: str) -> None:
        """Log ``username`` in and keep its cookie; a failure raises RuntimeError."""
        body = json.dumps({"username": username, "password": password}).encode()
        status, _headers, set_cookies, data = self.http.request(
            "POST", "/login", body, {"Content-Type": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"login as {username} failed: {status} {data[:200]!r}")
        jar: SimpleCookie = SimpleCookie()
        for line in set_cookies:
            jar.load(line)
        self.cookies[username] = "; ".join(f"{k}={m.value}" for k, m in jar.items())

    def fetch(
        self,
        method: str,
        target: str,
        account: str | None,
        body: Any = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes, float]:
        """One request; status, headers, body and when it was sent (epoch)."""
        headers = {"Accept-Encoding": "identity"}
        if account is not None and account in self.cookies:
            headers["Cookie"] = self.cookies[account]
        if self.mode:
            headers[MODE_HEADER] = self.mode
        headers.update(extra or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        sent = time.time()
        status, answer_headers, _cookies, data = self.http.request(method, target, payload, headers)
        return status, answer_headers, data, sent

    def send(self, arrival: Arrival, scheduled: float) -> list[Result]:
        """The planned request (and its page's lazy parts); latencies from ``scheduled``."""
        planned = arrival.request
        target = target_of(planned)
        results = [
            self._one(
                planned.label,
                planned.method,
                target,
                arrival.account,
                planned.json,
                scheduled,
                None,
            )
        ]
        page, body = results[0], self._last_body
        if page.error is None and planned.method == "GET" and self.on_page is not None:
            self.on_page(page, body)
        if self.fragments and page.error is None and planned.method == "GET":
            for src in lazy_sources(body):
                parts = urlsplit(src)
                label = f"GET {parts.path}"
                results.append(
                    self._one(label, "GET", src, arrival.account, None, time.time(), planned.label)
                )
        return results

    _last_body: bytes = b""

    def _one(
        self,
        label: str,
        method: str,
        target: str,
        account: str,
        body: Any,
        scheduled: float,
        parent: str | None,
    ) -> Result:
        path, _, query = target.partition("?")
        sent = time.time()
        status, timing, error = 0, None, None
        try:
            status, headers, data, sent = self.fetch(method, target, account, body)
        except Exception as exc:  # a failed connection is a sample, not a crash
            data, error = b"", f"connection: {exc!r}"[:300]
        else:
            timing = parse_server_timing(headers.get("Server-Timing"))
            if not 200 <= status < 400:
                error = f"{status}: {data[:ERROR_BODY_CHARS].decode('utf-8', 'replace')}"
        done = time.time()
        self._last_body = data
        return Result(
            label,
            path,
            scheduled,
            sent,
            (done - scheduled) * 1000.0,
            (done - sent) * 1000.0,
            status,
            queries=timing.queries if timing else None,
            db_ms=timing.db_ms if timing else None,
            app_ms=timing.app_ms if timing else None,
            error=error,
            parent=parent,
            account=account,
            query=query,
        )


def lazy_sources(body: bytes) -> list[str]:
    """The ``data-src`` URLs of a page's ``data-lazy`` parts (HTML-unescaped)."""
    if b"data-lazy" not in body:
        return []
    text = body.decode("utf-8", "replace")
    return [html.unescape(src) for src in LAZY_SRC.findall(text)]


class _PerThreadSender:
    """``Sender`` keeps the last body per call; give each pool thread its own."""

    def __init__(self, factory: Callable[[], Sender]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._all: list[Sender] = []
        self._lock = threading.Lock()

    def get(self) -> Sender:
        sender = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._factory()
            self._local.sender = sender
            with self._lock:
                self._all.append(sender)
        return sender

    def close(self) -> None:
        for sender in self._all:
            sender.http.close()


@dataclass
class LoadReport:
    """What a load run produced."""

    results: list[Result] = field(default_factory=list)
    started: float = 0.0
    wall_s: float = 0.0
    dispatch_lag_ms_max: float = 0.0  # how late the dispatcher handed a request over, worst

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "wall_s": self.wall_s,
            "dispatch_lag_ms_max": self.dispatch_lag_ms_max,
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadReport:
        return cls(
            results=[Result(**r) for r in data["results"]],
            started=float(data["started"]),
            wall_s=float(data["wall_s"]),
            dispatch_lag_ms_max=float(data.get("dispatch_lag_ms_max", 0.0)),
        )


def run_open(
    make_sender: Callable[[], Sender],
    arrivals: Sequence[Arrival],
    *,
    concurrency: int = 64,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Send every arrival at its time; latency from the scheduled time (queueing included)."""
    senders = _PerThreadSender(make_sender)
    report = LoadReport()
    lock = threading.Lock()
    start = clock() + 0.05
    report.started = start

    def job(arrival: Arrival, scheduled: float) -> None:
        rows = senders.get().send(arrival, scheduled)
        with lock:
            if len(report.results) < MAX_RESULTS:
                report.results.extend(rows)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openloop") as pool:
        for arrival in arrivals:
            due = start + arrival.at
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            report.dispatch_lag_ms_max = max(report.dispatch_lag_ms_max, (clock() - due) * 1000)
            pool.submit(job, arrival, due)
    senders.close()
    report.wall_s = clock() - start
    report.results.sort(key=lambda r: r.scheduled)
    return report


def run_closed(
    make_sender: Callable[[], Sender],
    arrivals: Iterable[Arrival],
    *,
    users: int,
    duration_s: float,
) -> LoadReport:
    """Closed loop: ``users`` threads send the planned requests back to back for
    ``duration_s`` (the ``at`` of each arrival is ignored); throughput at saturation."""
    senders = _PerThreadSender(make_sender)
    iterator = iter(arrivals)
    take = threading.Lock()
    lock = threading.Lock()
    report = LoadReport(started=time.time())
    stop_at = report.started + duration_s

    def user() -> None:
        while time.time() < stop_at:
            with take:
                arrival = next(iterator, None)
            if arrival is None:
                return
            rows = senders.get().send(arrival, time.time())
            with lock:
                report.results.extend(rows)

    threads = [threading.Thread(target=user, name=f"closed-{i}") for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    senders.close()
    report.wall_s = time.time() - report.started
    return report


def login_accounts(base: str, accounts: Iterable[str], password: str) -> dict[str, str]:
    """Log every account in once; their cookies."""
    sender = Sender(base)
    try:
        for username in sorted(set(accounts)):
            sender.login(username, password)
    finally:
        sender.http.close()
    return sender.cookies


# --- the subprocess entry point -------------------------------------------------------


def _arrivals_from(plan: dict[str, Any]) -> tuple[Catalog, list[Arrival]]:
    catalog = Catalog.from_json(json.dumps(plan["catalog"]))
    workload = Workload(catalog, **plan.get("workload", {}))
    seed = int(plan["seed"])
    if plan["kind"] == "open":
        return catalog, plan_open(workload, float(plan["rate"]), float(plan["duration_s"]), seed)
    # closed: more requests than any saturation run can send in its time
    times = [0.0] * int(plan.get("max_requests", 100_000))
    return catalog, plan_requests(workload, times, seed)


def run_plan(plan: dict[str, Any]) -> tuple[LoadReport, dict[str, Any] | None]:
    """Run a plan document (``kind`` open or closed) against ``plan["base"]``; the report and
    the stale checker's summary (None when the plan does not ask for the check)."""
    catalog, arrivals = _arrivals_from(plan)
    base = str(plan["base"])
    cookies = login_accounts(base, (a.account for a in arrivals), catalog.password)
    fragments = bool(plan.get("fragments", True))
    checker = None
    if plan.get("stale_check"):
        from bench.stale_check import StaleChecker

        checker = StaleChecker(base, cookies, interval_s=float(plan.get("stale_interval_s", 2.0)))
        checker.start()

    def make() -> Sender:
        return Sender(
            base, cookies, fragments=fragments, on_page=checker.offer if checker else None
        )

    try:
        if plan["kind"] == "open":
            report = run_open(make, arrivals, concurrency=int(plan.get("concurrency", 64)))
        else:
            report = run_closed(
                make, arrivals, users=int(plan["users"]), duration_s=float(plan["duration_s"])
            )
    finally:
        if checker is not None:
            checker.stop()
    return report, checker.summary() if checker else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.openloop", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--plan", required=True, type=Path, help="plan JSON (bench.proof)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the results")
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    report, stale = run_plan(plan)
    out = report.to_json()
    out["stale"] = stale
    args.out.write_text(json.dumps(out, separators=(",", ":")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
