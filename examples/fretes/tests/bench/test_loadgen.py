"""The load generator bounds requests exactly and reports requests cut off by the time limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench.catalog import Account, Catalog
from bench.loadgen import LoadSpec, run_load
from bench.workload import LOGIN

pytestmark = pytest.mark.slow


class SlowHandler(BaseHTTPRequestHandler):
    """Answers every request after a delay longer than the run (a stand-in for a stuck page)."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        time.sleep(4)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_still_running_at_the_time_limit_are_reported_unfinished(slow_server: str) -> None:
    catalog = Catalog(
        reference_date="2026-11-27", password="pw", accounts=[Account("admin", "admin")]
    )
    spec = LoadSpec(users=2, max_requests=100, duration_s=1, stop_timeout_s=1)
    outcome = run_load(slow_server, catalog, spec)
    unfinished = [s for s in outcome.samples if s.error and s.error.startswith("unfinished")]
    assert len(unfinished) == 2  # each user's login was still waiting
    assert all(s.label == LOGIN and s.status == 0 and s.latency_ms >= 1000 for s in unfinished)
