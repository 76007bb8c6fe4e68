"""The blueprints of `fretes`, one per file, and ``register_views``.

Every page is thin: parse and validate its parameters (``fretes.domain.<page>``), call its
data function on the current request's form (``access_for_request()``), answer HTML or JSON
(``?format=json``) through ``fretes.views.rendering``.
"""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fretes.views import auth, embarques, faturamento, fretes, monitoramento, pedidos
from fretes.views.rendering import install_rendering

BLUEPRINTS = (
    auth.bp,
    monitoramento.bp,
    embarques.bp,
    faturamento.bp,
    fretes.bp,
    pedidos.bp,
)


def _index() -> WerkzeugResponse:
    return redirect(url_for("monitoramento.listar"))


def register_views(app: Flask) -> None:
    """Register every blueprint, the error handlers and the template filters on ``app``."""
    install_rendering(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.add_url_rule("/", "index", _index)
