"""The mode -> data access form map of one app, built once by ``create_app``, and the form
of the current request (``access_for_request()``, the mode read once per request)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, current_app, g, request

from fretes.access import cached, naive, optimized
from fretes.access.protocol import PageAccess
from fretes.mode import CACHED, HEADER, MODES, NAIVE, OPTIMIZED
from fretes.params import parse_choice

EXTENSION_KEY = "fretes.access"
_G_MODE = "_fretes_mode"

# mypy checks each module against the protocol here: same names, same signatures.
NAIVE_FORM: PageAccess = naive
OPTIMIZED_FORM: PageAccess = optimized
CACHED_FORM: PageAccess = cached


@dataclass(frozen=True)
class AccessRegistry:
    """The forms by mode, the app's own mode, and whether a request may pick another."""

    forms: Mapping[str, PageAccess]
    default_mode: str
    header_enabled: bool

    def mode_of(self, header_value: str | None) -> str:
        """The mode of a request carrying ``header_value`` in ``X-Fretes-Mode``: the header's
        when enabled (a bad value is a BadParameter, a 400 naming the header), else the app's."""
        if self.header_enabled:
            chosen = parse_choice({HEADER: header_value}, HEADER, MODES)
            if chosen is not None:
                return chosen
        return self.default_mode


def build_registry(*, default_mode: str, header_enabled: bool, with_cache: bool) -> AccessRegistry:
    """The registry of an app. Without Turbina there is no cache: ``cached`` then runs the
    optimized form (Turbina's decorators raise on an app without Turbina, by design)."""
    forms: dict[str, PageAccess] = {
        NAIVE: NAIVE_FORM,
        OPTIMIZED: OPTIMIZED_FORM,
        CACHED: CACHED_FORM if with_cache else OPTIMIZED_FORM,
    }
    return AccessRegistry(forms, default_mode, header_enabled)


def init_access(app: Flask, registry: AccessRegistry) -> None:
    """Attach ``registry`` to ``app``."""
    app.extensions[EXTENSION_KEY] = registry


def current_mode() -> str:
    """The mode of the current request, read once and kept for the rest of the request."""
    mode: str | None = g.get(_G_MODE)
    if mode is None:
        registry: AccessRegistry = current_app.extensions[EXTENSION_KEY]
        mode = registry.mode_of(request.headers.get(HEADER))
        setattr(g, _G_MODE, mode)
    return mode


def access_for_request() -> PageAccess:
    """The data access form the current request runs."""
    registry: AccessRegistry = current_app.extensions[EXTENSION_KEY]
    return registry.forms[current_mode()]
