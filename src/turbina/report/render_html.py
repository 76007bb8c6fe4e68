"""The report as one self-contained HTML page: inline CSS and SVG, no script, no URL.

Plots: the latency distribution of each of the slowest endpoints (the store's merged
histograms) and, with a benchmark, before/after bars per page (server p95). Every text is
HTML-escaped (endpoint names and fingerprints come from the traffic).
"""

from __future__ import annotations

from html import escape
from typing import Any

from turbina.report.model import Report
from turbina.report.render import benchmark_rows, per_hour
from turbina.report.svg import grouped_bars, histogram

__all__ = ["render_html"]

MAX_HISTOGRAMS = 6

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#1b1f24;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5em 0}table.f{table-layout:fixed}td,th{border-bottom:1px solid #eee;
padding:3px 6px;text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
code,pre{font:12px/1.4 ui-monospace,monospace;background:#f6f8fa}pre{padding:6px;white-space:pre-wrap;overflow-wrap:anywhere}
td{overflow-wrap:anywhere}th.w{width:4em}th.s{width:6em}
.kind{font-weight:600;color:#555}.saved{font-weight:600}.pass{color:#1a7f37}.fail{color:#cf222e}
.na{color:#777}.verdict{font-size:1.1em;padding:.6em;background:#f6f8fa;border-left:4px solid #888}
svg .t{font-size:12px;font-weight:600}svg .l,svg .v{font-size:11px}svg .s0{fill:#cf6a32}
svg .s1{fill:#2f81f7}svg .s2{fill:#1a7f37}svg .s3{fill:#8250df}svg .k0{fill:#cf6a32}
svg .k1{fill:#2f81f7}svg .k2{fill:#1a7f37}svg .k3{fill:#8250df}
"""

_RESULT = {True: ("pass", "pass"), False: ("FAIL", "fail"), None: ("not measured", "na")}


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _findings(report: Report) -> list[str]:
    if not report.findings:
        return ["<p>No findings.</p>"]
    out = ['<table class="f"><tr><th class="w">#</th><th class="s">saved</th><th>finding</th></tr>']
    for number, f in enumerate(report.findings, start=1):
        evidence = ", ".join(f"{k} {v}" for k, v in f.evidence.items() if v is not None)
        body = [
            f'<span class="kind">[{_e(f.kind)}]</span> {_e(f.title)}',
            f"<br>fix: {_e(f.fix)}",
        ]
        if f.where:
            body.append(f"<br>where: <code>{_e(f.where)}</code>")
        if f.code:
            body.append(f"<pre>{_e(f.code)}</pre>")
        body.append(f"<br><small>evidence: {_e(evidence)}<br>estimate: {_e(f.formula)}</small>")
        body += [f"<br><small>note: {_e(n)}</small>" for n in f.notes]
        out.append(
            f'<tr><td class="n">{number}</td><td class="saved n">{_e(per_hour(f.saved_ms_per_hour))}'
            f"</td><td>{''.join(body)}</td></tr>"
        )
    out.append("</table>")
    return out


def _endpoints(report: Report) -> list[str]:
    if not report.endpoints:
        return []
    out = [
        "<h2>Slowest endpoints</h2><table><tr><th>endpoint</th><th>calls</th><th>share</th>"
        "<th>mean ms</th><th>p95 ms</th><th>DB ms/req</th><th>queries/req</th></tr>"
    ]
    for r in report.endpoints:
        out.append(
            f"<tr><td><code>{_e(r['endpoint'])}</code></td><td class=n>{r['calls']}</td>"
            f"<td class=n>{100 * r['share']:.1f} %</td><td class=n>{r['mean_ms']:.2f}</td>"
            f"<td class=n>{r['p95_ms']:.2f}</td><td class=n>{r['db_ms_per_request']:.2f}</td>"
            f"<td class=n>{_e(r['queries_per_request'])}</td></tr>"
        )
    out.append("</table>")
    plots = [
        histogram(report.histograms[r["endpoint"]], f"{r['endpoint']}: latency distribution")
        for r in report.endpoints[:MAX_HISTOGRAMS]
        if report.histograms.get(r["endpoint"])
    ]
    if plots:
        out.append("<h2>Latency distributions</h2>")
        out += [f"<div>{plot}</div>" for plot in plots]
    return out


def _benchmark(report: Report) -> list[str]:
    doc = report.benchmark
    if not doc:
        return []
    names = [str(p.get("name")) for p in doc.get("phases", [])]
    rows = benchmark_rows(doc)
    bars = [(row["page"], [(row.get(n) or {}).get("server_p95") for n in names]) for row in rows]
    meta = doc.get("meta") or {}
    out = ["<h2>Benchmark</h2>"]
    if meta:
        facts = ", ".join(
            f"{k} {v}" for k, v in meta.items() if k in ("db", "scale", "workers", "commit", "when")
        )
        out.append(f"<p>{_e(facts)}. {_e(meta.get('method', ''))}</p>")
    out.append(f"<div>{grouped_bars(bars, names, 'ms', 'server p95 per page')}</div>")
    return out


def _checklist(report: Report) -> list[str]:
    out = [
        "<h2>Seed checklist</h2><table><tr><th>criterion</th><th>target</th><th>measured</th>"
        "<th>result</th><th>note</th></tr>"
    ]
    for c in report.checklist:
        text, css = _RESULT[c.passed]
        out.append(
            f"<tr><td>{_e(c.name)}</td><td>{_e(c.target)}</td><td>{_e(c.measured)}</td>"
            f'<td class="{css}">{text}</td><td>{_e(c.note)}</td></tr>'
        )
    out.append("</table>")
    return out


def render_html(report: Report) -> str:
    """The whole report as one HTML document (no script, no external resource)."""
    body = [
        "<h1>Turbina performance report</h1>",
        f"<p>Source: {_e(report.source)}.</p>",
        f'<p class="verdict">{_e(report.verdict)}</p>',
        "<h2>Findings, by estimated time saved</h2>",
        *_findings(report),
        *_endpoints(report),
        *_benchmark(report),
        *_checklist(report),
        "<h2>How the estimates are made</h2><ul>",
        f"<li>cache model: {_e(report.cache_model)}</li>",
        *[f"<li>{_e(n)}</li>" for n in report.notes],
        "</ul>",
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>Turbina performance report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
