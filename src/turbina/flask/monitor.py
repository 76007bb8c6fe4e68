"""Flask glue of the request monitor and the store: request timing, ``/metrics``, alerts.

A request is timed by a WSGI middleware around everything Flask does for it — the
before-request hooks, the view, the after-request and teardown handlers, whatever the order
they were registered in — and an exception that escapes Flask is counted as a 500. Timing
only adds to in-memory counters: the store is written by the flush thread and read by the
CLI, ``/metrics`` and the dashboard.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from flask.signals import Namespace

from turbina.config import Settings
from turbina.errors import TurbinaError
from turbina.monitor.alerts import Alert, Alerts
from turbina.monitor.cache_events import CacheEvents, RequestCacheCounts, request_counts
from turbina.monitor.gauges import SystemSampler
from turbina.monitor.requests import UNMATCHED, RequestAggregator, RequestsSource, log_alert
from turbina.store.backends.base import StoreBackend
from turbina.store.connect import open_store
from turbina.store.flusher import Flusher, install_sigterm_flush
from turbina.store.labels import LabelCap
from turbina.store.model import CACHE, FINDINGS, QUERIES, REQUESTS, TABLES
from turbina.store.sources import CacheSource, FindingsSource, QueriesSource, SlowLogSource

__all__ = ["MonitorState", "alert_raised", "install", "server_timing_policy"]

log = logging.getLogger("turbina.monitor")
METRICS_ENDPOINT = "turbina_metrics"
_COLLECTOR_KEY = "turbina.queries.collector"  # where turbina.flask.queries keeps the collector
_REQUEST_KEY = "turbina.monitor.request"
perf_counter = time.perf_counter
_set_cache_counts = request_counts.set
_reset_cache_counts = request_counts.reset
_signals = Namespace()
alert_raised = _signals.signal("turbina-alert-raised")
"""Sent (sender: the app, keyword ``alert``: a ``turbina.monitor.Alert``) from the flush
thread inside an app context, once per deduplicated alert."""


@dataclass
class MonitorState:
    """What the monitor keeps for one app."""

    store: StoreBackend
    flusher: Flusher
    requests: RequestAggregator
    alerts: Alerts
    sampler: SystemSampler
    labels: LabelCap
    registry: Any = None
    metrics_server: Any = None
    settings: Settings | None = field(default=None, repr=False)
    cache_events: CacheEvents | None = None

    def flush(self) -> bool:
        """Flush this worker's numbers now (tests, a management command)."""
        return self.flusher.flush()

    def used_here(self) -> bool:
        """True when this process counted something: served a request, or used the cache
        (a script, a test under an app context)."""
        return self.flusher.started or (
            self.cache_events is not None and bool(self.cache_events.totals())
        )


def server_timing_policy(app: Flask, setting: Any) -> Callable[[], bool]:
    """Whether the current request may get a ``Server-Timing`` header, from
    ``TURBINA_SERVER_TIMING``: ``debug`` (the app is in debug mode), ``always``, ``never`` or
    a callable deciding from the request (e.g. logged-in staff)."""
    if callable(setting):
        decide = setting
        return lambda: bool(decide(request))
    if setting is True or setting == "always":
        return lambda: True
    if setting is False or setting == "never":
        return lambda: False
    return lambda: bool(app.debug)


def _engines(queries: Any) -> Callable[[], dict[str, Any]]:
    def engines() -> dict[str, Any]:
        if queries is None:
            return {}
        return {name: rec.engine for name, rec in list(queries.recorders.items())}

    return engines


def install(
    app: Flask, settings: Settings, *, queries: Any = None, cache: Any = None
) -> MonitorState:
    """Time every request of ``app`` and flush it, with ``queries``' stats and findings and
    ``cache``'s counters, to the store ``TURBINA_STORE`` names."""
    store = open_store(settings, app.instance_path)
    labels = LabelCap(
        {
            REQUESTS: settings.store_max_endpoints,
            QUERIES: settings.store_max_fingerprints,
            FINDINGS: settings.store_max_fingerprints,
            CACHE: 1000,
            # (endpoint, method, table): a few tables per endpoint. Past it, rows fold into
            # their endpoint's <other> (one more per endpoint); Redis, 24 h at this cap
            # (500 rows + 200 <other>): about 23 MB.
            TABLES: max(1, settings.store_max_fingerprints // 2),
        }
    )
    alerts = Alerts(dedupe_s=settings.alert_dedupe_s)
    aggregator = RequestAggregator(
        max_endpoints=settings.store_max_endpoints,
        apdex_ms=settings.apdex_ms,
        alert_slow_ms=settings.alert_slow_ms,
        alerts=alerts,
    )
    app_ref = weakref.ref(app)

    def send_signal(alert: Alert) -> None:
        target = app_ref()
        if target is not None and alert_raised.receivers:
            with target.app_context():
                alert_raised.send(target, alert=alert)

    sources: list[Any] = [
        RequestsSource(
            aggregator,
            labels,
            p99_factor=settings.alert_p99_factor,
            on_alert=[log_alert, send_signal],
        )
    ]
    if queries is not None:
        sources += [
            QueriesSource(queries, labels),
            FindingsSource(queries, labels),
            SlowLogSource(queries),
        ]
    events = getattr(cache, "events", None)
    if isinstance(events, CacheEvents):
        sources.append(CacheSource(events, labels))
    sampler = SystemSampler(_engines(queries))
    sources.append(_ForkReset(sampler))
    flusher = Flusher(store, sources, interval_s=settings.flush_interval_s, gauges=sampler.sample)
    state = MonitorState(
        store,
        flusher,
        aggregator,
        alerts,
        sampler,
        labels,
        settings=settings,
        cache_events=events if isinstance(events, CacheEvents) else None,
    )
    install_sigterm_flush()
    _install_hooks(app, settings, state, own_hook=queries is None)
    _install_metrics(app, settings, state)
    return state


class _ForkReset:
    """A source that adds nothing and resets a helper in a forked child."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def collect(self, batch: Any) -> None:
        return None

    def after_fork(self) -> None:
        self.target.after_fork()


class _TimingMiddleware:
    """WSGI middleware around all of Flask's work for one request (context push, URL
    matching, every before/after-request and teardown hook): one ``perf_counter`` pair and one
    ``record`` call. The url rule, the DB numbers and the statement fingerprints (whose tables
    the flush thread finds) are read after Flask is done from the request's query collector
    (its ``before_request`` hook names the rule) — or, with query
    recording off, from the request a hook of the monitor's own kept in the environ. The
    request's cache hits and misses are counted into a ``RequestCacheCounts`` set for its
    length."""

    def __init__(
        self, wsgi_app: Callable[..., Any], state: MonitorState, metrics_rule: str, own_hook: bool
    ) -> None:
        self.wsgi_app = wsgi_app
        self.record = state.requests.record
        self.ensure_started = state.flusher.ensure_started
        self.metrics_rule = metrics_rule
        self.own_hook = own_hook

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        cache = RequestCacheCounts()
        token = _set_cache_counts(cache)
        started = perf_counter()
        try:
            return self.wsgi_app(environ, capture)
        finally:
            ms = (perf_counter() - started) * 1000.0
            _reset_cache_counts(token)
            collector = environ.get(_COLLECTOR_KEY)
            if collector is None:
                db_ms, count, fingerprints = 0.0, 0, None
            else:
                db_ms, count = collector.db_ms, collector.count
                fingerprints = collector.fingerprints
            if self.own_hook:
                rule = getattr(environ.pop(_REQUEST_KEY, None), "url_rule", None)
                endpoint = rule.rule if rule is not None else None
            else:
                endpoint = getattr(collector, "endpoint", None)
            if endpoint != self.metrics_rule:  # the scrape itself is not counted
                self.record(
                    endpoint or UNMATCHED,
                    environ.get("REQUEST_METHOD", "GET"),
                    int(status[0][:3]) if status and status[0][:3].isdigit() else 500,
                    ms,
                    db_ms,
                    count,
                    cache.hits,
                    cache.misses,
                    fingerprints,
                )
                self.ensure_started()


def _turbina_monitor_request() -> None:
    """Keep the matched request in the environ for the middleware (Flask clears its own
    reference when the request context ends); only when query recording is off."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    current.environ[_REQUEST_KEY] = current


def _install_hooks(app: Flask, settings: Settings, state: MonitorState, own_hook: bool) -> None:
    metrics_rule = settings.metrics_path if settings.metrics not in ("off", "bind") else "\0"
    app.wsgi_app = _TimingMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, state, metrics_rule, own_hook
    )
    if own_hook:  # index 0 runs first, whatever was registered before; it runs for 404/405 too
        app.before_request_funcs.setdefault(None, []).insert(0, _turbina_monitor_request)


def _install_metrics(app: Flask, settings: Settings, state: MonitorState) -> None:
    if settings.metrics == "off":
        return
    if settings.metrics == "bind":
        host, _, port = settings.metrics_bind.rpartition(":")
        if not host or not port.isdigit():
            raise TurbinaError(
                f"TURBINA_METRICS_BIND={settings.metrics_bind!r} is not host:port",
                "write it like 127.0.0.1:9464",
            )
        _metrics_registry(state)
        state.flusher.after_flush.append(lambda _batch, _ok: _serve_bound(state, host, int(port)))
        return
    auth = settings.metrics_auth

    def metrics_view() -> Response:
        if auth is None or not auth(request):
            body = (
                "turbina: /metrics is closed (set TURBINA_METRICS_AUTH to a callable that "
                "allows the scraper, or TURBINA_METRICS=bind)\n"
            )
            return Response(body, status=403, mimetype="text/plain")
        try:
            registry = _metrics_registry(state)
        except TurbinaError as exc:
            return Response(f"turbina: {exc}\n", status=501, mimetype="text/plain")
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.add_url_rule(
        settings.metrics_path, endpoint=METRICS_ENDPOINT, view_func=metrics_view, methods=["GET"]
    )


def _metrics_registry(state: MonitorState) -> Any:
    if state.registry is None:
        from turbina.monitor.prometheus import make_registry

        state.registry = make_registry(state.store)
    return state.registry


def _serve_bound(state: MonitorState, host: str, port: int) -> None:
    """Run the metrics listener in this worker if no worker holds the port yet (tried after
    each flush: when the worker that held it dies, another takes over)."""
    if state.metrics_server is not None:
        return
    from prometheus_client import start_http_server

    try:
        state.metrics_server = start_http_server(port, addr=host, registry=state.registry)
    except OSError:  # another worker serves it: every worker's totals are the same
        return
    log.info("turbina: Prometheus metrics on http://%s:%d/metrics", host, port)
