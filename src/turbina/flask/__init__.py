"""All of Turbina's Flask glue: the extension, each part's request hooks, the CLI.

The cores (``turbina.queries``, ``turbina.cache``, ``turbina.indexes``) import no Flask;
this package adapts them to a Flask app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "Turbina": "turbina.flask.extension",
    "TurbinaState": "turbina.flask.extension",
    "get_state": "turbina.flask.extension",
    "Cache": "turbina.flask.cache",
    "cached": "turbina.flask.cache",
    "cached_view": "turbina.flask.cache",
    "current_cache": "turbina.flask.cache",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.flask.cache import Cache, cached, cached_view, current_cache
    from turbina.flask.extension import Turbina, TurbinaState, get_state
