"""What a performance report is made of: findings, checks, and the report itself.

A ``Finding`` is one thing to change, with its evidence, the fix, and the estimated time it
saves per hour of the observed traffic (``saved_ms_per_hour``) and the formula that estimate
came from. A ``Check`` is one acceptance criterion of the seed with the measured value and
``passed`` (``None``: not measured). Framework-free, JSON-ready through ``to_json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["KINDS", "Check", "Finding", "Report"]

KINDS = ("endpoint", "nplusone", "repeated", "slow_query", "index", "cache", "asset")


@dataclass
class Finding:
    """One thing to change, ranked by ``saved_ms_per_hour``."""

    kind: str  # one of KINDS
    title: str
    evidence: dict[str, Any]  # numbers (and short facts) the estimate rests on
    fix: str  # what to do, in one sentence
    saved_ms_per_hour: float  # estimated time saved per hour of the observed traffic
    formula: str  # how saved_ms_per_hour was computed, with the numbers
    code: str | None = None  # code to paste: a loader option, a DDL statement, a decorator
    where: str | None = None  # where it goes (a call site) or what it is about (an endpoint)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["saved_ms_per_hour"] = round(self.saved_ms_per_hour, 3)
        return data


@dataclass
class Check:
    """One acceptance criterion: ``passed`` is ``None`` when it was not measured."""

    name: str
    target: str
    measured: str
    passed: bool | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Everything ``render_*`` prints: ranked findings, tables, plots' data, the checklist."""

    source: str  # what was read, in words
    window_s: float | None  # the traffic the rates are per (None: unknown)
    findings: list[Finding] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)  # slowest first, with share
    histograms: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    plans: list[dict[str, Any]] = field(default_factory=list)  # slow SELECTs and their plans
    cache_model: str = ""
    checklist: list[Check] = field(default_factory=list)
    verdict: str = ""
    benchmark: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "turbina.report",
            "version": 1,
            "source": self.source,
            "window_s": self.window_s,
            "findings": [f.to_json() for f in self.findings],
            "endpoints": self.endpoints,
            "histograms": {k: [list(p) for p in v] for k, v in self.histograms.items()},
            "plans": self.plans,
            "cache_model": self.cache_model,
            "checklist": [c.to_json() for c in self.checklist],
            "verdict": self.verdict,
            "benchmark": self.benchmark,
            "notes": self.notes,
        }
