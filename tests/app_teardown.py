"""Stop what Turbina started for a test app: the store's flush thread (without a last
flush), the query recorders' threads, the cache; then the app's engine."""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

import turbina


def close(app: Flask, db: SQLAlchemy) -> None:
    state = turbina.get_state(app)
    if state.monitor is not None:
        state.monitor.flusher.stop(flush=False)
    if state.queries is not None:
        state.queries.close()
    if state.cache is not None:
        state.cache.close()
    with app.app_context():
        db.engine.dispose()
