"""Blueprints of the six slow pages and the writes the workload needs."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    """Register every page blueprint on ``app``."""
