"""The performance dashboard: a blueprint over the monitor's JSON API (admin-only).

``install(app, settings)`` registers it at ``TURBINA_DASHBOARD_PREFIX`` (``/_turbina``);
``turbina.flask.extension`` calls it when ``TURBINA_DASHBOARD`` is on.
"""

from __future__ import annotations

from turbina.flask.dashboard.blueprint import BLUEPRINT_NAME, install, make_blueprint

__all__ = ["BLUEPRINT_NAME", "install", "make_blueprint"]
