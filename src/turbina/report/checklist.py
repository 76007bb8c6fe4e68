"""The seed's acceptance checklist and the one-line verdict.

From a benchmark document (``turbina.benchmark``, version 1) the criteria are evaluated on its
``after`` phase, against its ``before`` phase where a criterion compares them. Without one, what
a store window can tell is evaluated (DB time per request, statements over 1 s, the cache hit
rate) and the rest is "not measured" (``passed`` is ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from turbina.errors import TurbinaError
from turbina.report.inputs import Facts
from turbina.report.model import Check

__all__ = ["CRITERIA", "check_benchmark", "from_benchmark", "from_facts", "verdict"]

CRITERIA = (
    ("DB response", "< 50 ms"),
    ("page load", "< 1 s"),
    ("cache hit rate", "> 85 %"),
    ("queries > 1 s", "0"),
    ("queries > 500 ms eliminated", ">= 80 %"),
    ("dashboard working", "authorized 200, anonymous refused"),
    ("all tests passing", "make test"),
)
_TARGET = dict(CRITERIA)
_FIX = "pass the JSON document `make bench` writes (kind turbina.benchmark, version 1)"


def check_benchmark(doc: Any) -> dict[str, Any]:
    """``doc`` if it is a benchmark document whose ``before``/``after`` name phases, else a
    ``TurbinaError`` saying what is wrong."""
    if not isinstance(doc, Mapping):
        raise TurbinaError("the benchmark is not a JSON object", _FIX)
    if doc.get("kind") != "turbina.benchmark" or doc.get("version") != 1:
        raise TurbinaError(
            f"not a benchmark document (kind {doc.get('kind')!r}, version {doc.get('version')!r})",
            _FIX,
        )
    phases = doc.get("phases")
    if not isinstance(phases, list) or not all(isinstance(p, Mapping) for p in phases):
        raise TurbinaError("the benchmark's 'phases' is not a list of objects", _FIX)
    if not isinstance(doc.get("meta", {}), Mapping):
        raise TurbinaError("the benchmark's 'meta' is not an object", _FIX)
    for phase in phases:
        pages = phase.get("pages", [])
        if not isinstance(pages, list) or not all(isinstance(p, Mapping) for p in pages):
            raise TurbinaError(
                f"the 'pages' of phase {phase.get('name')!r} is not a list of objects", _FIX
            )
    names = [p.get("name") for p in phases]
    for key in ("before", "after"):
        if doc.get(key) not in names:
            raise TurbinaError(
                f"the benchmark's {key!r} ({doc.get(key)!r}) names none of its phases {names}",
                _FIX,
            )
    return dict(doc)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _phase(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return next(p for p in doc["phases"] if p.get("name") == doc[key])


def _below(name: str, value: float | None, limit: float, shown: str, note: str = "") -> Check:
    if value is None:
        return Check(name, _TARGET[name], "not measured", None, note)
    return Check(name, _TARGET[name], shown, value < limit, note)


def _cache_check(cache: Any, note: str = "") -> Check:
    rate = _num(cache.get("hit_rate")) if isinstance(cache, Mapping) else None
    name = "cache hit rate"
    if rate is None:
        return Check(name, _TARGET[name], "not measured", None, note or "no cache lookups")
    causes = cache.get("misses_by_cause") if isinstance(cache, Mapping) else None
    if isinstance(causes, Mapping) and causes:
        top = max(causes, key=lambda c: _num(causes[c]) or 0)
        note = note or f"misses mostly {top}"
    return Check(name, _TARGET[name], f"{100 * rate:.1f} %", rate > 0.85, note)


def _eliminated(before: float | None, after: float | None) -> Check:
    name = "queries > 500 ms eliminated"
    if before is None or after is None:
        return Check(name, _TARGET[name], "not measured", None, "needs both phases' counts")
    if before == 0:
        if after == 0:
            return Check(
                name, _TARGET[name], "none before, none after", None, "nothing to eliminate"
            )
        return Check(name, _TARGET[name], f"0 before, {after:.0f} after", False, "new slow queries")
    gone = 1.0 - after / before
    return Check(
        name,
        _TARGET[name],
        f"{100 * gone:.1f} % ({before:.0f} -> {after:.0f})",
        gone >= 0.8,
    )


def _dashboard(data: Any) -> Check:
    name = "dashboard working"
    if not isinstance(data, Mapping):
        return Check(name, _TARGET[name], "not measured", None, "the benchmark did not check it")
    ok, anon = data.get("authorized_status"), data.get("anonymous_status")
    passed = ok == 200 and anon in (401, 403, 404)
    return Check(name, _TARGET[name], f"authorized {ok}, anonymous {anon}", passed)


def _tests() -> Check:
    name = "all tests passing"
    return Check(
        name, _TARGET[name], "not measured", None, "not measurable from a run: run make test"
    )


def from_benchmark(doc: Mapping[str, Any]) -> list[Check]:
    """The seven criteria on the document's ``after`` phase (vs ``before``)."""
    after, before = _phase(doc, "after"), _phase(doc, "before")
    db = _num(after.get("db_ms_mean"))
    pages = [p for p in after.get("pages", []) if isinstance(p, Mapping)]
    worst_db = max(
        ((p.get("page"), _num(p.get("db_ms_mean"))) for p in pages if _num(p.get("db_ms_mean"))),
        key=lambda item: item[1] or 0.0,
        default=None,
    )
    loads = [
        (p.get("page"), _num(p["page_load_ms"].get("p95")))
        for p in pages
        if isinstance(p.get("page_load_ms"), Mapping) and _num(p["page_load_ms"].get("p95"))
    ]
    worst_load = max(loads, key=lambda item: item[1] or 0.0, default=None)
    return [
        _below(
            "DB response",
            db,
            50.0,
            f"{db:.1f} ms mean per request" if db is not None else "",
            f"slowest page {worst_db[0]}: {worst_db[1]:.1f} ms" if worst_db else "",
        ),
        _below(
            "page load",
            worst_load[1] if worst_load else None,
            1000.0,
            f"{worst_load[1]:.0f} ms p95 ({worst_load[0]})" if worst_load else "",
            "" if worst_load else "no page load measured in Chromium",
        ),
        _cache_check(after.get("cache")),
        _below(
            "queries > 1 s",
            _num(after.get("queries_over_1s")),
            0.5,
            f"{_num(after.get('queries_over_1s')) or 0:.0f}",
        ),
        _eliminated(_num(before.get("queries_over_500ms")), _num(after.get("queries_over_500ms"))),
        _dashboard(doc.get("dashboard")),
        _tests(),
    ]


def from_facts(facts: Facts) -> list[Check]:
    """What a store window (or a snapshot) can tell; the rest is not measured."""
    calls = sum(int(e["calls"]) for e in facts.endpoints)
    db_ms = sum(float(e["db_ms"]) for e in facts.endpoints)
    db = db_ms / calls if calls else None
    over_1s = {str(e.get("sql")) for e in facts.slow if (_num(e.get("duration_ms")) or 0) > 1000}
    over_1s |= {
        str(q.get("fingerprint")) for q in facts.queries if (_num(q.get("max_ms")) or 0) > 1000
    }
    observed = bool(facts.queries or facts.slow)
    hits = sum(int(c.get("hits", 0)) for c in facts.cache)
    misses = sum(int(c.get("misses", 0)) for c in facts.cache)
    causes: dict[str, int] = {}
    for row in facts.cache:
        for name, value in row.items():
            if name.startswith("miss_") and value:
                causes[name] = causes.get(name, 0) + int(value)
    cache = (
        {"hit_rate": hits / (hits + misses), "misses_by_cause": causes} if hits + misses else None
    )
    return [
        _below(
            "DB response",
            db,
            50.0,
            f"{db:.1f} ms mean per request" if db is not None else "",
            "" if db is not None else "no requests in the window",
        ),
        Check(
            "page load", _TARGET["page load"], "not measured", None, "needs a browser (make bench)"
        ),
        _cache_check(cache),
        Check(
            "queries > 1 s",
            _TARGET["queries > 1 s"],
            f"{len(over_1s)} statement(s)" if observed else "not measured",
            (not over_1s) if observed else None,
            "statements whose slowest run took over 1 s" if observed else "no statement recorded",
        ),
        Check(
            "queries > 500 ms eliminated",
            _TARGET["queries > 500 ms eliminated"],
            "not measured",
            None,
            "needs a before and an after (make bench)",
        ),
        Check(
            "dashboard working",
            _TARGET["dashboard working"],
            "not measured",
            None,
            "make bench checks it",
        ),
        _tests(),
    ]


def verdict(checks: list[Check]) -> str:
    """One line: how many criteria are met, which are missed (with the value), which unmeasured."""
    met = [c for c in checks if c.passed is True]
    missed = [c for c in checks if c.passed is False]
    unknown = [c for c in checks if c.passed is None]
    line = f"{len(met)} of {len(checks)} seed criteria met"
    if missed:
        line += "; missed: " + ", ".join(f"{c.name} {c.measured} ({c.target})" for c in missed)
    if unknown:
        line += "; not measured: " + ", ".join(c.name for c in unknown)
    return line
