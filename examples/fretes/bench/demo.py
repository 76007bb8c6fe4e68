"""``python -m bench.demo`` (what ``make demo`` runs): Turbina on `fretes`, before and after.

Needs no service: SQLite, Turbina's embedded store (a SQLite file per phase) and its memory
cache (so one gunicorn worker: a per-process cache is fresh within one process only). It
builds the SQLite ``real`` dataset once (reused afterwards), then runs the benchmark's phases
short (``bench.proof``): ``naive`` (the seed's code on the seed's schema), then ``cached``
(everything Turbina does: loaders, the advisor's indexes, the cache, the monitor and
dashboard, lazy assets); ``--with-optimized`` adds the middle phase. Each phase: its own
server and database copy, a closed-loop saturation run, then the same open-loop Poisson load.

It prints one line per step with the elapsed time, then what Turbina found in the naive
phase (``turbina.report`` over that phase's store, with the index advisor's advice on that
phase's workload), the before/after table with its sample sizes, and the seed's checklist with
its verdict; the HTML report goes to ``instance/turbina-report.html``.

Measured: ``time make demo`` took 2 min 15 s on this 2-core machine at load average ~0.5-1.8
(venv up to date, the dataset reused; building SQLite ``real`` adds ~3 s), 2 min 26 s at load
average ~3-4.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.datasets import INSTANCE
from bench.proof import (
    Options,
    PhaseRun,
    phases_table,
    print_failure,
    run_phases,
    stop_on_sigterm,
    write_outputs,
)
from bench.server import APP, ROOT, ServerError, benchmark_env
from turbina import TurbinaError
from turbina.indexes.saved import load_report, report_path
from turbina.report import build_report, render_html, render_text

REPORT_HTML = INSTANCE / "turbina-report.html"
DEMO_OPEN_S = 30.0
DEMO_SATURATION_S = 10.0
ADVISE_SECONDS = 20.0


class Progress:
    """One line per step, with the time since the demo started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, line: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {line}", flush=True)


def advise_on(url: str, env: dict[str, str], folder: Path) -> dict[str, Any] | None:
    """``flask turbina indexes advise`` on the naive phase's database copy, its workload taken
    from that phase's store, saved where ``turbina.indexes.saved`` keeps it (an instance
    folder of our own); the saved report, or None (the reason printed) on failure."""
    command = [sys.executable, "-m", "flask", "--app", APP, "turbina", "indexes", "advise"]
    # The copy is the app's own database (DATABASE_URL), so the advisor reads the store's
    # workload for the app's engine (passing --database-url would make it another engine).
    command += ["--window", "30m", "--max-seconds", str(ADVISE_SECONDS)]
    full_env = {
        **os.environ,
        **benchmark_env(),
        **env,
        "DATABASE_URL": url,
        "FRETES_INSTANCE_PATH": str(folder),
    }
    done = subprocess.run(
        command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300, check=False
    )
    saved = load_report(report_path(folder)) if done.returncode == 0 else None
    if saved is None:
        reason = (done.stderr or done.stdout).strip().splitlines()
        print(f"  index advice skipped: {reason[-1] if reason else f'exit {done.returncode}'}")
    return saved


def before_after(doc: dict[str, Any]) -> str:
    """The per-page before/after table: p50/p95 server and client, with sample sizes."""
    before = next(p for p in doc["phases"] if p["name"] == doc["before"])
    after = next(p for p in doc["phases"] if p["name"] == doc["after"])
    lines = [
        f"{'page':<28} {'n':>5} {'naive p50/p95 ms':>18} {'n':>5} {'cached p50/p95 ms':>18}  "
        "(client latency, open loop)",
    ]
    for page in before["pages"]:
        mine = next((p for p in after["pages"] if p["page"] == page["page"]), None)
        if mine is None or not page["client_ms"] or not mine["client_ms"]:
            continue
        a, b = page["client_ms"], mine["client_ms"]
        lines.append(
            f"{page['page']:<28} {page['requests']:>5} {a['p50']:>8.1f} /{a['p95']:>8.1f} "
            f"{mine['requests']:>5} {b['p50']:>8.1f} /{b['p95']:>8.1f}"
        )
    for part in after["pages"]:
        if part["page"] not in [p["page"] for p in before["pages"]] and part["client_ms"]:
            b = part["client_ms"]
            lines.append(
                f"{part['page']:<28} {'':>5} {'(in the page)':>18} {part['requests']:>5} "
                f"{b['p50']:>8.1f} /{b['p95']:>8.1f}"
            )
    lines.append("")
    lines.extend(phases_table(doc))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, stop_on_sigterm)  # clean up the phases, as Ctrl-C does
    parser = argparse.ArgumentParser(
        prog="python -m bench.demo", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--with-optimized", action="store_true", help="add the optimized phase")
    parser.add_argument("--duration", type=float, default=DEMO_OPEN_S, help="open-loop seconds")
    parser.add_argument("--saturation", type=float, default=DEMO_SATURATION_S)
    parser.add_argument("--page-loads", type=int, default=2, help="Chromium loads per page")
    parser.add_argument("--no-advice", action="store_true", help="skip the index advisor")
    args = parser.parse_args(argv)
    progress = Progress()
    phases = ("naive", "optimized", "cached") if args.with_optimized else ("naive", "cached")
    options = Options(
        db="sqlite",
        scale="real",
        phases=phases,
        duration_s=args.duration,
        saturation_s=args.saturation,
        users=8,
        threads=4,
        warmup=10,
        page_loads=args.page_loads,
        cache="memory",
        results_dir=INSTANCE / "bench-results",
        name="demo",
    )
    progress(
        f"Turbina demo: `fretes` on SQLite `real`, phases {', '.join(phases)} "
        f"({options.saturation_s:.0f} s saturation + {options.duration_s:.0f} s open loop each; "
        "no service needed: embedded store, memory cache, 1 gunicorn worker x 4 threads)"
    )
    advice: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="turbina-demo-") as tmp:

        def after_phase(run: PhaseRun, url: str, env: dict[str, str]) -> None:
            nonlocal advice
            if run.form.name == "naive" and not args.no_advice:
                progress("  asking the index advisor about the naive phase's workload ...")
                advice = advise_on(url, env, Path(tmp))
                if advice is not None:
                    count = len((advice.get("report") or {}).get("indexes") or [])
                    progress(f"  index advice: {count} indexes advised")

        try:
            doc, runs = run_phases(options, progress, after_phase)
        except (TurbinaError, ServerError) as exc:
            return print_failure(exc)
    naive = next(run for run in runs if run.form.name == "naive")
    write_outputs(doc, options, progress, show=False, reading=naive.reading)

    report = build_report(reading=naive.reading, benchmark=doc, index_advice=advice)
    print()
    print("=" * 100)
    print("What Turbina found in the naive phase (turbina report, top 5):")
    print(render_text(report, top=5))
    print("=" * 100)
    print("Before (naive) / after (cached), same offered load, each phase on its own server:")
    print(before_after(doc))
    print()
    print(f"Seed checklist verdict (after = cached, before = naive): {report.verdict}")
    REPORT_HTML.parent.mkdir(parents=True, exist_ok=True)
    REPORT_HTML.write_text(render_html(report), encoding="utf-8")
    print()
    print(f"HTML report: {REPORT_HTML}  (open it in a browser: xdg-open {REPORT_HTML})")
    print(
        "Numbers are from short phases on a shared machine: for the full benchmark run "
        "`make bench` (bench/results/proof-*.md). To open the app and Turbina's dashboard "
        "(/_turbina, as admin): make serve"
    )
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
