"""Context cache with automatic invalidation: fresh after a commit, shared stats, fails open.

``TurbinaCache(backend, contexts)`` is the framework-free core; ``Cache`` adds the Flask view
decorator; ``cached``/``cached_view`` are module-level decorators bound to the current app's
cache at call time.
"""

from turbina.cache.backends.base import NO_VALUE, CacheBackend
from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.backends.redis import RedisBackend
from turbina.cache.flask_glue import Cache, cached, cached_view, current_cache
from turbina.cache.region import TurbinaCache

__all__ = [
    "NO_VALUE",
    "Cache",
    "CacheBackend",
    "MemoryBackend",
    "RedisBackend",
    "TurbinaCache",
    "cached",
    "cached_view",
    "current_cache",
]
