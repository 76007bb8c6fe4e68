"""Application factory of `fretes`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from fretes.access.registry import build_registry, init_access
from fretes.auth import (
    LoginThrottle,
    init_auth,
    may_see_server_timing,
    may_see_turbina_dashboard,
)
from fretes.models import db
from fretes.security import init_security
from fretes.settings import EXTENSION_KEY as SETTINGS_KEY
from fretes.settings import FretesSettings, load_settings
from fretes.timing import init_timing
from fretes.views import register_views
from turbina import Settings, Turbina, get_state

# Page data -> cache context -> TTL in seconds (the seed's contexts).
CACHE_CONTEXTS = {
    "faturamento": 3600,
    "entregas": 1800,
    "embarques": 900,
    "dashboards": 300,
}
# The pages' bundles (TURBINA_ASSETS_BUNDLES), files under static/; `turbina-lazy.js` is
# Turbina's own. `flask --app fretes.app:create_app turbina assets build` writes them to
# static/dist (bench/server.py and bench/demo.py run it before serving). Chart.js 4.6.1 is
# vendored (static/vendor/, MIT, its license header kept): nothing is fetched from a CDN.
ASSET_BUNDLES = {
    "app.css": ["fretes.css"],
    "graficos.js": ["graficos.js"],
    "chart.js": ["vendor/chart.umd.js"],
    "favicon.svg": ["favicon.svg"],
}
# Turbina's own keys, from its public Settings type (one attribute per TURBINA_* key).
TURBINA_KEYS = frozenset("TURBINA_" + f.name.upper() for f in dataclasses.fields(Settings))


def normalize_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_path() -> str:
    """``./instance`` of the working directory (``FRETES_INSTANCE_PATH`` moves it) — not the
    package's parent, which with an editable install would be ``src/instance``."""
    return os.environ.get("FRETES_INSTANCE_PATH") or os.path.abspath("instance")


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / "fretes.db")


def build_assets_for_tests(app: Flask) -> None:
    """A test app builds its bundles itself (incremental: nothing changed costs milliseconds),
    so the tests need no build step; a real server is started after
    ``turbina assets build`` (without it, a page is a 500 naming the command)."""
    assets = get_state(app).assets
    if assets is not None:
        assets.build()


def init_assets(app: Flask, settings: FretesSettings) -> None:
    """What the templates need of ``FRETES_ASSETS`` (never the settings object itself: it
    holds the session secret): link the bundles or the plain files, lazy parts or eager."""
    app.jinja_env.globals["assets_pipeline"] = settings.assets_pipeline
    app.jinja_env.globals["lazy_parts"] = settings.lazy_parts


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment; ``DATABASE_URL`` (config or
    environment) picks the database, defaulting to a SQLite file under ``instance/``. Raises a
    ``TurbinaError`` naming the setting when one is missing or invalid (``FRETES_SECRET_KEY``
    outside testing and debug)."""
    app = Flask(__name__, instance_path=instance_path(), instance_relative_config=True)
    app.config.update(SQLALCHEMY_TRACK_MODIFICATIONS=False, JSON_SORT_KEYS=False)
    # The cache contexts of this app's pages and their TTLs (the library has no defaults).
    app.config["TURBINA_CACHE_CONTEXTS"] = dict(CACHE_CONTEXTS)
    # The benchmark reads each request's DB time and query count from Server-Timing: sent to
    # logged-in users only. The dashboard (/_turbina) is for admins only.
    app.config["TURBINA_SERVER_TIMING"] = may_see_server_timing
    app.config["TURBINA_DASHBOARD_AUTH"] = may_see_turbina_dashboard
    app.config["TURBINA_ASSETS_BUNDLES"] = dict(ASSET_BUNDLES)
    # Turbina settings may come from the environment (e.g. the benchmark's gunicorn). Only the
    # library's own keys are copied: other TURBINA_* variables (the test suite's
    # TURBINA_REQUIRE_SERVICES) are not settings and never reach the app config.
    app.config.update({k: v for k, v in os.environ.items() if k in TURBINA_KEYS})
    if config:
        app.config.update(config)
    settings = load_settings(app.config, os.environ)
    app.extensions[SETTINGS_KEY] = settings
    if not settings.assets_pipeline:
        # The seed's way, kept to be measured against: Flask's own static route, nothing
        # compressed.
        app.config["TURBINA_ASSETS_SERVE"] = False
        app.config["TURBINA_COMPRESS_RESPONSES"] = False
    app.config["SECRET_KEY"] = settings.secret_key
    url = app.config.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = default_database_url(app.instance_path)
    app.config["DATABASE_URL"] = normalize_database_url(url)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", app.config["DATABASE_URL"])
    # hide_parameters: a failed statement's message (and so the exception log) never carries
    # its bound values, which can be a CPF or a client's name from a filter.
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True, "hide_parameters": True}
    )

    db.init_app(app)
    init_security(app, settings)
    init_auth(
        app,
        LoginThrottle.build(
            settings.ratelimit_storage_uri,
            settings.login_limit_per_user,
            settings.login_limit_per_address,
        ),
    )
    init_timing(app)
    if settings.turbina:
        # Query recorder (Server-Timing db part, N+1 findings) and the cache the cached form
        # uses. FRETES_TURBINA=0 runs the app with no Turbina at all.
        Turbina(app)
        if app.testing and settings.assets_pipeline:
            build_assets_for_tests(app)
    init_assets(app, settings)
    init_access(
        app,
        build_registry(
            default_mode=settings.mode,
            header_enabled=settings.mode_header,
            with_cache="turbina" in app.extensions,
        ),
    )
    register_views(app)
    return app
