"""Turn raw samples into a result: per-page statistics, run metadata, JSON and Markdown.

Percentiles are computed from every raw sample (linear interpolation between closest
ranks), never from pre-bucketed times. ``python -m bench.report A.json [B.json]`` prints a
result's table, or the side-by-side comparison of two results with their ratios.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from statistics import fmean, median
from typing import Any

from bench.samples import Sample
from bench.workload import LOGIN, PAGES, WRITES

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MAX_ERROR_MESSAGES = 5
ALL = "all requests"
TABLE_HEADER = (
    "page",
    "requests",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "queries/req",
    "db ms/req",
    "errors",
)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, interpolating linearly between ranks."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class PageStats:
    """Statistics of one page (or write) label."""

    label: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    queries_per_req: float | None
    queries_p50: float | None
    db_ms_per_req: float | None
    app_ms_per_req: float | None
    error_messages: list[str] = field(default_factory=list)


def page_stats(label: str, samples: Sequence[Sample]) -> PageStats:
    """Aggregate the samples of one label (latency over all of them, errors included)."""
    latencies = [s.latency_ms for s in samples]
    timed = [s for s in samples if s.error is None and s.queries is not None]
    errors = [s for s in samples if s.error is not None]
    return PageStats(
        label=label,
        requests=len(samples),
        errors=len(errors),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        mean_ms=fmean(latencies) if latencies else math.nan,
        max_ms=max(latencies) if latencies else math.nan,
        queries_per_req=fmean(float(s.queries or 0) for s in timed) if timed else None,
        queries_p50=float(median(s.queries or 0 for s in timed)) if timed else None,
        db_ms_per_req=fmean(s.db_ms or 0.0 for s in timed) if timed else None,
        app_ms_per_req=fmean(s.app_ms or 0.0 for s in timed) if timed else None,
        error_messages=[str(s.error) for s in errors[:MAX_ERROR_MESSAGES]],
    )


def _order(label: str) -> tuple[int, int, str]:
    for group, known in enumerate((PAGES, WRITES, (LOGIN,))):
        if label in known:
            return (group, known.index(label), label)
    return (3, 0, label)


def summarize(samples: Iterable[Sample]) -> list[PageStats]:
    """One ``PageStats`` per label (pages, then writes, then login), plus an overall row."""
    by_label: dict[str, list[Sample]] = {}
    everything: list[Sample] = []
    for sample in samples:
        by_label.setdefault(sample.label, []).append(sample)
        everything.append(sample)
    rows = [page_stats(label, by_label[label]) for label in sorted(by_label, key=_order)]
    if everything:
        rows.append(page_stats(ALL, everything))
    return rows


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def run_metadata(**run: Any) -> dict[str, Any]:
    """Machine and software facts for a result, merged with the run's own settings."""
    status = _git("status", "--porcelain")
    return {
        **run,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "sqlalchemy": _version("SQLAlchemy"),
        "flask": _version("Flask"),
        "flask_sqlalchemy": _version("Flask-SQLAlchemy"),
        "psycopg": _version("psycopg"),
        "gunicorn": _version("gunicorn"),
        "locust": _version("locust"),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
    }


def build_result(samples: Sequence[Sample], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document of one run."""
    starts = [s.started for s in samples if s.started]
    ends = [s.started + s.latency_ms / 1000.0 for s in samples if s.started]
    wall = (max(ends) - min(starts)) if starts else 0.0
    stats = summarize(samples)
    total = next((row for row in stats if row.label == ALL), None)
    result: dict[str, Any] = {
        "meta": dict(meta),
        "totals": {
            "requests": len(samples),
            "errors": total.errors if total else 0,
            "wall_s": round(wall, 3),
            "throughput_rps": round(len(samples) / wall, 2) if wall > 0 else None,
        },
        "pages": {row.label: asdict(row) for row in stats},
    }
    from bench.modes import mode_section  # imports this module

    section = mode_section(samples)
    if section is not None:
        result["by_mode"] = section
    return result


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def markdown_table(result: Mapping[str, Any]) -> str:
    """``page | requests | p50 ms | p95 ms | p99 ms | queries/req | db ms/req | errors``."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for label, row in result["pages"].items():
        shown = f"**{label}**" if label == ALL else f"`{label}`"
        lines.append(
            "| "
            + " | ".join(
                (
                    shown,
                    str(row["requests"]),
                    _fmt(row["p50_ms"]),
                    _fmt(row["p95_ms"]),
                    _fmt(row["p99_ms"]),
                    _fmt(row["queries_per_req"]),
                    _fmt(row["db_ms_per_req"]),
                    str(row["errors"]),
                )
            )
            + " |"
        )
    return "\n".join(lines)


def _loads(values: Any) -> str:
    if not isinstance(values, list | tuple):
        return "–"
    return "/".join(f"{float(v):.1f}" for v in values)


def markdown_report(result: Mapping[str, Any], title: str) -> str:
    """A Markdown document: title, run settings, the table, and the first error messages."""
    meta = result["meta"]
    totals = result["totals"]
    facts = ", ".join(
        f"{k}={meta[k]}"
        for k in ("scale", "db", "users", "write_ratio", "duration_s", "max_requests")
        if k in meta
    )
    parts = [
        f"# {title}",
        "",
        f"{facts}; {totals['requests']} requests in {totals['wall_s']} s "
        f"({totals['throughput_rps']} req/s), {totals['errors']} errors.",
        f"Commit {str(meta.get('git_commit'))[:12]}{' (dirty)' if meta.get('git_dirty') else ''}, "
        f"{meta.get('date')}, Python {meta.get('python')}, SQLAlchemy {meta.get('sqlalchemy')}, "
        f"{meta.get('cpus')} CPUs, load average {_loads(meta.get('load_average_before'))} before / "
        f"{_loads(meta.get('load_average'))} after (1, 5, 15 min).",
    ]
    if meta.get("note"):
        parts.append(f"Note: {meta['note']}")
    from bench.modes import markdown_modes  # imports this module

    by_mode = markdown_modes(result)
    if by_mode:
        parts += ["", by_mode, "## Every request (all modes together; writes and logins)"]
    parts += [
        "",
        markdown_table(result),
        "",
        "Latency is measured by the client (Locust) from raw samples; queries and DB time are "
        "what the app reported in its `Server-Timing` header. The export streams its body, "
        "so its queries/DB time only cover the work done before the headers were sent.",
        "",
    ]
    errors = [
        (label, row["error_messages"])
        for label, row in result["pages"].items()
        if row["error_messages"] and label != ALL
    ]
    if errors:
        parts.append("First errors:")
        for label, messages in errors:
            parts += [f"- `{label}`: {m[:200]}" for m in messages]
        parts.append("")
    return "\n".join(parts)


def write_result(
    result: Mapping[str, Any], name: str, directory: Path = RESULTS_DIR
) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` of an HTTP run; return both paths."""
    return save_document(result, markdown_report(result, name), name, directory)


def save_document(
    document: Mapping[str, Any], markdown: str, name: str, directory: Path = RESULTS_DIR
) -> tuple[Path, Path]:
    """Write any benchmark's ``<name>.json`` and its Markdown ``<name>.md``."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path


def micro_facts(module: str, argv: Sequence[str] | None) -> dict[str, Any]:
    """When, where and how a micro-benchmark ran (its command line as typed)."""
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlalchemy": _version("SQLAlchemy"),
        "command": " ".join([f"python -m {module}", *(sys.argv[1:] if argv is None else argv)]),
    }


def _ratio(new: float | None, old: float | None) -> str:
    if new is None or old is None or old == 0 or math.isnan(new) or math.isnan(old):
        return "–"
    return f"{new / old:.2f}×"


def compare_table(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> str:
    """Per page: p50/p95 and queries of both runs and the candidate/baseline ratios."""
    lines = [
        "| page | p50 ms (base → cand) | p50 ratio | p95 ratio | queries/req (base → cand) |",
        "|---|---|---|---|---|",
    ]
    for label, old in baseline["pages"].items():
        new = candidate["pages"].get(label)
        if new is None:
            continue
        lines.append(
            f"| `{label}` | {_fmt(old['p50_ms'])} → {_fmt(new['p50_ms'])} | "
            f"{_ratio(new['p50_ms'], old['p50_ms'])} | {_ratio(new['p95_ms'], old['p95_ms'])} | "
            f"{_fmt(old['queries_per_req'])} → {_fmt(new['queries_per_req'])} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print one result's table, or the comparison of two."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        print("usage: python -m bench.report RESULT.json [CANDIDATE.json]", file=sys.stderr)
        return 2
    docs = [json.loads(Path(a).read_text(encoding="utf-8")) for a in args]
    print(markdown_table(docs[0]) if len(docs) == 1 else compare_table(docs[0], docs[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
