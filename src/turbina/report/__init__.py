"""``turbina.report``: the Performance Optimizer — what to change first, and the seed's checklist.

``build_report`` reads a store window, a snapshot, a benchmark document, the saved index advice
and the assets facts; it ranks N+1, repeated-statement, slow-query, index, cache, endpoint and
asset findings together by the time each would save per hour of the observed traffic, and
evaluates the seed's acceptance criteria. ``render_text``/``render_markdown``/``render_html``
print it; ``Report.to_json`` gives it as data. Framework-free.
"""

from __future__ import annotations

from turbina.report.build import build_report
from turbina.report.model import Check, Finding, Report
from turbina.report.render import render_markdown, render_text
from turbina.report.render_html import render_html

__all__ = [
    "Check",
    "Finding",
    "Report",
    "build_report",
    "render_html",
    "render_markdown",
    "render_text",
]
