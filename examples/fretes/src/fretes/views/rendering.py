"""Shared page plumbing: JSON conversion, HTML-or-JSON answers, write answers, Jinja filters
and the error handlers (400 / 403 / 404 / 405 / 413 / 429).

JSON conventions: dates and datetimes as ISO strings; Decimals as exact strings with at
least 2 decimal places (weights keep their 3), never floats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from fretes.domain.errors import ForbiddenError, NotFoundError
from fretes.export import decimal_text
from fretes.params import BadParameter, json_object, parse_choice

FORMATS = ("html", "json")
HTTP_ERRORS = (400, 403, 404, 405, 413, 429)


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, dates, Decimals and containers into JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def wants_json_answer() -> bool:
    """True for ``?format=json`` and for JSON request bodies; validates ``format``."""
    fmt = parse_choice(request.args, "format", FORMATS, default="html")
    return fmt == "json" or request.is_json


def respond(template: str, data: Any, **context: Any) -> Any:
    """Answer ``data`` as JSON (``?format=json``) or render ``template`` with it."""
    if wants_json_answer():
        return jsonify(to_jsonable(data))
    return render_template(template, data=data, **context)


def request_body() -> Mapping[str, Any]:
    """The write's fields: a JSON object body, or the submitted form."""
    if request.is_json:
        return json_object(request.get_json(silent=True))
    return request.form


def write_done(payload: Mapping[str, Any], status: int, back: str) -> Any:
    """Answer a successful write: JSON with the payload, or redirect a form post back."""
    # The write is committed already: never fail it on a bad ?format= here.
    if _json_error_wanted():
        return jsonify(to_jsonable(dict(payload))), status
    target = request.referrer or back
    if not _same_site(target):
        target = back
    return redirect(target, code=303)


def _same_site(target: str) -> bool:
    host = request.host_url.rstrip("/")
    if any(c in target for c in "\\\t\r\n"):
        return False
    return (target.startswith("/") and not target.startswith("//")) or target.startswith(host + "/")


def format_money(value: Decimal | None) -> str:
    """Brazilian money display: 1.234,56."""
    if value is None:
        return "—"
    text = f"{Decimal(value):,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def format_date(value: date | datetime | None) -> str:
    """dd/mm/yyyy (and HH:MM for datetimes)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def _json_error_wanted() -> bool:
    # Never re-validate here: an unknown ?format= must not raise inside the error handler.
    return request.args.get("format") == "json" or request.is_json


def _error(code: int, message: str, parameter: str | None = None, **extra: Any) -> Any:
    if _json_error_wanted():
        body = {"error": message, **({"parameter": parameter} if parameter else {}), **extra}
        return jsonify(body), code
    return render_template("error.html", code=code, message=message, parameter=parameter), code


def _bad_parameter(exc: BadParameter) -> Any:
    return _error(400, exc.message, exc.parameter, accepted=exc.accepted)


def _csrf_error(exc: CSRFError) -> Any:
    return _error(400, f"form rejected: {exc.description}", "csrf_token")


def _not_found(exc: NotFoundError) -> Any:
    return _error(404, exc.message)


def _forbidden(exc: ForbiddenError) -> Any:
    return _error(403, exc.message)


def _http_error(exc: HTTPException) -> Any:
    response = _error(exc.code or 500, exc.description or exc.name)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        answer, code = response
        answer.headers["Retry-After"] = str(retry_after)
        return answer, code
    return response


def page_url(page: int) -> str:
    """The current URL with ``page`` replaced (for pagers)."""
    args = request.args.to_dict(flat=True)
    args["page"] = str(page)
    return request.path + "?" + urlencode(args)


def url_with(**changes: Any) -> str:
    """The current URL with ``changes`` applied and back on page 1 (for filter links)."""
    args = {k: v for k, v in request.args.to_dict(flat=True).items() if k != "page"}
    args.update({k: str(v) for k, v in changes.items()})
    return request.path + "?" + urlencode(args)


def install_rendering(app: Flask) -> None:
    """Error handlers, Jinja filters and globals used by every page template."""
    app.register_error_handler(BadParameter, _bad_parameter)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(NotFoundError, _not_found)
    app.register_error_handler(ForbiddenError, _forbidden)
    for code in HTTP_ERRORS:
        app.register_error_handler(code, _http_error)
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["dmy"] = format_date
    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["url_with"] = url_with
