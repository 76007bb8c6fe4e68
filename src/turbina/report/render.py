"""The report as terminal text and as Markdown (``render_html`` is in ``render_html``).

Everything shown comes from the report: fingerprints (no literal values), relationship names,
endpoints; Markdown table cells escape ``|`` and code goes in fenced blocks.
"""

from __future__ import annotations

from typing import Any

from turbina.report.model import Check, Finding, Report

__all__ = ["benchmark_rows", "per_hour", "render_markdown", "render_text"]

_MARK = {True: "pass", False: "FAIL", None: "n/a "}


def per_hour(value: float) -> str:
    """A saving in ms per hour, in the unit that reads best (ms/h, s/h, min/h)."""
    if value >= 60_000:
        return f"{value / 60_000:,.1f} min/h"
    if value >= 1000:
        return f"{value / 1000:,.1f} s/h"
    return f"{value:,.0f} ms/h"


def _evidence(finding: Finding) -> str:
    return ", ".join(f"{k} {v}" for k, v in finding.evidence.items() if v is not None)


def benchmark_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per page of the benchmark: server p95 and DB ms of every phase."""
    pages: dict[str, dict[str, Any]] = {}
    for phase in doc.get("phases", []):
        for page in phase.get("pages", []) or []:
            if not isinstance(page, dict):
                continue
            row = pages.setdefault(str(page.get("page", "?")), {"page": str(page.get("page", "?"))})
            server = page.get("server_ms") or {}
            row[str(phase.get("name"))] = {
                "server_p95": server.get("p95") if isinstance(server, dict) else None,
                "db_ms_mean": page.get("db_ms_mean"),
                "requests": page.get("requests"),
            }
    return list(pages.values())


def _phase_names(doc: dict[str, Any]) -> list[str]:
    return [str(p.get("name")) for p in doc.get("phases", [])]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _check_line(check: Check) -> str:
    note = f" — {check.note}" if check.note else ""
    return f"  [{_MARK[check.passed]}] {check.name} (target {check.target}): {check.measured}{note}"


def render_text(report: Report, top: int = 5) -> str:
    """For a terminal: the top findings with their saved time, the endpoints, the checklist."""
    lines = [f"Turbina report: {report.source}"]
    shown = report.findings[:top]
    if shown:
        lines.append(
            f"\nTop {len(shown)} of {len(report.findings)} findings, by estimated time saved:"
        )
    else:
        lines.append("\nNo findings.")
    for number, f in enumerate(shown, start=1):
        lines.append(f"{number:>2}. [{f.kind}] {per_hour(f.saved_ms_per_hour)}  {f.title}")
        lines.append(f"      fix   {f.fix}")
        if f.code:
            first, *rest = f.code.splitlines()
            lines.append(f"      code  {first}")
            lines += [f"            {line}" for line in rest]
        if f.where:
            lines.append(f"      where {f.where}")
        lines.append(f"      est   {f.formula}")
        lines += [f"      note  {note}" for note in f.notes]
    if report.endpoints:
        lines.append("\nSlowest endpoints (share of all request time):")
        for row in report.endpoints[:top]:
            lines.append(
                f"  {100 * row['share']:5.1f} %  {row['calls']:>7} calls  mean {row['mean_ms']:8.2f} ms"
                f"  p95 {row['p95_ms']:8.2f} ms  db {row['db_ms_per_request']:8.2f} ms/req  {row['endpoint']}"
            )
    if report.benchmark:
        names = _phase_names(report.benchmark)
        lines.append(f"\nBenchmark, server p95 ms per page ({' / '.join(names)}):")
        for row in benchmark_rows(report.benchmark):
            cells = [_cell((row.get(n) or {}).get("server_p95")) for n in names]
            lines.append(f"  {' / '.join(cells):>28}  {row['page']}")
        method = (report.benchmark.get("meta") or {}).get("method")
        if method:
            lines.append(f"  method: {method}")
    lines.append("\nSeed checklist:")
    lines += [_check_line(c) for c in report.checklist]
    lines.append(f"\nVerdict: {report.verdict}")
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return (
        str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
    )


def render_markdown(report: Report) -> str:
    """The whole report as Markdown: findings, endpoints, plans, benchmark, checklist."""
    out = [
        "# Turbina performance report",
        "",
        f"Source: {_md(report.source)}.",
        "",
        f"**Verdict:** {_md(report.verdict)}",
        "",
        "## Findings, by estimated time saved",
        "",
    ]
    if not report.findings:
        out.append("No findings.")
    for number, f in enumerate(report.findings, start=1):
        out.append(
            f"{number}. **[{f.kind}] {_md(per_hour(f.saved_ms_per_hour))}** — {_md(f.title)}"
        )
        out.append(f"   - fix: {_md(f.fix)}")
        if f.where:
            out.append(f"   - where: {_md(f.where)}")
        out.append(f"   - evidence: {_md(_evidence(f))}")
        out.append(f"   - estimate: {_md(f.formula)}")
        out += [f"   - note: {_md(n)}" for n in f.notes]
        if f.code:
            out += ["", "   ```", *[f"   {line}" for line in f.code.splitlines()], "   ```"]
    if report.endpoints:
        out += [
            "",
            "## Slowest endpoints",
            "",
            "| endpoint | calls | share | mean ms | p95 ms | DB ms/req | queries/req |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in report.endpoints:
            out.append(
                f"| {_md(r['endpoint'])} | {r['calls']} | {100 * r['share']:.1f} % | "
                f"{r['mean_ms']:.2f} | {r['p95_ms']:.2f} | {r['db_ms_per_request']:.2f} | "
                f"{r['queries_per_request']} |"
            )
    if report.benchmark:
        names = _phase_names(report.benchmark)
        out += [
            "",
            "## Benchmark (server p95 ms / DB ms per request)",
            "",
            "| page | " + " | ".join(_md(n) for n in names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for row in benchmark_rows(report.benchmark):
            cells = [
                f"{_cell((row.get(n) or {}).get('server_p95'))} / "
                f"{_cell((row.get(n) or {}).get('db_ms_mean'))}"
                for n in names
            ]
            out.append(f"| {_md(row['page'])} | " + " | ".join(cells) + " |")
        method = (report.benchmark.get("meta") or {}).get("method")
        if method:
            out += ["", f"Method: {_md(method)}"]
    out += ["", "## Seed checklist", "", "| criterion | target | measured | result | note |"]
    out.append("|---|---|---|---|---|")
    for c in report.checklist:
        out.append(
            f"| {_md(c.name)} | {_md(c.target)} | {_md(c.measured)} | "
            f"{_MARK[c.passed].strip()} | {_md(c.note)} |"
        )
    out += ["", "## How the estimates are made", "", f"- cache model: {_md(report.cache_model)}"]
    out += [f"- {_md(n)}" for n in report.notes]
    return "\n".join(out) + "\n"
