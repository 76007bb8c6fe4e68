"""The request monitor: per-endpoint timing, alerts, gauges, JSON API, Prometheus (no Flask).

The Flask glue (request hooks, ``/metrics``) is ``turbina.flask.monitor``; the Prometheus
collector needs the ``prometheus`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "Alert": "turbina.monitor.alerts",
    "Alerts": "turbina.monitor.alerts",
    "RequestAggregator": "turbina.monitor.requests",
    "RequestsSource": "turbina.monitor.requests",
    "SystemSampler": "turbina.monitor.gauges",
    "TurbinaCollector": "turbina.monitor.prometheus",
    "make_registry": "turbina.monitor.prometheus",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.monitor.alerts import Alert, Alerts
    from turbina.monitor.gauges import SystemSampler
    from turbina.monitor.prometheus import TurbinaCollector, make_registry
    from turbina.monitor.requests import RequestAggregator, RequestsSource
