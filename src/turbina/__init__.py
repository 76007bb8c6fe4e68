"""Turbina: a performance layer for Flask + SQLAlchemy applications.

The public API is ``__all__``. Names are imported on first use (PEP 562), so
``import turbina`` loads neither Flask nor sqlglot; the Flask glue lives in ``turbina.flask``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # errors and configuration
    "TurbinaError": "turbina.errors",
    "ConfigError": "turbina.errors",
    "Settings": "turbina.config",
    "load_settings": "turbina.config",
    # the Flask extension and its cache glue
    "Turbina": "turbina.flask.extension",
    "TurbinaState": "turbina.flask.extension",
    "get_state": "turbina.flask.extension",
    "Cache": "turbina.flask.cache",
    "cached": "turbina.flask.cache",
    "cached_view": "turbina.flask.cache",
    "current_cache": "turbina.flask.cache",
    "invalidate": "turbina.flask.cache",
    "invalidate_tables": "turbina.flask.cache",
    "cache_stats": "turbina.flask.cache",
    # framework-free cores
    "QueryRecorder": "turbina.queries.recorder",
    "QueriesState": "turbina.queries.state",
    "collect": "turbina.queries.context",
    "fingerprint": "turbina.queries.fingerprint",
    "LatencyHistogram": "turbina.queries.histogram",
    "TurbinaCache": "turbina.cache.region",
    "MemoryBackend": "turbina.cache.backends.memory",
    "RedisBackend": "turbina.cache.backends.redis",
    "NullBackend": "turbina.cache.backends.null",
    "register_dataclass": "turbina.cache.codec",
    "TriggerBridge": "turbina.cache.triggers",
    "TriggerListener": "turbina.cache.trigger_listener",
    "advise_workload": "turbina.indexes.advise",
}

__all__ = sorted([*_EXPORTS, "__version__"])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from turbina.cache.backends.memory import MemoryBackend
    from turbina.cache.backends.null import NullBackend
    from turbina.cache.backends.redis import RedisBackend
    from turbina.cache.codec import register_dataclass
    from turbina.cache.region import TurbinaCache
    from turbina.cache.trigger_listener import TriggerListener
    from turbina.cache.triggers import TriggerBridge
    from turbina.config import Settings, load_settings
    from turbina.errors import ConfigError, TurbinaError
    from turbina.flask.cache import (
        Cache,
        cache_stats,
        cached,
        cached_view,
        current_cache,
        invalidate,
        invalidate_tables,
    )
    from turbina.flask.extension import Turbina, TurbinaState, get_state
    from turbina.indexes.advise import advise_workload
    from turbina.queries.context import collect
    from turbina.queries.fingerprint import fingerprint
    from turbina.queries.histogram import LatencyHistogram
    from turbina.queries.recorder import QueryRecorder
    from turbina.queries.state import QueriesState
