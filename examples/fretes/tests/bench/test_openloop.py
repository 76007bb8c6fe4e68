"""The open-loop generator: arrival times, and latency counted from the scheduled time when the
server (or the generator's own pool) makes requests wait."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from bench.catalog import Account, Catalog
from bench.openloop import (
    Arrival,
    Sender,
    lazy_sources,
    plan_open,
    poisson_times,
    run_closed,
    run_open,
)
from bench.workload import PlannedRequest, Workload

STALL_S = 0.25


class _Slow(BaseHTTPRequestHandler):
    """Answers every GET after STALL_S, one request at a time (a plain HTTPServer; HTTP/1.0,
    so a kept-alive connection cannot hold the one server thread)."""

    def do_GET(self) -> None:
        time.sleep(STALL_S)
        body = b'<div data-lazy="fragment" data-src="/part?a=1&amp;b=2"></div>'
        if self.path.startswith("/part"):
            body = b"part"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server-Timing", 'db;dur=1.5;desc="2 queries", app;dur=3.0')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_catalog() -> Catalog:
    names = [f"Vendedor {i:02d}" for i in range(1, 11)]
    return Catalog(
        reference_date="2026-11-27",
        password="secret",
        accounts=[Account("admin", "admin")]
        + [Account(f"v{i:02d}", "vendedor", n) for i, n in enumerate(names, 1)],
        vendedores=names,
        clientes=[f"Cliente {i}" for i in range(20)],
        clientes_by_vendedor={n: ["Cliente 1", "Cliente 2"] for n in names},
        ufs=["SP", "MG"],
        transportadoras=["Jaguar"],
        transportadora_ids=[1],
        frete_transportadora_ids=[1],
        open_entregas_by_vendedor={n: [i * 10 + 1] for i, n in enumerate(names)},
        embarque_ids=[1],
        pedido_ids=[1],
        faturamento_clientes=[["12.345.678/0001-90", "Cliente 1"]],
    )


def _arrivals(times: list[float], path: str = "/page") -> list[Arrival]:
    return [Arrival(t, "u", PlannedRequest("GET /page", "GET", path)) for t in times]


def test_poisson_times_are_seeded_bounded_and_at_the_rate() -> None:
    times = poisson_times(50.0, 200.0, random.Random(7))
    assert times == poisson_times(50.0, 200.0, random.Random(7))
    assert times != poisson_times(50.0, 200.0, random.Random(8))
    assert all(0 < t < 200.0 for t in times) and times == sorted(times)
    # 10 000 expected arrivals: the count's standard deviation is 100.
    assert 9_500 < len(times) < 10_500
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    assert 0.019 < mean < 0.021
    # Exponential gaps: about e^-1 of them are longer than the mean.
    share = sum(1 for g in gaps if g > mean) / len(gaps)
    assert 0.34 < share < 0.40


def test_poisson_times_refuse_a_bad_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        poisson_times(0.0, 10.0, random.Random(1))


def test_the_same_seed_gives_the_same_plan() -> None:
    workload = Workload(make_catalog())
    one = plan_open(workload, 5.0, 20.0, seed=3)
    assert one == plan_open(Workload(make_catalog()), 5.0, 20.0, seed=3)
    assert one != plan_open(workload, 5.0, 20.0, seed=4)
    assert 60 < len(one) < 140
    accounts = {a.account for a in one}
    assert len(accounts) > 1 and accounts <= {a.username for a in workload.catalog.accounts}


def test_latency_counts_from_the_scheduled_time_when_the_server_stalls(
    slow_server: str,
) -> None:
    # Four requests due at once on a server that answers one at a time: the last waits
    # for the three before it. Measured from its send time it would look like one stall.
    report = run_open(
        lambda: Sender(slow_server, fragments=False), _arrivals([0.0] * 4), concurrency=4
    )
    latencies = sorted(r.latency_ms for r in report.results)
    assert len(latencies) == 4 and all(r.error is None for r in report.results)
    assert latencies[0] >= STALL_S * 1000 * 0.9
    assert latencies[-1] >= 4 * STALL_S * 1000 * 0.9
    assert all(r.service_ms >= STALL_S * 1000 * 0.9 for r in report.results)
    assert {r.app_ms for r in report.results} == {3.0}
    assert {r.queries for r in report.results} == {2}


def test_latency_includes_waiting_for_a_free_sender_thread(slow_server: str) -> None:
    # One sender thread, arrivals every 50 ms, answers take 250 ms: the queue is on our
    # side, and it still counts (no coordinated omission).
    report = run_open(
        lambda: Sender(slow_server, fragments=False),
        _arrivals([0.0, 0.05, 0.10]),
        concurrency=1,
    )
    third = max(report.results, key=lambda r: r.scheduled)
    assert third.latency_ms >= (3 * STALL_S - 0.10) * 1000 * 0.9
    assert third.service_ms < third.latency_ms - STALL_S * 1000


def test_lazy_parts_are_fetched_after_the_page(slow_server: str) -> None:
    report = run_closed(lambda: Sender(slow_server), iter(_arrivals([0.0])), users=1, duration_s=30)
    labels = [r.label for r in report.results]
    assert labels == ["GET /page", "GET /part"]
    part = report.results[1]
    assert part.parent == "GET /page" and part.query == "a=1&b=2"


def test_lazy_sources_unescape_the_url() -> None:
    body = b'<div id="x" data-lazy="chart" data-src="/g?dias=30&amp;ate=2026-01-01"></div>'
    assert lazy_sources(body) == ["/g?dias=30&ate=2026-01-01"]
    assert lazy_sources(b"<p>no lazy part</p>") == []
