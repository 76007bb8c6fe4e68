"""N+1 detection: lazy loads grouped per relationship, and repeated identical statements.

A single module-level ``do_orm_execute`` listener (installed once on ``Session``) feeds the
active ``QueryCollector``: every relationship load runs inside it so its statements are
known to be relationship loads; a *lazy* load (``lazy_loaded_from`` set) is also counted
under (parent mapper, relationship). Selectin/subquery batches are relationship loads but
not lazy ones, so they are never findings; a relationship loaded fewer than ``threshold``
times in one collector is not a finding either.

``findings(collector, threshold)`` turns a finished collector into ``Finding`` records that
name the fix as code; ``FindingsLog`` deduplicates them across requests, with counts.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, RelationshipProperty
from sqlalchemy.orm.interfaces import MANYTOONE

from turbina.queries.callsite import callsite
from turbina.queries.context import QueryCollector, current_collector

LAZY_LOAD = "lazy_load"
REPEATED_STATEMENT = "repeated_statement"
_READ_PREFIXES = ("select", "with")


# The statement being handled: the listener can be reached twice for one execution (on a
# sessionmaker and on a Session class it derives from); invoke_statement() runs the later
# listeners with a new ORMExecuteState for the same statement, which must pass through
# without counting the load again.
_handling: ContextVar[Any] = ContextVar("turbina_orm_execute", default=None)


def _on_do_orm_execute(orm_state: ORMExecuteState) -> Any:
    collector = current_collector()
    if collector is None or not orm_state.is_relationship_load:
        return None
    if _handling.get() is orm_state.statement:
        return None
    lazy_from = orm_state.lazy_loaded_from
    collector.relationship_depth += 1
    token = _handling.set(orm_state.statement)
    start = time.perf_counter()
    try:
        result = orm_state.invoke_statement()
    finally:
        _handling.reset(token)
        collector.relationship_depth -= 1
    if lazy_from is not None:
        _count_lazy_load(collector, orm_state, (time.perf_counter() - start) * 1000.0)
    return result


def _count_lazy_load(collector: QueryCollector, orm_state: ORMExecuteState, ms: float) -> None:
    path = orm_state.loader_strategy_path
    prop = getattr(path, "prop", None) if path is not None else None
    if prop is None:
        return
    group = collector.lazy_group(
        prop.parent.class_.__name__,
        prop.key,
        bool(prop.uselist),
        prop.direction is MANYTOONE,
        _loaded_via(orm_state.lazy_loaded_from),
    )
    if group is None:
        return
    group.count += 1
    group.total_ms += ms
    if group.count == collector.threshold and group.callsite is None:
        group.callsite = callsite()


def _loaded_via(parent_state: Any) -> tuple[str, ...]:
    """Loader options of the relationships the parent object was loaded through (its
    ``load_path``), e.g. ``("selectinload(Order.lines)",)``; empty for a root."""
    elements = getattr(getattr(parent_state, "load_path", None), "path", ())
    return tuple(
        f"{loader_for(bool(el.uselist), el.direction is MANYTOONE)}({el.parent.class_.__name__}.{el.key})"
        for el in elements
        if isinstance(el, RelationshipProperty)
    )


_install_lock = threading.Lock()
# target id -> (target, number of installs): one Flask-SQLAlchemy ``db.session`` is shared by
# every app built on the same ``db``, so the listener stays until the last one removes it.
_watched: dict[int, tuple[Any, int]] = {}


def install_listener(target: Any) -> None:
    """Listen for ORM executions of the sessions of ``target``: a ``sessionmaker``, a
    ``scoped_session`` (Flask-SQLAlchemy's ``db.session``), a ``Session`` subclass or instance.
    Nothing is attached to SQLAlchemy's own ``Session`` class unless it is passed. Each call
    needs a matching ``remove_listener``."""
    with _install_lock:
        if not event.contains(target, "do_orm_execute", _on_do_orm_execute):
            event.listen(target, "do_orm_execute", _on_do_orm_execute)
        _, count = _watched.get(id(target), (target, 0))
        _watched[id(target)] = (target, count + 1)


def remove_listener(target: Any) -> None:
    """Undo one ``install_listener(target)``; the listener goes with the last one."""
    with _install_lock:
        _, count = _watched.get(id(target), (target, 1))
        if count > 1:
            _watched[id(target)] = (target, count - 1)
            return
        _watched.pop(id(target), None)
        if event.contains(target, "do_orm_execute", _on_do_orm_execute):
            event.remove(target, "do_orm_execute", _on_do_orm_execute)


def is_watched(target: Any) -> bool:
    """True when ``target`` has the N+1 listener."""
    return id(target) in _watched


def watching() -> bool:
    """True when some session target has the N+1 listener."""
    return bool(_watched)


@dataclass(frozen=True)
class Finding:
    """One N+1 pattern seen in one request (or block).

    ``subject`` is ``Parent.relationship`` for lazy loads, the redacted fingerprint for
    repeated statements; ``fix`` is code to paste (a loader option) or an instruction.
    """

    kind: str
    subject: str
    loads: int
    total_ms: float
    callsite: str | None
    fix: str
    loader: str | None = None
    endpoint: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """Identity used to deduplicate across requests."""
        return (self.kind, self.subject, self.fix, self.endpoint)

    def describe(self) -> str:
        """One line for messages and logs."""
        where = f" at {self.callsite}" if self.callsite else ""
        if self.kind == LAZY_LOAD:
            return f"N+1: {self.subject} lazy-loaded {self.loads} times ({self.total_ms:.1f} ms){where}; fix: .options({self.fix})"
        return f"N+1: same statement run {self.loads} times ({self.total_ms:.1f} ms){where}: {self.subject}; fix: {self.fix}"


def loader_for(uselist: bool, many_to_one: bool) -> str:
    """``selectinload`` for collections, ``joinedload`` for many-to-one / scalar relationships."""
    return "selectinload" if uselist and not many_to_one else "joinedload"


def findings(collector: QueryCollector, threshold: int) -> list[Finding]:
    """N+1 findings of a finished collector (lazy-load groups first, heaviest first)."""
    found: list[Finding] = []
    for group in collector.lazy.values():
        if group.count < threshold:
            continue
        loader = loader_for(group.uselist, group.many_to_one)
        found.append(
            Finding(
                LAZY_LOAD,
                group.attribute,
                group.count,
                round(group.total_ms, 3),
                group.callsite,
                ".".join((*group.via, f"{loader}({group.attribute})")),
                loader,
                collector.endpoint,
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
        repeated.append(
            Finding(
                REPEATED_STATEMENT,
                shape,
                seen,
                round(seen * mean_ms, 3),
                collector.callsites.get(shape),
                "run it once for all keys (WHERE key IN (...)) or eager-load, instead of once per row",
                None,
                collector.endpoint,
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
    """Findings deduplicated across requests, at most ``capacity`` (least seen evicted)."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._seen: dict[tuple[str, str, str, str | None], SeenFinding] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, found: list[Finding]) -> None:
        """Merge one request's findings."""
        now = time.time()
        with self._lock:
            for finding in found:
                seen = self._seen.get(finding.key)
                if seen is None:
                    if len(self._seen) >= self.capacity:
                        victim = min(self._seen.values(), key=lambda s: (s.requests, s.last_seen))
                        del self._seen[victim.finding.key]
                    self._seen[finding.key] = SeenFinding(
                        finding, 1, finding.loads, finding.loads, now, now
                    )
                    continue
                seen.requests += 1
                seen.total_loads += finding.loads
                seen.max_loads = max(seen.max_loads, finding.loads)
                seen.last_seen = now

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
