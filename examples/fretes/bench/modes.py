"""Side-by-side results of the page modes (naive, optimized, cached) measured in one run.

Every page request of a run carries its ``X-Fretes-Mode``; here the samples are grouped per
page and mode, the cached and optimized forms are set against the naive one (p50 and p95
ratios), and the cache's hit rate per context is shown next to them. Which context serves a
page comes from the app's own table (``fretes.access.cached.CACHED_FUNCTIONS``).

``bench.report`` imports this module lazily (it imports ``bench.report``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bench.report import _fmt as fmt
from bench.report import page_stats
from bench.samples import Sample
from bench.workload import PAGES
from fretes.access.cached import CACHED_FUNCTIONS

MODE_ORDER = ("naive", "optimized", "cached")
BASE_MODE = "naive"
MODE_TABLE_HEADER = (
    "page",
    "mode",
    "requests",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "queries/req",
    "db ms/req",
    "app ms/req",
    "errors",
    "cache context",
)
# Page label -> the cache context of its cached data function (pages not cached: absent).
PAGE_CONTEXTS = {spec.label: spec.context for spec in CACHED_FUNCTIONS}


def _mode_key(mode: str) -> tuple[int, str]:
    return (MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER), mode)


def mode_section(samples: Sequence[Sample]) -> dict[str, Any] | None:
    """``{"modes": [...], "pages": {page: {mode: stats}}, "ratios": {page: {...}}}``, or None
    when no sample carries a mode."""
    groups: dict[str, dict[str, list[Sample]]] = {}
    for sample in samples:
        if sample.mode is not None and sample.label in PAGES:
            groups.setdefault(sample.label, {}).setdefault(sample.mode, []).append(sample)
    if not groups:
        return None
    modes = sorted({m for by_mode in groups.values() for m in by_mode}, key=_mode_key)
    pages = {
        label: {
            mode: asdict(page_stats(label, groups[label][mode]))
            for mode in modes
            if mode in groups[label]
        }
        for label in PAGES
        if label in groups
    }
    return {"modes": modes, "pages": pages, "ratios": ratios(pages, modes)}


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0 or math.isnan(new) or math.isnan(old):
        return None
    return round(new / old, 3)


def ratios(
    pages: Mapping[str, Mapping[str, Mapping[str, Any]]], modes: Sequence[str]
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per page, ``"<mode>/naive": {"p50": r, "p95": r}`` for every other mode."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for label, by_mode in pages.items():
        base = by_mode.get(BASE_MODE)
        if base is None:
            continue
        out[label] = {
            f"{mode}/{BASE_MODE}": {
                "p50": _ratio(by_mode[mode]["p50_ms"], base["p50_ms"]),
                "p95": _ratio(by_mode[mode]["p95_ms"], base["p95_ms"]),
            }
            for mode in modes
            if mode != BASE_MODE and mode in by_mode
        }
    return out


def mode_table(section: Mapping[str, Any]) -> str:
    """``page | mode | requests | p50 | p95 | p99 | queries/req | db ms/req | app ms/req |
    errors | cache context``; app ms is the server's own time (no queueing), from
    ``Server-Timing``; the context is the one serving the page's cached form."""
    lines = ["| " + " | ".join(MODE_TABLE_HEADER) + " |", "|" + "---|" * len(MODE_TABLE_HEADER)]
    for label, by_mode in section["pages"].items():
        for mode, row in by_mode.items():
            context = PAGE_CONTEXTS.get(label, "–") if mode == "cached" else "–"
            lines.append(
                f"| `{label}` | {mode} | {row['requests']} | {fmt(row['p50_ms'])} | "
                f"{fmt(row['p95_ms'])} | {fmt(row['p99_ms'])} | {fmt(row['queries_per_req'])} | "
                f"{fmt(row['db_ms_per_req'])} | {fmt(row['app_ms_per_req'])} | {row['errors']} | "
                f"{context} |"
            )
    return "\n".join(lines)


def _times(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def ratio_table(section: Mapping[str, Any]) -> str:
    """Per page: each mode's p50 and p95 divided by naive's (lower is faster)."""
    others = [m for m in section["modes"] if m != BASE_MODE]
    header = ["page"]
    for mode in others:
        header += [f"{mode}/{BASE_MODE} p50", f"{mode}/{BASE_MODE} p95"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, by_ratio in section["ratios"].items():
        cells = [f"`{label}`"]
        for mode in others:
            r = by_ratio.get(f"{mode}/{BASE_MODE}", {})
            cells += [_times(r.get("p50")), _times(r.get("p95"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cache_table(cache: Mapping[str, Any]) -> str:
    """Hit rate per context from the shared counters (or why there are none)."""
    stats = cache.get("stats")
    if not stats:
        return f"Cache backend: {cache.get('backend')}; per-context hit rates not available."
    lines = [
        f"Cache backend: {cache.get('backend')} (prefix `{cache.get('prefix')}`); counters "
        "shared by every worker, read after the run (each worker flushes at most once a second, "
        "so up to its last second may be missing).",
        "",
        "| context | lookups | hits | misses | stale prevented | hit rate | bypassed | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in stats.items():
        rate = row.get("hit_rate")
        lines.append(
            f"| {name} | {row.get('lookups', 0)} | {row.get('hits', 0)} | {row.get('misses', 0)} | "
            f"{row.get('stale_prevented', 0)} | {'–' if rate is None else f'{rate:.1%}'} | "
            f"{row.get('bypassed', 0)} | {row.get('errors', 0)} |"
        )
    return "\n".join(lines)


def markdown_modes(result: Mapping[str, Any]) -> str:
    """The per-mode table, the ratio table and the cache table of a result with modes."""
    section = result.get("by_mode")
    if not section:
        return ""
    parts = [
        "## Pages per mode (same run, requests alternate modes in turn)",
        "",
        mode_table(section),
        "",
        "Latencies are the client's (queueing behind the other modes' requests included); "
        "`app ms/req` is the server's own time for the request, from `Server-Timing`.",
        "",
        "## Ratios to naive (p50, p95; below 1× is faster)",
        "",
        ratio_table(section),
        "",
    ]
    cache = result.get("cache")
    if cache:
        parts += ["## Cache", ""]
        if cache.get("warning"):
            parts += [f"Warning: {cache['warning']}.", ""]
        parts += [cache_table(cache), ""]
    return "\n".join(parts)
