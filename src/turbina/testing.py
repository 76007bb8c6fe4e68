"""Test guards: lock a fix in with ``max_queries(n)`` and ``no_n_plus_one()``.

Both are context managers, and pytest fixtures of the same names when this module is loaded
as a plugin (``pytest_plugins = ["turbina.testing"]`` in the root conftest) or when
``max_queries_fixture`` / ``no_n_plus_one_fixture`` are imported into a conftest. They need a ``QueryRecorder`` on the
engine: Turbina's Flask extension attaches one, or pass ``engine=`` and one is attached.
Failure messages list the offending statements (redacted) and the suggested fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from turbina.queries.context import QueryCollector, collect
from turbina.queries.nplusone import Finding, findings, install_listener, is_watched, watching
from turbina.queries.recorder import QueryRecorder

__all__ = ["max_queries", "max_queries_fixture", "no_n_plus_one", "no_n_plus_one_fixture"]

_LISTED = 15


def _ensure_recorded(engines: tuple[Engine, ...], sessions: tuple[Any, ...]) -> None:
    for engine in engines:
        QueryRecorder.for_engine(engine, explainer=None)
    for target in sessions:
        if not is_watched(target):
            install_listener(target)  # kept for the rest of the test process
    if not watching():
        # No session was named and no app watches one: in a test process, watch every
        # Session, or lazy loads would go unseen and the guard could never fail. Apps are
        # never hooked this way (the Flask glue watches db.session only).
        install_listener(Session)


def _statements(collector: QueryCollector) -> list[str]:
    rows = sorted(collector.fingerprints.items(), key=lambda item: item[1], reverse=True)[:_LISTED]
    lines = []
    for shape, seen in rows:
        site = collector.callsites.get(shape)
        lines.append(f"  {seen:>4} x {shape}" + (f"    [{site}]" if site else ""))
    if len(collector.fingerprints) > _LISTED:
        lines.append(f"  ... and {len(collector.fingerprints) - _LISTED} more distinct statements")
    return lines


def _fixes(found: list[Finding]) -> list[str]:
    return [f"  - {finding.describe()}" for finding in found]


@contextmanager
def max_queries(
    n: int, *engines: Engine, threshold: int = 5, sessions: tuple[Any, ...] = ()
) -> Iterator[QueryCollector]:
    """Fail (``AssertionError``) when the block runs more than ``n`` queries. ``engines`` get
    a recorder if they have none; ``sessions`` (sessionmakers, ``scoped_session``) are
    watched for lazy loads, which the failure message turns into loader fixes."""
    _ensure_recorded(engines, sessions)
    with collect("max_queries", threshold=threshold, capture_callsites=True) as collector:
        yield collector
    if collector.count > n:
        lines = [f"expected at most {n} queries, ran {collector.count}:", *_statements(collector)]
        found = findings(collector, threshold)
        if found:
            lines += ["suggested fixes:", *_fixes(found)]
        raise AssertionError("\n".join(lines))


@contextmanager
def no_n_plus_one(
    *engines: Engine, threshold: int = 5, sessions: tuple[Any, ...] = ()
) -> Iterator[QueryCollector]:
    """Fail (``AssertionError``) when the block shows an N+1 pattern (``threshold`` or more
    lazy loads of one relationship, or runs of one identical SELECT). ``engines`` and
    ``sessions`` as for ``max_queries``; with no session named and none watched by an app,
    every ``Session`` is watched (test processes only)."""
    _ensure_recorded(engines, sessions)
    with collect("no_n_plus_one", threshold=threshold, capture_callsites=True) as collector:
        yield collector
    found = findings(collector, threshold)
    if found:
        lines = [
            f"N+1 detected ({len(found)} pattern{'s' if len(found) > 1 else ''}):",
            *_fixes(found),
            "statements:",
            *_statements(collector),
        ]
        raise AssertionError("\n".join(lines))


try:
    import pytest
except ImportError:  # pytest is only needed for the fixtures
    pass
else:

    @pytest.fixture(name="max_queries")
    def max_queries_fixture() -> Callable[..., Any]:
        """``with max_queries(5): ...`` inside a test."""
        return max_queries

    @pytest.fixture(name="no_n_plus_one")
    def no_n_plus_one_fixture() -> Callable[..., Any]:
        """``with no_n_plus_one(): ...`` inside a test."""
        return no_n_plus_one
