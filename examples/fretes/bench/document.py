"""The shape of the benchmark document (issue #15's contract §1) and a check of it.

``bench.proof`` writes the document and ``turbina.report`` reads it; ``problems(doc)`` lists
every place where a document departs from the contract (missing key, wrong type), so the
writer's output is checked before it is saved and the tests can check it too. A small
hand-written checker rather than JSON Schema: the project has no jsonschema dependency, and
the contract is a few nested objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NUM = (int, float)
OPT_NUM = (int, float, type(None))
STATS = {"p50": NUM, "p95": NUM, "p99": NUM, "mean": NUM}
PAGE: dict[str, Any] = {
    "page": str,
    "requests": int,
    "errors": int,
    "client_ms": ("optional", STATS),
    "server_ms": ("optional", STATS),
    "db_ms_mean": OPT_NUM,
    "queries_mean": OPT_NUM,
    "cache_hit_rate": OPT_NUM,
    "page_load_ms": ("optional", {"p50": NUM, "p95": NUM, "samples": int}),
}
CACHE = {"lookups": int, "hits": int, "hit_rate": OPT_NUM, "misses_by_cause": dict}
PHASE: dict[str, Any] = {
    "name": str,
    "label": str,
    "offered_rps": NUM,
    "duration_s": NUM,
    "requests": int,
    "errors": int,
    "saturation_rps": OPT_NUM,
    "db_ms_mean": OPT_NUM,
    "queries_over_500ms": int,
    "queries_over_1s": int,
    "statements": int,
    "cache": ("optional", CACHE),
    "stale_reads": (int, type(None)),
    "pages": ("list", PAGE),
}
META = {
    "db": str,
    "scale": str,
    "workers": int,
    "commit": (str, type(None)),
    "when": str,
    "load_average": list,
    "method": str,
}
DOCUMENT: dict[str, Any] = {
    "kind": str,
    "version": int,
    "meta": META,
    "before": str,
    "after": str,
    "phases": ("list", PHASE),
    "dashboard": ("optional", {"authorized_status": int, "anonymous_status": int}),
}


def _check(value: Any, spec: Any, where: str, out: list[str]) -> None:
    if isinstance(spec, tuple) and spec and spec[0] == "optional":
        if value is not None:
            _check(value, spec[1], where, out)
        return
    if isinstance(spec, tuple) and spec and spec[0] == "list":
        if not isinstance(value, list):
            out.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(item, spec[1], f"{where}[{index}]", out)
        return
    if isinstance(spec, dict):
        if not isinstance(value, Mapping):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        for key, sub in spec.items():
            if key not in value:
                out.append(f"{where}.{key}: missing")
            else:
                _check(value[key], sub, f"{where}.{key}", out)
        return
    types = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool) and bool not in types:
        out.append(f"{where}: expected {'/'.join(t.__name__ for t in types)}, got bool")
    elif not isinstance(value, types):
        out.append(
            f"{where}: expected {'/'.join(t.__name__ for t in types)}, got {type(value).__name__}"
        )


def problems(doc: Any) -> list[str]:
    """Every departure of ``doc`` from the contract; empty when it conforms."""
    out: list[str] = []
    _check(doc, DOCUMENT, "$", out)
    if not out:
        if doc["kind"] != "turbina.benchmark" or doc["version"] != 1:
            out.append("$: kind must be 'turbina.benchmark' and version 1")
        names = [phase["name"] for phase in doc["phases"]]
        for key in ("before", "after"):
            if doc[key] not in names:
                out.append(f"$.{key}: {doc[key]!r} names none of the phases {names}")
    return out
