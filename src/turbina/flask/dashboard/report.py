"""The Report page: the Performance Optimizer (``turbina.report``) over the dashboard's window.

One store read (the one the blueprint makes for every panel, without the dashboard's own
requests) plus the app's saved index advice and assets facts (``turbina.flask.report_inputs``,
shared with ``turbina report``). No engine is passed to ``build_report``, so this page never
runs EXPLAIN: the Queries page plans a statement on demand. The work is capped: the top
``MAX_FINDINGS`` findings and the plots' data of the endpoints listed. SQL appears only as
the store's fingerprints (literals redacted); the template escapes everything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from turbina.flask.report_inputs import app_inputs
from turbina.flask.state import TurbinaState
from turbina.report import Report, build_report
from turbina.report.render import per_hour
from turbina.store.model import Reading

__all__ = ["MAX_FINDINGS", "download_name", "page_report", "report_view"]

MAX_FINDINGS = 50  # findings kept in the page, its JSON and its HTML download
_RESULT = {True: ("pass", "pass"), False: ("FAIL", "fail"), None: ("not measured", "na")}


def page_report(app: Flask, state: TurbinaState, reading: Reading) -> Report:
    """The report of ``reading`` with the app's saved advice and assets facts, capped."""
    inputs = app_inputs(app, state, strict=False)
    report = build_report(reading=reading, **inputs.build_kwargs())
    found = len(report.findings)
    if found > MAX_FINDINGS:
        report.findings = report.findings[:MAX_FINDINGS]
        report.notes.insert(0, f"the top {MAX_FINDINGS} of {found} findings are shown")
    shown = {str(row["endpoint"]) for row in report.endpoints}
    report.histograms = {k: v for k, v in report.histograms.items() if k in shown}
    report.notes[:0] = inputs.problems
    return report


def report_view(report: Report) -> dict[str, Any]:
    """What the template shows: findings with their numbers in words, checks with results."""
    findings = [
        {
            "rank": number,
            "kind": f.kind,
            "title": f.title,
            "saved": per_hour(f.saved_ms_per_hour),
            "formula": f.formula,
            "fix": f.fix,
            "code": f.code,
            "where": f.where,
            "evidence": [(k, v) for k, v in f.evidence.items() if v is not None],
            "notes": f.notes,
        }
        for number, f in enumerate(report.findings, start=1)
    ]
    checks = [
        {
            "name": c.name,
            "target": c.target,
            "measured": c.measured,
            "result": _RESULT[c.passed][0],
            "css": _RESULT[c.passed][1],
            "note": c.note,
        }
        for c in report.checklist
    ]
    return {
        "source": report.source,
        "verdict": report.verdict,
        "findings": findings,
        "checks": checks,
        "endpoints": report.endpoints,
        "cache_model": report.cache_model,
        "notes": report.notes,
    }


def download_name(window: str, now: float) -> str:
    """The HTML download's file name: the window and the UTC time it was made."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"turbina-report-{window}-{stamp}.html"
