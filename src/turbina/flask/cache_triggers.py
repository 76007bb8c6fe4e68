"""Flask glue of the PostgreSQL trigger bridge: ``TURBINA_CACHE_LISTEN`` starts the listener.

With the key on, ``install()`` gives each PostgreSQL database of the app (Flask-SQLAlchemy's
engines, every bind) one ``TriggerListener`` whose notifications are bumped through the
cache's commit path. It starts when the engines are known — in ``Turbina(app)``, or at the
first request when Flask-SQLAlchemy is initialised later — and again in a forked worker
(gunicorn ``--preload``) at its first request: the parent's thread does not survive a fork
(its connection is left alone; psycopg never closes a connection another process opened).
With the key off nothing is created, imported or connected. The triggers themselves are
installed by ``flask turbina cache install-triggers``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from turbina.cache.region import TurbinaCache
from turbina.cache.trigger_listener import OwnSessions, TriggerListener
from turbina.config import Settings
from turbina.errors import ConfigError, TurbinaError
from turbina.flask.queries import _engines_of
from turbina.store.model import hide_password

__all__ = ["CacheListeners", "install", "require_driver"]

_KEY = "TURBINA_CACHE_LISTEN"


def require_driver(what: str) -> None:
    """A one-line error when psycopg 3 (which the bridge needs itself) is missing."""
    try:
        import psycopg  # optional: only the bridge needs it
    except ImportError:
        raise TurbinaError(
            f"{what} needs the psycopg 3 driver, which is not installed",
            "pip install 'psycopg[binary]>=3.2'",
        ) from None
    version = tuple(int(part) for part in psycopg.__version__.split(".")[:2] if part.isdigit())
    if version < (3, 2):  # notifies(timeout=, stop_after=) came in 3.2
        raise TurbinaError(
            f"{what} needs psycopg >= 3.2, and {psycopg.__version__} is installed",
            "pip install -U 'psycopg[binary]>=3.2'",
        )


class CacheListeners:
    """The trigger listeners of one app: one per PostgreSQL database it uses."""

    def __init__(self, settings: Settings, cache: TurbinaCache) -> None:
        self.settings = settings
        self.cache = cache
        self.own = OwnSessions()
        self.listeners: dict[str, TriggerListener] = {}
        self._engines: dict[str, Any] = {}
        self.pid = os.getpid()

    def attach(self, engines: dict[str, Any]) -> None:
        """Start a listener on each PostgreSQL database among ``engines`` (by bind name)."""
        postgres = {n: e for n, e in engines.items() if e.dialect.name == "postgresql"}
        if not postgres:
            kinds = ", ".join(sorted({e.dialect.name for e in engines.values()}))
            raise ConfigError(
                f"{_KEY} is on but the app's database is {kinds}: the trigger bridge needs "
                "PostgreSQL (LISTEN/NOTIFY)",
                f"set {_KEY}=false, or use a postgresql:// database",
            )
        seen = {e.url.render_as_string(hide_password=False) for e in self._engines.values()}
        for name, engine in postgres.items():
            url = engine.url.render_as_string(hide_password=False)
            if name in self._engines or url in seen:
                continue  # two binds on one database: one listener is enough
            seen.add(url)
            self._engines[name] = engine
            self.own.watch(engine)
            self._start(name, engine)

    def _start(self, name: str, engine: Any) -> None:
        listener = TriggerListener.for_engine(
            engine,
            # The path every tracked commit takes: table stamps and scoped entries alike.
            self.cache.commit_seen,
            channel=self.settings.cache_channel,
            own=self.own,
            label=f"-{name}",
            elect=self._shared_store(),
        )
        self.listeners[name] = listener
        listener.start()

    def _shared_store(self) -> str | None:
        """With Redis every process bumps the same stamps: one listener per database and
        store is enough, elected among the processes (the others stand by). The memory
        backend is per process: each process listens for itself."""
        settings = self.settings
        if settings.cache_backend != "redis":
            return None
        return f"{settings.cache_channel}:{settings.cache_prefix}:{hide_password(settings.redis_url or '')}"

    def ensure_running(self) -> None:
        """In a forked child: start listeners of its own (the parent's threads are gone)."""
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.own.pids.clear()
        self.listeners = {}  # dropped, not stopped: their connections belong to the parent
        for name, engine in self._engines.items():
            self._start(name, engine)

    def stop(self) -> None:
        """Stop every listener and remove the pool listeners."""
        for listener in self.listeners.values():
            listener.stop()
        self.own.close()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each listener's counters and state, by bind name."""
        return {name: listener.stats() for name, listener in self.listeners.items()}


def install(app: Flask, settings: Settings, cache: TurbinaCache | None) -> CacheListeners | None:
    """The app's listeners when ``TURBINA_CACHE_LISTEN`` is on; ``None`` (nothing done)
    otherwise."""
    if not settings.cache_listen:
        return None
    if cache is None or not cache.enabled:
        raise ConfigError(
            f"{_KEY} is on but the cache is off (TURBINA_CACHE_BACKEND=null)",
            f"set {_KEY}=false, or TURBINA_CACHE_BACKEND=memory or redis",
        )
    require_driver(_KEY)
    listeners = CacheListeners(settings, cache)
    engines = _engines_of(app)
    if engines:
        listeners.attach(engines)

    @app.before_request
    def _turbina_cache_listen() -> None:
        if not listeners._engines:  # Flask-SQLAlchemy was initialised after Turbina
            found = _engines_of(app)
            if not found:
                raise ConfigError(
                    f"{_KEY} is on but the app has no Flask-SQLAlchemy database",
                    f"set {_KEY}=false, or initialise Flask-SQLAlchemy on the app",
                )
            listeners.attach(found)
        listeners.ensure_running()

    return listeners
