"""Per-request (or per-block) query collection through a context variable.

The recorder's hot path adds each query to the active ``QueryCollector`` if there is one.
Collectors nest: a Flask request inside a test's ``max_queries`` block gets its own
collector, which is folded into the outer one when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from turbina.queries.callsite import callsite

# Per-collector caps: a runaway request cannot grow memory without bound.
MAX_FINGERPRINTS_PER_COLLECTOR = 1000
MAX_LAZY_GROUPS_PER_COLLECTOR = 200

_current: ContextVar[QueryCollector | None] = ContextVar("turbina_query_collector", default=None)
current_collector = _current.get


@dataclass
class LazyLoadGroup:
    """Lazy loads of one relationship within one collector.

    ``via`` holds the loader options of the relationships the parents were themselves loaded
    through (``("selectinload(Order.lines)",)``), so a nested N+1 gets a chained fix.
    """

    parent: str
    relationship: str
    uselist: bool
    many_to_one: bool
    via: tuple[str, ...] = ()
    count: int = 0
    total_ms: float = 0.0
    callsite: str | None = None
    fingerprint: str | None = None

    @property
    def attribute(self) -> str:
        """``Parent.relationship``, as it appears in loader options."""
        return f"{self.parent}.{self.relationship}"


class QueryCollector:
    """Queries seen while active: count, DB time, per-fingerprint counts, lazy loads.

    ``threshold`` is the repeat count at which a fingerprint or relationship becomes an N+1
    candidate and its call site is captured (once). ``capture_callsites`` (tests) captures
    the first call site of every fingerprint.
    """

    __slots__ = (
        "callsites",
        "capture_callsites",
        "count",
        "db_ms",
        "endpoint",
        "fingerprints",
        "lazy",
        "parent",
        "relationship_depth",
        "relationship_fingerprints",
        "threshold",
    )

    def __init__(
        self, endpoint: str | None = None, *, threshold: int = 5, capture_callsites: bool = False
    ) -> None:
        self.endpoint = endpoint
        self.threshold = threshold
        self.capture_callsites = capture_callsites
        self.count = 0
        self.db_ms = 0.0
        self.fingerprints: dict[str, int] = {}
        self.callsites: dict[str, str | None] = {}
        self.relationship_depth = 0
        self.relationship_fingerprints: set[str] = set()
        self.lazy: dict[tuple[str, str, tuple[str, ...]], LazyLoadGroup] = {}
        self.parent: QueryCollector | None = None

    def record(self, fingerprint: str, ms: float) -> None:
        """Count one query (called from the recorder's hot path)."""
        self.count += 1
        self.db_ms += ms
        fingerprints = self.fingerprints
        seen = fingerprints.get(fingerprint)
        if seen is None:
            if len(fingerprints) >= MAX_FINGERPRINTS_PER_COLLECTOR:
                return
            seen = 0
            if self.capture_callsites:
                self.callsites[fingerprint] = callsite()
        seen += 1
        fingerprints[fingerprint] = seen
        if self.relationship_depth:
            self.relationship_fingerprints.add(fingerprint)
        elif seen == self.threshold and fingerprint not in self.callsites:
            self.callsites[fingerprint] = callsite()

    def lazy_group(
        self,
        parent: str,
        relationship: str,
        uselist: bool,
        many_to_one: bool,
        via: tuple[str, ...] = (),
    ) -> LazyLoadGroup | None:
        """The group of ``parent.relationship`` lazy loads reached ``via`` a loader chain
        (``None`` when the cap is hit)."""
        key = (parent, relationship, via)
        group = self.lazy.get(key)
        if group is None:
            if len(self.lazy) >= MAX_LAZY_GROUPS_PER_COLLECTOR:
                return None
            group = LazyLoadGroup(parent, relationship, uselist, many_to_one, via)
            self.lazy[key] = group
        return group

    def absorb(self, child: QueryCollector) -> None:
        """Fold a finished nested collector into this one."""
        self.count += child.count
        self.db_ms += child.db_ms
        for fingerprint, seen in child.fingerprints.items():
            if (
                fingerprint in self.fingerprints
                or len(self.fingerprints) < MAX_FINGERPRINTS_PER_COLLECTOR
            ):
                self.fingerprints[fingerprint] = self.fingerprints.get(fingerprint, 0) + seen
        for fingerprint, site in child.callsites.items():
            self.callsites.setdefault(fingerprint, site)
        self.relationship_fingerprints |= child.relationship_fingerprints
        for group in child.lazy.values():
            mine = self.lazy_group(
                group.parent, group.relationship, group.uselist, group.many_to_one, group.via
            )
            if mine is None:
                continue
            mine.count += group.count
            mine.total_ms += group.total_ms
            mine.callsite = mine.callsite or group.callsite
            mine.fingerprint = mine.fingerprint or group.fingerprint


def start(
    endpoint: str | None = None, *, threshold: int = 5, capture_callsites: bool = False
) -> tuple[QueryCollector, object]:
    """Activate a new collector (nested under the current one); returns it and a token."""
    collector = QueryCollector(endpoint, threshold=threshold, capture_callsites=capture_callsites)
    collector.parent = _current.get()
    return collector, _current.set(collector)


def finish(collector: QueryCollector, token: object) -> None:
    """Deactivate ``collector`` and fold it into its parent."""
    try:
        _current.reset(token)  # type: ignore[arg-type]
    except ValueError:  # reset from another context (e.g. teardown in a copied context)
        _current.set(collector.parent)
    if collector.parent is not None:
        collector.parent.absorb(collector)


@contextmanager
def collect(
    endpoint: str | None = None, *, threshold: int = 5, capture_callsites: bool = False
) -> Iterator[QueryCollector]:
    """``with collect() as c:`` — every recorded query inside the block lands in ``c``."""
    collector, token = start(endpoint, threshold=threshold, capture_callsites=capture_callsites)
    try:
        yield collector
    finally:
        finish(collector, token)
