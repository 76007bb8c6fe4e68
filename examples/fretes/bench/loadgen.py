"""Drive the workload against a running server with Locust (headless, in a subprocess).

Locust runs in its own process so that its gevent monkeypatching never touches the harness
(which also starts gunicorn and talks to the database); see ``bench/locustfile.py`` for what
the harness adds to Locust.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.catalog import Catalog
from bench.samples import Sample, read_samples

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
LOG_TAIL_CHARS = 3000
KNOWN_MODES = ("naive", "optimized", "cached")  # fretes.mode.MODES, without importing the app


class LoadError(RuntimeError):
    """The load generator failed to run (not: some requests failed)."""


@dataclass(frozen=True)
class LoadSpec:
    """How much load to apply."""

    users: int = 8
    max_requests: int = 2000
    duration_s: float = 60.0
    write_ratio: float = 0.05
    admin_share: float = 0.2
    session_length: int = 25
    seed: int = 42
    stop_timeout_s: int = 60  # at the time limit, how long in-flight requests may still finish
    # Page requests take these X-Fretes-Mode values in turn (equal shares, one run, same
    # machine conditions); empty: no header, the server's FRETES_MODE decides.
    modes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be >= 1, got {self.users}")
        if self.max_requests < 1:
            raise ValueError(f"requests must be >= 1, got {self.max_requests}")
        if self.duration_s <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {self.duration_s}")
        if not 0.0 <= self.write_ratio <= 1.0:
            raise ValueError(f"write ratio must be within [0, 1], got {self.write_ratio}")
        unknown = [m for m in self.modes if m not in KNOWN_MODES]
        if unknown or len(set(self.modes)) != len(self.modes):
            raise ValueError(
                f"modes must be distinct values among {', '.join(KNOWN_MODES)}, got {self.modes}"
            )


def locust_command(host: str, spec: LoadSpec, plan: Path, out: Path) -> list[str]:
    """The Locust command line for one run."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--users",
        str(spec.users),
        "--spawn-rate",
        str(spec.users),
        "--run-time",
        f"{max(1, round(spec.duration_s))}s",
        # On the time limit, let in-flight requests finish (up to a bound) instead of cutting
        # them off; those still running after it are recorded as unfinished.
        "--stop-timeout",
        str(spec.stop_timeout_s),
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--bench-plan",
        str(plan),
        "--bench-out",
        str(out),
    ]


@dataclass(frozen=True)
class LoadOutcome:
    """Raw samples of a run, and the CPU the load generator itself used (its cost on the box)."""

    samples: list[Sample]
    loadgen_cpu_s: float
    wall_s: float


def run_load(
    host: str, catalog: Catalog, spec: LoadSpec, *, log: Path | None = None
) -> LoadOutcome:
    """Replay the workload against ``host`` and return every raw sample."""
    with tempfile.TemporaryDirectory(prefix="turbina-bench-") as tmp:
        plan = Path(tmp) / "plan.json"
        out = Path(tmp) / "samples.json"
        plan.write_text(
            json.dumps(
                {
                    "catalog": asdict(catalog),
                    "seed": spec.seed,
                    "max_requests": spec.max_requests,
                    "modes": list(spec.modes),
                    "workload": {
                        "write_ratio": spec.write_ratio,
                        "admin_share": spec.admin_share,
                        "session_length": spec.session_length,
                    },
                }
            ),
            encoding="utf-8",
        )
        log_path = log or Path(tmp) / "locust.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with log_path.open("w", encoding="utf-8") as log_file:
            proc = subprocess.run(
                locust_command(host, spec, plan, out),
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=spec.duration_s + spec.stop_timeout_s + 120,
                check=False,
            )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0 or not out.exists():
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
            raise LoadError(
                f"locust exited with code {proc.returncode}; its log ends with:\n{tail}"
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return LoadOutcome(read_samples(out), round(cpu, 2), round(wall, 2))
