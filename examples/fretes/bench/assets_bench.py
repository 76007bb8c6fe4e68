"""Assets and lazy loading, side by side in one run: ``python -m bench.assets_bench``.

The page is the assets tests' own site (tests/assets/siteapp.py, loaded by its path; the
fretes pages come once they use the pipeline): a header, four summary cards, then below the
fold a 300-row table and three Chart.js charts — the shape of the seed's monitoring and
faturamento pages. Three variants, each on its own real server (werkzeug, threaded,
127.0.0.1):

- ``baseline``: what the seed ships — two stylesheets and the scripts as written, served by
  Flask's static route (no compression, ``no-cache`` + ETag), Chart.js in ``<head>`` (a local
  copy: the seed's CDN is not reachable here, and would not be under test), the table and the
  charts in the HTML;
- ``pipeline``: the same page through ``turbina.assets`` — bundles minified and fingerprinted,
  brotli/gzip variants, immutable caching, the HTML compressed — still eager;
- ``pipeline+lazy``: the pipeline plus ``turbina-lazy.js``: the table, the charts and the
  fragments are ``data-lazy`` placeholders, loaded when scrolled to; Chart.js only then.

Each is loaded in Debian's Chromium (Playwright, ``executable_path``) cold (a fresh browser
context: empty cache) and warm (the same context, a second navigation), on the loopback and
throttled to a slow mobile link (150 ms RTT, 1.6 Mbit/s down — DevTools' "Slow 4G"), runs
interleaved. Bytes are what crossed the network (CDP ``encodedDataLength``, headers
included) until the network is idle, before scrolling and after scrolling through the whole
page; times are the navigation's DOMContentLoaded and load. The build is timed cold (empty
output folder), with nothing changed, and with one file changed.

Chart.js (4.6.1, ``dist/chart.umd.min.js``) is fetched once with ``npm pack`` into
``instance/bench-cache``; without npm the site's stand-in chart library is used, and the
report says so. Results: ``bench/results/assets_bench.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parents[2]
SITE_APP = REPO / "tests" / "assets" / "siteapp.py"
CACHE = HERE.parent / "instance" / "bench-cache"
CHART_JS = "chart.js@4.6.1"
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
VARIANTS = ("baseline", "pipeline", "pipeline+lazy")
ROWS = 300
CHARTS = ("a", "b", "c")


def load_site_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("turbina_bench_siteapp", SITE_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def chart_library() -> Path | None:
    """Chart.js's minified UMD build, fetched once through npm; ``None`` without npm."""
    target = CACHE / "chart.umd.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", CHART_JS, "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(tmp).glob("chart.js-*.tgz"))
        if done.returncode != 0 or not tarballs:
            return None
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile("package/dist/chart.umd.min.js")
            if member is None:
                return None
            target.write_bytes(member.read())
    return target


class Server:
    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def build_times(site_module: ModuleType, root: Path, repeats: int) -> dict[str, float]:
    """Median ms of a cold build, a build with nothing changed, one with one file changed."""
    from turbina.assets import AssetsState

    bundles = dict(site_module.BUNDLES)
    bundles["chart.js"] = ["vendor/chart.umd.min.js"]
    static = root / "static"
    cold, unchanged, one_file = [], [], []
    page = static / "css" / "page.css"
    original = page.read_text()
    for index in range(repeats):
        shutil.rmtree(static / "dist", ignore_errors=True)
        state = AssetsState(static, bundles)
        cold.append(state.build().seconds)
        unchanged.append(AssetsState(static, bundles).build().seconds)
        page.write_text(original + f"\n.bench-{index} {{ color: #{index:06x}; }}\n")
        one_file.append(AssetsState(static, bundles).build().seconds)
    page.write_text(original)
    AssetsState(static, bundles).build(prune=True)
    cli, imports = cli_times(root, bundles, repeats)
    return {
        "cold_ms": round(statistics.median(cold) * 1000, 1),
        "unchanged_ms": round(statistics.median(unchanged) * 1000, 2),
        "one_file_changed_ms": round(statistics.median(one_file) * 1000, 1),
        "cli_unchanged_s": round(cli, 2),
        "cli_python_and_app_import_s": round(imports, 2),
    }


def cli_times(root: Path, bundles: dict[str, list[str]], repeats: int) -> tuple[float, float]:
    """Median wall seconds of ``flask turbina assets build`` with nothing to do, and of just
    starting Python and importing the same app (what the command costs besides the build)."""
    module = root / "bench_cli_app.py"
    module.write_text(
        "import importlib.util\nfrom pathlib import Path\n"
        f"spec = importlib.util.spec_from_file_location('siteapp', {str(SITE_APP)!r})\n"
        "site = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(site)\n"
        f"app = site.create_site_app(Path({str(root)!r}), bundles={bundles!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    env = {k: v for k, v in env.items() if not k.startswith(("FLASK_", "TURBINA_"))}

    def wall(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
        return time.perf_counter() - started

    build = [sys.executable, "-m", "flask", "--app", "bench_cli_app", "turbina", "assets", "build"]
    load = [sys.executable, "-c", "import bench_cli_app"]
    builds = [wall(build) for _ in range(repeats)]
    loads = [wall(load) for _ in range(repeats)]
    return statistics.median(builds), statistics.median(loads)


@contextmanager
def servers(site_module: ModuleType, root: Path, chart: str) -> Iterator[dict[str, Server]]:
    bundles = {**site_module.BUNDLES, "chart.js": [chart]}
    options = {"rows": ROWS, "charts": CHARTS, "chart_source": chart, "bundles": bundles}
    apps = {
        "baseline": site_module.create_site_app(root, pipeline=False, lazy=False, **options),
        "pipeline": site_module.create_site_app(root, pipeline=True, lazy=False, **options),
        "pipeline+lazy": site_module.create_site_app(root, pipeline=True, lazy=True, **options),
    }
    started = {name: Server(app) for name, app in apps.items()}
    try:
        yield started
    finally:
        for server in started.values():
            server.close()


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

    def reset(self) -> None:
        self.urls.clear()
        self.kinds.clear()
        self.cached.clear()
        self.bytes.clear()

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
            "hosts": sorted(h for h in hosts if h),
        }


def _kind(resource_type: str, url: str) -> str:
    if resource_type == "Document":
        return "html"
    if "/static/" in url:
        return "static"
    return "data"  # fragments, JSON: dynamic, fetched by turbina-lazy.js


def scroll_through(page: Any) -> None:
    """Bring every part of the page into view, top to bottom, and wait for the lazy ones."""
    at_end = "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2"
    for _step in range(400):  # the page grows as parts load: re-check its end every step
        page.evaluate("window.scrollBy(0, 500)")
        page.wait_for_timeout(50)  # a frame or so for the observer; not a measurement
        if page.evaluate(at_end):
            page.wait_for_load_state("networkidle")
            if page.evaluate(at_end):
                break
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "document.querySelectorAll('[data-lazy]:not([data-lazy-state=loaded])"
        ":not([data-lazy-state=error])').length === 0",
        timeout=30_000,
    )


def visit(context: Any, url: str, profile: dict[str, float] | None) -> dict[str, Any]:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if profile is not None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
    recorder = Recorder(cdp)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"
    )
    first_view = recorder.summary()
    scroll_through(page)
    whole = recorder.summary()
    charts = page.evaluate("document.querySelectorAll('canvas').length")
    page.close()
    return {
        "dcl_ms": round(float(timing["dcl"]), 1),
        "load_ms": round(float(timing["load"]), 1),
        "first_view": first_view,
        "whole_page": whole,
        "canvases": charts,
    }


def run(runs: int, build_repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    site_module = load_site_module()
    chart = chart_library()
    with tempfile.TemporaryDirectory(prefix="turbina-assets-bench-") as tmp:
        root = site_module.copy_site(Path(tmp) / "site")
        if chart is not None:
            shutil.copy(chart, root / "static" / "vendor" / "chart.umd.min.js")
            chart_source = "vendor/chart.umd.min.js"
        else:
            chart_source = "vendor/fakechart.js"
        builds = build_times(site_module, root, build_repeats) if chart else {}
        state_bundles = {**site_module.BUNDLES, "chart.js": [chart_source]}
        from turbina.assets import AssetsState

        built = AssetsState(root / "static", state_bundles).build()
        bundle_sizes = {
            b.name: {"source": b.source_bytes, "min": b.size, **dict(b.encodings)}
            for b in built.bundles
        }
        samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        executable = shutil.which("chromium") or "/usr/bin/chromium"
        with servers(site_module, root, chart_source) as started, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_FLAGS
            )
            try:
                for run_index in range(runs + 1):  # run 0 warms the servers up, not counted
                    for profile_name, profile in PROFILES.items():
                        order = VARIANTS if run_index % 2 else tuple(reversed(VARIANTS))
                        for variant in order:
                            context = browser.new_context(viewport={"width": 1280, "height": 800})
                            try:
                                cold = visit(context, started[variant].url, profile)
                                warm = visit(context, started[variant].url, profile)
                            finally:
                                context.close()
                            if run_index == 0:
                                continue
                            samples.setdefault((variant, profile_name, "cold"), []).append(cold)
                            samples.setdefault((variant, profile_name, "warm"), []).append(warm)
            finally:
                browser.close()
    return {
        "benchmark": "assets_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "chromium": browser_version(executable),
        "chart_library": CHART_JS if chart else "the site's stand-in (npm not available)",
        "page": {"rows": ROWS, "charts": len(CHARTS)},
        "runs": runs,
        "profiles": {name: profile for name, profile in PROFILES.items()},
        "build": builds,
        "bundles": bundle_sizes,
        "results": [summarize(key, values) for key, values in sorted(samples.items())],
    }


def browser_version(executable: str) -> str:
    done = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def summarize(key: tuple[str, str, str], values: list[dict[str, Any]]) -> dict[str, Any]:
    variant, profile, cache = key

    def median(path: tuple[str, ...]) -> float:
        items = []
        for value in values:
            item: Any = value
            for part in path:
                item = item.get(part, 0) if isinstance(item, dict) else 0
            items.append(float(item))
        return round(statistics.median(items), 1)

    return {
        "variant": variant,
        "profile": profile,
        "cache": cache,
        "dcl_ms": median(("dcl_ms",)),
        "load_ms": median(("load_ms",)),
        "first_view_bytes": int(median(("first_view", "bytes"))),
        "first_view_requests": int(median(("first_view", "requests"))),
        "first_view_static_bytes": int(median(("first_view", "by_kind", "static"))),
        "first_view_html_bytes": int(median(("first_view", "by_kind", "html"))),
        "whole_page_bytes": int(median(("whole_page", "bytes"))),
        "whole_page_requests": int(median(("whole_page", "requests"))),
        "canvases": int(median(("canvases",))),
        "hosts": sorted({h for v in values for h in v["whole_page"]["hosts"]}),
    }


def markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    by = {(r["variant"], r["profile"], r["cache"]): r for r in rows}
    lines = [
        "# Assets and lazy loading",
        "",
        f"{report['when']} · {report['chromium']} · {report['machine']} · load average "
        f"{report['load_average']} · {report['runs']} runs per cell, medians · chart library: "
        f"{report['chart_library']} · page: {report['page']['rows']} table rows, "
        f"{report['page']['charts']} charts below the fold.",
        "",
        "First view = until the network is idle, before any scrolling; whole page = after "
        "scrolling to the end. Bytes on the wire, headers included.",
        "",
        "| variant | link | cache | DCL ms | load ms | first view KB (requests) | of which static KB "
        "| whole page KB (requests) | vs baseline, first view |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = by.get(("baseline", row["profile"], row["cache"]))
        ratio = (
            f"{(1 - row['first_view_bytes'] / base['first_view_bytes']) * 100:.0f} % fewer"
            if base and base["first_view_bytes"] and row["variant"] != "baseline"
            else ""
        )
        lines.append(
            f"| {row['variant']} | {row['profile']} | {row['cache']} | {row['dcl_ms']:.0f} "
            f"| {row['load_ms']:.0f} | {row['first_view_bytes'] / 1024:.1f} "
            f"({row['first_view_requests']}) | {row['first_view_static_bytes'] / 1024:.1f} "
            f"| {row['whole_page_bytes'] / 1024:.1f} ({row['whole_page_requests']}) | {ratio} |"
        )
    lines += ["", "Bundles (bytes): source → minified → brotli / gzip", ""]
    lines += ["| bundle | source | minified | br | gzip |", "|---|---:|---:|---:|---:|"]
    for name, sizes in sorted(report["bundles"].items()):
        lines.append(
            f"| {name} | {sizes['source']:,} | {sizes['min']:,} | {sizes.get('br', '-')} "
            f"| {sizes.get('gzip', '-')} |"
        )
    if report["build"]:
        b = report["build"]
        lines += [
            "",
            f"Build (median of the repeats): cold {b['cold_ms']} ms, nothing changed "
            f"{b['unchanged_ms']} ms, one file changed {b['one_file_changed_ms']} ms "
            "(in process). The command with nothing to do: "
            f"{b['cli_unchanged_s']} s wall, of which {b['cli_python_and_app_import_s']} s is "
            "starting Python and importing the app.",
        ]
    hosts = sorted({h for r in rows for h in r["hosts"]})
    lines += ["", f"Hosts contacted: {', '.join(hosts)}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per cell (default 5)")
    parser.add_argument("--build-repeats", type=int, default=5)
    parser.add_argument("--name", default="assets_bench", help="results file name")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    report = run(args.runs, args.build_repeats)
    (RESULTS / args.name).parent.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
