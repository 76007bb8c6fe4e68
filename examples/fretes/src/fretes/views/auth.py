"""GET/POST /login and POST /logout.

The login accepts a JSON object or the login form (with its CSRF token). A failed login
costs one password hash whether or not the user exists, and counts against the username and
the address (``fretes.auth.LoginThrottle``): past the limit the answer is 429 with
``Retry-After``, for the right password too. ``next`` must be a path on this site.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as WerkzeugResponse

from fretes.auth import MAX_PASSWORD_CHARS, check_login, login_throttle
from fretes.models import User, db
from fretes.params import BadParameter, json_object, parse_text

bp = Blueprint("auth", __name__)

DEFAULT_NEXT = "/monitoramento/listar"
# A local path: one '/', then no second '/' or '\' (which browsers read as another host),
# and no control character (a tab inside '/\t/evil.example' is dropped by browsers, leaving
# '//evil.example'; CR/LF would split the Location header) nor any backslash.
_LOCAL_PATH = re.compile(r"/(?![/\\ ])[^\x00-\x1f\x7f\\]*")
NEXT_ACCEPTED = "a path on this site starting with a single '/', without control characters"


def safe_next(value: str | None) -> str:
    """Where to go after logging in: ``value`` if it is a local path, the default when absent;
    anything else is a BadParameter (400)."""
    if value is None or value == "":
        return DEFAULT_NEXT
    if len(value) > 2000 or not _LOCAL_PATH.fullmatch(value):
        raise BadParameter("next", value, NEXT_ACCEPTED)
    return value


def _credentials() -> tuple[str, str]:
    data: Mapping[str, Any] = (
        json_object(request.get_json(silent=True)) if request.is_json else request.form
    )
    username = parse_text(data, "username", max_len=80) or ""
    password = data.get("password", "")
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        raise BadParameter(
            "password", "(hidden)", f"text of at most {MAX_PASSWORD_CHARS} characters"
        )
    return username, password


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form, or a login (JSON answers for JSON bodies, a redirect for the form)."""
    target = safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", error=None)
    username, password = _credentials()
    address = request.remote_addr or "unknown"
    throttle = login_throttle()
    wait = throttle.retry_after(username, address)
    if wait is not None:
        raise TooManyRequests(f"too many failed logins: try again in {wait} s", retry_after=wait)
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if not check_login(user, password):
        throttle.failed(username, address)
        if request.is_json:
            return jsonify(error="invalid username or password"), 401
        return render_template("login.html", error="Invalid username or password."), 401
    assert user is not None  # check_login is False without a user
    login_user(user)
    if request.is_json:
        return jsonify(ok=True, user=user.username, role=user.role)
    return redirect(target)


@bp.post("/logout")
@login_required
def logout() -> WerkzeugResponse:
    """End the session, and every other session of this user (the session version moves)."""
    user = db.session.get(User, current_user.id)
    if user is not None:
        user.session_version = (user.session_version or 0) + 1
        db.session.commit()
    logout_user()
    session.clear()
    if request.is_json:
        return jsonify(ok=True)
    return redirect(url_for("auth.login"), code=303)
