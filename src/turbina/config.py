"""The one reader of ``TURBINA_*`` configuration.

Every key is declared once in ``KEYS`` with its type, default and documentation; the README's
configuration table mirrors this list. ``load_settings`` validates a mapping (a Flask
``app.config`` or ``os.environ``) and returns a frozen ``Settings``. Errors name the key and
the fix; an unknown ``TURBINA_*`` key is an error with a "did you mean" hint, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import difflib
import json
import re
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


def _fraction(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number between 0 and 1")
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError("expected a number between 0 and 1")
    return number


def _positive_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number > 0")
    number = float(value)
    if not number > 0:
        raise ValueError("expected a number > 0")
    return number


def _optional_callable(value: Any) -> Callable[..., Any] | None:
    if value is None or value == "":
        return None
    if not callable(value):
        raise ValueError("expected a callable (set it in app.config, not the environment)")
    return value


def _server_timing(value: Any) -> bool | str | Callable[..., Any]:
    if callable(value):
        return value
    if isinstance(value, str) and value.strip().lower() in {"debug", "always", "never"}:
        return value.strip().lower()
    try:
        return "always" if _bool(value) else "never"
    except ValueError:
        raise ValueError(
            "expected debug, always, never, a boolean, or a callable(request) -> bool"
        ) from None


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


def _optional_bool(value: Any) -> bool | None:
    """``None`` (unset, or ``auto``): on when the optional packages it needs are installed."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    return _bool(value)


def _bundles(value: Any) -> Mapping[str, tuple[str, ...]]:
    if isinstance(value, str):  # from the environment: a JSON object
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                'expected a JSON object such as {"app.css": ["css/a.css", "css/b.css"]}'
            ) from None
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping of bundle name -> list of source files")
    parsed: dict[str, tuple[str, ...]] = {}
    for name, sources in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError("bundle names must be non-empty strings")
        if isinstance(sources, str) or not isinstance(sources, list | tuple) or not sources:
            raise ValueError(f"bundle {name!r} needs a non-empty list of source files")
        if not all(isinstance(source, str) and source for source in sources):
            raise ValueError(f"bundle {name!r}: every source must be a non-empty path string")
        parsed[name] = tuple(sources)
    return MappingProxyType(parsed)


def _relative_folder(value: Any) -> str:
    text = str(value).strip().strip("/")
    if not text or "\\" in text or any(part in ("", ".", "..") for part in text.split("/")):
        raise ValueError("expected a folder name inside the static folder, such as dist")
    return text


def _callable_or_path(value: Any) -> Callable[..., Any] | str | None:
    """A callable, or the import path of one (``package.module:name``), resolved by the glue
    that uses it (importing the app's code from the config reader would be too early)."""
    if value is None or value == "":
        return None
    if callable(value):
        return value
    if isinstance(value, str) and re.match(r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$", value.strip()):
        return value.strip()
    raise ValueError("expected a callable(request) -> bool or its import path (pkg.module:name)")


def _url_prefix(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    if not re.match(r"^/[A-Za-z0-9_\-./]+$", text) or ".." in text:
        raise ValueError("expected a URL path such as /_turbina")
    return text


NO_BUNDLES: Mapping[str, tuple[str, ...]] = MappingProxyType({})


# A cache context name (part of keys and stamp tokens); turbina.cache.spec checks the same.
CONTEXT_NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,100}$"
_CONTEXT_NAME = re.compile(CONTEXT_NAME_PATTERN)
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _optional_positive_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return _positive_int(value)


def _redis_url(value: Any) -> str | None:
    url = _optional_str(value)
    if url is not None and not url.startswith(_REDIS_SCHEMES):
        raise ValueError(
            "expected a Redis URL starting with redis://, rediss:// or unix:// "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    return url


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
        if not isinstance(name, str) or not _CONTEXT_NAME.match(name):
            raise ValueError(f"context name {name!r} is not 1-100 letters, digits, '_', '.' or '-'")
        try:
            parsed[name] = _positive_int(ttl)
        except (TypeError, ValueError):
            raise ValueError(
                f"the TTL of context {name!r} is {ttl!r}: expected a positive number of seconds"
            ) from None
    return MappingProxyType(parsed)


NO_CONTEXTS: Mapping[str, int] = MappingProxyType({})

# A PostgreSQL identifier used unquoted (LISTEN channel, schema); turbina.cache.triggers
# checks the same.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _identifier(value: Any) -> str:
    text = str(value).strip()
    if not _IDENTIFIER.match(text):
        raise ValueError(
            "expected a lower-case identifier of letters, digits and '_' (at most 63 "
            "characters, not starting with a digit)"
        )
    return text


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
        "SLOW_SHARE",
        _fraction,
        0.2,
        "A statement taking at least this share of all DB time is flagged slow (0 turns the rule off).",
    ),
    Key(
        "SLOW_MEAN_MS",
        _non_negative_float,
        20.0,
        "A statement whose mean is at least this over TURBINA_SLOW_MIN_CALLS calls is flagged slow (PgHero's rule); one run this long is EXPLAINed.",
    ),
    Key(
        "SLOW_MIN_CALLS",
        _positive_int,
        100,
        "Calls needed before the TURBINA_SLOW_MEAN_MS rule applies.",
    ),
    Key(
        "SERVER_TIMING",
        _server_timing,
        "debug",
        "Who gets the Server-Timing header (db time, query count): debug (only in debug mode), always, never, or a callable(request) -> bool.",
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
        _redis_url,
        None,
        "Redis URL for the cache; falls back to the app's REDIS_URL.",
    ),
    Key("CACHE_PREFIX", str, "turbina", "Namespace prefix of every Redis key Turbina writes."),
    Key(
        "CACHE_CONTEXTS",
        _contexts,
        NO_CONTEXTS,
        "Mapping context -> TTL seconds (or name=seconds,... from the environment); using a context not listed is an error unless the decorator passes ttl=.",
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
        "CACHE_MAX_STALE_S",
        _optional_positive_int,
        None,
        "Cap on every entry's lifetime: the longest a value can be served stale when a writer cannot reach the store (default: each context's TTL).",
    ),
    Key(
        "CACHE_REDIS_TIMEOUT_MS",
        _positive_int,
        500,
        "Redis socket connect/read timeout; a slower call counts as an error and the cache fails open.",
    ),
    Key(
        "CACHE_LISTEN",
        _bool,
        False,
        "PostgreSQL only: listen for the trigger bridge's notifications (writes from outside the app, after `turbina cache install-triggers`) and bump their tables' stamps.",
    ),
    Key(
        "CACHE_CHANNEL",
        _identifier,
        "turbina_writes",
        "NOTIFY channel of the trigger bridge (install-triggers and the listener).",
    ),
    Key(
        "CACHE_TRIGGER_SCHEMA",
        _identifier,
        "turbina",
        "Schema that holds the trigger bridge's function.",
    ),
    # request monitor and store
    Key(
        "MONITOR",
        _bool,
        True,
        "Time every request per url rule and flush the numbers to the store.",
    ),
    Key(
        "STORE",
        _choice("sqlite", "redis", "memory"),
        "sqlite",
        "Where workers flush their numbers: sqlite (a file shared by the workers of one host), redis (many hosts), memory (this process only).",
    ),
    Key(
        "STORE_PATH",
        _optional_str,
        None,
        "SQLite store file; default turbina-store.db in the app's instance folder.",
    ),
    Key(
        "STORE_REDIS_CLUSTER",
        _bool,
        False,
        "Connect the Redis store to TURBINA_REDIS_URL as a Redis Cluster.",
    ),
    Key(
        "FLUSH_INTERVAL_S",
        _positive_float,
        5.0,
        "Seconds between two background flushes of a worker's numbers (and one at exit).",
    ),
    Key(
        "STORE_MAX_ENDPOINTS",
        _positive_int,
        200,
        "Distinct endpoints (url rule, method) a worker reports; the rest fold into <other>.",
    ),
    Key(
        "STORE_MAX_FINGERPRINTS",
        _positive_int,
        1000,
        "Distinct statement fingerprints (and N+1 findings) a worker reports; the rest fold into <other>.",
    ),
    Key("APDEX_MS", _positive_float, 500.0, "Apdex threshold T: satisfied <= T, tolerating <= 4T."),
    Key(
        "ALERT_SLOW_MS",
        _non_negative_float,
        3000.0,
        "A request slower than this raises an alert (0 turns the fixed threshold off).",
    ),
    Key(
        "ALERT_P99_FACTOR",
        _non_negative_float,
        2.0,
        "A request slower than this many times its endpoint's rolling 5-minute p99 raises an alert (0: off).",
    ),
    Key(
        "ALERT_DEDUPE_S",
        _non_negative_float,
        300.0,
        "At most one alert per endpoint and kind in this many seconds (per worker).",
    ),
    Key(
        "METRICS",
        _choice("app", "bind", "off"),
        "app",
        "Prometheus endpoint: app (TURBINA_METRICS_PATH on the app, closed unless TURBINA_METRICS_AUTH allows), bind (its own TURBINA_METRICS_BIND listener), off.",
    ),
    Key("METRICS_PATH", str, "/metrics", "Path of the Prometheus endpoint on the app."),
    Key(
        "METRICS_AUTH",
        _optional_callable,
        None,
        "callable(request) -> bool allowing a scrape of the app's metrics path; without it the path answers 403.",
    ),
    Key(
        "METRICS_BIND",
        str,
        "127.0.0.1:9464",
        "host:port of the metrics listener when TURBINA_METRICS=bind (the first worker to bind serves every worker's totals).",
    ),
    # assets
    Key(
        "ASSETS_BUNDLES",
        _bundles,
        NO_BUNDLES,
        'Bundle name -> ordered source files (relative to the static folder), e.g. {"app.css": ["css/a.css", "css/b.css"]}; a JSON object from the environment. turbina-lazy.js is always there.',
    ),
    Key(
        "ASSETS_DIR",
        _relative_folder,
        "dist",
        "Folder inside the static folder that `turbina assets build` writes the fingerprinted files and manifest.json to.",
    ),
    Key(
        "ASSETS_ZSTD",
        _bool,
        False,
        "Also write .zst variants (served to clients that accept zstd, when smallest).",
    ),
    Key(
        "ASSETS_SERVE",
        _optional_bool,
        None,
        "Serve the static folder with WhiteNoise: immutable caching for fingerprinted files, ETag/304 for the rest, precompressed variants. Unset: on when turbina[assets] is installed.",
    ),
    Key(
        "COMPRESS_RESPONSES",
        _optional_bool,
        None,
        "Compress dynamic responses (HTML, JSON, text) with brotli or gzip via Flask-Compress. Unset: on when turbina[assets] is installed.",
    ),
    Key(
        "COMPRESS_MIN_BYTES",
        _positive_int,
        500,
        "Dynamic responses smaller than this are sent uncompressed.",
    ),
    # dashboard
    Key(
        "DASHBOARD",
        _bool,
        True,
        "Register the dashboard blueprint (closed unless TURBINA_DASHBOARD_AUTH allows the request).",
    ),
    Key("DASHBOARD_PREFIX", _url_prefix, "/_turbina", "URL prefix of the dashboard."),
    Key(
        "DASHBOARD_AUTH",
        _callable_or_path,
        None,
        "callable(request) -> bool (or its import path, pkg.module:name) allowing a dashboard request; without it every dashboard URL answers 403.",
    ),
    Key(
        "DASHBOARD_REFRESH_S",
        _positive_float,
        5.0,
        "Seconds between two refreshes of a dashboard page from its JSON API (paused while the tab is hidden).",
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
    slow_share: float = 0.2
    slow_mean_ms: float = 20.0
    slow_min_calls: int = 100
    server_timing: bool | str | Callable[..., Any] = "debug"
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
    cache_max_stale_s: int | None = None
    cache_redis_timeout_ms: int = 500
    cache_listen: bool = False
    cache_channel: str = "turbina_writes"
    cache_trigger_schema: str = "turbina"
    monitor: bool = True
    store: str = "sqlite"
    store_path: str | None = None
    store_redis_cluster: bool = False
    flush_interval_s: float = 5.0
    store_max_endpoints: int = 200
    store_max_fingerprints: int = 1000
    apdex_ms: float = 500.0
    alert_slow_ms: float = 3000.0
    alert_p99_factor: float = 2.0
    alert_dedupe_s: float = 300.0
    metrics: str = "app"
    metrics_path: str = "/metrics"
    metrics_auth: Callable[..., Any] | None = None
    metrics_bind: str = "127.0.0.1:9464"
    assets_bundles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: NO_BUNDLES)
    assets_dir: str = "dist"
    assets_zstd: bool = False
    assets_serve: bool | None = None
    compress_responses: bool | None = None
    compress_min_bytes: int = 500
    dashboard: bool = True
    dashboard_prefix: str = "/_turbina"
    dashboard_auth: Callable[..., Any] | str | None = None
    dashboard_refresh_s: float = 5.0


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
            try:
                values["REDIS_URL"] = _redis_url(fallback)
            except ValueError as exc:
                # The app's own REDIS_URL matters only when a Turbina part uses Redis.
                if "redis" in (values.get("CACHE_BACKEND"), values.get("STORE")):
                    raise ConfigError(
                        f"REDIS_URL={fallback!r} (the fallback of {PREFIX}REDIS_URL) is invalid: "
                        f"{exc}",
                        f"set {PREFIX}REDIS_URL or REDIS_URL to a redis:// URL",
                    ) from None
    return Settings(**{name.lower(): value for name, value in values.items()})
