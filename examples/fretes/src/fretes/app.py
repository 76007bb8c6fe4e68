"""Application factory of `fretes`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from fretes.auth import init_auth
from fretes.models import db
from fretes.timing import init_timing
from turbina import Turbina
from turbina.config import KEY_NAMES as TURBINA_KEYS

# Page data -> cache context -> TTL in seconds (the seed's contexts).
CACHE_CONTEXTS = {
    "faturamento": 3600,
    "entregas": 1800,
    "embarques": 900,
    "dashboards": 300,
}


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
    return "sqlite:///" + str(Path(instance_path) / "fretes.db")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides; ``DATABASE_URL`` (config or environment) picks the
    database, defaulting to a SQLite file under ``instance/``."""
    app = Flask(__name__, instance_path=instance_path(), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=os.environ.get("FRETES_SECRET_KEY", "dev-only-change-me"),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        JSON_SORT_KEYS=False,
    )
    # The cache contexts of this app's pages and their TTLs (the library has no defaults).
    app.config["TURBINA_CACHE_CONTEXTS"] = dict(CACHE_CONTEXTS)
    # Turbina settings may come from the environment (e.g. the benchmark's gunicorn). Only the
    # library's own keys are copied: other TURBINA_* variables (the test suite's
    # TURBINA_REQUIRE_SERVICES) are not settings and never reach the app config.
    app.config.update({k: v for k, v in os.environ.items() if k in TURBINA_KEYS})
    app.config.setdefault("FRETES_TURBINA", os.environ.get("FRETES_TURBINA", "1") != "0")
    if config:
        app.config.update(config)
    url = app.config.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = default_database_url(app.instance_path)
    app.config["DATABASE_URL"] = normalize_database_url(url)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", app.config["DATABASE_URL"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    db.init_app(app)
    init_auth(app)
    init_timing(app)
    if app.config["FRETES_TURBINA"]:
        # Query recorder (Server-Timing db part, N+1 findings) and the cache the optimized
        # form uses. FRETES_TURBINA=0 runs the app with no Turbina at all.
        Turbina(app)

    from fretes.views import register_views

    register_views(app)
    return app
