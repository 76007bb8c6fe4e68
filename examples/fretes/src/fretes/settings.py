"""The one reader of `fretes`'s own ``FRETES_*`` settings (Turbina reads its ``TURBINA_*``).

Each setting comes from ``create_app(config)`` first, then the environment, then its default;
the README's configuration table lists them. ``load_settings`` validates them into a frozen
``FretesSettings``; a bad value is a ``TurbinaError`` naming the key and the fix.

The secret key is never defaulted: without ``FRETES_SECRET_KEY`` (or ``SECRET_KEY`` in the
config) an app that is neither testing nor debugging refuses to start, because a known secret
lets anyone sign a session cookie for any user. A testing/debug app gets a random one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from limits import parse as parse_rate_limit

from fretes.mode import CONFIG_KEY as MODE_KEY
from fretes.mode import parse_mode
from turbina import TurbinaError

EXTENSION_KEY = "fretes.settings"
SECRET_ENV = "FRETES_SECRET_KEY"
MIN_SECRET_CHARS = 32
# Secrets that were ever public defaults: refused even when long enough to pass the length rule.
KNOWN_SECRETS = frozenset({"dev-only-change-me"})
# How pages get their CSS and scripts (FRETES_ASSETS): ``lazy`` — Turbina's bundles, and the
# badges and charts loaded when seen; ``pipeline`` — the bundles, everything in the HTML;
# ``plain`` — the seed's way: the plain files from Flask's static route, nothing compressed,
# Chart.js in ``<head>``. The last two exist to be measured against (bench/assets_bench.py).
ASSETS_LAZY = "lazy"
ASSETS_PIPELINE = "pipeline"
ASSETS_PLAIN = "plain"
ASSETS_MODES = (ASSETS_LAZY, ASSETS_PIPELINE, ASSETS_PLAIN)


class SettingError(TurbinaError):
    """A ``FRETES_*`` setting is missing or invalid."""


@dataclass(frozen=True)
class FretesSettings:
    """Validated settings of one app."""

    secret_key: str
    turbina: bool
    mode: str
    mode_header: bool
    export_max_rows: int
    max_body_bytes: int
    import_max_bytes: int
    login_limit_per_user: str
    login_limit_per_address: str
    ratelimit_storage_uri: str
    assets: str

    @property
    def assets_pipeline(self) -> bool:
        """Whether pages link Turbina's fingerprinted bundles (``lazy`` or ``pipeline``)."""
        return self.assets != ASSETS_PLAIN

    @property
    def lazy_parts(self) -> bool:
        """Whether the badges and the charts are ``data-lazy`` placeholders."""
        return self.assets == ASSETS_LAZY


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected a boolean (1/0, true/false, yes/no, on/off)")


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a positive integer")
    number = int(value)
    if number <= 0:
        raise ValueError("expected a positive integer")
    return number


def _rate_limit(value: Any) -> str:
    text = str(value)
    parse_rate_limit(text)  # ValueError for anything but "N per period"
    return text


def _text(value: Any) -> str:
    return str(value)


def _assets_mode(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ASSETS_MODES:
        raise ValueError(f"expected one of {', '.join(ASSETS_MODES)}")
    return text


def _read(
    name: str,
    parse: Callable[[Any], Any],
    default: Any,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Any:
    raw = config[name] if name in config else environ.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError) as exc:
        raise SettingError(
            f"{name}={raw!r} is invalid: {exc}",
            f"set {name} to a valid value (default {default!r})",
        ) from None


def secret_key(config: Mapping[str, Any], environ: Mapping[str, str], *, relaxed: bool) -> str:
    """The session secret: ``SECRET_KEY`` in the config, else ``FRETES_SECRET_KEY``; a random
    one when ``relaxed`` (testing or debug) and none is given; otherwise an error."""
    value = config.get("SECRET_KEY") or environ.get(SECRET_ENV)
    fix = f"export {SECRET_ENV}=$(python -c 'import secrets; print(secrets.token_hex(32))')"
    if not value:
        if relaxed:
            return secrets.token_hex(32)
        raise SettingError(
            f"{SECRET_ENV} is not set: refusing to start with a guessable session secret", fix
        )
    if not relaxed and (len(str(value)) < MIN_SECRET_CHARS or value in KNOWN_SECRETS):
        raise SettingError(
            f"{SECRET_ENV} is too weak: use at least {MIN_SECRET_CHARS} random characters", fix
        )
    return str(value)


def load_settings(config: Mapping[str, Any], environ: Mapping[str, str]) -> FretesSettings:
    """Validate the settings from ``config`` (wins) and ``environ``."""
    testing = bool(config.get("TESTING")) or bool(config.get("DEBUG"))

    def read(name: str, parse: Callable[[Any], Any], default: Any) -> Any:
        return _read(name, parse, default, config, environ)

    turbina = read("FRETES_TURBINA", _bool, True)
    # Without Turbina there is no pipeline: the plain files are the only way.
    assets = read("FRETES_ASSETS", _assets_mode, ASSETS_LAZY if turbina else ASSETS_PLAIN)
    if assets != ASSETS_PLAIN and not turbina:
        raise SettingError(
            f"FRETES_ASSETS={assets} needs Turbina, but FRETES_TURBINA is off",
            "set FRETES_ASSETS=plain, or FRETES_TURBINA=1",
        )
    return FretesSettings(
        secret_key=secret_key(config, environ, relaxed=testing),
        turbina=turbina,
        mode=read(MODE_KEY, parse_mode, parse_mode(None)),
        # Tests measure the forms against one app; a real server only when a benchmark says so.
        mode_header=read("FRETES_MODE_HEADER", _bool, bool(config.get("TESTING"))),
        export_max_rows=read("FRETES_EXPORT_MAX_ROWS", _positive_int, 5000),
        max_body_bytes=read("FRETES_MAX_BODY_BYTES", _positive_int, 256 * 1024),
        import_max_bytes=read("FRETES_IMPORT_MAX_BYTES", _positive_int, 2 * 1024 * 1024),
        login_limit_per_user=read("FRETES_LOGIN_LIMIT_PER_USER", _rate_limit, "10 per 15 minutes"),
        login_limit_per_address=read(
            "FRETES_LOGIN_LIMIT_PER_ADDRESS", _rate_limit, "100 per 15 minutes"
        ),
        ratelimit_storage_uri=read("FRETES_RATELIMIT_STORAGE_URI", _text, "memory://"),
        assets=assets,
    )


def current_settings() -> FretesSettings:
    """The settings of the current app (``create_app`` stores them)."""
    settings: FretesSettings = current_app.extensions[EXTENSION_KEY]
    return settings
