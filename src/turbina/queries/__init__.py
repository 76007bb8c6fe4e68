"""Query analysis: fingerprints, percentiles, slow log, EXPLAIN and N+1 detection (no Flask).

The ``fingerprint()`` function is ``turbina.fingerprint`` (here the name is its module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "QueryCollector": "turbina.queries.context",
    "collect": "turbina.queries.context",
    "FingerprintCache": "turbina.queries.fingerprint",
    "LatencyHistogram": "turbina.queries.histogram",
    "Finding": "turbina.queries.nplusone",
    "FindingsLog": "turbina.queries.nplusone",
    "QueryRecorder": "turbina.queries.recorder",
    "SlowLog": "turbina.queries.slowlog",
    "SlowQuery": "turbina.queries.slowlog",
    "QueriesState": "turbina.queries.state",
    "SlowRules": "turbina.queries.slow",
    "SlowStatement": "turbina.queries.slow",
    "QueryStats": "turbina.queries.stats",
    "WorkloadSample": "turbina.queries.stats",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.queries.context import QueryCollector, collect
    from turbina.queries.fingerprint import FingerprintCache
    from turbina.queries.histogram import LatencyHistogram
    from turbina.queries.nplusone import Finding, FindingsLog
    from turbina.queries.recorder import QueryRecorder
    from turbina.queries.slow import SlowRules, SlowStatement
    from turbina.queries.slowlog import SlowLog, SlowQuery
    from turbina.queries.state import QueriesState
    from turbina.queries.stats import QueryStats, WorkloadSample
