"""The stale-read checker: it finds a deliberately stale page, ignores per-response tokens,
and does not count a difference a write in between explains."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench.openloop import MODE_HEADER, Result
from bench.stale_check import StaleChecker, check_page, normalize

PAGE = (
    '<meta name="csrf-token" content="{token}"><script nonce="{token}"></script>'
    '<input type="hidden" name="csrf_token" value="{token}"><p>{count} entregas</p>'
)


def _page(count: int, token: str) -> bytes:
    return PAGE.format(count=count, token=token).encode()


def test_normalize_strips_tokens_and_nonces_only() -> None:
    assert normalize(_page(3, "aaa")) == normalize(_page(3, "bbb"))
    assert normalize(_page(3, "aaa")) != normalize(_page(4, "aaa"))


def test_a_stale_body_is_confirmed_after_the_recheck() -> None:
    calls: list[bool] = []

    def fetch(fresh: bool) -> bytes:
        calls.append(fresh)
        return _page(5 if fresh else 4, token=str(len(calls)))

    verdict = check_page("/monitoramento/listar", fetch)
    assert verdict.first_mismatch and verdict.confirmed
    assert calls == [False, True, False, True]
    assert verdict.detail and "4 entregas" in verdict.detail and "5 entregas" in verdict.detail


def test_a_write_between_the_two_fetches_is_not_a_stale_read() -> None:
    answers = iter([_page(4, "a"), _page(5, "b"), _page(5, "c"), _page(5, "d")])
    verdict = check_page("/x", lambda fresh: next(answers))
    assert verdict.first_mismatch and not verdict.confirmed


def test_equal_pages_with_other_tokens_match() -> None:
    verdict = check_page("/x", lambda fresh: _page(7, "fresh" if fresh else "served"))
    assert not verdict.first_mismatch and not verdict.confirmed


class _StaleCache(BaseHTTPRequestHandler):
    """Serves an old count unless asked for the uncached form (the header)."""

    def do_GET(self) -> None:
        fresh = self.headers.get(MODE_HEADER) == "optimized"
        body = _page(9 if fresh else 8, token="t")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stale_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StaleCache)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_checker_counts_stale_pages_the_load_was_served(stale_server: str) -> None:
    checker = StaleChecker(stale_server, {"v01": "session=abc"})
    served = Result("GET /p", "/p", 0.0, 0.0, 1.0, 1.0, 200, account="v01", query="a=1")
    checker.offer(served, b"")
    export = Result("GET /e", "/monitoramento/exportar", 0, 0, 1, 1, 200, account="v01")
    checker.offer(export, b"")  # exports are not compared
    verdict = checker.check_latest()
    assert verdict is not None and verdict.confirmed and verdict.target == "/p?a=1"
    assert checker.check_latest() is None  # nothing else was offered
    checker.stop()
    summary = checker.summary()
    assert summary["checks"] == 1 and summary["confirmed"] == 1
    assert summary["examples"][0]["target"] == "/p?a=1"
