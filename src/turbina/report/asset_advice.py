"""Asset findings: bundles served uncompressed, large render-blocking CSS/JS in ``<head>``.

The thresholds start from Sentry's performance-issue detectors
(docs.sentry.io/product/issues/performance-issues/uncompressed-asset and
.../large-render-blocking-asset): an *uncompressed asset* is a ``.css``/``.js`` file over
512 kB transferred without compression (Sentry also needs a span over 500 ms, which a build
cannot see); a *large render-blocking asset* is a blocking CSS/JS resource whose encoded body
is over 500 kB (Sentry also needs a First Contentful Paint of 2-10 s and the asset taking at
least 33 % of it). Here the sizes are read from the assets facts, so only the size rules apply.

The facts: ``{"assets": [{"name", "size", "encodings": {"br": n, ...}, "render_blocking":
bool}], "loads_per_hour": n, "bandwidth_bytes_per_s": n}`` (the last two optional; without
them no time is estimated: a size says nothing about time without a rate and a link speed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from turbina.report.model import Finding

__all__ = ["RENDER_BLOCKING_BYTES", "UNCOMPRESSED_BYTES", "advise"]

UNCOMPRESSED_BYTES = 512 * 1024  # Sentry's Uncompressed Asset size threshold
RENDER_BLOCKING_BYTES = 500 * 1024  # Sentry's Large Render Blocking Asset encoded size
_TEXT_SUFFIXES = (".css", ".js", ".mjs")


def _items(facts: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = facts.get("assets", facts.get("bundles", []))
    if isinstance(raw, Mapping):  # a manifest's bundles: name -> entry
        return [dict(entry, name=name) for name, entry in raw.items() if isinstance(entry, Mapping)]
    return [item for item in raw if isinstance(item, Mapping)]


def _time(facts: Mapping[str, Any], extra_bytes: float) -> tuple[float, str]:
    loads, speed = facts.get("loads_per_hour"), facts.get("bandwidth_bytes_per_s")
    if not isinstance(loads, int | float) or not isinstance(speed, int | float) or speed <= 0:
        return 0.0, "not estimated: no page loads per hour and link speed in the assets facts"
    saved = float(loads) * extra_bytes / float(speed) * 1000.0
    return saved, (
        f"{loads:.0f} loads/h x {extra_bytes:,.0f} bytes / {speed:,.0f} bytes/s = {saved:,.0f} ms/h"
    )


def advise(facts: Mapping[str, Any] | None) -> list[Finding]:
    """Asset findings from the assets facts (none without them)."""
    if not facts:
        return []
    found = []
    for item in _items(facts):
        name = str(item.get("name") or item.get("file") or "?")
        size = int(item.get("size") or 0)
        encodings = item.get("encodings") or {}
        smallest = min([int(v) for v in encodings.values()] or [size])
        if name.endswith(_TEXT_SUFFIXES) and size > UNCOMPRESSED_BYTES and not encodings:
            saved, formula = _time(facts, size * 0.7)  # text compresses ~70 % (gzip, typical)
            found.append(
                Finding(
                    kind="asset",
                    title=f"uncompressed asset {name}: {size / 1024:,.0f} kB (> 512 kB)",
                    evidence={"size_bytes": size},
                    fix="build it with `turbina assets build` (br/gzip variants) and serve them (TURBINA_ASSETS_SERVE)",
                    saved_ms_per_hour=saved,
                    formula=formula,
                    where=name,
                )
            )
        if item.get("render_blocking") and smallest > RENDER_BLOCKING_BYTES:
            saved, formula = _time(facts, smallest)
            found.append(
                Finding(
                    kind="asset",
                    title=(
                        f"large render-blocking asset {name}: {smallest / 1024:,.0f} kB "
                        "encoded (> 500 kB) in <head>"
                    ),
                    evidence={"encoded_bytes": smallest, "size_bytes": size},
                    fix="split it, load what is not needed for the first paint with defer/async",
                    saved_ms_per_hour=saved,
                    formula=formula,
                    where=name,
                )
            )
    return found
