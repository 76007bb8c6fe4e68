"""Who the user is and what they may do: Flask-Login with a session version, the role rules,
a password check that costs the same for unknown users, and the failed-login throttle.

Role rules: admin and operacoes see every row; a vendedor sees only rows carrying their
vendedor name (forced, not overridable) and writes only to their own entregas; pedidos,
fretes, embarques and the faturamento import are back-office writes (admin or operacoes).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.security import check_password_hash, generate_password_hash

from fretes.domain.errors import ForbiddenError
from fretes.models import BACK_OFFICE_ROLES, User, db

EXTENSION_KEY = "fretes.login_throttle"
MAX_PASSWORD_CHARS = 1024  # a longer one is refused before it reaches the (slow) hash


def _load_user(user_id: str) -> User | None:
    """The user of a session: ``"<id>:<session_version>"``; any other shape (a cookie from
    before versions existed, or forged) and a stale version are no user at all."""
    ident, sep, version = user_id.partition(":")
    if not sep or not ident.isdigit() or not version.isdigit() or len(ident) > 10:
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.session_version != int(version):
        return None
    return user


def _unauthorized() -> Any:
    # A part of a page fetched by turbina-lazy.js gets the 401 too (shown in place), not the
    # login form swapped into the page.
    lazy = request.headers.get("X-Requested-With") == "turbina-lazy"
    if request.args.get("format") == "json" or request.is_json or lazy:
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.full_path))


@functools.cache
def _unknown_user_hash() -> str:
    # Computed once per process with the same method as real users' hashes, so a login for a
    # username that does not exist spends the same time hashing as one with a wrong password.
    return generate_password_hash("fretes: no such user")


def check_login(user: User | None, password: str) -> bool:
    """True when ``user`` exists, is active and ``password`` is theirs. Exactly one password
    hash is checked on every path (an unknown user is checked against a dummy hash)."""
    stored = user.password_hash if user is not None else _unknown_user_hash()
    matches = check_password_hash(stored, password)
    return user is not None and matches and user.is_active


@dataclass
class LoginThrottle:
    """Failed logins counted per username and per client address (moving windows of the
    ``limits`` library, in memory by default, Redis with a ``redis://`` storage URI). Only
    failures count, so a benchmark's many good logins from one address are never slowed."""

    limiter: MovingWindowRateLimiter
    per_user: RateLimitItem
    per_address: RateLimitItem

    @classmethod
    def build(cls, storage_uri: str, per_user: str, per_address: str) -> LoginThrottle:
        """A throttle on its own storage (one per app)."""
        storage = storage_from_string(storage_uri)
        return cls(MovingWindowRateLimiter(storage), parse(per_user), parse(per_address))

    def _keys(self, username: str, address: str) -> tuple[tuple[RateLimitItem, str, str], ...]:
        return (
            (self.per_user, "user", username.strip().lower()[:80]),
            (self.per_address, "address", address),
        )

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        for item, kind, key in self._keys(username, address):
            if not self.limiter.test(item, "login", kind, key):
                reset = self.limiter.get_window_stats(item, "login", kind, key).reset_time
                return max(1, int(reset - time.time()) + 1)
        return None

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt."""
        for item, kind, key in self._keys(username, address):
            self.limiter.hit(item, "login", kind, key)


def login_throttle() -> LoginThrottle:
    """The current app's throttle."""
    throttle: LoginThrottle = current_app.extensions[EXTENSION_KEY]
    return throttle


def vendedor_forcado() -> str | None:
    """The vendedor filter forced on the logged-in user (None for a role that sees every
    row). A vendedor account without a vendedor name may see nothing: a 403 that says so."""
    user = current_user
    if user.sees_all_rows:
        return None
    if not user.vendedor:
        raise ForbiddenError("this vendedor account has no vendedor name: ask an admin to set it")
    return str(user.vendedor)


def require_back_office() -> None:
    """Allow only admin and operacoes (the writes on pedidos, fretes, embarques, imports)."""
    if current_user.role not in BACK_OFFICE_ROLES:
        raise ForbiddenError(f"this action needs the role {' or '.join(BACK_OFFICE_ROLES)}")


def autor_atual() -> str:
    """The name recorded as the author of a write."""
    return str(getattr(current_user, "nome", None) or current_user.username)


def init_auth(app: Flask, throttle: LoginThrottle) -> None:
    """Flask-Login on ``app`` (the login view is ``auth.login``) and its login throttle."""
    manager = LoginManager()
    manager.user_loader(_load_user)
    manager.unauthorized_handler(_unauthorized)
    manager.init_app(app)
    app.extensions[EXTENSION_KEY] = throttle


def may_see_turbina_dashboard(request: Any) -> bool:
    """``TURBINA_DASHBOARD_AUTH``: only a logged-in admin sees Turbina's dashboard."""
    return bool(current_user.is_authenticated and current_user.is_admin)


def may_see_server_timing(request: Any) -> bool:
    """``TURBINA_SERVER_TIMING``: DB time and query counts go to logged-in users only (the
    benchmark reads them); an anonymous client, e.g. on /login, never sees timings."""
    return bool(current_user.is_authenticated)
