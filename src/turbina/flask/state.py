"""``TurbinaState``: what Turbina keeps for one app, in ``app.extensions["turbina"]``.

Its own module so that the parts' glue and the CLI can read an app's state without importing
the extension that assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context

from turbina.config import Settings
from turbina.errors import TurbinaError

if TYPE_CHECKING:
    from turbina.assets.state import AssetsState
    from turbina.cache.region import TurbinaCache
    from turbina.flask.cache_triggers import CacheListeners
    from turbina.flask.monitor import MonitorState
    from turbina.queries.state import QueriesState

EXTENSION_KEY = "turbina"


@dataclass
class TurbinaState:
    """Everything Turbina keeps for one app: its settings and each part's state (``None`` for
    a part that is off)."""

    settings: Settings
    queries: QueriesState | None = None
    cache: TurbinaCache | None = None
    cache_listeners: CacheListeners | None = None  # TURBINA_CACHE_LISTEN
    monitor: MonitorState | None = None
    assets: AssetsState | None = None


def find_state(app: Flask | None = None) -> TurbinaState | None:
    """The state of ``app`` (default: the current app), or ``None`` without Turbina or app."""
    if app is None:
        if not has_app_context():
            return None
        app = current_app
    found = app.extensions.get(EXTENSION_KEY)
    return found if isinstance(found, TurbinaState) else None


def get_state(app: Flask | None = None) -> TurbinaState:
    """The ``TurbinaState`` of ``app`` (default: the current app); a ``TurbinaError`` that says
    what to do when there is no app or the app has no Turbina."""
    if app is None and not has_app_context():
        raise TurbinaError(
            "no Flask app is active",
            "call it inside a request or `with app.app_context():`, or pass the app",
        )
    state = find_state(app)
    if state is None:
        raise TurbinaError(
            "Turbina is not initialised on this app",
            "did you forget to call Turbina(app) or Turbina().init_app(app)?",
        )
    return state
