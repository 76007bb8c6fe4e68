"""Context cache with automatic invalidation: fresh after a commit, shared stats, fails open.

Framework-free: ``TurbinaCache(backend, contexts)`` is the policy (``region``), backends are
plug-ins behind ``CacheBackend``; ``scoped``/``depends_on_rows``/``depends_on_all_rows`` declare dependencies finer
than a table (``scopes``). The Flask decorators (``turbina.cached``,
``turbina.cached_view``) live in ``turbina.flask.cache``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "NO_VALUE": "turbina.cache.backends.base",
    "CacheBackend": "turbina.cache.backends.base",
    "MemoryBackend": "turbina.cache.backends.memory",
    "NullBackend": "turbina.cache.backends.null",
    "RedisBackend": "turbina.cache.backends.redis",
    "Scope": "turbina.cache.scopes",
    "TurbinaCache": "turbina.cache.region",
    "depends_on_all_rows": "turbina.cache.scopes",
    "depends_on_rows": "turbina.cache.scopes",
    "scoped": "turbina.cache.scopes",
    "register_dataclass": "turbina.cache.codec",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.cache.backends.base import NO_VALUE, CacheBackend
    from turbina.cache.backends.memory import MemoryBackend
    from turbina.cache.backends.null import NullBackend
    from turbina.cache.backends.redis import RedisBackend
    from turbina.cache.codec import register_dataclass
    from turbina.cache.region import TurbinaCache
    from turbina.cache.scopes import Scope, depends_on_all_rows, depends_on_rows, scoped
