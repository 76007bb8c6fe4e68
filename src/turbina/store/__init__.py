"""The shared store: per-worker deltas flushed in the background, merged reads (no Flask).

Backends: ``SQLiteStore`` (one file per host, the default), ``RedisStore`` (many hosts; Redis
Cluster too) and ``MemoryStore`` (tests). ``Flusher`` writes a worker's deltas every few
seconds and at exit; ``StoreBackend.read(since)`` merges every worker and host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "StoreBackend": "turbina.store.backends.base",
    "MemoryStore": "turbina.store.backends.memory",
    "SQLiteStore": "turbina.store.backends.sqlite",
    "RedisStore": "turbina.store.backends.redis",
    "Flusher": "turbina.store.flusher",
    "LabelCap": "turbina.store.labels",
    "Batch": "turbina.store.model",
    "Reading": "turbina.store.model",
    "parse_window": "turbina.store.model",
    "open_store": "turbina.store.connect",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.store.backends.base import StoreBackend
    from turbina.store.backends.memory import MemoryStore
    from turbina.store.backends.redis import RedisStore
    from turbina.store.backends.sqlite import SQLiteStore
    from turbina.store.connect import open_store
    from turbina.store.flusher import Flusher
    from turbina.store.labels import LabelCap
    from turbina.store.model import Batch, Reading, parse_window
