"""Query analysis: fingerprints, percentiles, slow log, EXPLAIN and N+1 detection."""

from __future__ import annotations

from turbina.queries.context import QueryCollector, collect
from turbina.queries.fingerprint import FingerprintCache, fingerprint
from turbina.queries.histogram import LatencyHistogram
from turbina.queries.nplusone import Finding, FindingsLog
from turbina.queries.recorder import QueryRecorder
from turbina.queries.slowlog import SlowLog, SlowQuery
from turbina.queries.state import QueriesState
from turbina.queries.stats import QueryStats, WorkloadSample

__all__ = [
    "Finding",
    "FindingsLog",
    "FingerprintCache",
    "LatencyHistogram",
    "QueriesState",
    "QueryCollector",
    "QueryRecorder",
    "QueryStats",
    "SlowLog",
    "SlowQuery",
    "WorkloadSample",
    "collect",
    "fingerprint",
]
