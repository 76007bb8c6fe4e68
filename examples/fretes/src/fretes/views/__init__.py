"""Blueprints of the six slow pages and the writes the workload needs.

Every page parses and validates its parameters (``fretes.params``), calls a data function
that only talks to ``db.session`` (the naive form, its twin in ``fretes.views.optimized``
when ``fretes.mode.current_mode()`` says ``optimized``, or that twin through Turbina's cache
from ``fretes.views.cached`` when it says ``cached``), then renders HTML or JSON
(``?format=json``) through ``fretes.views.rendering``.
"""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse


def register_views(app: Flask) -> None:
    """Register every page blueprint, the error handlers and the template filters on ``app``."""
    # Imported here so that importing fretes.views does not import every page module.
    from fretes.views import (
        embarques,
        faturamento,
        faturamento_import,
        fretes_consulta,
        monitoramento,
        monitoramento_export,
        monitoramento_writes,
        pedidos,
    )
    from fretes.views.rendering import install_rendering

    install_rendering(app)
    for blueprint in (
        monitoramento.bp,
        embarques.bp,
        faturamento.bp,
        fretes_consulta.bp,
        pedidos.bp,
    ):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> WerkzeugResponse:
        return redirect(url_for("monitoramento.listar"))
