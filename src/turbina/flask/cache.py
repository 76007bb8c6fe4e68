"""Flask glue of the cache: ``install()`` builds an app's cache; the app-bound decorators.

``turbina.cached("reports")`` can decorate functions at import time, before any app
exists: the cache is looked up at call time in the current app (``app.extensions``). There is
no process-wide fallback: called outside an app context, a ``turbina.cached`` function raises
a ``TurbinaError`` that says what to do; to cache outside Flask, decorate with a
``TurbinaCache`` instance's own ``.cached()``, which is bound to that cache.

``install()`` gives the cache exactly the app's Flask-SQLAlchemy engines (every bind), their
metadata (foreign-key actions) and ``db.session``; engines created after ``Turbina(app)`` are
picked up on the first request. With ``TURBINA_CACHE_BACKEND=null`` nothing is installed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    has_app_context,
    has_request_context,
    make_response,
    request,
    session,
)
from werkzeug.wrappers import Response

from turbina.cache import reads
from turbina.cache.backends.base import CacheBackend
from turbina.cache.region import CacheSpec, TurbinaCache, Uncacheable
from turbina.cache.spec import check_context, check_known_context, check_ttl
from turbina.config import Settings
from turbina.errors import TurbinaError
from turbina.flask.queries import _engines_of
from turbina.flask.state import find_state
from turbina.monitor.cache_events import CacheEvents

__all__ = [
    "Cache",
    "cache_stats",
    "cached",
    "cached_view",
    "current_cache",
    "install",
    "invalidate",
    "invalidate_tables",
]

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("turbina.cache")
_CACHEABLE_STATUS = frozenset({200, 203, 204, 300, 301, 404, 410})
# Session keys Flask-Login reads and writes for every request; the user is in the key already.
_LOGIN_KEYS = frozenset({"_user_id", "_fresh", "_id", "_remember", "_remember_seconds"})
CONTEXTS_KEY = "TURBINA_CACHE_CONTEXTS"


class Cache(TurbinaCache):
    """``TurbinaCache`` plus a Flask view decorator; its events are also counted per context
    and per request for the request monitor (``events``)."""

    contexts_source = CONTEXTS_KEY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every event the cache counts passes through: the store gets per-window totals and
        # the request monitor each request's hits and misses, with no second hook in the core.
        self.events = self.observe_counts(CacheEvents)

    def cached_view(
        self,
        context: str,
        depends_on: Iterable[Any] | None = None,
        *,
        ttl: int | None = None,
        vary_on: Callable[[], Any] | None = None,
        per_user: bool = True,
    ) -> Callable[[F], F]:
        """Cache a view's status, headers and body per full URL (with query string).

        By default the key also varies on the logged-in Flask-Login user, so one user's page
        is never served to another, and the entry depends on the user's table (a renamed user
        is re-rendered); ``vary_on`` returns an extra key part (e.g. a tenant);
        ``per_user=False`` shares the page between all users (public pages only). Only GET
        and HEAD are cached; a response is never stored when it sets a cookie or streams,
        when the view changed the session (a flash, a CSRF token: the session cookie is set
        after the view returns), or when it read a session that holds anything besides
        Flask-Login's keys (the page depends on that visitor's session). The key includes the
        names of what the session holds (a visitor with a pending flash message gets a page
        of its own).
        """
        check_context(context)
        check_ttl(ttl)
        if ttl is None:
            check_known_context(context, self.contexts, self.contexts_source)
        deps = None if depends_on is None else list(depends_on)

        def decorator(view: F) -> F:
            resolved: list[CacheSpec] = []

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if request.method not in ("GET", "HEAD"):
                    return view(*args, **kwargs)
                if not resolved:
                    resolved.append(self.spec_for(view, context, deps, ttl, extra="view")[0])
                spec = resolved[0]
                user_part, user_tables = _user_part(per_user)
                parts = (
                    request.method,
                    request.url,
                    user_part,
                    vary_on() if vary_on else None,
                    _session_shape(),  # a pending flash message renders another page
                )
                key = _view_keys(spec, self.namespace).key(parts, {})
                status = "MISS"

                def render() -> Any:
                    nonlocal status
                    status = "MISS"
                    if user_tables:
                        reads.note_tables(user_tables)
                    current = session._get_current_object()  # type: ignore[attr-defined]
                    was_accessed = bool(getattr(current, "accessed", False))
                    current.accessed = False
                    try:
                        response = make_response(view(*args, **kwargs))
                    finally:
                        touched = bool(getattr(current, "accessed", False))
                        current.accessed = was_accessed or touched
                    if (
                        response.status_code not in _CACHEABLE_STATUS
                        or response.direct_passthrough
                        or not response.is_sequence
                        or "Set-Cookie" in response.headers
                        or _session_dependent(current, touched, per_user)
                    ):
                        status = "BYPASS"
                        return Uncacheable(response)
                    headers = [
                        [k, v] for k, v in response.headers.items() if k.lower() != "content-length"
                    ]
                    return [response.status_code, headers, response.get_data()]

                status = "HIT"
                value = self.get_or_create(spec, key, render)
                if isinstance(value, Uncacheable):
                    result: Response = value.value
                elif isinstance(value, Response):
                    result = value
                else:
                    code, headers, body = value
                    result = current_app.response_class(body, status=code, headers=headers)
                result.headers["X-Turbina-Cache"] = status
                return result

            wrapper.__turbina_cache__ = self  # type: ignore[attr-defined]
            return wrapper  # type: ignore[return-value]

        return decorator


def _session_shape() -> tuple[str, ...]:
    """Names (not values) of what the visitor's session holds besides Flask-Login's keys."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    names = [str(k) for k in current if k not in _LOGIN_KEYS]
    return tuple(sorted(names)[:50])


def _session_dependent(current: Any, touched: bool, per_user: bool) -> bool:
    """The response depends on (or changes) this visitor's session: never share it."""
    if getattr(current, "modified", False):
        return True  # Flask sets the session cookie after the view: the page must not be reused
    if not touched:
        return False
    held = set(current.keys())
    if per_user:
        held -= _LOGIN_KEYS
    return bool(held)


_view_key_makers: dict[tuple[str, str], Any] = {}


def _view_keys(spec: CacheSpec, namespace: str) -> Any:
    from turbina.cache.keys import KeyMaker

    found = _view_key_makers.get((namespace, spec.name + spec.context))
    if found is None:

        def parts(method: Any, url: Any, user: Any, extra: Any, session_keys: Any) -> None:
            """Key parts of a cached view."""

        parts.__module__, parts.__qualname__ = spec.name.split(":", 1)
        found = KeyMaker(parts, namespace, spec.context, "view")
        if len(_view_key_makers) < 10_000:
            _view_key_makers[(namespace, spec.name + spec.context)] = found
    return found


_user_tables: dict[type, frozenset[str]] = {}


def _user_part(per_user: bool) -> tuple[Any, frozenset[str]]:
    """The key part of the logged-in user and the tables that user's object comes from."""
    if not per_user:
        return None, frozenset()
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is None:
        raise TurbinaError(
            "cached_view varies on the logged-in user but the app has no Flask-Login LoginManager",
            "set up Flask-Login, pass vary_on=<callable returning the user id>, "
            "or per_user=False for a page that is the same for everyone",
        )
    from flask_login import current_user

    user = current_user._get_current_object() if current_user is not None else None
    if user is None or not getattr(user, "is_authenticated", False):
        return ("anonymous",), frozenset()
    return ("user", str(user.get_id())), _tables_of(type(user))


def _tables_of(cls: type) -> frozenset[str]:
    found = _user_tables.get(cls)
    if found is None:
        import sqlalchemy as sa

        from turbina.cache.spec import dependency_tables

        mapper: Any = sa.inspect(cls, raiseerr=False)
        found = dependency_tables([cls]) if mapper is not None else frozenset()
        if len(_user_tables) < 1000:
            _user_tables[cls] = found
    return found


def current_cache() -> TurbinaCache | None:
    """The current app's cache; ``None`` when Turbina is disabled on it (``TURBINA_ENABLED``).

    Raises ``TurbinaError`` outside an app context or on an app without Turbina.
    """
    if not has_app_context():
        raise TurbinaError(
            "a Turbina cache was used outside a Flask app context",
            "call it inside a request or `with app.app_context():`, or decorate the function "
            "with a TurbinaCache instance's .cached() to use that cache anywhere",
        )
    state = find_state()
    if state is None:
        raise TurbinaError(
            "Turbina is not initialised on this app, so it has no cache",
            "call Turbina(app) in the app factory",
        )
    return state.cache


def _required_cache(action: str) -> TurbinaCache:
    cache = current_cache()
    if cache is None:
        raise TurbinaError(
            f"cannot {action}: Turbina is disabled on this app", "set TURBINA_ENABLED=true"
        )
    return cache


def invalidate(context: str) -> bool:
    """Make every entry of ``context`` in the current app's cache stale (one INCR).

    ``False`` when the store could not be reached (nothing was invalidated)."""
    return _required_cache("invalidate a context").invalidate(context)


def invalidate_tables(*tables: str) -> bool:
    """Make every entry of the current app's cache that depends on ``tables`` stale."""
    return _required_cache("invalidate tables").invalidate_tables(*tables)


def cache_stats() -> dict[str, Any]:
    """The current app's cache counters (``TurbinaCache.stats()``)."""
    return _required_cache("read cache stats").stats()


def cached(
    context: str,
    depends_on: Iterable[Any] | None = None,
    *,
    ttl: int | None = None,
    lock: bool = True,
) -> Callable[[F], F]:
    """``@turbina.cached("reports")``: cache in the current app's cache at call time (see
    ``TurbinaCache.cached``); the function runs uncached when Turbina is disabled on the app.
    The context must be declared in ``TURBINA_CACHE_CONTEXTS`` (or ``ttl=`` given): checked
    at the first call, when the app is known; the name and ``ttl`` are checked at once."""
    check_context(context)
    check_ttl(ttl)
    deps = None if depends_on is None else list(depends_on)
    if deps is not None:
        from turbina.cache.spec import dependency_tables

        dependency_tables(deps)  # a bad item fails at decoration time

    def decorator(func: F) -> F:
        resolved: dict[int, tuple[TurbinaCache, CacheSpec, Any]] = {}

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            cache = current_cache()
            if cache is None:
                return func(*args, **kwargs)
            found = resolved.get(id(cache))
            if found is None or found[0] is not cache:
                spec, keys = cache.spec_for(func, context, deps, ttl, lock=lock)
                if len(resolved) >= 100:
                    resolved.clear()
                found = resolved[id(cache)] = (cache, spec, keys)
            return cache.call(found[1], found[2], func, args, kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def cached_view(
    context: str,
    depends_on: Iterable[Any] | None = None,
    *,
    ttl: int | None = None,
    vary_on: Callable[[], Any] | None = None,
    per_user: bool = True,
) -> Callable[[F], F]:
    """``@turbina.cached_view("pages")``: cache a view in the current app's cache."""
    check_context(context)
    check_ttl(ttl)

    def decorator(view: F) -> F:
        wrapped: dict[int, Callable[..., Any]] = {}

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not has_request_context():
                raise TurbinaError(
                    f"cached view {view.__qualname__} was called outside a request",
                    "call it through the app (or app.test_request_context())",
                )
            cache = current_cache()
            if not isinstance(cache, Cache):
                return view(*args, **kwargs)
            inner = wrapped.get(id(cache))
            if inner is None or inner.__turbina_cache__ is not cache:  # type: ignore[attr-defined]
                inner = cache.cached_view(
                    context, depends_on, ttl=ttl, vary_on=vary_on, per_user=per_user
                )(view)
                if len(wrapped) >= 100:
                    wrapped.clear()
                wrapped[id(cache)] = inner
            return inner(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def build_backend(settings: Settings) -> CacheBackend:
    """The backend named by ``TURBINA_CACHE_BACKEND``."""
    kind = settings.cache_backend
    if kind == "null":
        from turbina.cache.backends.null import NullBackend

        return NullBackend()
    if kind == "memory":
        from turbina.cache.backends.memory import MemoryBackend

        return MemoryBackend(settings.cache_max_bytes)
    url = settings.redis_url
    if not url:
        raise TurbinaError(
            "TURBINA_CACHE_BACKEND=redis but no Redis URL is configured",
            "set TURBINA_REDIS_URL or REDIS_URL, or use TURBINA_CACHE_BACKEND=memory",
        )
    from turbina.cache.backends.redis import RedisBackend

    timeout = settings.cache_redis_timeout_ms / 1000
    if settings.cache_redis_cluster:
        from redis.cluster import RedisCluster

        client: Any = RedisCluster.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    else:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    longest = max(settings.cache_contexts.values(), default=86400)
    return RedisBackend(client, settings.cache_prefix, stamp_ttl_s=max(2 * longest, 86400))


def install(app: Flask, settings: Settings) -> Cache:
    """Build the app's cache from settings; give it the app's engines and ``db.session``."""
    backend = build_backend(settings)
    enabled = settings.cache_backend != "null"
    cache = Cache(
        backend,
        settings.cache_contexts,
        namespace=settings.cache_prefix,
        max_value_bytes=settings.cache_max_value_bytes,
        lock_timeout_ms=settings.cache_lock_timeout_ms,
        enabled=enabled,
        max_stale_s=settings.cache_max_stale_s,
    )
    if not enabled:
        return cache  # nothing installed anywhere
    attached = _track_app(app, cache)
    if not attached:

        @app.before_request
        def _turbina_cache_attach() -> None:
            # Flask-SQLAlchemy initialised after Turbina: its engines exist by now.
            nonlocal attached
            if not attached:
                attached = _track_app(app, cache) or True

    return cache


def _track_app(app: Flask, cache: Cache) -> bool:
    """Track the app's engines, metadata and session; False if it has none (yet)."""
    engines = _engines_of(app)
    if not engines:
        return False
    ext = app.extensions.get("sqlalchemy")
    metadatas = list(getattr(ext, "metadatas", {}).values()) if ext is not None else []
    for engine in engines.values():
        cache.track_engine(engine, metadata=metadatas)
    db_session = getattr(ext, "session", None)
    if db_session is not None:
        cache.track_sessions(db_session)
    _check_prefix(cache, engines)
    return True


def _check_prefix(cache: Cache, engines: dict[str, Any]) -> None:
    """Warn when another app on other databases uses the same Redis prefix: its entries and
    stamps would be shared with this app's."""
    claim = getattr(cache.backend, "claim_prefix", None)
    if claim is None:
        return
    urls = sorted(e.url.render_as_string(hide_password=True) for e in engines.values())
    identity = hashlib.blake2b("\n".join(urls).encode(), digest_size=8).hexdigest()
    try:
        other = claim(identity, ", ".join(urls))
    except Exception:
        return  # the store is down: it is checked again by the next process that starts
    if other is not None:
        message = (
            f"TURBINA_CACHE_PREFIX {cache.namespace!r} is also used by an app on other "
            f"databases ({other}); entries and stamps are shared: give each app its own prefix"
        )
        cache.warnings.append(message)
        log.warning("turbina.cache: %s", message)
