"""Turbina: a performance layer for Flask + SQLAlchemy applications."""

from __future__ import annotations

from turbina.config import Settings, load_settings
from turbina.errors import ConfigError, TurbinaError

__version__ = "0.1.0"

__all__ = ["ConfigError", "Settings", "TurbinaError", "__version__", "load_settings"]
