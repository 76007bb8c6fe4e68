"""Start `fretes` under gunicorn on 127.0.0.1 as a subprocess, wait until ready, stop it.

gunicorn with several workers, like the real deployment (4 workers x 2 threads there; 2 x 2
by default here, the machine has 2 cores), so the benchmark sees real process boundaries:
per-worker connection pools and caches, and the OS scheduling them.

The server is configured as a benchmark server: ``FRETES_MODE_HEADER=1`` (page requests pick
their form with ``X-Fretes-Mode``, which a production server ignores), ``Server-Timing`` on
every answer (``TURBINA_SERVER_TIMING=1``: the harness reads it), and a session secret
shared by every worker — ``FRETES_SECRET_KEY`` from the environment, else one generated once
into ``instance/bench-secret-key`` (mode 0600) and reused by later runs.

Before gunicorn starts, the pages' asset bundles are built with the app's own settings
(``flask turbina assets build``, the deploy step; incremental: nothing changed writes nothing),
so the pages link fingerprinted files that exist.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
READY_PATH = "/login"
APP = "fretes.app:create_app()"
SECRET_FILE = ROOT / "instance" / "bench-secret-key"
LOG_TAIL_CHARS = 3000


class ServerError(RuntimeError):
    """gunicorn did not start or did not answer in time."""


def bench_secret_key(path: Path = SECRET_FILE) -> str:
    """``FRETES_SECRET_KEY`` when set, else the secret stored at ``path`` (created on first
    use, readable by the owner only)."""
    given = os.environ.get("FRETES_SECRET_KEY")
    if given:
        return given
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def benchmark_env() -> dict[str, str]:
    """The settings that make `fretes` a benchmark server."""
    return {
        "FRETES_MODE_HEADER": "1",
        "FRETES_SECRET_KEY": bench_secret_key(),
        # The harness reads each answer's query count and DB time from this header.
        "TURBINA_SERVER_TIMING": "1",
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_assets(env: dict[str, str]) -> None:
    """``flask --app fretes.app:create_app() turbina assets build`` with ``env`` (the server's
    own environment, so its TURBINA_ASSETS_* settings apply); a failure is a ServerError
    carrying the command's one-line reason."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", APP, "turbina", "assets", "build"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip()[-LOG_TAIL_CHARS:]
        raise ServerError(f"turbina assets build failed (exit {done.returncode}): {reason}")


class Server:
    """A gunicorn process serving ``fretes.app:create_app()`` against ``database_url``."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        threads: int = 2,
        log_path: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if workers < 1 or threads < 1:
            raise ValueError("workers and threads must be >= 1")
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.port = 0
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43127``."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The gunicorn command line."""
        return [
            sys.executable,
            "-m",
            "gunicorn",
            APP,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            # Slow naive pages (the export at large scale) must not be killed as hung workers.
            "--timeout",
            "300",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ]

    def start(self, ready_timeout: float = 60.0) -> None:
        """Spawn gunicorn and return once it answers HTTP."""
        if self._proc is not None:
            raise ServerError("server already started")
        self.port = free_port()
        env = dict(os.environ)
        env.update(benchmark_env())
        env.update(self.extra_env)
        env["DATABASE_URL"] = self.database_url
        build_assets(env)
        self._log = self.log_path or Path(os.devnull)
        log_file = self._log.open("ab")
        try:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log_file.close()
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(
                    f"gunicorn exited with code {self._proc.returncode} at start-up"
                    f"{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerError(
            f"gunicorn did not answer {READY_PATH} within {timeout:.0f} s{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        if self._log is None or self._log == Path(os.devnull) or not self._log.exists():
            return " (pass log_path to see its output)"
        return ":\n" + self._log.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL the group if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
