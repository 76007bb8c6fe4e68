"""Locust user that replays ``bench.workload`` — run by ``bench.loadgen``, not by hand.

Why Locust: it already does the hard parts of a load generator well (many concurrent
virtual users on cooperative greenlets, per-user cookie sessions, connection pooling,
ramp-up, a run-time limit with a graceful stop). What it lacks, and this file adds:
  * percentiles from raw samples — Locust rounds response times into buckets;
  * the app's own query count and DB time, read from each response's ``Server-Timing``;
  * a bound on the number of requests (Locust only bounds time);
  * a seeded, per-user request stream and session rotation across accounts.
Locust's gevent monkeypatching stays inside this separate process; the harness itself does
not import Locust.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

from bench.catalog import Account, Catalog
from bench.samples import Sample, parse_server_timing, write_samples
from bench.workload import LOGIN, PlannedRequest, Workload

MAX_SAMPLES = 2_000_000  # hard cap on memory whatever the run length
ERROR_BODY_CHARS = 300
MODE_HEADER = "X-Fretes-Mode"


class RunState:
    """Shared by every virtual user of this process (greenlets: no locking needed)."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.catalog = Catalog.from_json(json.dumps(plan["catalog"]))
        self.workload = Workload(self.catalog, **plan["workload"])
        self.seed = int(plan["seed"])
        self.remaining = int(plan["max_requests"])
        self.modes: list[str] = list(plan.get("modes") or [])
        self.mode_turn = itertools.count()
        self.user_ids = itertools.count()
        self.samples: list[Sample] = []
        self.active = 0
        # Requests on the wire, by user: recorded as unfinished if the run stops first.
        self.inflight: dict[int, tuple[str, float, str | None]] = {}

    def next_mode(self) -> str | None:
        """The mode of the next page request: each configured mode in turn (equal shares)."""
        if not self.modes:
            return None
        return self.modes[next(self.mode_turn) % len(self.modes)]

    def take(self) -> bool:
        """Reserve one request of the budget."""
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


STATE: RunState | None = None
OUT: Path | None = None


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--bench-plan", type=str, default="", help="bench plan JSON (bench.loadgen)"
    )
    parser.add_argument("--bench-out", type=str, default="", help="where to write raw samples")


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    global STATE, OUT
    options = environment.parsed_options
    if options is None or not options.bench_plan:
        raise SystemExit("bench/locustfile.py needs --bench-plan (run it through bench.loadgen)")
    STATE = RunState(json.loads(Path(options.bench_plan).read_text(encoding="utf-8")))
    OUT = Path(options.bench_out) if options.bench_out else None


@events.request.add_listener
def _record(
    name: str,
    response_time: float,
    response: Any,
    exception: Any,
    start_time: float | None = None,
    context: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    if STATE is None or len(STATE.samples) >= MAX_SAMPLES:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    timing = parse_server_timing(response.headers.get("Server-Timing")) if status else None
    error = None
    if exception is not None or not 200 <= status < 400:
        body = ""
        try:
            body = (response.text or "")[:ERROR_BODY_CHARS] if status else ""
        except Exception as exc:  # a broken body must not lose the sample
            body = f"(body unreadable: {exc.__class__.__name__})"
        error = f"{status or 'connection'}: {exception or ''} {body}".strip()
    STATE.samples.append(
        Sample(
            label=name,
            started=float(start_time or 0.0),
            latency_ms=float(response_time),
            status=status,
            queries=timing.queries if timing else None,
            db_ms=timing.db_ms if timing else None,
            app_ms=timing.app_ms if timing else None,
            error=error,
            mode=(context or {}).get("mode"),
        )
    )


@events.quitting.add_listener
def _write(environment: Any, **_: Any) -> None:
    if STATE is None or OUT is None:
        return
    now = time.time()
    for label, started, mode in STATE.inflight.values():
        # Cut off by the time limit: its latency is at least this; count it, don't hide it.
        waited = now - started
        STATE.samples.append(
            Sample(
                label=label,
                started=started,
                latency_ms=waited * 1000.0,
                status=0,
                error=f"unfinished: still running after {waited:.1f} s when the run stopped",
                mode=mode,
            )
        )
    STATE.inflight.clear()
    write_samples(OUT, STATE.samples)


class FretesUser(FastHttpUser):
    """A person using `fretes`: logs in, browses and writes, then hands over to someone else."""

    wait_time = constant(0)  # closed loop: the next request leaves when the last one is back
    network_timeout = 300.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        assert STATE is not None
        STATE.active += 1
        index = next(STATE.user_ids)
        self.rng = random.Random(f"{STATE.seed}:{index}")
        self.account: Account | None = None
        self.left_in_session = 0

    def on_stop(self) -> None:
        assert STATE is not None
        STATE.active -= 1

    def _login(self) -> None:
        assert STATE is not None
        self.client.cookiejar.clear()
        self.account = STATE.workload.pick_account(self.rng)
        self.left_in_session = STATE.workload.session_requests(self.rng)
        self._send(
            PlannedRequest(LOGIN, "POST", "/login", json=STATE.workload.login_body(self.account))
        )

    def _send(self, planned: PlannedRequest) -> None:
        assert STATE is not None
        mode = None if planned.is_write or planned.label == LOGIN else STATE.next_mode()
        STATE.inflight[id(self)] = (planned.label, time.time(), mode)
        try:
            self.client.request(
                planned.method,
                planned.path,
                name=planned.label,
                params=planned.params or None,
                json=planned.json,
                allow_redirects=False,
                headers={MODE_HEADER: mode} if mode else None,
                context={"mode": mode} if mode else {},
            )
        except Exception:
            STATE.inflight.pop(id(self), None)
            raise
        # Not in a ``finally``: when Locust kills the user at the stop timeout (GreenletExit,
        # a BaseException) the entry must stay so that the request is reported as unfinished.
        STATE.inflight.pop(id(self), None)

    @task
    def step(self) -> None:
        """One request of the budget (logging in first when a session starts)."""
        assert STATE is not None
        if not STATE.take():
            if STATE.active <= 1:
                # The last user out ends the run; quit from a fresh greenlet, not this one.
                gevent.spawn_later(0.1, self.environment.runner.quit)
            raise StopUser()
        if self.account is None or self.left_in_session <= 0:
            self._login()
        assert self.account is not None
        self._send(STATE.workload.next_request(self.rng, self.account))
        self.left_in_session -= 1
