"""Which form of the pages' data access runs: ``naive``, ``optimized`` or ``cached``.

``cached`` is the optimized form with each page's data function wrapped in Turbina's cache
(``fretes.views.cached``). The app config key ``FRETES_MODE`` sets the default (``naive``
when absent); one request can override it with the header
``X-Fretes-Mode: naive|optimized|cached``, so one benchmark run can measure every form
against the same server. A bad header value is a ``BadParameter`` (the
pages answer 400 naming the header and the accepted values); a bad config value is a
``TurbinaError`` naming the key.

Every form returns exactly the same page content; only the queries behind it differ.
"""

from __future__ import annotations

from flask import current_app, has_request_context, request

from fretes.params import parse_choice
from turbina import TurbinaError

NAIVE = "naive"
OPTIMIZED = "optimized"
CACHED = "cached"
MODES = (NAIVE, OPTIMIZED, CACHED)
CONFIG_KEY = "FRETES_MODE"
HEADER = "X-Fretes-Mode"


class BadModeConfig(TurbinaError):
    """``FRETES_MODE`` holds a value that is not one of ``MODES``."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"invalid {CONFIG_KEY}={value!r}: expected one of {', '.join(MODES)}",
            f"set {CONFIG_KEY} to one of: {', '.join(MODES)} (or leave it unset for {NAIVE})",
        )


def configured_mode() -> str:
    """The app's default mode from ``FRETES_MODE`` (``naive`` when unset or blank)."""
    value = current_app.config.get(CONFIG_KEY)
    if value is None or (isinstance(value, str) and not value.strip()):
        return NAIVE
    if isinstance(value, str):
        for mode in MODES:
            if value.strip().lower() == mode:
                return mode
    raise BadModeConfig(value)


def current_mode() -> str:
    """The mode of the current request: the ``X-Fretes-Mode`` header when given, else the
    app's ``FRETES_MODE``. Raises ``BadParameter`` (-> 400) for an unknown header value."""
    if has_request_context():
        header = parse_choice({HEADER: request.headers.get(HEADER)}, HEADER, MODES)
        if header is not None:
            return header
    return configured_mode()


def is_optimized() -> bool:
    """True when the current request runs the optimized form (uncached)."""
    return current_mode() == OPTIMIZED


def is_cached() -> bool:
    """True when the current request runs the optimized form through the cache. An app
    built with ``FRETES_TURBINA=0`` has no cache: its ``cached`` mode runs the optimized form
    (Turbina's decorators raise on an app without Turbina, by design)."""
    return current_mode() == CACHED and "turbina" in current_app.extensions
