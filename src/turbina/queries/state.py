"""``QueriesState``: the recorders, slow log, N+1 findings of one app (framework-free)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from turbina.config import Settings
from turbina.queries.context import QueryCollector
from turbina.queries.explain import ExplainWorker, is_explainable
from turbina.queries.nplusone import (
    Finding,
    FindingsLog,
    findings,
    lazy_roots,
)
from turbina.queries.recorder import QueryRecorder
from turbina.queries.slow import SlowRules, SlowStatement, slow_statements
from turbina.queries.slowlog import SlowLog
from turbina.queries.stats import QueryStats, WorkloadSample

FINDINGS_CAPACITY = 500
log = logging.getLogger("turbina.queries")


class QueriesState:
    """What ``turbina.queries`` keeps for one app: one ``QueryRecorder`` per engine (name ->
    recorder), a shared ``SlowLog``, the ``FindingsLog`` and the settings they were built from.
    ``slow_rules`` flag statements slow relative to the app (``slow_statements()``); ``root``
    is the application's directory, where call sites are looked for (the Flask glue sets it).
    """

    def __init__(
        self,
        *,
        slow_query_ms: float = 500.0,
        max_fingerprints: int = 5000,
        slow_log_size: int = 500,
        nplusone_threshold: int = 5,
        server_timing: bool | str | Callable[..., Any] = True,
        explain: bool = True,
        explain_interval_s: float = 300.0,
        snapshot_path: str | None = None,
        slow_rules: SlowRules | None = None,
        root: str | None = None,
    ) -> None:
        self.slow_query_ms = slow_query_ms
        self.slow_rules = slow_rules if slow_rules is not None else SlowRules()
        self.root = root
        self.max_fingerprints = max_fingerprints
        self.nplusone_threshold = nplusone_threshold
        self.server_timing = server_timing
        self.explain = explain
        self.explain_interval_s = explain_interval_s
        self.snapshot_path = snapshot_path
        self.slow_log = SlowLog(slow_log_size)
        self.findings = FindingsLog(FINDINGS_CAPACITY)
        self.recorders: dict[str, QueryRecorder] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> QueriesState:
        """Build from a ``turbina.config.Settings``."""
        return cls(
            slow_query_ms=settings.slow_query_ms,
            max_fingerprints=settings.max_fingerprints,
            slow_log_size=settings.slow_log_size,
            nplusone_threshold=settings.nplusone_threshold,
            server_timing=settings.server_timing,
            explain=settings.explain,
            explain_interval_s=settings.explain_interval_s,
            snapshot_path=settings.queries_snapshot,
            slow_rules=SlowRules(
                share=settings.slow_share,
                mean_ms=settings.slow_mean_ms,
                min_calls=settings.slow_min_calls,
            ),
        )

    def attach(self, engine: Engine, name: str | None = None) -> QueryRecorder:
        """Record ``engine`` (idempotent per engine); ``name`` labels it (default: database)."""
        with self._lock:
            existing: QueryRecorder | None = getattr(engine.dialect, "_turbina_recorder", None)
            if existing is not None:
                self.recorders.setdefault(existing.name, existing)
                return existing
            explainer = (
                ExplainWorker(
                    engine, interval_s=self.explain_interval_s, max_tracked=self.max_fingerprints
                )
                if self.explain
                else None
            )
            label = name or engine.url.database or engine.dialect.name
            if label in self.recorders:
                label = f"{label}#{len(self.recorders)}"
            recorder = QueryRecorder(
                engine,
                name=label,
                max_fingerprints=self.max_fingerprints,
                slow_query_ms=self.slow_query_ms,
                explain_ms=min(self.slow_query_ms, self.slow_rules.mean_ms),
                slow_log=self.slow_log,
                explainer=explainer,
            )
            self.recorders[label] = recorder
            return recorder

    def finish(self, collector: QueryCollector) -> list[Finding]:
        """Turn a finished request's collector into findings and remember them."""
        found = findings(collector, self.nplusone_threshold)
        if found:
            self.findings.add(found, lazy_roots(collector, self.nplusone_threshold))
        return found

    def top(self, n: int = 20, sort: str = "total") -> list[tuple[str, QueryStats]]:
        """Heaviest fingerprints over every engine: ``(engine name, stats)``."""
        rows = [
            (name, entry)
            for name, rec in list(self.recorders.items())
            for entry in rec.top(n, sort)
        ]
        keys = {
            "total": lambda r: r[1].total_ms,
            "p95": lambda r: r[1].histogram.percentile(95),
            "calls": lambda r: r[1].calls,
            "mean": lambda r: r[1].mean_ms,
        }
        rows.sort(key=keys[sort], reverse=True)
        return rows[:n]

    def db_total_ms(self) -> float:
        """Database time of every recorded statement, every engine."""
        return sum(e.total_ms for rec in list(self.recorders.values()) for e in rec.stats)

    def slow_statements(self, top: int = 1000) -> list[SlowStatement]:
        """Statements slow relative to the app (``slow_rules``), heaviest first; each row is a
        display-safe summary with its ``engine``."""
        # Shares from the exact totals: the summaries' rounded ones are off by up to ~1 % on
        # sub-millisecond statements.
        rows = [
            dict(entry.summary(), engine=name, total_ms=entry.total_ms)
            for name, entry in self.top(top, "total")
        ]
        return slow_statements(rows, self.slow_rules, self.db_total_ms())

    def explain_unplanned(self, limit: int = 20) -> int:
        """EXPLAIN now (in this thread) the flagged statements that have no plan yet — those
        flagged by their share of DB time whose single runs are all short. Off the request
        path only (the CLI). Returns how many plans were added."""
        flagged = {(s.row["engine"], s.row["fingerprint"]) for s in self.slow_statements()}
        done = 0
        for name, rec in list(self.recorders.items()):
            if rec.explainer is None:
                continue
            for entry in rec.stats:
                if done >= limit:
                    return done
                if entry.plan is not None or (name, entry.fingerprint) not in flagged:
                    continue
                if not is_explainable(entry.fingerprint):
                    continue
                try:
                    entry.plan = rec.explainer.explain(
                        entry.sample_statement, entry.sample_parameters
                    )
                except Exception as exc:  # a plan is an extra: the report goes on without it
                    log.warning(
                        "turbina: EXPLAIN of a flagged statement failed (%s: %s)",
                        exc.__class__.__name__,
                        " ".join(str(exc).split())[:200],
                    )
                    continue
                done += 1
        return done

    def workload_samples(self) -> list[WorkloadSample]:
        """Captured workload of every engine, for the index advisor (in memory only)."""
        return [
            sample for rec in list(self.recorders.values()) for sample in rec.workload_samples()
        ]

    def snapshot(self, top: int = 1000) -> dict[str, Any]:
        """A redacted, JSON-able view: top queries, slow log, findings (no raw SQL or parameters)."""
        return {
            "slow_query_ms": self.slow_query_ms,
            "slow_rules": self.slow_rules.to_dict(),
            "db_total_ms": round(self.db_total_ms(), 3),
            "queries": [
                dict(entry.summary(), engine=name) for name, entry in self.top(top, "total")
            ],
            "slow_total": self.slow_log.total,
            "slow_log": [entry.to_dict() for entry in self.slow_log.entries()],
            "findings": [seen.to_dict() for seen in self.findings.all()],
        }

    def save_snapshot(self, path: str | Path) -> None:
        """Write ``snapshot()`` as JSON (atomically), for ``flask turbina queries --from``."""
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), default=str, indent=1))
        tmp.replace(target)

    def save_snapshot_if_used(self, path: str | Path) -> bool:
        """``save_snapshot`` unless nothing was recorded (so a CLI process that served no
        request never overwrites the app's snapshot with an empty one)."""
        if not any(len(rec.stats) for rec in self.recorders.values()) and not len(self.findings):
            return False
        self.save_snapshot(path)
        return True

    def reset(self) -> None:
        """Forget stats, the slow log and findings."""
        for rec in self.recorders.values():
            rec.reset()
        self.slow_log.clear()
        self.findings.clear()

    def close(self) -> None:
        """Detach every recorder."""
        for rec in self.recorders.values():
            rec.close()
        self.recorders.clear()
