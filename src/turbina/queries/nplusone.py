"""N+1 detection: lazy loads grouped per relationship, and repeated identical statements.

Detection rides on the recorder's per-engine cursor hook; nothing listens on sessions or on
SQLAlchemy's classes. For each statement run while a ``QueryCollector`` is active, the recorder
calls ``note_statement(collector, context)`` with the statement's execution context, which
carries what the ORM knows: the load options (``_sa_orm_load_options``, whose
``_lazy_loaded_from`` is the parent object of a lazy load — what ``ORMExecuteState
.lazy_loaded_from`` reads) and the compiled statement's loader path (``_current_path``: the
relationship being loaded). A *lazy* load is counted under (parent mapper, relationship, loader
chain) and its cursor time booked to it; selectin/subquery batches are relationship loads but not
lazy ones, so never findings; a relationship loaded fewer than ``threshold`` times in one
collector is not a finding either. (A ``do_orm_execute`` listener would see the same facts but
SQLAlchemy's dispatch of any such listener costs ~6-8 µs per load, more than the work itself.)

Where the fix goes: when a lazy group reaches the threshold, its call site is captured
(the template line, for a template loop) and the mapper of the top-level query its parents
came from is remembered. From then on, top-level ORM SELECTs returning that mapper's objects
— N+1 parents, not every query, and not its counts — record their call site (the first few
per request), so the finding names the query to change (tests' guards capture every
top-level query's site from the first run).

``findings(collector, threshold)`` turns a finished collector into ``Finding`` records that
name the fix as code; ``FindingsLog`` deduplicates them across requests, with counts.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.orm.interfaces import MANYTOONE

from turbina.queries.advice import repeated_statement_fix
from turbina.queries.callsite import capture
from turbina.queries.context import (
    MAX_LAZY_GROUPS_PER_COLLECTOR,
    MAX_QUERY_SITES_PER_COLLECTOR,
    LazyLoadGroup,
    QueryCollector,
)

LAZY_LOAD = "lazy_load"
REPEATED_STATEMENT = "repeated_statement"
_READ_PREFIXES = ("select", "with")

# Mappers whose rows fed an N+1 somewhere in this process: their top-level SELECTs record a
# call site. Bounded (an app has a bounded number of mappers; the cap guards the rest).
MAX_PARENT_MAPPERS = 1000
LOOKS_PER_MAPPER = 16  # top-level queries per model and collector looked at (the latest wins)
_parent_mappers: weakref.WeakSet[Any] = weakref.WeakSet()
# Registries of the mappers seen, to turn a repeated statement's tables into model classes.
_registries: weakref.WeakSet[Any] = weakref.WeakSet()


# The ORM's own keys in a statement's execution context (SQLAlchemy 2.0 and 2.1 alike; the
# compat tests run the oldest and newest supported versions).
_LOAD_OPTIONS = "_sa_orm_load_options"


# What a compiled statement is, worked out once: SQLAlchemy reuses one compiled object per
# statement shape (its compiled cache), and the loader path and the mapper are part of that
# shape. (loader path or None, mapper of a top-level ORM SELECT or None, whether that SELECT
# returns the mapper's objects.) Held weakly — a compiled object leaves SQLAlchemy's cache,
# and here, together — and bounded: cleared when full.
_Shape = tuple[Any, Any, bool]
MAX_SHAPES = 4096
_shapes: weakref.WeakKeyDictionary[Any, _Shape] = weakref.WeakKeyDictionary()
_NOT_ORM: _Shape = (None, None, False)


def _shape_of(compiled: Any) -> _Shape:
    statement = getattr(compiled, "statement", None)
    if statement is None:
        return _NOT_ORM
    path = getattr(getattr(statement, "_compile_options", None), "_current_path", None)
    if path is not None and not path.is_root:
        return (path, None, False)
    mapper = _statement_mapper(statement) if statement.is_select else None
    if mapper is None:
        return _NOT_ORM
    registry = mapper.registry
    if registry not in _registries:
        _registries.add(registry)
    return (None, mapper, _loads_rows_of(statement, mapper))


def note_statement(collector: QueryCollector, context: Any) -> None:
    """Classify the statement of ``context`` (a SQLAlchemy execution context) for ``collector``
    before its time is booked: a lazy load joins its relationship's group, a top-level ORM
    SELECT may record its call site. Called by the recorder, only while a collector is active."""
    compiled = context.compiled
    shape = _shapes.get(compiled) if compiled is not None else _NOT_ORM
    if shape is None:
        shape = _shape_of(compiled)
        if len(_shapes) >= MAX_SHAPES:
            _shapes.clear()
        _shapes[compiled] = shape
    path = shape[0]
    # A relationship load carries its loader path and load options; a top-level query (or
    # Core, text(), the flush's writes) has neither.
    load_options = context.execution_options.get(_LOAD_OPTIONS) if path is not None else None
    if load_options is None:
        collector.pending_relationship = False
        collector.pending_group = None
        if shape[1] is not None:
            _top_level_select(collector, shape[1], shape[2])
        return
    collector.pending_relationship = True
    parent_state = getattr(load_options, "_lazy_loaded_from", None)
    if parent_state is None:  # a selectin / subquery / immediate batch
        collector.pending_group = None
        return
    prop = getattr(path, "prop", None)
    load_path = parent_state.load_path
    # Keyed by identity (a PathRegistry hashes in Python); the entry keeps both objects
    # alive, so their ids cannot be reused while the collector lives.
    key = (id(prop), id(load_path))
    known = collector.lazy_index.get(key)
    if known is not None:
        group = known[0]
    else:
        new = _new_group(collector, prop, parent_state)
        if new is None:
            collector.pending_group = None
            return
        group = new
        if len(collector.lazy_index) < 4 * MAX_LAZY_GROUPS_PER_COLLECTOR:
            collector.lazy_index[key] = (group, prop, load_path)
    group.count += 1
    collector.pending_group = group
    if group.count == collector.threshold and group.callsite is None:
        memory = collector.memory
        if memory is None:
            group.callsite = capture(collector.root)
            if group.root is not None and len(_parent_mappers) < MAX_PARENT_MAPPERS:
                _parent_mappers.add(group.root)
        elif not memory.knows_callsite(collector.endpoint, group.attribute):
            group.callsite = capture(collector.root)


def _statement_mapper(statement: Any) -> Any:
    """The mapper an ORM statement is about (what the Session binds it by), or None."""
    subject = statement._propagate_attrs.get("plugin_subject")  # Core: empty
    return getattr(subject, "mapper", None)


def _top_level_select(collector: QueryCollector, mapper: Any, loads_rows: bool) -> None:
    if not collector.capture_callsites:
        memory = collector.memory
        if memory is None:
            if mapper not in _parent_mappers:
                return
        elif not memory.wants_query_site(collector.endpoint, mapper):
            return
    looks = collector.query_site_walks.get(mapper, 0)
    if looks >= LOOKS_PER_MAPPER or (
        not looks and len(collector.query_site_walks) >= MAX_QUERY_SITES_PER_COLLECTOR
    ):
        return  # a loop of per-row queries of this model: its first sites are known
    collector.query_site_walks[mapper] = looks + 1
    if not loads_rows:
        return  # a count or a column query of the model: no rows to lazy-load from
    site = capture(collector.root, loop=False)
    if site is not None:
        collector.query_sites[mapper] = site


def _loads_rows_of(statement: Any, mapper: Any) -> bool:
    """True when the statement returns ``mapper``'s objects (``select(Post)``), not only
    columns of it (``select(func.count()).select_from(Post)``)."""
    cls = mapper.class_
    try:
        descriptions = statement.column_descriptions
    except Exception:  # a statement that cannot describe itself: take it as one that can
        return True
    return any(isinstance(d, dict) and d.get("type") is cls for d in descriptions)


def _new_group(collector: QueryCollector, prop: Any, parent_state: Any) -> LazyLoadGroup | None:
    if not isinstance(prop, RelationshipProperty):
        return None
    group = collector.lazy_group(
        prop.parent.class_.__name__,
        prop.key,
        bool(prop.uselist),
        prop.direction is MANYTOONE,
        _loaded_via(parent_state),
    )
    if group is None:
        return None
    if group.root is None:
        path = getattr(getattr(parent_state, "load_path", None), "path", ())
        entity = path[0] if path else parent_state.mapper
        group.root = getattr(entity, "mapper", entity)
        group.query_site = collector.query_sites.get(group.root)
        registry = getattr(prop.parent, "registry", None)
        if registry is not None and registry not in _registries:
            _registries.add(registry)
    return group


def _loaded_via(parent_state: Any) -> tuple[str, ...]:
    """Loader options of the relationships the parent object was loaded through (its
    ``load_path``), e.g. ``("selectinload(Order.lines)",)``; empty for a root."""
    elements = getattr(getattr(parent_state, "load_path", None), "path", ())
    return tuple(
        f"{loader_for(bool(el.uselist), el.direction is MANYTOONE)}({el.parent.class_.__name__}.{el.key})"
        for el in elements
        if isinstance(el, RelationshipProperty)
    )


def known_registries() -> list[Any]:
    """SQLAlchemy registries of the mappers seen in ORM statements (for code advice)."""
    return list(_registries)


@dataclass(frozen=True)
class Finding:
    """One N+1 pattern seen in one request (or block).

    ``subject`` is ``Parent.relationship`` for lazy loads, the redacted fingerprint for
    repeated statements; ``fix`` is code to paste (the loader option for a lazy load, the
    batched query for a repeated statement) or, for a shape Turbina cannot read, an
    instruction. ``callsite`` is where the loads run (the template line for a template loop),
    ``loop`` the loop around them when that is another line, ``query_site`` the query the
    loader option goes on.
    """

    kind: str
    subject: str
    loads: int
    total_ms: float
    callsite: str | None
    fix: str
    loader: str | None = None
    endpoint: str | None = None
    loop: str | None = None
    query_site: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """Identity used to deduplicate across requests."""
        return (self.kind, self.subject, self.fix, self.endpoint)

    def describe(self) -> str:
        """One line for messages and logs."""
        where = f" at {self.callsite}" if self.callsite else ""
        if self.loop:
            where += f" (loop at {self.loop})"
        if self.kind == LAZY_LOAD:
            target = (
                f"the query at {self.query_site}"
                if self.query_site
                else "the query that loads the rows"
            )
            return (
                f"N+1: {self.subject} lazy-loaded {self.loads} times ({self.total_ms:.1f} ms)"
                f"{where}; fix: .options({self.fix}) on {target}"
            )
        return (
            f"N+1: same statement run {self.loads} times ({self.total_ms:.1f} ms){where}: "
            f"{self.subject}; fix: {self.fix}"
        )


def loader_for(uselist: bool, many_to_one: bool) -> str:
    """``selectinload`` for collections, ``joinedload`` for many-to-one / scalar relationships."""
    return "selectinload" if uselist and not many_to_one else "joinedload"


def lazy_roots(collector: QueryCollector, threshold: int) -> dict[str, Any]:
    """``Parent.relationship`` -> the mapper of the query its parents came from, for the
    lazy groups of ``collector`` that are findings (``FindingsLog.add``'s ``roots``)."""
    return {
        g.attribute: g.root
        for g in collector.lazy.values()
        if g.count >= threshold and g.root is not None
    }


def findings(collector: QueryCollector, threshold: int) -> list[Finding]:
    """N+1 findings of a finished collector (lazy-load groups first, heaviest first)."""
    found: list[Finding] = []
    for group in collector.lazy.values():
        if group.count < threshold:
            continue
        loader = loader_for(group.uselist, group.many_to_one)
        site = group.callsite
        found.append(
            Finding(
                LAZY_LOAD,
                group.attribute,
                group.count,
                round(group.total_ms, 3),
                site.where if site is not None else None,
                ".".join((*group.via, f"{loader}({group.attribute})")),
                loader,
                collector.endpoint,
                site.loop if site is not None else None,
                group.query_site.where if group.query_site is not None else None,
            )
        )
    found.sort(key=lambda f: f.loads, reverse=True)
    repeated: list[Finding] = []
    mean_ms = collector.db_ms / collector.count if collector.count else 0.0
    for shape, seen in collector.fingerprints.items():
        if seen < threshold or shape in collector.relationship_fingerprints:
            continue
        if not shape.startswith(_READ_PREFIXES):
            continue
        site = collector.callsites.get(shape)
        repeated.append(
            Finding(
                REPEATED_STATEMENT,
                shape,
                seen,
                round(seen * mean_ms, 3),
                site.where if site is not None else None,
                repeated_statement_fix(shape, known_registries()),
                None,
                collector.endpoint,
                site.loop if site is not None else None,
            )
        )
    repeated.sort(key=lambda f: f.loads, reverse=True)
    return found + repeated


@dataclass
class SeenFinding:
    """A finding aggregated across requests."""

    finding: Finding
    requests: int
    total_loads: int
    max_loads: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (no literals: subjects are relationships or fingerprints)."""
        data = asdict(self.finding)
        data.update(
            requests=self.requests,
            total_loads=self.total_loads,
            max_loads=self.max_loads,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
        )
        return data


class FindingsLog:
    """Findings deduplicated across requests, at most ``capacity`` (least seen evicted).

    A site missing from the first sighting (the query a loader goes on is learned from the
    request that first shows the N+1) is filled in by a later one. The log is also the app's
    ``SiteMemory``: once a finding has its call sites, later requests skip the stack walks
    (``knows_callsite``), and top-level queries record their call site only while a finding
    of their model at their endpoint still lacks it (``wants_query_site``).
    """

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._seen: dict[tuple[str, str, str, str | None], SeenFinding] = {}
        # (endpoint, Parent.relationship) -> the lazy-load entry, for knows_callsite().
        self._lazy: dict[tuple[str | None, str], SeenFinding] = {}
        # (endpoint, root mapper) of lazy findings still lacking their query's call site.
        self._wanted: set[tuple[str | None, Any]] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def knows_callsite(self, endpoint: str | None, subject: str) -> bool:
        """True when the lazy-load finding ``subject`` at ``endpoint`` has its call site."""
        seen = self._lazy.get((endpoint, subject))
        return seen is not None and seen.finding.callsite is not None

    def wants_query_site(self, endpoint: str | None, mapper: Any) -> bool:
        """True while a lazy-load finding at ``endpoint`` fed by a query of ``mapper`` lacks
        that query's call site."""
        return (endpoint, mapper) in self._wanted

    def add(self, found: list[Finding], roots: dict[str, Any] | None = None) -> None:
        """Merge one request's findings; ``roots`` maps a lazy-load subject to the mapper of
        the query its rows came from (what ``wants_query_site`` answers on)."""
        now = time.time()
        with self._lock:
            for finding in found:
                seen = self._seen.get(finding.key)
                if seen is None:
                    if len(self._seen) >= self.capacity:
                        self._evict()
                    seen = SeenFinding(finding, 1, finding.loads, finding.loads, now, now)
                    self._seen[finding.key] = seen
                    if finding.kind == LAZY_LOAD:
                        self._lazy[(finding.endpoint, finding.subject)] = seen
                else:
                    seen.requests += 1
                    seen.total_loads += finding.loads
                    seen.max_loads = max(seen.max_loads, finding.loads)
                    seen.last_seen = now
                    known = seen.finding
                    missing = {
                        name: getattr(finding, name)
                        for name in ("callsite", "loop", "query_site")
                        if getattr(known, name) is None and getattr(finding, name) is not None
                    }
                    if missing:
                        seen.finding = replace(known, **missing)
                root = (roots or {}).get(finding.subject) if finding.kind == LAZY_LOAD else None
                if root is not None:
                    wanted = (finding.endpoint, root)
                    if seen.finding.query_site is None:
                        if len(self._wanted) < self.capacity:
                            self._wanted.add(wanted)
                    else:
                        self._wanted.discard(wanted)

    def _evict(self) -> None:
        victim = min(self._seen.values(), key=lambda s: (s.requests, s.last_seen))
        finding = victim.finding
        del self._seen[finding.key]
        if self._lazy.get((finding.endpoint, finding.subject)) is victim:
            del self._lazy[(finding.endpoint, finding.subject)]

    def all(self) -> list[SeenFinding]:
        """Most frequent first."""
        with self._lock:
            return sorted(
                self._seen.values(), key=lambda s: (s.requests, s.total_loads), reverse=True
            )

    def clear(self) -> None:
        """Forget every finding."""
        with self._lock:
            self._seen.clear()
            self._lazy.clear()
            self._wanted.clear()
