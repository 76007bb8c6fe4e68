"""Findings from the store (or a snapshot) and the saved index advice, ranked together.

Every finding carries the time it would save per hour of the observed traffic and the formula:

- N+1 / repeated statement: ``requests/h x (loads-1)/loads x DB ms of its loads per request``
  (one batched query replaces the ``loads`` runs; its cost is taken as one run's). The DB ms of
  the loads is the endpoint's DB ms per request times the loads' share of its statements (the
  store keeps no time per finding), or a snapshot's measured time of the loads.
- slow query: ``calls/h x (mean - target)``, the time above the target (PgHero's 20 ms mean).
- index: ``sum over the statements it helps of (1 - cost after/cost before) x their DB ms/h``
  (the advisor's estimated gain share; the share of the whole workload's cost when a statement
  is not found in the window).
- endpoint: ``calls/h x (DB ms per request - 50 ms)``, the time above the seed's DB target.
- cache: see ``cache_advice``; assets: see ``asset_advice``.

The estimates overlap (an N+1 fixed also lowers its endpoint's and its statement's time):
each is what that change alone would save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from turbina.queries.fingerprint import fingerprint
from turbina.queries.nplusone import LAZY_LOAD, REPEATED_STATEMENT
from turbina.queries.slow import SlowRules, slow_statements
from turbina.report.inputs import Facts
from turbina.report.model import Finding

__all__ = [
    "DB_TARGET_MS",
    "endpoint_findings",
    "endpoint_table",
    "index_findings",
    "nplusone_findings",
    "rank",
    "slow_findings",
]

DB_TARGET_MS = 50.0  # the seed: "DB response < 50 ms"
MAX_ENDPOINTS = 20  # rows of the slowest-endpoints table


def rank(findings: list[Finding]) -> list[Finding]:
    """Every kind together, most time saved first (ties: kind order, then title)."""
    return sorted(findings, key=lambda f: (-f.saved_ms_per_hour, f.kind, f.title))


def _endpoint_index(facts: Facts) -> dict[str, dict[str, Any]]:
    """Endpoint rows by url rule (the busiest method when a rule has several)."""
    out: dict[str, dict[str, Any]] = {}
    for row in facts.endpoints:
        name = str(row["endpoint"])
        if name not in out or row["calls"] > out[name]["calls"]:
            out[name] = row
    return out


def endpoint_table(facts: Facts) -> list[dict[str, Any]]:
    """The slowest endpoints by total time, each with its share of all request time."""
    whole = sum(float(r["total_ms"]) for r in facts.endpoints)
    rows = sorted(facts.endpoints, key=lambda r: float(r["total_ms"]), reverse=True)
    return [
        {
            "endpoint": f"{r['method']} {r['endpoint']}",
            "calls": r["calls"],
            "total_ms": r["total_ms"],
            "share": round(float(r["total_ms"]) / whole, 4) if whole else 0.0,
            "mean_ms": r["mean_ms"],
            "p95_ms": r["p95_ms"],
            "db_ms_per_request": round(float(r["db_ms"]) / r["calls"], 3) if r["calls"] else 0.0,
            "queries_per_request": r["queries_per_request"],
        }
        for r in rows[:MAX_ENDPOINTS]
    ]


def endpoint_findings(facts: Facts, target_ms: float = DB_TARGET_MS) -> list[Finding]:
    """Endpoints whose mean DB time per request is over the seed's target."""
    whole = sum(float(r["total_ms"]) for r in facts.endpoints)
    found = []
    for row in facts.endpoints:
        calls = int(row["calls"])
        db_per = float(row["db_ms"]) / calls if calls else 0.0
        if db_per <= target_ms:
            continue
        per_hour = facts.per_hour(calls)
        saved = per_hour * (db_per - target_ms)
        share = float(row["total_ms"]) / whole if whole else 0.0
        name = f"{row['method']} {row['endpoint']}"
        found.append(
            Finding(
                kind="endpoint",
                title=(
                    f"{name}: {db_per:.1f} ms of DB time per request (target < {target_ms:g} "
                    f"ms), {share:.0%} of all request time"
                ),
                evidence={
                    "calls": calls,
                    "mean_ms": row["mean_ms"],
                    "p95_ms": row["p95_ms"],
                    "db_ms_per_request": round(db_per, 3),
                    "queries_per_request": row["queries_per_request"],
                    "share_of_request_time": round(share, 4),
                },
                fix="apply its N+1, index and cache findings below; measure it again",
                saved_ms_per_hour=saved,
                formula=(
                    f"{per_hour:.0f} requests/h x ({db_per:.2f} - {target_ms:g}) ms "
                    f"= {saved:,.0f} ms/h"
                ),
                where=name,
            )
        )
    return found


def _mean_statement_ms(facts: Facts) -> float | None:
    calls = sum(int(q.get("calls") or 0) for q in facts.queries)
    return (facts.db_total_ms or 0.0) / calls if calls and facts.db_total_ms else None


def _loads_ms_per_request(
    row: Mapping[str, Any], facts: Facts, endpoints: dict[str, dict[str, Any]]
) -> tuple[float | None, str]:
    """DB ms of one request's loads of a finding, and where that number comes from."""
    requests = int(row.get("requests") or 0)
    loads = int(row.get("total_loads") or 0) / requests if requests else 0.0
    measured = row.get("total_ms")
    seen = int(row.get("loads") or 0)
    if isinstance(measured, int | float) and seen > 0:  # a snapshot: one request's loads
        return float(measured) / seen * loads, "measured time of its loads"
    endpoint = endpoints.get(str(row.get("endpoint")))
    if endpoint is not None and endpoint["calls"] and endpoint["queries_per_request"]:
        db_per = float(endpoint["db_ms"]) / endpoint["calls"]
        share = min(1.0, loads / float(endpoint["queries_per_request"]))
        return db_per * share, (
            f"its endpoint's {db_per:.2f} DB ms/request x {share:.0%} of its statements"
        )
    mean = _mean_statement_ms(facts)
    if mean is not None:
        return mean * loads, f"{loads:.1f} loads x the window's mean statement {mean:.3f} ms"
    return None, "no DB time known"


def nplusone_findings(facts: Facts) -> list[Finding]:
    """N+1 relationship loads (``nplusone``) and repeated statements (``repeated``)."""
    endpoints = _endpoint_index(facts)
    found = []
    for row in facts.findings:
        requests = int(row.get("requests") or 0)
        if not requests:
            continue
        loads = int(row.get("total_loads") or 0) / requests
        per_request, basis = _loads_ms_per_request(row, facts, endpoints)
        per_hour = facts.per_hour(requests)
        lazy = row.get("kind") == LAZY_LOAD
        if row.get("kind") not in (LAZY_LOAD, REPEATED_STATEMENT):
            continue
        if per_request is None or loads <= 1:
            saved, formula = 0.0, f"not estimated: {basis}"
        else:
            saved = per_hour * (loads - 1) / loads * per_request
            formula = (
                f"{per_hour:.0f} requests/h x ({loads:.1f}-1)/{loads:.1f} x {per_request:.2f} "
                f"DB ms of its loads per request ({basis}) = {saved:,.0f} ms/h"
            )
        subject = str(row.get("subject", "?"))
        endpoint = row.get("endpoint")
        at = f" in {endpoint}" if endpoint else ""
        fix = str(row.get("fix", ""))
        if lazy:
            target = row.get("query_site")
            where = f"the query at {target}" if target else "the query that loads the parents"
            title = f"N+1: {subject} lazy-loaded {loads:.1f} times per request{at}"
            advice = f"add .options({fix}) to {where}"
        else:
            title = f"repeated statement: run {loads:.1f} times per request{at}: {subject}"
            advice = "run it once for every value (the batched query below)"
        found.append(
            Finding(
                kind="nplusone" if lazy else "repeated",
                title=title,
                evidence={
                    "requests": requests,
                    "loads_per_request": round(loads, 2),
                    "max_loads": int(row.get("max_loads") or 0),
                    "db_ms_of_loads_per_request": None
                    if per_request is None
                    else round(per_request, 3),
                },
                fix=advice,
                saved_ms_per_hour=saved,
                formula=formula,
                code=fix or None,
                where=str(row.get("callsite") or endpoint or "") or None,
                notes=[f"loop at {row['loop']}"] if row.get("loop") else [],
            )
        )
    return found


_DML = ("select", "with", "insert", "update", "delete")


def _is_dml(shape: str) -> bool:
    """Reads and writes; DDL (a ``create table`` at start-up) is not a finding."""
    return shape.lstrip().split(" ", 1)[0].lower() in _DML


def slow_findings(
    facts: Facts,
    plans: Mapping[str, list[str]] | None = None,
    rules: SlowRules | None = None,
    top: int = 10,
) -> list[Finding]:
    """Statements slow relative to the app (``turbina.queries.slow``), and the single runs
    the slow log kept: the time above the target (``rules.mean_ms``) per hour."""
    rules = rules or SlowRules()
    plans = plans or {}
    target = rules.mean_ms
    found = []
    statements = [q for q in facts.queries if _is_dml(str(q.get("fingerprint", "")))]
    flagged = slow_statements(statements, rules, facts.db_total_ms or None)[:top]
    logged = {str(e.get("sql", "")) for e in facts.slow if _is_dml(str(e.get("sql", "")))}
    for item in flagged:
        row = item.row
        shape = str(row.get("fingerprint", ""))
        calls, mean = int(row["calls"]), float(row["mean_ms"])
        per_hour = facts.per_hour(calls)
        saved = per_hour * max(0.0, mean - target)
        lines = plans.get(shape)
        if lines is None and isinstance(row.get("plan"), Mapping):
            lines = [str(n) for n in row["plan"].get("nodes", [])]
            lines += [f"! {w}" for w in row["plan"].get("warnings", [])]
        notes = [] if lines else ["no plan: the store keeps no plans (pass --explain)"]
        found.append(
            Finding(
                kind="slow_query",
                title=f"slow statement ({'; '.join(item.reasons)}): {shape}",
                evidence={
                    "calls": calls,
                    "mean_ms": mean,
                    "p95_ms": row.get("p95_ms"),
                    "max_ms": row.get("max_ms"),
                    "total_ms": row.get("total_ms"),
                    "share_of_db_time": round(item.share, 4),
                },
                fix=(
                    "index it (see the index findings), fetch fewer rows, or cache its result"
                    if mean >= target
                    else "run it less often: batch it or cache its result"
                ),
                saved_ms_per_hour=saved,
                formula=(
                    f"{per_hour:.0f} calls/h x max(0, {mean:.2f} - {target:g}) ms "
                    f"= {saved:,.0f} ms/h"
                ),
                code="\n".join(lines) if lines else None,
                notes=notes,
            )
        )
    shown = {str(f.row.get("fingerprint", "")) for f in flagged}
    for sql in sorted(logged - shown)[:top]:
        runs = [e for e in facts.slow if str(e.get("sql", "")) == sql]
        worst = max(float(e.get("duration_ms") or 0) for e in runs)
        saved = facts.per_hour(len(runs)) * max(0.0, worst - target)
        found.append(
            Finding(
                kind="slow_query",
                title=f"slow run{'s' if len(runs) > 1 else ''} logged ({worst:,.0f} ms): {sql}",
                evidence={"runs_logged": len(runs), "max_ms": worst},
                fix="index it (see the index findings) or fetch fewer rows",
                saved_ms_per_hour=saved,
                formula=(
                    f"{facts.per_hour(len(runs)):.0f} runs/h x max(0, {worst:.0f} - {target:g})"
                    f" ms = {saved:,.0f} ms/h (the slow log keeps at most 200 runs an hour)"
                ),
                code="\n".join(plans[sql]) if sql in plans else None,
                where=str(runs[0].get("endpoint") or "") or None,
            )
        )
    return found


def _shape(sql: str) -> str:
    return fingerprint(sql.replace('"', ""))


def index_findings(facts: Facts, advice: Mapping[str, Any] | None) -> list[Finding]:
    """The advisor's indexes (the saved report), each with its DDL, size and write cost."""
    if not advice:
        return []
    report = advice.get("report", advice)
    base = float(report.get("base_cost") or 0.0)
    unit = str(report.get("cost_unit") or "cost")
    by_shape = {_shape(str(q.get("fingerprint", ""))): q for q in facts.queries}
    by_fingerprint = {str(q.get("fingerprint", "")): q for q in facts.queries}
    db_hour = facts.per_hour(facts.db_total_ms or 0.0)
    found = []
    for rec in report.get("indexes", []):
        if not isinstance(rec, Mapping):
            continue
        saved, parts, unmatched = 0.0, [], 0
        for q in rec.get("queries", []):
            # Per-call plan costs: their ratio is the statement's gain; their unit is not the
            # workload total's (which weighs each statement by its calls or time).
            before, after = float(q.get("before") or 0), float(q.get("after") or 0)
            gain = max(0.0, 1.0 - after / before) if before > 0 else 0.0
            row = by_fingerprint.get(str(q.get("fingerprint") or "")) or by_shape.get(
                _shape(str(q.get("sql", "")))
            )
            if row is not None:
                ms = facts.per_hour(float(row["total_ms"]))
                saved += gain * ms
                parts.append(f"{gain:.0%} x {ms:,.0f}")
            else:
                unmatched += 1
        if unmatched and base > 0:
            # A statement the window does not show: the index's whole benefit as a share of
            # the advised workload's cost, applied to the window's DB time instead.
            share = min(1.0, max(0.0, float(rec.get("benefit") or 0.0) / base))
            saved = share * db_hour
            parts = [f"{share:.1%} of the advised workload's cost x {db_hour:,.0f} DB ms/h"]
        saved = min(saved, db_hour) if db_hour > 0 else saved
        write = float(rec.get("write_cost") or 0.0)
        write_text = (
            f"+{write:,.1f} {unit} on writes (+{100 * write / base:.1f} % of the workload)"
            if base
            else f"+{write:,.1f} {unit} on writes"
        )
        ddl = str(rec.get("ddl", "?"))
        found.append(
            Finding(
                kind="index",
                title=f"index {rec.get('table', '?')}({', '.join(rec.get('columns', []))})",
                evidence={
                    "size_bytes": rec.get("size_bytes"),
                    "benefit": rec.get("benefit"),
                    "write_cost": write,
                    "statements_helped": len(rec.get("queries", [])),
                },
                fix=f"create it (a migration); write cost {write_text}",
                saved_ms_per_hour=saved,
                formula=(
                    f"sum of gain share x DB ms/h of each statement it helps: "
                    f"{' + '.join(parts) or '0'} = {saved:,.0f} ms/h"
                ),
                code=ddl,
                notes=[
                    f"{unmatched} statement(s) it helps are not in the window: estimated from "
                    "its share of the advised workload's cost"
                ]
                if unmatched
                else [],
            )
        )
    return found
