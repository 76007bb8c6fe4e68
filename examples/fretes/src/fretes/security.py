"""What every request goes through before and after its view: CSRF and origin checks on
writes, body size limits, safe JSON parsing, the session cookie's flags, security headers.

- Form writes carry a CSRF token (Flask-WTF's ``CSRFProtect``; templates render it).
- JSON writes need no token: their content type is not one a cross-site form or a "simple"
  cross-origin request can send, and `fretes` answers no CORS preflight. Any write whose
  ``Origin`` is another site, or that a browser marks ``Sec-Fetch-Site: cross-site``, is
  refused (403) before the view runs.
- Bodies are capped by ``MAX_CONTENT_LENGTH`` (413); the faturamento import has its own cap.
- A JSON body nested too deeply for the parser is a 400, not a 500 (``RecursionError``).
- The session cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` whenever the request
  came over HTTPS (always with ``SESSION_COOKIE_SECURE``).
- Every answer carries ``X-Content-Type-Options``, ``X-Frame-Options``, a CSP and a
  ``Referrer-Policy``; an answer to a logged-in user is ``Cache-Control: private``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden

from fretes.settings import FretesSettings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
IMPORT_ENDPOINT = "faturamento.importar"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "same-origin",
}


class FretesJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with a too-deeply-nested document read as invalid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """``json.loads``; ``RecursionError`` becomes the ``ValueError`` of bad JSON."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON document nested too deeply") from None


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked ``Secure`` on HTTPS requests as well."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """``SESSION_COOKIE_SECURE``, or True when this request came over HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _same_origin(origin: str) -> bool:
    return origin == request.host_url.rstrip("/")


def init_security(app: Flask, settings: FretesSettings) -> None:
    """Install the checks and headers on ``app``."""
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Checked by guard_writes below, for form posts only.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    app.json = FretesJSONProvider(app)
    app.session_interface = SessionInterface()
    csrf = CSRFProtect(app)

    @app.before_request
    def guard_writes() -> None:
        if request.endpoint == IMPORT_ENDPOINT:
            # Up to 1000 rows per batch need more than the app-wide cap, and no more.
            request.max_content_length = settings.import_max_bytes
            request.max_form_memory_size = settings.import_max_bytes
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("Origin")
        if (origin is not None and not _same_origin(origin)) or (
            request.headers.get("Sec-Fetch-Site") == "cross-site"
        ):
            raise Forbidden("cross-origin write refused")
        if request.is_json:
            return
        csrf.protect()

    @app.after_request
    def add_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "private, no-cache")
            response.vary.add("Cookie")
        return response
