"""Per-request (or per-block) query collection through a context variable.

The recorder's hot path adds each query to the active ``QueryCollector`` if there is one.
Collectors nest: a Flask request inside a test's ``max_queries`` block gets its own
collector, which is folded into the outer one when it ends.

N+1 detection (``nplusone``) and the recorder meet here: for each statement the recorder
times, ``nplusone.note_statement`` reads its ORM context and marks the collector
(``pending_relationship``, ``pending_group``) when it is a relationship load; ``record`` then
books that statement's cursor time to the relationship. So a lazy load is counted and timed
without executing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from turbina.queries.callsite import CallSite, capture

# Per-collector caps: a runaway request cannot grow memory without bound.
MAX_FINGERPRINTS_PER_COLLECTOR = 1000
MAX_LAZY_GROUPS_PER_COLLECTOR = 200
MAX_QUERY_SITES_PER_COLLECTOR = 32
MAX_UNRECORDED_ENGINES = 16
_READ_PREFIXES = ("select", "with")

_current: ContextVar[QueryCollector | None] = ContextVar("turbina_query_collector", default=None)
current_collector = _current.get


class SiteMemory(Protocol):
    """What an app already knows about its N+1 findings (``FindingsLog`` is one), so a
    request does not walk the stack again for a call site already recorded."""

    def knows_callsite(self, endpoint: str | None, subject: str) -> bool:
        """True when the lazy-load finding ``subject`` at ``endpoint`` has its call site."""
        ...

    def wants_query_site(self, endpoint: str | None, mapper: Any) -> bool:
        """True when a lazy-load finding at ``endpoint`` whose rows came from a query of
        ``mapper`` still lacks that query's call site."""
        ...


@dataclass
class LazyLoadGroup:
    """Lazy loads of one relationship within one collector.

    ``via`` holds the loader options of the relationships the parents were themselves loaded
    through (``("selectinload(Order.lines)",)``), so a nested N+1 gets a chained fix.
    ``root`` is the mapper of the top-level query the parents came from; ``query_site`` the
    call site of that query, when it was recorded.
    """

    parent: str
    relationship: str
    uselist: bool
    many_to_one: bool
    via: tuple[str, ...] = ()
    count: int = 0
    total_ms: float = 0.0
    callsite: CallSite | None = None
    fingerprint: str | None = None
    root: Any = None
    query_site: CallSite | None = None

    @property
    def attribute(self) -> str:
        """``Parent.relationship``, as it appears in loader options."""
        return f"{self.parent}.{self.relationship}"


class QueryCollector:
    """Queries seen while active: count, DB time, per-fingerprint counts, lazy loads.

    ``threshold`` is the repeat count at which a fingerprint or relationship becomes an N+1
    candidate and its call site is captured (once). ``capture_callsites`` (tests) captures
    the first call site of every fingerprint and of every top-level ORM query. ``root`` is the
    application's directory: call sites are searched under it and printed relative to it.
    ``guarded`` (test guards) counts statements that ran on engines without a recorder.
    ``memory`` (an app's ``FindingsLog``) tells which call sites are already known; without
    one, N+1 parents are learned process-wide.
    """

    __slots__ = (
        "callsites",
        "capture_callsites",
        "count",
        "db_ms",
        "endpoint",
        "fingerprints",
        "guarded",
        "lazy",
        "lazy_index",
        "memory",
        "parent",
        "pending_group",
        "pending_relationship",
        "query_site_walks",
        "query_sites",
        "relationship_fingerprints",
        "root",
        "threshold",
        "unrecorded",
    )

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        threshold: int = 5,
        capture_callsites: bool = False,
        root: str | None = None,
        guarded: bool = False,
        memory: SiteMemory | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.memory = memory
        self.threshold = threshold
        self.capture_callsites = capture_callsites
        self.root = root
        self.guarded = guarded
        self.count = 0
        self.db_ms = 0.0
        self.fingerprints: dict[str, int] = {}
        self.callsites: dict[str, CallSite | None] = {}
        self.relationship_fingerprints: set[str] = set()
        self.lazy: dict[tuple[str, str, tuple[str, ...]], LazyLoadGroup] = {}
        # (id of the relationship property, id of the parent load path) -> (group, property,
        # path): the detector's fast lookup.
        self.lazy_index: dict[tuple[int, int], tuple[LazyLoadGroup, Any, Any]] = {}
        self.query_sites: dict[Any, CallSite] = {}
        self.query_site_walks: dict[Any, int] = {}
        self.pending_relationship = False
        self.pending_group: LazyLoadGroup | None = None
        self.unrecorded: dict[str, int] = {}
        self.parent: QueryCollector | None = None

    def record(self, fingerprint: str, ms: float) -> None:
        """Count one query (called from the recorder's hot path)."""
        self.count += 1
        self.db_ms += ms
        relationship = False
        if self.pending_relationship and fingerprint.startswith(_READ_PREFIXES):
            # The SELECT of the relationship load just classified (only a SELECT can be it).
            self.pending_relationship = False
            relationship = True
            group = self.pending_group
            if group is not None:
                self.pending_group = None
                group.total_ms += ms
                if group.fingerprint is None:
                    group.fingerprint = fingerprint
            if len(self.relationship_fingerprints) < MAX_FINGERPRINTS_PER_COLLECTOR:
                self.relationship_fingerprints.add(fingerprint)
        fingerprints = self.fingerprints
        seen = fingerprints.get(fingerprint)
        if seen is None:
            if len(fingerprints) >= MAX_FINGERPRINTS_PER_COLLECTOR:
                return
            seen = 0
            if self.capture_callsites:
                self.callsites[fingerprint] = capture(self.root)
        seen += 1
        fingerprints[fingerprint] = seen
        if (
            seen == self.threshold
            and not relationship
            and fingerprint not in self.callsites
            and fingerprint not in self.relationship_fingerprints
        ):
            self.callsites[fingerprint] = capture(self.root)

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

    def note_unrecorded(self, engine: str) -> None:
        """A statement ran on ``engine``, which has no recorder (test guards only)."""
        if engine in self.unrecorded or len(self.unrecorded) < MAX_UNRECORDED_ENGINES:
            self.unrecorded[engine] = self.unrecorded.get(engine, 0) + 1

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
            if self.callsites.get(fingerprint) is None:
                self.callsites[fingerprint] = site
        if len(self.relationship_fingerprints) < MAX_FINGERPRINTS_PER_COLLECTOR:
            self.relationship_fingerprints |= child.relationship_fingerprints
        for mapper, site in child.query_sites.items():
            if len(self.query_sites) < MAX_QUERY_SITES_PER_COLLECTOR:
                self.query_sites.setdefault(mapper, site)
        for engine, seen in child.unrecorded.items():
            if engine in self.unrecorded or len(self.unrecorded) < MAX_UNRECORDED_ENGINES:
                self.unrecorded[engine] = self.unrecorded.get(engine, 0) + seen
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
            mine.root = mine.root if mine.root is not None else group.root
            mine.query_site = mine.query_site or group.query_site


def start(
    endpoint: str | None = None,
    *,
    threshold: int = 5,
    capture_callsites: bool = False,
    root: str | None = None,
    guarded: bool = False,
    memory: SiteMemory | None = None,
) -> tuple[QueryCollector, object]:
    """Activate a new collector (nested under the current one); returns it and a token.
    ``root`` defaults to the enclosing collector's; inside a test guard (``guarded``,
    ``capture_callsites``) a nested collector — a request's — is a guarded one too."""
    parent = _current.get()
    if parent is not None:
        root = root if root is not None else parent.root
        guarded = guarded or parent.guarded
        capture_callsites = capture_callsites or parent.capture_callsites
    collector = QueryCollector(
        endpoint,
        threshold=threshold,
        capture_callsites=capture_callsites,
        root=root,
        guarded=guarded,
        memory=memory,
    )
    collector.parent = parent
    return collector, _current.set(collector)


def finish(collector: QueryCollector, token: object) -> None:
    """Deactivate ``collector`` and fold it into its parent."""
    try:
        _current.reset(token)  # type: ignore[arg-type]
    except ValueError:  # reset from another context (e.g. teardown in a copied context)
        _current.set(collector.parent)
    collector.pending_group = None
    if collector.parent is not None:
        collector.parent.absorb(collector)


@contextmanager
def collect(
    endpoint: str | None = None,
    *,
    threshold: int = 5,
    capture_callsites: bool = False,
    root: str | None = None,
    guarded: bool = False,
    memory: SiteMemory | None = None,
) -> Iterator[QueryCollector]:
    """``with collect() as c:`` — every recorded query inside the block lands in ``c``."""
    collector, token = start(
        endpoint,
        threshold=threshold,
        capture_callsites=capture_callsites,
        root=root,
        guarded=guarded,
        memory=memory,
    )
    try:
        yield collector
    finally:
        finish(collector, token)
