"""Flask glue of ``turbina.queries``: attach recorders, collect per request, Server-Timing."""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask, Response, g, request

from turbina.queries import context
from turbina.queries.state import QueriesState

_G_KEY = "_turbina_queries"


def _engines_of(app: Flask) -> dict[str, Any]:
    """Flask-SQLAlchemy's engines of ``app`` (every bind), labelled by bind key."""
    ext = app.extensions.get("sqlalchemy")
    if ext is None:
        return {}
    with app.app_context():
        engines = ext.engines
    return {("default" if key is None else str(key)): engine for key, engine in engines.items()}


def attach_app_engines(app: Flask, state: QueriesState) -> None:
    """Attach to every Flask-SQLAlchemy engine of ``app`` not yet recorded, and watch its
    session (``db.session``) for N+1 lazy loads."""
    for name, engine in _engines_of(app).items():
        state.attach(engine, name)
    ext = app.extensions.get("sqlalchemy")
    session = getattr(ext, "session", None)
    if session is not None:
        state.watch_sessions(session)


def install(app: Flask, settings: Any) -> QueriesState:
    """Record every engine of ``app`` and collect per-request query data.

    Call after ``db.init_app(app)``; engines added later (or plain engines) are attached with
    ``state.attach(engine, name)``. If Flask-SQLAlchemy is initialised after Turbina, its
    engines are attached on the first request.
    """
    state = QueriesState.from_settings(settings)
    attach_app_engines(app, state)
    if state.snapshot_path is not None:
        atexit.register(state.save_snapshot_if_used, state.snapshot_path)
    attached_once = bool(state.recorders)

    @app.before_request
    def _turbina_queries_start() -> None:
        nonlocal attached_once
        if not attached_once:
            attach_app_engines(app, state)
            attached_once = True
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else None
        collector, token = context.start(endpoint, threshold=state.nplusone_threshold)
        setattr(g, _G_KEY, (collector, token))

    @app.after_request
    def _turbina_queries_header(response: Response) -> Response:
        pair = g.get(_G_KEY)
        if pair is not None and state.server_timing:
            collector = pair[0]
            metric = f'db;dur={collector.db_ms:.1f};desc="{collector.count} queries"'
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{existing}, {metric}" if existing else metric
        return response

    @app.teardown_request
    def _turbina_queries_finish(exc: BaseException | None) -> None:
        pair = g.pop(_G_KEY, None)
        if pair is None:
            return
        collector, token = pair
        context.finish(collector, token)
        state.finish(collector)

    return state


def request_collector() -> context.QueryCollector | None:
    """The current request's collector (inside a request handled by Turbina)."""
    pair = g.get(_G_KEY)
    return pair[0] if pair is not None else None
