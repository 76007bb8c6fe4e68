"""Login (Flask-Login) and the role rules: admin sees everything, a vendedor only their rows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from fretes.models import User, db

login_manager = LoginManager()
bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    if wants_json():
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.full_path))


def wants_json() -> bool:
    return request.args.get("format") == "json" or request.is_json


def forced_vendedor() -> str | None:
    """The vendedor filter forced on the current user, or None for an admin."""
    user = current_user
    if getattr(user, "is_admin", False):
        return None
    # A vendedor without a vendedor name sees nothing rather than everything.
    return getattr(user, "vendedor", None) or "\x00no-vendedor"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None)
    data = request.get_json(silent=True) or request.form
    username = str(data.get("username", ""))
    password = str(data.get("password", ""))
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if user is None or not user.check_password(password) or not user.is_active:
        if request.is_json:
            return jsonify(error="invalid username or password"), 401
        return render_template("login.html", error="Invalid username or password."), 401
    login_user(user)
    if request.is_json:
        return jsonify(ok=True, user=user.username, role=user.role)
    target = request.args.get("next") or "/monitoramento/listar"
    if not target.startswith("/") or target.startswith("//"):
        target = "/monitoramento/listar"
    return redirect(target)


@bp.route("/logout", methods=["POST", "GET"])
@login_required
def logout() -> WerkzeugResponse:
    logout_user()
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
