"""The dashboard blueprint: pages and their JSON over ``turbina.monitor.api``, admin-only.

Closed by default: every URL of the blueprint (pages, JSON, static files) answers 403 with
how to open it unless ``TURBINA_DASHBOARD_AUTH(request)`` returns true. Pages are shells
filled by ``dashboard.js`` from the JSON routes with ``textContent`` only (never HTML), so a
``<script>`` in an endpoint or a statement stays text; the server-rendered parts are Jinja
autoescaped. Every answer carries a strict CSP (``default-src 'self'``, no inline script) and
``Cache-Control: no-store`` (the built, fingerprinted assets: a year, ``immutable``).

The Report page (``dashboard.report``) is rendered on the server, like the Indexes page: the
Performance Optimizer over the window, its JSON at ``api/report``, and the self-contained HTML
file ``turbina report --format html`` writes at ``report/download``.

Actions that do something are POSTs carrying the session's CSRF token: invalidating a cache
context, and planning a recorded SELECT (``EXPLAIN`` on demand, ``dashboard.explain``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.utils import import_string

from turbina.config import Settings
from turbina.errors import TurbinaError
from turbina.flask.dashboard import compare, panels
from turbina.flask.dashboard.assets import DashboardAssets
from turbina.flask.dashboard.explain import ExplainRefused, explain_fingerprint
from turbina.flask.dashboard.indexes import app_engines, indexes_panel
from turbina.flask.dashboard.report import download_name, page_report, report_view
from turbina.flask.state import TurbinaState, get_state
from turbina.monitor import api
from turbina.report import Report, render_html
from turbina.store.model import QUERIES, Reading

__all__ = ["BLUEPRINT_NAME", "CSP", "install", "make_blueprint"]

log = logging.getLogger("turbina.dashboard")
BLUEPRINT_NAME = "turbina_dashboard"
HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
CLOSED_FIX = (
    "set TURBINA_DASHBOARD_AUTH to a callable(request) -> bool (or its import path) that "
    "allows your admins, e.g. lambda request: current_user.is_authenticated and "
    "current_user.is_admin"
)
_CSRF_SESSION_KEY = "_turbina_dashboard_csrf"
_CSRF_SALT = "turbina-dashboard-csrf"
CSRF_MAX_AGE_S = 3600
_QUERY_SORTS = ("total", "p95", "calls", "mean")


def resolve_auth(setting: Callable[..., Any] | str | None) -> Callable[[Any], Any] | None:
    """The auth callable of ``TURBINA_DASHBOARD_AUTH`` (an import path is imported once)."""
    if setting is None or callable(setting):
        return setting
    try:
        found = import_string(setting.replace(":", "."))
    except ImportError as exc:
        raise TurbinaError(
            f"TURBINA_DASHBOARD_AUTH={setting!r} cannot be imported: {exc}",
            "name a callable as package.module:name",
        ) from None
    if not callable(found):
        raise TurbinaError(
            f"TURBINA_DASHBOARD_AUTH={setting!r} is not callable",
            "name a callable(request) -> bool",
        )
    return found


# --- CSRF ---------------------------------------------------------------------------------
# Flask-WTF is not a dependency of the library, so this is its mechanism in a few lines: a
# random secret in the signed session, and a form token that is that secret signed with a
# timestamp by itsdangerous (Flask's own signer). A cross-site form cannot read the token;
# re-signing per page masks the secret against BREACH when responses are compressed.


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_CSRF_SALT)


def csrf_token() -> str | None:
    """A token for the invalidate form, or ``None`` when the app has no ``SECRET_KEY``."""
    if not current_app.secret_key:
        return None
    raw = session.get(_CSRF_SESSION_KEY)
    if not isinstance(raw, str):
        raw = secrets.token_urlsafe(32)
        session[_CSRF_SESSION_KEY] = raw
    return _serializer().dumps(raw)


def request_csrf_token() -> str | None:
    """The token a POST carries: the form's ``csrf_token`` field or an ``X-CSRF-Token``
    header (for ``fetch``)."""
    return request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")


def csrf_valid(token: str | None) -> bool:
    """Whether ``token`` signs this session's secret and is younger than ``CSRF_MAX_AGE_S``."""
    raw = session.get(_CSRF_SESSION_KEY)
    if not token or not isinstance(raw, str) or not current_app.secret_key:
        return False
    try:
        signed = _serializer().loads(token, max_age=CSRF_MAX_AGE_S)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, raw)


# --- the blueprint ------------------------------------------------------------------------


def _wants_json() -> bool:
    return request.blueprint == BLUEPRINT_NAME and (request.endpoint or "").endswith("_json")


def _state() -> TurbinaState:
    return get_state(current_app)


def _window() -> tuple[str, float]:
    name = request.args.get("window", "5m")
    if name not in panels.WINDOWS:
        abort(400, description=f"window must be one of {', '.join(panels.WINDOWS)}")
    return name, time.time() - panels.WINDOWS[name]


def _reading() -> tuple[Any, Reading, frozenset[str]]:
    """The store, its reading for the requested window without the dashboard's own requests,
    and the request labels left out."""
    state = _state()
    monitor = state.monitor
    if monitor is None:
        abort(503, description="the request monitor is off (set TURBINA_MONITOR=true)")
    _name, since = _window()
    try:
        reading = monitor.store.read(since)
    except Exception:
        log.exception("turbina: the dashboard cannot read the %s", monitor.store.describe())
        abort(503, description="the store cannot be read (see the server log)")
    kept, dropped = panels.without_prefix(reading, state.settings.dashboard_prefix)
    return monitor.store, kept, dropped


def _store() -> Any:
    monitor = _state().monitor
    if monitor is None:
        abort(503, description="the request monitor is off (set TURBINA_MONITOR=true)")
    return monitor.store


def _spans() -> tuple[compare.Span, compare.Span]:
    """The two windows of a comparison: ``before=A/B&after=C/D`` (ISO times), or
    ``span=5m|1h|24h`` (the last span against the one before it, the default 1h)."""
    before, after = request.args.get("before"), request.args.get("after")
    try:
        if before or after:
            if not (before and after):
                raise TurbinaError("pass both before and after", compare.RANGE_HELP)
            return compare.parse_span(before, "before"), compare.parse_span(after, "after")
    except TurbinaError as exc:
        abort(400, description=str(exc))
    name = request.args.get("span", "1h")
    if name not in panels.WINDOWS:
        abort(400, description=f"span must be one of {', '.join(panels.WINDOWS)}")
    return compare.preset(panels.WINDOWS[name])


def _engine_for(label: str) -> Any:
    """The engine the store's label ``label`` names in this process."""
    state = _state()
    recorders = getattr(state.queries, "recorders", {}) if state.queries is not None else {}
    recorder = recorders.get(label)
    if recorder is not None:
        return recorder.engine
    for engine in app_engines(current_app).values():
        if label == (engine.url.database or engine.dialect.name):
            return engine
    abort(404, description="that statement's database is not attached to this app")


def _known_fingerprint(label: str, text: str) -> str:
    """``text`` if the store recorded it for ``label`` in the last 24 h, else a 404: only
    statements the app ran can be planned, never SQL typed into a form."""
    store = _store()
    try:
        reading = store.read(time.time() - panels.WINDOWS["24h"], kinds=(QUERIES,), events=())
    except Exception:
        log.exception("turbina: the dashboard cannot read the %s", store.describe())
        abort(503, description="the store cannot be read (see the server log)")
    for _label, info, _fields in reading.of_kind(QUERIES):
        if info.get("engine") == label and info.get("fingerprint") == text:
            return text
    abort(404, description="no such statement recorded in the last 24 h")


def make_blueprint(settings: Settings) -> Blueprint:
    """The dashboard blueprint for ``settings`` (prefix, auth, refresh interval)."""
    auth = resolve_auth(settings.dashboard_auth)
    bp = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        url_prefix=settings.dashboard_prefix,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/static",
    )

    @bp.before_request
    def check_access() -> Response | None:
        allowed = False
        if auth is not None:
            try:
                allowed = bool(auth(request))
            except Exception:  # a broken auth callable denies, and says so in the log
                log.exception("turbina: TURBINA_DASHBOARD_AUTH raised; the request is denied")
        if allowed:
            return None
        if _wants_json():
            body = jsonify(error="the Turbina dashboard is closed", fix=CLOSED_FIX)
            body.status_code = 403
            return body
        return Response(
            render_template("turbina_dashboard/closed.html", fix=CLOSED_FIX), status=403
        )

    @bp.after_request
    def secure_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint not in (f"{BLUEPRINT_NAME}.static", f"{BLUEPRINT_NAME}.asset"):
            response.headers["Cache-Control"] = "no-store"
        return response

    built: dict[str, DashboardAssets] = {}  # instance folder -> its build (one per app)

    def assets() -> DashboardAssets:
        found = built.get(current_app.instance_path)
        if found is None:
            found = built.setdefault(
                current_app.instance_path, DashboardAssets(current_app.instance_path)
            )
        return found

    def asset_url(name: str) -> str:
        file = assets().url_name(name)
        if file is None:
            return url_for(f"{BLUEPRINT_NAME}.static", filename=name)
        return url_for(f"{BLUEPRINT_NAME}.asset", filename=file)

    @bp.context_processor
    def template_helpers() -> dict[str, Any]:
        return {"asset_url": asset_url}

    @bp.get("/assets/<path:filename>")
    def asset(filename: str) -> Response:
        return assets().serve(filename)

    @bp.errorhandler(400)
    @bp.errorhandler(404)
    @bp.errorhandler(429)
    @bp.errorhandler(503)
    def error(exc: Any) -> tuple[Any, int]:
        code = int(getattr(exc, "code", 500) or 500)
        text = str(getattr(exc, "description", "error"))
        if _wants_json():
            return jsonify(error=text), code
        return render_template("turbina_dashboard/error.html", code=code, text=text), code

    def page(template: str, **extra: Any) -> str:
        name, _since = _window()
        return render_template(
            f"turbina_dashboard/{template}",
            window=name,
            windows=list(panels.WINDOWS),
            refresh_s=settings.dashboard_refresh_s,
            **{"page_name": None, **extra},
        )

    @bp.get("/")
    def overview() -> str:
        return page("overview.html", title="Overview", nav="overview")

    @bp.get("/endpoints")
    def endpoints() -> str:
        return page("endpoints.html", title="Endpoints", nav="endpoints")

    @bp.get("/endpoint")
    def endpoint() -> str:
        name, method = request.args.get("endpoint", ""), request.args.get("method", "GET")
        return page(
            "endpoint.html",
            title="Endpoint",
            nav="endpoints",
            page_name="endpoint",
            endpoint=name,
            method=method,
        )

    @bp.get("/queries")
    def queries() -> str:
        return page("queries.html", title="Queries", nav="queries", token=csrf_token())

    @bp.get("/indexes")
    def indexes() -> str:
        return page("indexes.html", title="Indexes", nav="indexes", data=indexes_panel(current_app))

    def report_now() -> Report:
        """The report of the requested window (one store read, no EXPLAIN, capped)."""
        _store, reading, _dropped = _reading()
        return page_report(current_app, _state(), reading)

    @bp.get("/report")
    def report() -> str:
        shown = report_view(report_now())
        return page("report.html", title="Report", nav="report", data=shown)

    @bp.get("/report/download")
    def report_download() -> Response:
        name, _since = _window()
        response = Response(render_html(report_now()), mimetype="text/html")
        filename = download_name(name, time.time())
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @bp.get("/compare")
    def compare_page() -> str:
        _spans()  # bad windows answer 400 here already, not only in the page's JSON
        return page(
            "compare.html",
            title="Compare",
            nav="compare",
            page_name="compare",
            span=request.args.get("span", "1h"),
            before=request.args.get("before", ""),
            after=request.args.get("after", ""),
        )

    @bp.get("/cache")
    def cache() -> str:
        return page(
            "cache.html",
            title="Cache",
            nav="cache",
            invalidated=request.args.get("invalidated"),
            cache_on=_state().cache is not None,
        )

    @bp.get("/api/overview")
    def overview_json() -> Response:
        store, reading, dropped = _reading()
        return jsonify(panels.overview_panel(store, reading, _state().settings, dropped))

    @bp.get("/api/endpoints")
    def endpoints_json() -> Response:
        _store, reading, _dropped = _reading()
        return jsonify(api.endpoints(reading))

    @bp.get("/api/endpoint")
    def endpoint_json() -> Response:
        store, reading, _dropped = _reading()
        name, method = request.args.get("endpoint", ""), request.args.get("method", "GET")
        return jsonify(panels.endpoint_panel(store, reading, name, method))

    @bp.get("/api/queries")
    def queries_json() -> Response:
        sort = request.args.get("sort", "total")
        if sort not in _QUERY_SORTS:
            abort(400, description=f"sort must be one of {', '.join(_QUERY_SORTS)}")
        _store, reading, _dropped = _reading()
        return jsonify(panels.queries_panel(reading, sort))

    @bp.get("/api/cache")
    def cache_json() -> Response:
        _store, reading, _dropped = _reading()
        return jsonify(panels.cache_panel(reading, _state().settings))

    @bp.get("/api/indexes")
    def indexes_json() -> Response:
        return jsonify(indexes_panel(current_app))

    @bp.get("/api/report")
    def report_json() -> Response:
        return jsonify(report_now().to_json())

    @bp.get("/api/compare")
    def compare_json() -> Response:
        before, after = _spans()
        try:
            data = compare.compare(_store(), before, after, settings.dashboard_prefix)
        except TurbinaError as exc:
            abort(400, description=str(exc))
        return jsonify(data)

    def planned() -> dict[str, Any]:
        """The plan a POST asks for (CSRF-checked), or an abort with the reason."""
        if not csrf_valid(request_csrf_token()):
            abort(
                400,
                description="the form's CSRF token is missing, expired or not this "
                "session's: open the Queries page again",
            )
        label = request.form.get("engine", "")
        text = _known_fingerprint(label, request.form.get("fingerprint", ""))
        try:
            return explain_fingerprint(_engine_for(label), text)
        except ExplainRefused as exc:
            abort(exc.status, description=str(exc))
        except TurbinaError as exc:
            abort(400, description=str(exc))

    @bp.post("/queries/explain")
    def explain() -> str:
        return page("explain.html", title="Plan", nav="queries", plan=planned())

    @bp.post("/api/explain")
    def explain_json() -> Response:
        return jsonify(planned())

    @bp.get("/cache/invalidate")
    def confirm_invalidate() -> str:
        context = _known_context(request.args.get("context", ""))
        return page(
            "confirm.html", title="Invalidate", nav="cache", context=context, token=csrf_token()
        )

    @bp.post("/cache/invalidate")
    def invalidate() -> Any:
        if not csrf_valid(request.form.get("csrf_token")):
            return (
                render_template(
                    "turbina_dashboard/error.html",
                    code=400,
                    text="the form's CSRF token is missing, expired or not this session's: "
                    "open the confirmation page again",
                ),
                400,
            )
        context = _known_context(request.form.get("context", ""))
        cache_state = _state().cache
        if cache_state is None or not cache_state.invalidate(context):
            abort(503, description=f"context {context!r} could not be invalidated (store down?)")
        log.warning("turbina: cache context %r invalidated from the dashboard", context)
        return redirect(url_for(f"{BLUEPRINT_NAME}.cache", invalidated=context), code=303)

    return bp


def _known_context(context: str) -> str:
    """``context`` if the app declares it or the store has seen it, else a 404."""
    state = _state()
    if state.cache is None:
        abort(404, description="the cache is off on this app")
    known = set(state.settings.cache_contexts)
    if state.monitor is not None:
        try:
            reading = state.monitor.store.read(time.time() - panels.WINDOWS["24h"])
            rows = panels.cache_panel(reading, state.settings)["contexts"]
            known |= {str(row["context"]) for row in rows}
        except Exception:  # the store being down must not hide the declared contexts
            log.exception("turbina: cannot list cache contexts from the store")
    if context not in known:
        abort(404, description="unknown cache context")
    return context


def install(app: Flask, settings: Settings) -> Blueprint:
    """Register the dashboard on ``app`` at ``TURBINA_DASHBOARD_PREFIX``."""
    bp = make_blueprint(settings)
    app.register_blueprint(bp)
    return bp
