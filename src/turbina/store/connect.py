"""Build the store a configuration names: ``open_store(settings, instance_path)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from turbina.config import Settings
from turbina.errors import TurbinaError
from turbina.store.backends.base import StoreBackend
from turbina.store.model import hide_password

__all__ = ["DEFAULT_FILE", "hide_password", "open_store", "redis_client"]

DEFAULT_FILE = "turbina-store.db"
REDIS_TIMEOUT_S = 1.0


def open_store(settings: Settings, instance_path: str | Path | None = None) -> StoreBackend:
    """The backend of ``TURBINA_STORE``: ``sqlite`` (``TURBINA_STORE_PATH``, default
    ``<instance folder>/turbina-store.db``), ``redis`` (``TURBINA_REDIS_URL``) or ``memory``.
    Nothing is connected or created here: the first flush does it."""
    kind = settings.store
    if kind == "memory":
        from turbina.store.backends.memory import MemoryStore

        return MemoryStore()
    if kind == "sqlite":
        from turbina.store.backends.sqlite import SQLiteStore

        path = settings.store_path
        if path is None:
            if instance_path is None:
                raise TurbinaError(
                    "TURBINA_STORE=sqlite needs a file and none is configured",
                    "set TURBINA_STORE_PATH (Flask apps default to the instance folder)",
                )
            path = str(Path(instance_path) / DEFAULT_FILE)
        return SQLiteStore(path)
    url = settings.redis_url
    if not url:
        raise TurbinaError(
            "TURBINA_STORE=redis but no Redis URL is configured",
            "set TURBINA_REDIS_URL or REDIS_URL, or use TURBINA_STORE=sqlite",
        )
    try:
        import redis  # noqa: F401
    except ImportError:
        raise TurbinaError(
            "TURBINA_STORE=redis needs redis-py", "pip install 'turbina[redis]'"
        ) from None
    from turbina.store.backends.redis import RedisStore

    cluster = settings.store_redis_cluster
    return RedisStore(
        prefix=settings.cache_prefix, url=url, connect=lambda: redis_client(url, cluster=cluster)
    )


def redis_client(url: str, *, cluster: bool = False) -> Any:
    """A redis-py client for the store: short timeouts and no retries (a flush that fails is
    kept and sent with the next one; retrying with back-off would only hold the thread)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, Any] = {
        "socket_timeout": REDIS_TIMEOUT_S,
        "socket_connect_timeout": REDIS_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 0),
    }
    if cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(url, **options)
    import redis

    return redis.Redis.from_url(url, **options)
