"""Index selection with Extend (Schlosser, Kossmann, Boissier — ICDE 2019).

Start from no new index. Each round, try every move — a new single-column index (or its
partial variant), one more column appended to a chosen index, a partial or INCLUDE variant of
a chosen index — re-cost the whole weighted workload with the what-if backend, and take the
move with the best cost reduction per added byte. Stop when no move improves the workload by
``min_improvement`` of its current cost, the storage budget is spent, or time runs out.
Costs are cached by (statement, the chosen indexes on the tables it reads).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from turbina.indexes.candidates import CandidateSpace, TableUsage, analyze
from turbina.indexes.spec import IndexSpec
from turbina.indexes.whatif import CandidateRejected, WhatIfBackend
from turbina.indexes.workload import WorkloadQuery

DEFAULT_BUDGET_SHARE = 0.5
DEFAULT_MIN_IMPROVEMENT = 0.01
DEFAULT_MAX_SECONDS = 60.0
MAX_ROUNDS = 50
MAX_NOTES = 50

Config = frozenset[IndexSpec]


@dataclass
class QueryEffect:
    """One statement's cost before (no new index) and after (the advice)."""

    query: WorkloadQuery
    before: float
    after: float


@dataclass
class Recommendation:
    """One advised index with its size, its share of the saving and the statements it helps."""

    spec: IndexSpec
    size: int
    benefit: float
    queries: list[QueryEffect] = field(default_factory=list)


@dataclass
class Advice:
    """The advisor's result; ``report`` renders it."""

    dialect: str
    backend: str
    recommendations: list[Recommendation]
    base_cost: float
    final_cost: float
    effects: list[QueryEffect]
    budget: int
    rounds: int
    seconds: float
    stopped: str
    existing: list[IndexSpec]
    notes: list[str] = field(default_factory=list)

    @property
    def specs(self) -> list[IndexSpec]:
        return [r.spec for r in self.recommendations]

    @property
    def total_size(self) -> int:
        return sum(r.size for r in self.recommendations)


class Advisor:
    """Extend over a workload, with one what-if backend. ``progress`` gets one line per round."""

    def __init__(
        self,
        backend: WhatIfBackend,
        queries: Sequence[WorkloadQuery],
        budget: int | None = None,
        budget_share: float = DEFAULT_BUDGET_SHARE,
        min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.min_improvement = min_improvement
        self.max_seconds = max_seconds
        self.progress = progress or (lambda _line: None)
        self.notes: list[str] = []
        schema = backend.schema()
        self.usages: dict[str, list[TableUsage]] = {}
        kept: list[WorkloadQuery] = []
        for query in queries:
            usages = analyze(query.sql, backend.dialect, schema)
            if usages and query.key not in self.usages:
                self.usages[query.key] = usages
                kept.append(query)
        self.queries = kept
        self.tables = {q.key: frozenset(u.table for u in self.usages[q.key]) for q in kept}
        all_tables = set().union(*self.tables.values()) if kept else set()
        analyzed = backend.analyze_if_missing(all_tables)
        if analyzed:
            self.notes.append(f"ran ANALYZE first (no statistics): {', '.join(sorted(analyzed))}")
        self.budget = (
            budget if budget is not None else int(budget_share * backend.table_bytes(all_tables))
        )
        backend.size_guard = self.budget
        self.existing = backend.existing_indexes()
        self.space = CandidateSpace(
            [u for q in kept for u in self.usages[q.key]],
            existing=self.existing,
            supports_include=backend.supports_include,
            fraction=backend.fraction,
            distinct=backend.distinct_count,
        )
        self._costs: dict[tuple[str, Config], float | None] = {}
        self._sizes: dict[IndexSpec, int] = {}
        self._base: dict[str, float] = {}
        self._last_map: tuple[Config, dict[str, Config]] | None = None

    # --- costing -------------------------------------------------------------------------
    def _relevant_map(self, config: Config) -> dict[str, Config]:
        """For each statement, the indexes of ``config`` on the tables it reads (the cost key)."""
        if self._last_map is not None and self._last_map[0] == config:
            return self._last_map[1]
        by_table: dict[str, set[IndexSpec]] = {}
        for spec in config:
            by_table.setdefault(spec.table, set()).add(spec)
        empty: Config = frozenset()
        out = {}
        for query in self.queries:
            specs = [s for t in self.tables[query.key] for s in by_table.get(t, ())]
            out[query.key] = frozenset(specs) if specs else empty
        self._last_map = (config, out)
        return out

    def _fill(self, config: Config) -> None:
        relevant_map = self._relevant_map(config)
        groups: dict[Config, list[WorkloadQuery]] = {}
        for query in self.queries:
            relevant = relevant_map[query.key]
            if (query.key, relevant) not in self._costs:
                groups.setdefault(relevant, []).append(query)
        for relevant, queries in groups.items():
            costs, sizes = self.backend.costs(relevant, queries)
            self._sizes.update(sizes)
            for query, cost in zip(queries, costs, strict=True):
                self._costs[(query.key, relevant)] = cost

    def query_cost(self, query: WorkloadQuery, config: Config) -> float | None:
        """Plan cost of one statement under ``config`` (cached)."""
        self._fill(config)
        return self._costs[(query.key, self._relevant_map(config)[query.key])]

    def _estimate(self, query: WorkloadQuery, cost: float) -> float:
        # With timings, a statement weighs its measured time scaled by the plan-cost ratio;
        # without, calls x plan cost.
        base = self._base.get(query.key, 0.0)
        if query.mean_ms is not None and base > 0:
            return query.weight * cost / base
        return query.calls * cost

    def total(self, config: Config) -> float:
        """Estimated weighted cost of the whole workload under ``config``."""
        self._fill(config)
        relevant_map = self._relevant_map(config)
        total = 0.0
        for query in self.queries:
            cost = self._costs[(query.key, relevant_map[query.key])]
            if cost is not None:
                total += self._estimate(query, cost)
        return total

    def size(self, config: Collection[IndexSpec]) -> int:
        return sum(self._sizes.get(s, 0) for s in config)

    # --- moves ---------------------------------------------------------------------------
    def moves(self, config: Config) -> list[Config]:
        """Every configuration one Extend step away from ``config``."""
        out: dict[Config, None] = {}
        for spec in self.space.singles():
            if spec not in config and not any(c.covers(spec) for c in config):
                out[config | {spec}] = None
        for chosen in config:
            rest = config - {chosen}
            for column in self.space.appendable(chosen):
                longer = chosen.appended(column)
                if not self.space.covered(longer):
                    out[rest | {longer}] = None
            for variant in self.space.variants(chosen):
                out[rest | {variant}] = None
        return list(out)

    def run(self) -> Advice:
        """Run Extend and return the advice (never changes data: costs come from what-if)."""
        started = time.monotonic()
        empty: Config = frozenset()
        self._fill(empty)
        for query in self.queries:
            cost = self._costs[(query.key, empty)]
            if cost is not None:
                self._base[query.key] = cost
        self.queries = [q for q in self.queries if q.key in self._base]
        base_total = self.total(empty)
        config, current = empty, base_total
        rounds, stopped = 0, "no move improves the workload by the minimum margin"
        while rounds < MAX_ROUNDS:
            best: tuple[tuple[float, float], Config, float] | None = None
            for move in self.moves(config):
                if time.monotonic() - started > self.max_seconds:
                    stopped = f"time limit ({self.max_seconds:.0f} s) reached"
                    break
                try:
                    cost = self.total(move)
                except CandidateRejected as exc:
                    if exc.message not in self.notes and len(self.notes) < MAX_NOTES:
                        self.notes.append(exc.message)
                    continue
                added = self.size(move) - self.size(config)
                if self.size(move) > self.budget:
                    continue
                benefit = current - cost
                shrink = added < 0 and benefit >= -0.001 * current
                if benefit <= self.min_improvement * current and not shrink:
                    continue
                # Benefit per added byte; a move that adds no bytes wins, the larger benefit first.
                score = (float("inf"), benefit) if added <= 0 else (benefit / added, benefit)
                if best is None or score > best[0]:
                    best = (score, move, cost)
            if best is None:
                break
            rounds += 1
            _score, config, new_cost = best
            self.progress(
                f"round {rounds}: {_describe(config)} -> estimated cost {new_cost:,.1f} "
                f"({100 * (1 - new_cost / base_total) if base_total else 0:.1f}% below none), "
                f"{self.size(config):,} bytes"
            )
            current = new_cost
            if stopped.startswith("time limit"):
                break
        else:
            stopped = f"round limit ({MAX_ROUNDS}) reached"
        config, current = self._prune(config, current)
        if rounds == 0 and not stopped.startswith("time"):
            stopped = "no index improves the workload by the minimum margin"
        return self._advice(
            config, base_total, current, rounds, time.monotonic() - started, stopped
        )

    def _prune(self, config: Config, current: float) -> tuple[Config, float]:
        """Drop chosen indexes that later choices made useless (removing them costs < 0.1 %)."""
        for spec in sorted(config, key=IndexSpec.sort_key):
            without = config - {spec}
            cost = self.total(without)
            if cost <= current * 1.001:
                self.progress(f"pruned {spec.describe()}: later indexes cover its benefit")
                config, current = without, min(current, cost)
        return config, current

    def _advice(
        self, config: Config, base: float, final: float, rounds: int, seconds: float, stopped: str
    ) -> Advice:
        empty: Config = frozenset()
        effects = []
        for query in self.queries:
            after = self.query_cost(query, config)
            effects.append(
                QueryEffect(
                    query,
                    self._base[query.key],
                    after if after is not None else self._base[query.key],
                )
            )
        recommendations = []
        for spec in sorted(config, key=IndexSpec.sort_key):
            without = config - {spec}
            helped = []
            for query in self.queries:
                if spec.table not in self.tables[query.key]:
                    continue
                cost_with, cost_without = (
                    self.query_cost(query, config),
                    self.query_cost(query, without),
                )
                if (
                    cost_with is not None
                    and cost_without is not None
                    and cost_with < cost_without * 0.99
                ):
                    helped.append(QueryEffect(query, self._base[query.key], cost_with))
            recommendations.append(
                Recommendation(spec, self._sizes.get(spec, 0), self.total(without) - final, helped)
            )
        recommendations.sort(key=lambda r: r.benefit, reverse=True)
        notes = self.notes + self.backend.notes
        return Advice(
            dialect=self.backend.dialect,
            backend=self.backend.name,
            recommendations=recommendations,
            base_cost=base,
            final_cost=final if config != empty else base,
            effects=effects,
            budget=self.budget,
            rounds=rounds,
            seconds=seconds,
            stopped=stopped,
            existing=self.existing,
            notes=list(dict.fromkeys(notes))[:50],
        )


def _describe(config: Config) -> str:
    return "; ".join(s.describe() for s in sorted(config, key=IndexSpec.sort_key)) or "(none)"
