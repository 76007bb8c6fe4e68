"""Assets and lazy loading on the `fretes` pages, side by side in one run:
``python -m bench.assets_bench``.

Every page a user opens — the login page and the seed's slow pages (monitoring list,
embarques dashboard, faturamento report, fretes query, pedidos status; the monitoring export
is a file download, with no assets) — on the benchmark dataset (SQLite ``real`` by default),
served by gunicorn (``bench.server``, which builds the bundles first) in three asset modes,
one server each, all in the ``optimized`` data mode so only the assets differ:

- ``plain`` (``FRETES_ASSETS=plain``): the seed's way — the plain stylesheet and scripts from
  Flask's static route (``no-cache`` + ETag, nothing compressed, the HTML neither), Chart.js
  (the same local copy: the seed's CDN is not reachable here) in ``<head>``, the badges and
  the chart in the HTML;
- ``pipeline`` (``FRETES_ASSETS=pipeline``): Turbina's bundles — minified, fingerprinted,
  brotli/gzip, immutable — and the HTML compressed; the badges and the chart still eager;
- ``lazy`` (``FRETES_ASSETS=lazy``, the app's default): the pipeline, plus the badges as a
  fragment and the faturamento chart drawn by ``turbina-lazy.js`` when they come into view
  (Chart.js loaded then).

Each page is loaded in Debian's Chromium (Playwright, ``executable_path``) cold (a fresh
browser context: empty cache, the session cookie of one earlier login) and warm (the same
context, a second navigation), on the loopback and throttled to a slow mobile link (150 ms
RTT, 1.6 Mbit/s down — DevTools' "Slow 4G"), modes interleaved and their order alternated.
Bytes are what crossed the network (CDP ``encodedDataLength``, headers included, responses
served from the cache not counted) until the network is idle, before scrolling and after
scrolling through the whole page; times are the navigation's DOMContentLoaded and load.
The build is timed in a copy of the static folder: cold (empty output folder), nothing
changed, one file changed; and ``flask turbina assets build`` with nothing to do, wall time.
Results: ``bench/results/assets_bench.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

import fretes
from bench.datasets import working_database
from bench.server import APP, ROOT, Server, benchmark_env, build_assets
from fretes.app import ASSET_BUNDLES
from turbina.assets import AssetsState

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LOG_DIR = ROOT / "instance" / "bench-logs"
STATIC = Path(fretes.__file__).resolve().parent / "static"
USER, PASSWORD = "admin", "fretes-demo"  # datagen's admin (sees every row)
PAGES = (
    "/login",
    "/monitoramento/listar",
    "/embarques/dashboard",
    "/faturamento/relatorio",
    "/fretes/consulta",
    "/pedidos/status",
)
VARIANTS = ("plain", "pipeline", "lazy")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROFILES: dict[str, dict[str, float] | None] = {
    "loopback": None,
    "slow-4g": {  # DevTools' "Slow 4G" (formerly "Fast 3G"): 150 ms RTT, 1.6 / 0.75 Mbit/s
        "latency": 150.0,
        "downloadThroughput": 1.6e6 / 8,
        "uploadThroughput": 0.75e6 / 8,
    },
}
# A function, not an expression: the app's CSP has no 'unsafe-eval', which a string predicate
# would need.
LAZY_PENDING = (
    "() => document.querySelectorAll('[data-lazy]:not([data-lazy-state=loaded])"
    ":not([data-lazy-state=error])').length === 0"
)


# --- build times ---------------------------------------------------------------------


def build_times(repeats: int, env: dict[str, str]) -> dict[str, Any]:
    """Median ms of a cold build, a build with nothing changed and one with one file changed,
    in a copy of the static folder; median wall s of the CLI with nothing to do."""
    cold, unchanged, one_file = [], [], []
    sizes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fretes-assets-bench-") as tmp:
        static = Path(tmp) / "static"
        shutil.copytree(STATIC, static, ignore=shutil.ignore_patterns("dist"))
        css = static / "fretes.css"
        original = css.read_text()
        for index in range(repeats):
            shutil.rmtree(static / "dist", ignore_errors=True)
            report = AssetsState(static, ASSET_BUNDLES).build()
            cold.append(report.seconds)
            sizes = {
                b.name: {"source": b.source_bytes, "min": b.size, **dict(b.encodings)}
                for b in report.bundles
            }
            unchanged.append(AssetsState(static, ASSET_BUNDLES).build().seconds)
            css.write_text(original + f"\n.bench-{index} {{ color: #{index:06x}; }}\n")
            changed = AssetsState(static, ASSET_BUNDLES).build()
            assert changed.built == ("app.css",), changed.built  # only the bundle listing it
            one_file.append(changed.seconds)
    # Interleaved, so the two see the same machine: the command with nothing to build, and
    # just starting Python and creating the app (what the command costs besides the build).
    cli, starts = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        build_assets(env)
        cli.append(time.perf_counter() - started)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", "import fretes.app; fretes.app.create_app()"],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        starts.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"creating the app failed: {done.stderr.strip()[-2000:]}")
    return {
        "cold_ms": round(statistics.median(cold) * 1000, 1),
        "unchanged_ms": round(statistics.median(unchanged) * 1000, 2),
        "one_file_changed_ms": round(statistics.median(one_file) * 1000, 1),
        "cli_unchanged_s": round(statistics.median(cli), 2),
        "cli_python_and_app_start_s": round(statistics.median(starts), 2),
        "bundles": sizes,
    }


# --- servers and visits --------------------------------------------------------------


@contextmanager
def servers(database_url: str, workers: int, threads: int) -> Iterator[dict[str, Server]]:
    """One gunicorn per asset mode over the same (read-only) database."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        started = {}
        for variant in VARIANTS:
            server = Server(
                database_url,
                workers=workers,
                threads=threads,
                log_path=LOG_DIR / f"assets-{variant}-gunicorn.log",
                extra_env={"FRETES_ASSETS": variant, "FRETES_MODE": "optimized"},
            )
            started[variant] = stack.enter_context(server)
        yield started


class Recorder:
    """Every response of one page that crossed the network: URL, kind, bytes on the wire."""

    def __init__(self, cdp: Any) -> None:
        self.urls: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.cached: set[str] = set()
        self.bytes: dict[str, int] = {}
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.loadingFinished", self._finished)

    def _response(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["response"]["url"]
        self.kinds[event["requestId"]] = event["type"]
        if event["response"].get("fromDiskCache") or event["response"].get("fromPrefetchCache"):
            self.cached.add(event["requestId"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event.get("encodedDataLength", 0))

    def summary(self) -> dict[str, Any]:
        wire = {rid: n for rid, n in self.bytes.items() if rid not in self.cached and n > 0}
        by_kind: dict[str, int] = {}
        for rid, size in wire.items():
            kind = _kind(self.kinds.get(rid, ""), self.urls.get(rid, ""))
            by_kind[kind] = by_kind.get(kind, 0) + size
        hosts = {urlsplit(url).hostname for url in self.urls.values() if url.startswith("http")}
        return {
            "bytes": sum(wire.values()),
            "requests": len(wire),
            "by_kind": by_kind,
            "urls": sorted(urlsplit(self.urls.get(rid, "")).path for rid in wire),
            "hosts": sorted(h for h in hosts if h),
        }


def _kind(resource_type: str, url: str) -> str:
    if resource_type == "Document":
        return "html"
    if "/static/" in url:
        return "static"
    return "data"  # the badges fragment, the chart's JSON: dynamic, fetched by turbina-lazy.js


def scroll_through(page: Any) -> None:
    """Bring every part of the page into view, top to bottom, and wait for the lazy ones."""
    at_end = "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2"
    for _step in range(400):  # the page grows as parts load: re-check its end every step
        page.evaluate("window.scrollBy(0, 600)")
        page.wait_for_timeout(30)  # a frame or so for the observer; not a measurement
        if page.evaluate(at_end):
            page.wait_for_load_state("networkidle")
            if page.evaluate(at_end):
                break
    page.wait_for_load_state("networkidle")
    page.wait_for_function(LAZY_PENDING, timeout=30_000)


def visit(context: Any, url: str, profile: dict[str, float] | None) -> dict[str, Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if profile is not None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
    recorder = Recorder(cdp)
    response = page.goto(url, wait_until="load")
    sent_to_login = urlsplit(page.url).path == "/login" and not url.endswith("/login")
    if response is None or response.status != 200 or sent_to_login:
        raise RuntimeError(f"{url} answered {response and response.status} at {page.url}")
    page.wait_for_load_state("networkidle")
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"
    )
    first_view = recorder.summary()
    scroll_through(page)
    whole = recorder.summary()
    canvases = page.evaluate("document.querySelectorAll('canvas').length")
    page.close()
    if errors:
        raise RuntimeError(f"{url}: script errors {errors}")
    return {
        "dcl_ms": round(float(timing["dcl"]), 1),
        "load_ms": round(float(timing["load"]), 1),
        "first_view": first_view,
        "whole_page": whole,
        "canvases": canvases,
    }


def login_state(browser: Any, base: str) -> Any:
    """The cookies of one login (each cold context starts from them, with an empty cache)."""
    context = browser.new_context()
    try:
        answer = context.request.post(
            base + "/login",
            data=json.dumps({"username": USER, "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        if answer.status != 200:
            raise RuntimeError(f"login as {USER} failed: {answer.status} {answer.text()[:200]}")
        return context.storage_state()
    finally:
        context.close()


def measure(
    started: dict[str, Server], runs: int, profiles: list[str]
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Every page in every mode, cold then warm, ``runs`` times (plus one not counted)."""
    samples: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            states = {name: login_state(browser, server.url) for name, server in started.items()}
            for run_index in range(runs + 1):  # run 0 warms the servers up, not counted
                for profile_name in profiles:
                    for path in PAGES:
                        order = VARIANTS if run_index % 2 else tuple(reversed(VARIANTS))
                        for variant in order:
                            state = None if path == "/login" else states[variant]
                            context = browser.new_context(
                                viewport={"width": 1280, "height": 800}, storage_state=state
                            )
                            url = started[variant].url + path
                            try:
                                cold = visit(context, url, PROFILES[profile_name])
                                warm = visit(context, url, PROFILES[profile_name])
                            finally:
                                context.close()
                            if run_index == 0:
                                continue
                            key = (path, variant, profile_name)
                            samples.setdefault((*key, "cold"), []).append(cold)
                            samples.setdefault((*key, "warm"), []).append(warm)
        finally:
            browser.close()
    return samples


def run(args: argparse.Namespace) -> dict[str, Any]:
    with working_database(args.db, args.scale, args.seed) as (dataset, url):
        env = {**os.environ, **benchmark_env(), "DATABASE_URL": url}
        build = build_times(args.build_repeats, env)
        with servers(url, args.workers, args.threads) as started:
            samples = measure(started, args.runs, args.profiles)
    return {
        "benchmark": "assets_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "chromium": browser_version(),
        "dataset": {"db": dataset.db, "scale": dataset.scale, "seed": dataset.seed},
        "server": f"gunicorn {args.workers}x{args.threads} per mode ({APP}), data mode optimized",
        "runs": args.runs,
        "profiles": {name: PROFILES[name] for name in args.profiles},
        "build": build,
        "results": [summarize(key, values) for key, values in sorted(samples.items())],
    }


def browser_version() -> str:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    done = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def summarize(key: tuple[str, ...], values: list[dict[str, Any]]) -> dict[str, Any]:
    path, variant, profile, cache = key

    def median(*keys: str) -> float:
        items = []
        for value in values:
            item: Any = value
            for part in keys:
                item = item.get(part, 0) if isinstance(item, dict) else 0
            items.append(float(item))
        return round(statistics.median(items), 1)

    return {
        "page": path,
        "variant": variant,
        "profile": profile,
        "cache": cache,
        "dcl_ms": median("dcl_ms"),
        "load_ms": median("load_ms"),
        "load_ms_max": max(v["load_ms"] for v in values),
        "first_view_bytes": int(median("first_view", "bytes")),
        "first_view_requests": int(median("first_view", "requests")),
        "first_view_html_bytes": int(median("first_view", "by_kind", "html")),
        "first_view_static_bytes": int(median("first_view", "by_kind", "static")),
        "first_view_data_bytes": int(median("first_view", "by_kind", "data")),
        "whole_page_bytes": int(median("whole_page", "bytes")),
        "whole_page_requests": int(median("whole_page", "requests")),
        "whole_page_static_bytes": int(median("whole_page", "by_kind", "static")),
        "canvases": int(median("canvases")),
        "first_view_urls": values[-1]["first_view"]["urls"],
        "hosts": sorted({h for v in values for h in v["whole_page"]["hosts"]}),
    }


# --- report --------------------------------------------------------------------------


def _kb(n: float) -> str:
    return f"{n / 1024:.1f}"


def _fewer(value: float, base: float) -> str:
    return f"−{(1 - value / base) * 100:.0f} %" if base else ""


def markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    by = {(r["page"], r["variant"], r["profile"], r["cache"]): r for r in rows}
    profiles = list(report["profiles"])
    lines = [
        "# Assets and lazy loading on the fretes pages",
        "",
        f"{report['when']} · {report['chromium']} · {report['machine']} · load average "
        f"{report['load_average']} · {report['runs']} runs per cell, medians · dataset "
        f"{report['dataset']['scale']} on {report['dataset']['db']} · {report['server']}.",
        "",
        "`plain` = the seed's way (plain files, nothing compressed, Chart.js in `<head>`, "
        "badges and chart in the HTML); `pipeline` = Turbina's bundles, everything eager; "
        "`lazy` = the pipeline + the badges and the chart loaded when seen (the app's "
        "default). First view = until the network is idle, before any scrolling; whole page = "
        "after scrolling to the end. Bytes on the wire, headers included.",
        "",
        "## Summary: first view, cold cache, and the warm reload",
        "",
    ]
    for profile in profiles:
        lines += [
            f"**{profile}**",
            "",
            "| page | cold KB plain → pipeline → lazy | lazy vs plain | warm KB plain → lazy "
            "(static KB lazy) | load ms cold plain → lazy | load ms warm plain → lazy |",
            "|---|---|---:|---|---|---|",
        ]
        for page in PAGES:
            cells = {v: by.get((page, v, profile, "cold")) for v in VARIANTS}
            warm = {v: by.get((page, v, profile, "warm")) for v in VARIANTS}
            plain, pipe, lazy = cells["plain"], cells["pipeline"], cells["lazy"]
            wplain, wlazy = warm["plain"], warm["lazy"]
            if not (plain and pipe and lazy and wplain and wlazy):
                continue
            lines.append(
                f"| `{page}` | {_kb(plain['first_view_bytes'])} → "
                f"{_kb(pipe['first_view_bytes'])} → {_kb(lazy['first_view_bytes'])} "
                f"| {_fewer(lazy['first_view_bytes'], plain['first_view_bytes'])} "
                f"| {_kb(wplain['first_view_bytes'])} → {_kb(wlazy['first_view_bytes'])} "
                f"({_kb(wlazy['first_view_static_bytes'])}) "
                f"| {plain['load_ms']:.0f} → {lazy['load_ms']:.0f} "
                f"| {wplain['load_ms']:.0f} → {wlazy['load_ms']:.0f} |"
            )
        lines.append("")
    lines += [
        "## Every cell",
        "",
        "| page | mode | link | cache | DCL ms | load ms (max) | first view KB (requests) "
        "| html / static / data KB | whole page KB (requests) | vs plain, first view |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        base = by.get((row["page"], "plain", row["profile"], row["cache"]))
        ratio = (
            _fewer(row["first_view_bytes"], base["first_view_bytes"])
            if base and row["variant"] != "plain"
            else ""
        )
        lines.append(
            f"| `{row['page']}` | {row['variant']} | {row['profile']} | {row['cache']} "
            f"| {row['dcl_ms']:.0f} | {row['load_ms']:.0f} ({row['load_ms_max']:.0f}) "
            f"| {_kb(row['first_view_bytes'])} ({row['first_view_requests']}) "
            f"| {_kb(row['first_view_html_bytes'])} / {_kb(row['first_view_static_bytes'])} / "
            f"{_kb(row['first_view_data_bytes'])} "
            f"| {_kb(row['whole_page_bytes'])} ({row['whole_page_requests']}) | {ratio} |"
        )
    build = report["build"]
    lines += ["", "## Bundles (bytes): source → minified → brotli / gzip", ""]
    lines += ["| bundle | source | minified | br | gzip |", "|---|---:|---:|---:|---:|"]
    for name, sizes in sorted(build["bundles"].items()):
        lines.append(
            f"| {name} | {sizes['source']:,} | {sizes['min']:,} | {sizes.get('br', '-')} "
            f"| {sizes.get('gzip', '-')} |"
        )
    lines += [
        "",
        f"Build (median of the repeats, in process): cold {build['cold_ms']} ms, nothing "
        f"changed {build['unchanged_ms']} ms, fretes.css changed (only app.css rebuilt) "
        f"{build['one_file_changed_ms']} ms. `flask turbina assets build` with nothing to do: "
        f"{build['cli_unchanged_s']} s wall; starting Python and creating the app alone, "
        f"interleaved with it: {build['cli_python_and_app_start_s']} s.",
    ]
    hosts = sorted({h for r in rows for h in r["hosts"]})
    lines += ["", f"Hosts contacted: {', '.join(hosts)}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per cell (default 5)")
    parser.add_argument("--build-repeats", type=int, default=5)
    parser.add_argument("--scale", default="real", help="dataset scale (default real)")
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--seed", type=int, default=42, help="dataset seed (default 42)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per mode")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--profiles",
        nargs="+",
        default=list(PROFILES),
        choices=list(PROFILES),
        help="network profiles (default: all)",
    )
    parser.add_argument("--name", default="assets_bench", help="results file name")
    args = parser.parse_args(argv)
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
