"""``python -m bench.demo`` (what ``make demo`` runs): the baseline benchmark, short.

Builds the SQLite ``real`` dataset (or reuses it), serves the naive `fretes` with gunicorn,
replays the workload for 45 s (plus up to 20 s for requests still in flight) and prints the
per-page table. Measured: 2.5 min end to end for ``make demo`` including the venv refresh and
a dataset rebuild, on the shared 2-core machine at load average 8.

Why ``real`` and not ``tiny``: building ``real`` on SQLite took 9-48 s here (22 s typical,
306k rows) depending on what else was running — under the ~60 s budget — and only ``real``
shows the naive pages' cost at the real system's size.
"""

from __future__ import annotations

import sys

from bench.datasets import INSTANCE
from bench.loadgen import LoadSpec
from bench.run import RunOptions, run_and_report

DEMO_SCALE = "real"
DEMO_SECONDS = 45.0
DEMO_USERS = 8


def main() -> int:
    """Run the demo; the result also lands in ``instance/bench-results/demo.{json,md}``."""
    options = RunOptions(
        scale=DEMO_SCALE,
        db="sqlite",
        name="demo",
        warmup_requests=0,
        results_dir=INSTANCE / "bench-results",
        note="make demo: short run; the committed baselines are in bench/results/",
    )
    spec = LoadSpec(
        users=DEMO_USERS, max_requests=20_000, duration_s=DEMO_SECONDS, stop_timeout_s=20
    )
    print(
        f"Turbina demo: naive `fretes` on SQLite, scale {DEMO_SCALE}, {DEMO_USERS} users for "
        f"{DEMO_SECONDS:.0f} s (gunicorn + Locust; the dataset is built once and reused)."
    )
    code = run_and_report(options, spec)
    if code:
        return code
    print(
        "Each row: client-side latency percentiles (queueing included); queries and DB time per "
        "request as the app reported them in its Server-Timing header. Errors include requests "
        "still running when the run stopped; their messages are in the .md file."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
