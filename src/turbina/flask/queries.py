"""Flask glue of ``turbina.queries``: attach recorders, collect per request, Server-Timing.

A request is collected from the outermost point Flask offers: a WSGI middleware around
``app.wsgi_app`` starts the collector before Flask does anything (URL value preprocessors
and every ``before_request`` hook, whatever the order they were registered in, the app's own
hooks registered before ``Turbina(app)`` included) and finishes it after Flask's teardown.
The ``Server-Timing`` header is written by an ``after_request`` hook placed to run last, so
it counts every statement sent before the response left Flask.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from flask.helpers import get_root_path

from turbina.flask.monitor import server_timing_policy
from turbina.queries import context
from turbina.queries.state import QueriesState

_ENVIRON_KEY = "turbina.queries.collector"


def _engines_of(app: Flask) -> dict[str, Any]:
    """Flask-SQLAlchemy's engines of ``app`` (every bind), labelled by bind key."""
    ext = app.extensions.get("sqlalchemy")
    if ext is None:
        return {}
    with app.app_context():
        engines = ext.engines
    return {("default" if key is None else str(key)): engine for key, engine in engines.items()}


def attach_app_engines(app: Flask, state: QueriesState) -> None:
    """Attach to every Flask-SQLAlchemy engine of ``app`` not yet recorded (the recorder's
    hook also sees the lazy loads N+1 detection counts: nothing is attached to sessions)."""
    for name, engine in _engines_of(app).items():
        state.attach(engine, name)


def app_root(app: Flask) -> str:
    """The app's project directory: the parent of its top-level package (``app/`` ->
    the folder holding it), or the folder of a single-module app. Call sites are looked for
    under it and printed relative to it (``app/templates/_post.html:4``)."""
    top = app.import_name.split(".")[0]
    if top == "__main__":
        return app.root_path
    module = sys.modules.get(top)
    try:
        path = get_root_path(top)
    except (RuntimeError, ValueError):
        return app.root_path
    if module is not None and getattr(module, "__path__", None) is not None:
        return os.path.dirname(path)  # a package: its parent holds templates and code alike
    return path


class _CollectingMiddleware:
    """WSGI middleware collecting the queries of one request, around all of Flask's work."""

    def __init__(
        self,
        wsgi_app: Callable[..., Iterable[bytes]],
        app: Flask,
        state: QueriesState,
        attach_pending: bool,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.state = state
        self.attach_pending = attach_pending

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        state = self.state
        if self.attach_pending:
            # Flask-SQLAlchemy was initialised after Turbina: attach on the first request.
            self.attach_pending = False
            attach_app_engines(self.app, state)
        collector, token = context.start(
            threshold=state.nplusone_threshold, root=state.root, memory=state.findings
        )
        environ[_ENVIRON_KEY] = collector
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            context.finish(collector, token)
            state.finish(collector)


def install(app: Flask, settings: Any) -> QueriesState:
    """Record every engine of ``app`` and collect per-request query data.

    Call after ``db.init_app(app)``; engines added later (or plain engines) are attached with
    ``state.attach(engine, name)``. If Flask-SQLAlchemy is initialised after Turbina, its
    engines are attached on the first request.
    """
    state = QueriesState.from_settings(settings)
    timing_allowed = server_timing_policy(app, settings.server_timing)
    state.root = app_root(app)
    attach_app_engines(app, state)
    if state.snapshot_path is not None:
        atexit.register(state.save_snapshot_if_used, state.snapshot_path)
    app.wsgi_app = _CollectingMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app, state, attach_pending=not state.recorders
    )

    def _turbina_queries_endpoint() -> None:
        collector = request.environ.get(_ENVIRON_KEY)
        rule = request.url_rule
        if collector is not None and rule is not None:
            collector.endpoint = rule.rule

    def _turbina_queries_header(response: Response) -> Response:
        collector = request.environ.get(_ENVIRON_KEY)
        if collector is not None and timing_allowed():
            metric = f'db;dur={collector.db_ms:.1f};desc="{collector.count} queries"'
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{existing}, {metric}" if existing else metric
        return response

    # before_request hooks run in list order, after_request hooks in reverse: index 0 runs
    # first and last respectively, whenever the app's other hooks were registered.
    app.before_request_funcs.setdefault(None, []).insert(0, _turbina_queries_endpoint)
    app.after_request_funcs.setdefault(None, []).insert(0, _turbina_queries_header)
    return state


def request_collector() -> context.QueryCollector | None:
    """The current request's collector (inside a request handled by Turbina)."""
    collector = request.environ.get(_ENVIRON_KEY)
    return collector if isinstance(collector, context.QueryCollector) else None
