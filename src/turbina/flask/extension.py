"""``Turbina(app)`` / ``Turbina().init_app(app)``: the assembler that wires the parts.

Like every pallets extension it never stores the app; state lives in
``app.extensions["turbina"]`` (a ``TurbinaState``). Each part's glue exposes an ``install``
function and returns its own state object; no part imports this module.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from turbina.config import load_settings
from turbina.errors import TurbinaError
from turbina.flask import assets as assets_glue
from turbina.flask import cache as cache_glue
from turbina.flask import cache_triggers as cache_triggers_glue
from turbina.flask import dashboard as dashboard_glue
from turbina.flask import monitor as monitor_glue
from turbina.flask import queries as queries_glue
from turbina.flask.state import EXTENSION_KEY, TurbinaState, get_state

__all__ = ["Turbina", "TurbinaState", "get_state"]


class Turbina:
    """The Flask extension. ``overrides`` are settings without the ``TURBINA_`` prefix
    (``Turbina(app, slow_query_ms=200)``) and win over ``app.config``."""

    def __init__(self, app: Flask | None = None, **overrides: Any) -> None:
        self._overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> TurbinaState:
        """Validate the ``TURBINA_*`` settings of ``app`` and install every enabled part.

        Call after ``db.init_app(app)`` so every Flask-SQLAlchemy engine is recorded.
        """
        if EXTENSION_KEY in app.extensions:
            raise TurbinaError(
                "Turbina is already initialised on this app",
                "call Turbina(app) or init_app(app) once per app",
            )
        settings = load_settings(app.config, **self._overrides)
        state = TurbinaState(settings=settings)
        app.extensions[EXTENSION_KEY] = state
        if not settings.enabled:
            return state
        state.queries = queries_glue.install(app, settings)
        state.cache = cache_glue.install(app, settings)
        state.cache_listeners = cache_triggers_glue.install(app, settings, state.cache)
        if settings.monitor:
            state.monitor = monitor_glue.install(
                app, settings, queries=state.queries, cache=state.cache
            )
        if settings.dashboard:  # closed (403) unless TURBINA_DASHBOARD_AUTH allows a request
            dashboard_glue.install(app, settings)
        # Last: its WhiteNoise wraps app.wsgi_app outermost, so a static file is answered
        # before any other part's middleware sees the request.
        state.assets = assets_glue.install(app, settings)
        return state
