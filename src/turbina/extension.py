"""Flask glue: ``Turbina(app)`` / ``Turbina().init_app(app)`` wires the parts.

Like every pallets extension it never stores the app; state lives in
``app.extensions["turbina"]`` (a ``TurbinaState``). Each part exposes an ``install``
function in its ``flask_glue`` module and returns its own state object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from turbina.config import Settings, load_settings
from turbina.errors import TurbinaError

EXTENSION_KEY = "turbina"


@dataclass
class TurbinaState:
    """Everything Turbina keeps for one app."""

    settings: Settings
    queries: Any = None
    cache: Any = None


class Turbina:
    """The Flask extension. ``overrides`` are settings without the ``TURBINA_`` prefix and win
    over ``app.config``."""

    def __init__(self, app: Flask | None = None, **overrides: Any) -> None:
        self._overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> TurbinaState:
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
        from turbina.queries.flask_glue import install as install_queries

        state.queries = install_queries(app, settings)
        from turbina.cache.flask_glue import install as install_cache

        state.cache = install_cache(app, settings, state)
        return state


def get_state(app: Flask | None = None) -> TurbinaState:
    """The ``TurbinaState`` of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    try:
        state: TurbinaState = target.extensions[EXTENSION_KEY]
    except KeyError:
        raise TurbinaError(
            "Turbina is not initialised on this app",
            "did you forget to call Turbina(app) or turbina.init_app(app)?",
        ) from None
    return state
