"""Which form of the pages' data access runs: ``naive``, ``optimized`` or ``cached``.

``cached`` is the optimized form with each page's data function wrapped in Turbina's cache
(``fretes.access.cached``). ``FRETES_MODE`` sets the app's mode (``naive`` when absent). A
benchmark measures every form against one server by sending ``X-Fretes-Mode`` per request;
that header is honoured only when ``FRETES_MODE_HEADER`` is on (the harness turns it on; off
by default outside tests), because the naive form is the slow path: a client must never be
able to choose it on a production server.

Every form returns exactly the same page content; only the queries behind it differ.
"""

from __future__ import annotations

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


def parse_mode(value: object) -> str:
    """The mode a ``FRETES_MODE`` value names (``naive`` when unset or blank, any case)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return NAIVE
    if isinstance(value, str) and value.strip().lower() in MODES:
        return value.strip().lower()
    raise BadModeConfig(value)
