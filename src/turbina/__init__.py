"""Turbina: a performance layer for Flask + SQLAlchemy applications."""

from __future__ import annotations

from turbina.cache import TurbinaCache, cached, cached_view
from turbina.config import Settings, load_settings
from turbina.errors import ConfigError, TurbinaError
from turbina.extension import Turbina
from turbina.queries.recorder import QueryRecorder

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "QueryRecorder",
    "Settings",
    "Turbina",
    "TurbinaCache",
    "TurbinaError",
    "__version__",
    "cached",
    "cached_view",
    "load_settings",
]
