"""``build_report``: every input read, every finding ranked, the checklist evaluated.

Inputs, any of them optional: a store window (``Reading``), a ``QueriesState`` snapshot dict,
a benchmark document (``turbina.benchmark``), the saved index advice
(``turbina.indexes.saved.load_report``) and the assets facts (``asset_advice``). With an
``engine``, the slow SELECTs get a generic plan (``plans``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from turbina.queries.slow import SlowRules, slow_statements
from turbina.report import asset_advice, cache_advice, checklist
from turbina.report.findings import (
    endpoint_findings,
    endpoint_table,
    index_findings,
    nplusone_findings,
    rank,
    slow_findings,
)
from turbina.report.inputs import Facts, from_reading, from_snapshot
from turbina.report.model import Report
from turbina.report.plans import explain_all
from turbina.store.model import Reading

__all__ = ["build_report"]


def _facts(reading: Reading | None, snapshot: Mapping[str, Any] | None) -> Facts | None:
    if reading is not None:
        return from_reading(reading)
    if snapshot is not None:
        return from_snapshot(dict(snapshot))
    return None


def build_report(
    reading: Reading | None = None,
    snapshot: Mapping[str, Any] | None = None,
    benchmark: Mapping[str, Any] | None = None,
    index_advice: Mapping[str, Any] | None = None,
    assets: Mapping[str, Any] | None = None,
    *,
    engine: sa.Engine | None = None,
    rules: SlowRules | None = None,
) -> Report:
    """The report of whatever was given (a ``TurbinaError`` for a malformed benchmark)."""
    doc = checklist.check_benchmark(benchmark) if benchmark is not None else None
    facts = _facts(reading, snapshot)
    if snapshot is not None and reading is None and rules is None:
        rules = SlowRules.from_dict(snapshot.get("slow_rules"))
    sources = [facts.source] if facts else []
    if doc is not None:
        sources.append(f"benchmark {doc['before']} -> {doc['after']}")
    if index_advice:
        sources.append("saved index advice")
    if assets:
        sources.append("assets facts")
    report = Report(
        source=", ".join(sources) or "nothing", window_s=facts.window_s if facts else None
    )
    report.benchmark = doc
    report.cache_model = cache_advice.MODEL
    found = []
    if facts is not None:
        plans: dict[str, list[str]] = {}
        if engine is not None:
            flagged = slow_statements(
                facts.queries, rules or SlowRules(), facts.db_total_ms or None
            )
            shapes = [str(s.row.get("fingerprint", "")) for s in flagged]
            shapes += [str(e.get("sql", "")) for e in facts.slow]
            plans = explain_all(engine, shapes)
            report.plans = [{"fingerprint": k, "plan": v} for k, v in plans.items()]
        found += endpoint_findings(facts)
        found += nplusone_findings(facts)
        found += slow_findings(facts, plans, rules)
        found += index_findings(facts, index_advice)
        found += cache_advice.advise(
            facts.endpoints, facts.queries, facts.cache, facts.window_s, facts.per_hour
        )
        report.endpoints = endpoint_table(facts)
        report.histograms = dict(facts.histograms)
        if facts.window_s is None:
            report.notes.append(
                "the snapshot records no span of time: estimates are per snapshot, not per hour"
            )
        if reading is None:
            report.notes.append(
                "a snapshot has no endpoints or cache counters: no endpoint or cache advice"
            )
    elif index_advice:
        found += index_findings(Facts(source="", window_s=None), index_advice)
    found += asset_advice.advise(assets)
    report.findings = rank(found)
    if doc is not None:
        report.checklist = checklist.from_benchmark(doc)
    elif facts is not None:
        report.checklist = checklist.from_facts(facts)
    else:
        report.checklist = checklist.from_facts(Facts(source="", window_s=None))
    report.verdict = checklist.verdict(report.checklist)
    report.notes.append(
        "each estimate is what that change alone saves; they overlap (an N+1 fixed also "
        "lowers its endpoint's time), so do not add them up"
    )
    return report
