"""The one reader of ``TURBINA_*`` configuration.

Every key is declared once in ``KEYS`` with its type, default and documentation; the README's
configuration table mirrors this list. ``load_settings`` validates a mapping (a Flask
``app.config`` or ``os.environ``) and returns a frozen ``Settings``. Errors name the key and
the fix; an unknown ``TURBINA_*`` key is an error with a "did you mean" hint, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from turbina.errors import ConfigError


@dataclass(frozen=True)
class Key:
    """One configuration key: name without the prefix, parser, default, one-line doc."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a positive integer")
    number = int(value)
    if number <= 0:
        raise ValueError("expected a positive integer")
    return number


def _non_negative_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number >= 0")
    number = float(value)
    if number < 0:
        raise ValueError("expected a number >= 0")
    return number


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def _contexts(value: Any) -> Mapping[str, int]:
    if isinstance(value, str):  # from the environment: "reports=3600,pages=60"
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("expected name=seconds pairs separated by commas")
        value = {name.strip(): ttl.strip() for name, _, ttl in pairs}
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping of context name -> TTL in seconds")
    parsed: dict[str, int] = {}
    for name, ttl in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError("context names must be non-empty strings")
        parsed[name] = _positive_int(ttl)
    return MappingProxyType(parsed)


NO_CONTEXTS: Mapping[str, int] = MappingProxyType({})

PREFIX = "TURBINA_"

# --- the key table (README "Configuration" mirrors it) -----------------------------------
KEYS: tuple[Key, ...] = (
    Key("ENABLED", _bool, True, "Master switch: when false, init_app installs nothing."),
    # queries
    Key(
        "SLOW_QUERY_MS",
        _non_negative_float,
        500.0,
        "Statements slower than this go to the slow-query log.",
    ),
    Key(
        "MAX_FINGERPRINTS",
        _positive_int,
        5000,
        "Cap on per-fingerprint stats entries (least used evicted).",
    ),
    Key("SLOW_LOG_SIZE", _positive_int, 500, "Capacity of the slow-query ring buffer."),
    Key(
        "NPLUSONE_THRESHOLD",
        _positive_int,
        5,
        "Lazy loads of one relationship in one request that make an N+1 finding.",
    ),
    Key(
        "SERVER_TIMING",
        _bool,
        True,
        "Add a Server-Timing header (db time, query count) to responses.",
    ),
    Key(
        "EXPLAIN",
        _bool,
        True,
        "EXPLAIN slow SELECTs in a background thread (never ANALYZE, never writes).",
    ),
    Key(
        "EXPLAIN_INTERVAL_S",
        _non_negative_float,
        300.0,
        "Minimum seconds between two EXPLAINs of one fingerprint.",
    ),
    Key(
        "QUERIES_SNAPSHOT",
        _optional_str,
        None,
        "File the app writes redacted query stats and N+1 findings to at exit; the CLI reads it when its own process has none.",
    ),
    # cache
    Key(
        "CACHE_BACKEND",
        _choice("memory", "redis", "null"),
        "memory",
        "Cache backend: memory (per process), redis, or null (disabled).",
    ),
    Key(
        "REDIS_URL",
        _optional_str,
        None,
        "Redis URL for the cache; falls back to the app's REDIS_URL.",
    ),
    Key("CACHE_PREFIX", str, "turbina", "Namespace prefix of every Redis key Turbina writes."),
    Key(
        "CACHE_CONTEXTS",
        _contexts,
        NO_CONTEXTS,
        "Mapping context -> TTL seconds (or name=seconds,... from the environment); a context not listed gets 300 s.",
    ),
    Key(
        "CACHE_MAX_BYTES",
        _positive_int,
        64 * 1024 * 1024,
        "Memory backend size cap in bytes (LRU).",
    ),
    Key(
        "CACHE_MAX_VALUE_BYTES",
        _positive_int,
        1024 * 1024,
        "Encoded values larger than this are not cached (counted).",
    ),
    Key(
        "CACHE_LOCK_TIMEOUT_MS",
        _positive_int,
        5000,
        "Stampede lock lifetime; waiters give up after this and compute.",
    ),
    Key(
        "CACHE_REDIS_CLUSTER",
        _bool,
        False,
        "Connect to REDIS_URL as a Redis Cluster (redis.cluster.RedisCluster).",
    ),
    Key(
        "CACHE_REDIS_TIMEOUT_MS",
        _positive_int,
        500,
        "Redis socket connect/read timeout; a slower call counts as an error and the cache fails open.",
    ),
)

_BY_NAME = {key.name: key for key in KEYS}
KEY_NAMES: frozenset[str] = frozenset(PREFIX + key.name for key in KEYS)


@dataclass(frozen=True)
class Settings:
    """Validated Turbina settings, one typed attribute per key of ``KEYS`` (lower case, no
    prefix: ``TURBINA_SLOW_QUERY_MS`` -> ``settings.slow_query_ms``). Build with
    ``load_settings``; frozen, so a part cannot change what another part reads."""

    enabled: bool = True
    slow_query_ms: float = 500.0
    max_fingerprints: int = 5000
    slow_log_size: int = 500
    nplusone_threshold: int = 5
    server_timing: bool = True
    explain: bool = True
    explain_interval_s: float = 300.0
    queries_snapshot: str | None = None
    cache_backend: str = "memory"
    redis_url: str | None = None
    cache_prefix: str = "turbina"
    cache_contexts: Mapping[str, int] = field(default_factory=lambda: NO_CONTEXTS)
    cache_max_bytes: int = 64 * 1024 * 1024
    cache_max_value_bytes: int = 1024 * 1024
    cache_lock_timeout_ms: int = 5000
    cache_redis_cluster: bool = False
    cache_redis_timeout_ms: int = 500


def load_settings(source: Mapping[str, Any] | None = None, **overrides: Any) -> Settings:
    """Validate ``TURBINA_*`` keys from ``source`` (plus ``overrides`` without the prefix).

    Raises ``ConfigError`` naming the key, the bad value and what is accepted.
    """
    raw: dict[str, Any] = {}
    for full_name, value in (source or {}).items():
        if not isinstance(full_name, str) or not full_name.startswith(PREFIX):
            continue
        raw[full_name[len(PREFIX) :]] = value
    raw.update({name.upper(): value for name, value in overrides.items()})

    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = _BY_NAME.get(name)
        if key is None:
            close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
            hint = (
                f"did you mean {PREFIX}{close[0]}?"
                if close
                else "see the README configuration table"
            )
            raise ConfigError(f"unknown setting {PREFIX}{name}", hint)
        try:
            values[name] = key.parse(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{PREFIX}{name}={value!r} is invalid: {exc}",
                f"set {PREFIX}{name} to a valid value (default: {key.default!r})",
            ) from None
    for key in KEYS:
        values.setdefault(key.name, key.default)
    if values["REDIS_URL"] is None and source is not None:
        fallback = source.get("REDIS_URL")
        if isinstance(fallback, str) and fallback:
            values["REDIS_URL"] = fallback
    return Settings(**{name.lower(): value for name, value in values.items()})
