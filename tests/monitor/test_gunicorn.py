"""A real gunicorn with 2 workers: N requests, then /metrics and `turbina requests --json`
read exactly N from the store (SQLite file and Redis); a SIGTERM'd worker's numbers arrive
through its exit flush; a kill -9'd worker loses nothing already flushed and counts nothing
twice; the N+1 finding of a served request is in the store; `turbina nplusone --json` and
`queries --json` in another process see the findings and exact call counts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from turbina.monitor import api
from turbina.store.backends.sqlite import SQLiteStore

from .schema import validate

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    import os
    import sqlalchemy as sa
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import Mapped, mapped_column, relationship
    import turbina

    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["APP_DB"],
        TURBINA_EXPLAIN=False,
        TURBINA_NPLUSONE_THRESHOLD=3,
        TURBINA_METRICS_AUTH=lambda request: True,
        **{k: v for k, v in os.environ.items() if k.startswith("TURBINA_")},
    )
    db = SQLAlchemy(app)

    class Owner(db.Model):
        id: Mapped[int] = mapped_column(primary_key=True)

    class Pet(db.Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        owner_id: Mapped[int] = mapped_column(sa.ForeignKey("owner.id"))
        owner: Mapped[Owner] = relationship()

    turbina.Turbina(app)

    @app.get("/item/<int:item>")
    def item(item):
        return {"pid": os.getpid()}

    @app.get("/pets")
    def pets():
        return {"pid": os.getpid(), "owners": [p.owner.id for p in db.session.scalars(sa.select(Pet))]}

    if __name__ == "__main__":
        with app.app_context():
            db.create_all()
            db.session.add_all(Owner(id=i) for i in range(4))
            db.session.add_all(Pet(id=i, owner_id=i % 4) for i in range(8))
            db.session.commit()
    """
)
REQUESTS_LINE = re.compile(r"^turbina_http_requests_total\{[^}]*\} ([0-9.e+]+)$", re.M)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env, self.port = workdir, env, _port()
        self.log = (workdir / "gunicorn.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "petapp:app",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "10",
                "--preload",  # the app is built once, then forked: the flusher starts per worker
            ],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        # Wait for the port before the one counted request: a probe that times out on a
        # loaded machine may still be served, and every test counts what was served.
        try:
            until(self._listening, "gunicorn did not start")
            assert self.get("/item/0") is not None, "gunicorn did not answer its first request"
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.log.close()
            tail = (workdir / "gunicorn.log").read_text(errors="replace")[-2000:]
            print(f"gunicorn's log:\n{tail}")  # shown with the failure
            raise

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def get(self, path: str) -> dict | str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=60) as r:
                body = r.read().decode()
        except OSError:
            return None
        return json.loads(body) if body.startswith("{") else body

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` (bounded); fail with ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(what)


def serve(server: Gunicorn, paths: list[str]) -> set[int]:
    """Request every path (4 at a time); the pids that answered."""
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(server.get, paths))
    assert all(isinstance(a, dict) for a in answers), answers
    return {a["pid"] for a in answers if isinstance(a, dict)}


def served_by_both(server: Gunicorn, n: int) -> int:
    """At least ``n`` requests, until both workers answered one (bounded); how many were sent."""
    sent, pids = 0, set()
    while len(pids) < 2 and sent < 50 * n:
        pids |= serve(server, [f"/item/{i}" for i in range(n)] + ["/pets"] * 5)
        sent += n + 5
    assert len(pids) == 2, "one worker served everything"
    return sent


def metrics_total(server: Gunicorn) -> float:
    text = server.get("/metrics")
    assert isinstance(text, str)
    return sum(float(v) for v in REQUESTS_LINE.findall(text))


def cli_total(workdir: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "turbina"), "requests", "--json", "--window", "1h"],
        cwd=workdir,
        env={**env, "FLASK_APP": "petapp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return sum(row["calls"] for row in json.loads(done.stdout)["endpoints"])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "petapp.py").write_text(APP)
    return tmp_path


def environment(workdir: Path, **turbina: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TURBINA_", "FLASK_"))}
    env.update(APP_DB=f"sqlite:///{workdir / 'pets.db'}", PYTHONPATH=str(workdir), **turbina)
    subprocess.run([sys.executable, "petapp.py"], cwd=workdir, env=env, check=True, timeout=60)
    return env


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, workdir: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"TURBINA_STORE": "sqlite", "TURBINA_STORE_PATH": str(workdir / "store.db")}
    else:
        yield {
            "TURBINA_STORE": "redis",
            "TURBINA_REDIS_URL": request.getfixturevalue("redis_url"),
            "TURBINA_CACHE_PREFIX": request.getfixturevalue("redis_prefix"),
        }


def test_two_workers_n_requests_exactly_n_everywhere(
    workdir: Path, store_env: dict[str, str]
) -> None:
    env = environment(workdir, TURBINA_FLUSH_INTERVAL_S="0.3", **store_env)
    server = Gunicorn(workdir, env)
    try:
        sent = served_by_both(server, 40) + 1  # + the start-up probe
        until(lambda: metrics_total(server) >= sent, f"/metrics never showed {sent} requests")
        time.sleep(0.7)  # a few more flush intervals: nothing may be counted twice
        assert metrics_total(server) == sent
        assert cli_total(workdir, env) == sent

        # kill -9 of a worker: what it flushed stays, nothing is counted twice
        victim = serve(server, ["/item/1"]).pop()
        sent += 1
        until(lambda: metrics_total(server) >= sent, "the last request never arrived")
        os.kill(victim, signal.SIGKILL)
        more = 30
        until(lambda: server.get("/item/0") is not None, "no worker answered after kill -9")
        more += 1
        serve(server, [f"/item/{i}" for i in range(30)])
        until(lambda: metrics_total(server) >= sent + more, "requests after kill -9 never arrived")
        time.sleep(0.7)
        assert metrics_total(server) == sent + more
    finally:
        server.stop()


def test_sigterm_of_a_worker_flushes_at_exit(workdir: Path) -> None:
    store_path = workdir / "store.db"
    env = environment(workdir, TURBINA_STORE_PATH=str(store_path), TURBINA_FLUSH_INTERVAL_S="3600")
    server = Gunicorn(workdir, env)
    try:
        sent = served_by_both(server, 20) + 1
        store = SQLiteStore(store_path)
        assert api.overview(store.read(time.time() - 300))["requests"]["calls"] == 0  # not yet
        workers = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True, check=True
            ).stdout.split()
        ]
        assert len(workers) == 2
        for pid in workers:  # gunicorn turns SIGTERM into a graceful exit, then respawns
            os.kill(pid, signal.SIGTERM)

        def total() -> int:
            return int(api.overview(store.read(time.time() - 300))["requests"]["calls"])

        until(lambda: total() >= sent, "the exit flushes never arrived")
        assert total() == sent
        findings = api.nplusone(store.read(time.time() - 300))["findings"]
        assert [f["subject"] for f in findings] == ["Pet.owner"]
        assert findings[0]["endpoint"] == "/pets" and findings[0]["fix"].startswith("joinedload(")
    finally:
        server.stop()
    assert cli_total(workdir, env) == sent  # the workers that replaced them served nothing


def cli_json(workdir: Path, env: dict[str, str], *args: str) -> dict:
    """``turbina <args> --json`` in a process of its own (it reads the store, not a worker)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "turbina"), *args, "--json"],
        cwd=workdir,
        env={**env, "FLASK_APP": "petapp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_the_cli_sees_the_running_servers_queries_and_nplusone(
    workdir: Path, store_env: dict[str, str]
) -> None:
    env = environment(workdir, TURBINA_FLUSH_INTERVAL_S="0.3", **store_env)
    server = Gunicorn(workdir, env)
    try:
        served, pids = 0, set[int]()
        while len(pids) < 2 and served < 400:
            pids |= serve(server, ["/pets"] * 20)
            served += 20
        assert len(pids) == 2, "one worker served everything"
        # one flush carries a worker's requests, queries and findings together
        until(lambda: metrics_total(server) >= served + 1, "the requests never reached the store")
        time.sleep(0.7)  # a few more flush intervals: nothing may be counted twice
        found = cli_json(workdir, env, "nplusone", "--window", "1h")
        stats = cli_json(workdir, env, "queries", "--window", "1h")
    finally:
        server.stop()
    validate(found, api.SCHEMA["nplusone"])
    validate(stats, api.SCHEMA["queries"])
    [finding] = found["findings"]
    assert finding["subject"] == "Pet.owner" and finding["endpoint"] == "/pets"
    assert finding["fix"].startswith("joinedload(") and finding["kind"] == "lazy_load"
    # every /pets request, from both workers: 4 owners lazy-loaded in each
    assert (finding["requests"], finding["total_loads"], finding["max_loads"]) == (
        served,
        4 * served,
        4,
    )
    calls = {row["fingerprint"]: row["calls"] for row in stats["queries"]}
    assert [c for fp, c in calls.items() if fp.endswith("from pet")] == [served], calls
    assert [c for fp, c in calls.items() if "from owner where" in fp] == [4 * served], calls
