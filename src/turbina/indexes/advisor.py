"""Index selection with Extend (Schlosser, Kossmann, Boissier — ICDE 2019).

Start from no new index. Each round, try every move — a new single-column index (or its
partial variant), one more column appended to a chosen index, two equality columns of a
chosen index swapped, a partial or INCLUDE variant of a chosen index, or a chosen partial
index merged with the plain one beside it into one composite — re-cost the whole weighted workload with the what-if backend, and take the move
with the best net saving per added byte. The objective is the reads' cost plus the cost of
maintaining the new indexes under the workload's writes.

One threshold rule, on every backend (``acceptable``): a move is taken when its net saving
(read saving minus added write cost) is positive and either

- at least ``min_improvement`` (1 %) of the workload's *starting* cost (no new index), or
- the move alone saves at least half of the starting cost of one statement whose starting
  cost is at least the backend's ``min_statement_cost`` (Dexter's per-query rule: 100 planner
  units on PostgreSQL; 5,000 estimated rows visited on SQLite, about what 100 units read; 1 ms
  on the measured SQLite path);

a move that frees storage is taken when it costs at most 0.1 % of the starting cost. At the
end, an index that would not pass the rule if it were added last is pruned. The run stops
when no move passes (the margin), the best passing moves do not fit the storage budget (the
budget: they are reported), or the round or time limit is reached.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from turbina.indexes.candidates import CandidateSpace, TableUsage, analyze_statement
from turbina.indexes.spec import IndexSpec
from turbina.indexes.whatif import CandidateRejected, WhatIfBackend
from turbina.indexes.workload import Skipped, Workload, WorkloadQuery, WriteLoad, as_workload

DEFAULT_BUDGET_SHARE = 0.5
DEFAULT_MIN_IMPROVEMENT = 0.01
DEFAULT_MAX_SECONDS = 60.0
MIN_STATEMENT_SAVING = 0.5
SHRINK_TOLERANCE = 0.001
MAX_ROUNDS = 50
MAX_NOTES = 50
MAX_BLOCKED = 3
MAX_CACHED_CONFIGS = 512  # per-configuration maps and totals kept (cleared when full)

Config = frozenset[IndexSpec]
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class QueryEffect:
    """One statement's cost before (no new index) and after (the advice)."""

    query: WorkloadQuery
    before: float
    after: float


@dataclass
class Recommendation:
    """One advised index: its size, its share of the saving (net of its write cost), the
    write cost it adds, and the statements it helps."""

    spec: IndexSpec
    size: int
    benefit: float
    queries: list[QueryEffect] = field(default_factory=list)
    write_cost: float = 0.0


@dataclass(frozen=True)
class Blocked:
    """A move that passed the threshold rule but did not fit the budget."""

    specs: tuple[IndexSpec, ...]
    added_bytes: int
    saving: float


@dataclass
class Advice:
    """The advisor's result; ``report`` renders it. Costs include the write cost."""

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
    stop_reason: str = "margin"  # margin | budget | rounds | time
    blocked: list[Blocked] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    writes: list[WriteLoad] = field(default_factory=list)
    write_cost: float = 0.0
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT
    min_statement_cost: float = 100.0
    cost_unit: str = "cost"
    backend_notes: list[str] = field(default_factory=list)

    @property
    def specs(self) -> list[IndexSpec]:
        return [r.spec for r in self.recommendations]

    @property
    def total_size(self) -> int:
        return sum(r.size for r in self.recommendations)


def _merge_duplicates(queries: Iterable[WorkloadQuery]) -> list[WorkloadQuery]:
    """One statement per key: calls add up, mean times average by calls."""
    merged: dict[str, WorkloadQuery] = {}
    for query in queries:
        seen = merged.get(query.key)
        if seen is None:
            merged[query.key] = query
            continue
        calls = seen.calls + query.calls
        mean = None
        if seen.mean_ms is not None and query.mean_ms is not None:
            mean = (seen.mean_ms * seen.calls + query.mean_ms * query.calls) / calls
        merged[query.key] = WorkloadQuery(
            seen.sql,
            seen.params,
            calls,
            mean,
            seen.fingerprint,
            seen.label,
            seen.source,
            seen.constant | query.constant,
        )
    return list(merged.values())


def _touches(spec: IndexSpec, columns: Collection[str]) -> bool:
    where = set(_IDENT.findall(spec.where)) if spec.where else set()
    return bool(set(columns) & ({*spec.columns, *spec.include} | where))


class Advisor:
    """Extend over a workload, with one what-if backend. ``progress`` gets one line per round.

    ``queries`` is a ``Workload`` (reads, writes, statements already skipped) or a list of
    read statements; ``writes`` adds write load."""

    def __init__(
        self,
        backend: WhatIfBackend,
        queries: Workload | Sequence[WorkloadQuery],
        budget: int | None = None,
        budget_share: float = DEFAULT_BUDGET_SHARE,
        min_improvement: float = DEFAULT_MIN_IMPROVEMENT,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        progress: Callable[[str], None] | None = None,
        writes: Sequence[WriteLoad] = (),
    ) -> None:
        workload = as_workload(queries)
        self.backend = backend
        self.min_improvement = min_improvement
        self.max_seconds = max_seconds
        self.progress = progress or (lambda _line: None)
        self.notes: list[str] = []
        self.skipped: list[Skipped] = list(workload.skipped)
        schema = backend.schema()
        self.usages: dict[str, list[TableUsage]] = {}
        kept: list[WorkloadQuery] = []
        for query in _merge_duplicates(workload.queries):
            usages, reason = analyze_statement(
                query.sql, backend.dialect, schema, query.constant, query.params
            )
            if reason is not None:
                self.skipped.append(Skipped(_source(query), reason))
                continue
            self.usages[query.key] = usages
            kept.append(query)
        self.queries = kept
        self.writes: list[WriteLoad] = []
        for write in [*workload.writes, *writes]:
            if write.table in schema:
                self.writes.append(write)
            else:
                self.skipped.append(
                    Skipped(write.source or write.table, f"writes unknown table {write.table}")
                )
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
        self.schema = schema
        self._costs: dict[tuple[str, Config], float | None] = {}
        self._sizes: dict[IndexSpec, int] = {}
        self._base: dict[str, float] = {}
        self._maps: dict[Config, dict[str, Config]] = {}
        self._totals: dict[Config, float] = {}
        self._filled: set[Config] = set()
        self._ms_per_unit = 1.0
        self.start_total = 0.0

    # --- costing -------------------------------------------------------------------------
    def _relevant_map(self, config: Config) -> dict[str, Config]:
        """For each statement, the indexes of ``config`` on the tables it reads (the cost key)."""
        cached = self._maps.get(config)
        if cached is not None:
            return cached
        if len(self._maps) >= MAX_CACHED_CONFIGS:
            self._maps.clear()
            self._totals.clear()
            self._filled.clear()
        by_table: dict[str, set[IndexSpec]] = {}
        for spec in config:
            by_table.setdefault(spec.table, set()).add(spec)
        empty: Config = frozenset()
        out = {}
        for query in self.queries:
            specs = [s for t in self.tables[query.key] for s in by_table.get(t, ())]
            out[query.key] = frozenset(specs) if specs else empty
        self._maps[config] = out
        return out

    def _fill(self, config: Config) -> None:
        if config in self._filled:
            return
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
        self._filled.add(config)

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

    def read_total(self, config: Config) -> float:
        """Estimated weighted cost of the workload's reads under ``config``."""
        self._fill(config)
        relevant_map = self._relevant_map(config)
        total = 0.0
        for query in self.queries:
            cost = self._costs[(query.key, relevant_map[query.key])]
            if cost is not None:
                total += self._estimate(query, cost)
        return total

    def write_total(self, config: Collection[IndexSpec]) -> float:
        """Estimated cost of maintaining the indexes of ``config`` under the workload's writes,
        in the unit of ``read_total``. Per written row and index entry: the backend's
        ``entry_cost``. An INSERT adds an entry to every index (a partial one: for the
        matching share of the rows); an UPDATE adds one to every index when it is not HOT —
        when its SET columns (unknown: always) are in any index of the table — so a new index
        on a column that was HOT-updated charges an entry for every index of the table;
        DELETEs are not charged (VACUUM removes the entries later)."""
        if not self.writes or not config:
            return 0.0
        by_table: dict[str, list[IndexSpec]] = {}
        for spec in config:
            by_table.setdefault(spec.table, []).append(spec)
        total = 0.0
        for table, specs in by_table.items():
            writes = [w for w in self.writes if w.table == table]
            if not writes:
                continue
            entry = self.backend.entry_cost(table) * self._ms_per_unit
            shares = sum(self._share(s) for s in specs)
            existing = [s for s in self.existing if s.table == table]
            for write in writes:
                if write.kind == "insert":
                    total += write.total_rows * shares * entry
                elif write.kind == "update":
                    if write.columns is None or any(_touches(s, write.columns) for s in existing):
                        total += write.total_rows * shares * entry  # not HOT: every index
                    elif any(_touches(s, write.columns) for s in specs):
                        # HOT no longer possible: every index of the table gets an entry.
                        total += write.total_rows * (len(existing) + shares) * entry
        return total

    def _share(self, spec: IndexSpec) -> float:
        return self.backend.fraction(spec.table, spec.where) if spec.where else 1.0

    def total(self, config: Config) -> float:
        """Estimated cost of the workload under ``config``: reads plus index maintenance."""
        if config not in self._totals:
            total = self.read_total(config) + self.write_total(config)
            self._relevant_map(config)  # (may clear the caches when full)
            self._totals[config] = total
        return self._totals[config]

    def size(self, config: Collection[IndexSpec]) -> int:
        return sum(self._sizes.get(s, 0) for s in config)

    # --- the threshold rule --------------------------------------------------------------
    def acceptable(self, before: Config, after: Config) -> bool:
        """The one threshold rule (module docstring) for the move ``before`` -> ``after``."""
        saving = self.total(before) - self.total(after)
        added = self.size(after) - self.size(before)
        if added < 0 and saving >= -SHRINK_TOLERANCE * self.start_total:
            return True
        if saving <= 0:
            return False
        if saving >= self.min_improvement * self.start_total:
            return True
        tables = {s.table for s in before ^ after}
        floor = self.backend.min_statement_cost
        self._fill(before)
        self._fill(after)
        was_map, now_map = self._relevant_map(before), self._relevant_map(after)
        for query in self.queries:
            base = self._base[query.key]
            if base < floor or not tables & self.tables[query.key]:
                continue
            was = self._costs.get((query.key, was_map[query.key]))
            now = self._costs.get((query.key, now_map[query.key]))
            if was is not None and now is not None and was - now >= MIN_STATEMENT_SAVING * base:
                return True
        return False

    # --- moves ---------------------------------------------------------------------------
    def _pinned(self, spec: IndexSpec) -> list[str]:
        columns = self.schema.get(spec.table, set())
        return [c for c in dict.fromkeys(_IDENT.findall(spec.where or "")) if c in columns]

    def _reordered(self, spec: IndexSpec) -> list[IndexSpec]:
        """``spec`` with two adjacent key columns swapped, where both are equality columns
        of one statement (so either order serves that statement)."""
        out = []
        for i in range(len(spec.columns) - 1):
            a, b = spec.columns[i], spec.columns[i + 1]
            if any(u.table == spec.table and {a, b} <= set(u.equality) for u in self.space.usages):
                columns = (*spec.columns[:i], b, a, *spec.columns[i + 2 :])
                out.append(IndexSpec(spec.table, columns, spec.include, spec.where, spec.unique))
        return out

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
            for swapped in self._reordered(chosen):
                # Extend grows a composite from whichever column came first; the other order
                # of two equality columns may serve more statements for the same bytes.
                if not self.space.covered(swapped):
                    out[rest | {swapped}] = None
            if chosen.where is not None:
                # A partial index beside the plain one on the same columns: one composite
                # with the pinned columns as keys may serve both statements for less storage.
                pinned = [c for c in self._pinned(chosen) if c not in chosen.columns]
                if pinned:
                    composite = IndexSpec(chosen.table, (*chosen.columns, *pinned))
                    if not self.space.covered(composite):
                        out[rest | {composite}] = None
                        for plain in rest:
                            if (
                                plain.where is None
                                and plain.table == chosen.table
                                and (composite.columns[: len(plain.columns)] == plain.columns)
                            ):
                                out[(rest - {plain}) | {composite}] = None
        out.pop(config, None)
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
            else:
                reason = self.backend.errors.get(query.key, "cannot be planned")
                self.skipped.append(Skipped(_source(query), reason))
        self.queries = [q for q in self.queries if q.key in self._base]
        timed = [q for q in self.queries if q.mean_ms is not None and self._base[q.key] > 0]
        if timed:
            # Write costs come in the backend's unit; timed statements weigh milliseconds.
            units = sum(q.calls * self._base[q.key] for q in timed)
            self._ms_per_unit = sum(q.weight for q in timed) / units if units else 1.0
        base_total = self.start_total = self.read_total(empty)
        config, current = empty, base_total
        rounds, reason = 0, "margin"
        blocked: list[Blocked] = []
        while True:
            if rounds >= MAX_ROUNDS:
                reason = "rounds"
                break
            best: tuple[tuple[float, float], Config, float] | None = None
            blocked_now: list[tuple[float, Blocked]] = []
            for move in self.moves(config):
                if time.monotonic() - started > self.max_seconds:
                    reason = "time"
                    break
                try:
                    cost = self.total(move)
                except CandidateRejected as exc:
                    if exc.message not in self.notes and len(self.notes) < MAX_NOTES:
                        self.notes.append(exc.message)
                    continue
                if not self.acceptable(config, move):
                    continue
                added = self.size(move) - self.size(config)
                benefit = current - cost
                # Benefit per added byte; a move that adds no bytes wins, the larger benefit first.
                score = (float("inf"), benefit) if added <= 0 else (benefit / added, benefit)
                if self.size(move) > self.budget:
                    new = tuple(sorted(move - config, key=IndexSpec.sort_key))
                    blocked_now.append((score[0], Blocked(new, added, benefit)))
                    continue
                if best is None or score > best[0]:
                    best = (score, move, cost)
            if best is None:
                if reason != "time" and blocked_now:
                    reason = "budget"
                    blocked_now.sort(key=lambda item: item[0], reverse=True)
                    blocked = [b for _score, b in blocked_now[:MAX_BLOCKED]]
                break
            rounds += 1
            _score, config, new_cost = best
            self.progress(
                f"round {rounds}: {_describe(config)} -> estimated cost {new_cost:,.1f} "
                f"({100 * (1 - new_cost / base_total) if base_total else 0:.1f}% below none), "
                f"{self.size(config):,} bytes"
            )
            current = new_cost
            if reason == "time":
                break
        config, current = self._prune(config, current)
        return self._advice(
            config, base_total, current, rounds, time.monotonic() - started, reason, blocked
        )

    def _prune(self, config: Config, current: float) -> tuple[Config, float]:
        """Drop a chosen index that would not pass the threshold rule if it were added last."""
        for spec in sorted(config, key=IndexSpec.sort_key):
            without = config - {spec}
            if not self.acceptable(without, config):
                self.progress(f"pruned {spec.describe()}: below the threshold once the rest is in")
                config, current = without, self.total(without)
        return config, current

    def _stopped(self, reason: str, blocked: list[Blocked], config: Config) -> str:
        share = f"{100 * self.min_improvement:g} %"
        if reason == "budget":
            what = "; ".join(
                f"{', '.join(s.describe() for s in b.specs)} (+{b.added_bytes:,} bytes, would save "
                f"{100 * b.saving / self.start_total if self.start_total else 0:.1f}%)"
                for b in blocked
            )
            return f"budget: {self.size(config):,} of {self.budget:,} bytes used; it blocks {what}"
        if reason == "rounds":
            return f"round limit ({MAX_ROUNDS}) reached"
        if reason == "time":
            return f"time limit ({self.max_seconds:.0f} s) reached"
        return (
            f"margin: no further move saves {share} of the starting cost or half of a "
            f"statement costing >= {self.backend.min_statement_cost:g}"
        )

    def _advice(
        self,
        config: Config,
        base: float,
        final: float,
        rounds: int,
        seconds: float,
        reason: str,
        blocked: list[Blocked],
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
                Recommendation(
                    spec,
                    self._sizes.get(spec, 0),
                    self.total(without) - final,
                    helped,
                    self.write_total(config) - self.write_total(without),
                )
            )
        recommendations.sort(key=lambda r: r.benefit, reverse=True)
        timed = any(q.mean_ms is not None for q in self.queries)
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
            stopped=self._stopped(reason, blocked, config),
            existing=self.existing,
            notes=list(dict.fromkeys(self.notes))[:MAX_NOTES],
            backend_notes=list(self.backend.notes),
            stop_reason=reason,
            blocked=blocked,
            skipped=self.skipped,
            writes=self.writes,
            write_cost=self.write_total(config),
            min_improvement=self.min_improvement,
            min_statement_cost=self.backend.min_statement_cost,
            cost_unit="ms" if timed else "cost",
        )


def _source(query: WorkloadQuery) -> str:
    return query.source or query.label or query.sql[:60]


def _describe(config: Config) -> str:
    return "; ".join(s.describe() for s in sorted(config, key=IndexSpec.sort_key)) or "(none)"
