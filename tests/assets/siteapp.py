"""A small site of the assets tests' own: one page with a table, charts and lazy fragments.

``create_site_app(root, ...)`` serves a copy of ``site/`` (``copy_site``), so a build writes into
a temporary folder and never into the repository. ``pipeline`` picks Turbina's assets part
(bundles, fingerprints, compression); ``lazy`` renders the table, charts and fragments as
``data-lazy`` placeholders instead of inline. The assets benchmark
(examples/fretes/bench/assets_bench.py) loads this module by its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, render_template

import turbina

SITE = Path(__file__).resolve().parent / "site"
BUNDLES = {
    "site.css": ["css/base.css", "css/page.css"],
    "site.js": ["js/app.js"],
    "chart.js": ["vendor/fakechart.js"],
}
COLUMNS = ["nf", "cliente", "uf", "transportadora", "status", "valor"]
SUMMARY = [("pendentes", 12), ("atrasadas", 3), ("reagendar", 5), ("entregues", 240)]


def copy_site(target: Path) -> Path:
    """A fresh copy of the site's static files and templates under ``target``."""
    shutil.copytree(SITE, target, dirs_exist_ok=True)
    return target


def sample_rows(count: int) -> list[list[Any]]:
    ufs = ["SP", "RJ", "MG", "PR", "RS", "BA"]
    carriers = ["Rapido Sul", "TransLog", "Expresso Norte", "Carga Certa"]
    return [
        [
            f"{100000 + i}",
            f"Cliente {i % 37:02d} Comercio de Alimentos Ltda",
            ufs[i % len(ufs)],
            carriers[i % len(carriers)],
            "entregue" if i % 5 else "pendente",
            f"{(i * 7919) % 100000 / 100:.2f}",
        ]
        for i in range(count)
    ]


def chart_config(client: str) -> dict[str, Any]:
    seed = sum(map(ord, client))
    values = [(seed * (i + 3)) % 97 + 10 for i in range(12)]
    return {
        "type": "bar",
        "data": {
            "labels": [f"2026-{month:02d}" for month in range(1, 13)],
            "datasets": [{"label": f"faturamento {client}", "data": values}],
        },
        "options": {"animation": False, "responsive": True, "maintainAspectRatio": False},
    }


def create_site_app(
    root: Path,
    *,
    pipeline: bool = True,
    lazy: bool = True,
    rows: int = 40,
    charts: tuple[str, ...] = ("a", "b"),
    chart_source: str = "vendor/fakechart.js",
    debug: bool = False,
    bundles: dict[str, list[str]] | None = None,
    **config: Any,
) -> Flask:
    """The site over the copy at ``root``. ``config`` adds ``TURBINA_*`` keys."""
    app = Flask(
        "turbina_assets_site",
        static_folder=str(root / "static"),
        template_folder=str(root / "templates"),
        root_path=str(root),
    )
    app.debug = debug
    app.config.update(
        TURBINA_EXPLAIN=False,
        TURBINA_MONITOR=False,
        TURBINA_ASSETS_BUNDLES=bundles if bundles is not None else dict(BUNDLES),
    )
    if not pipeline:
        app.config.update(TURBINA_ASSETS_SERVE=False, TURBINA_COMPRESS_RESPONSES=False)
    app.config.update(config)
    turbina.Turbina(app)
    data = sample_rows(rows)

    @app.get("/")
    def page() -> str:
        return render_template(
            "page.html",
            pipeline=pipeline,
            lazy=lazy,
            rows=data,
            columns=COLUMNS,
            summary=SUMMARY,
            charts=charts,
            chart_config=chart_config,
            chart_source=chart_source,
        )

    @app.get("/fragments/<name>")
    def fragment(name: str) -> Any:
        if name == "broken":
            return "the badge query failed", 500
        if name not in ("top", "late"):
            abort(404)
        return render_template("fragment.html", name=name, summary=SUMMARY)

    @app.get("/data/rows.json", endpoint="rows")
    def rows_json() -> Any:
        return jsonify(columns=COLUMNS, rows=data)

    @app.get("/data/chart/<client>.json")
    def chart(client: str) -> Any:
        return jsonify(chart_config(client))

    @app.get("/report.json")
    def report() -> Any:
        return jsonify(rows=sample_rows(200))

    @app.get("/stream.csv")
    def stream() -> Any:
        def lines() -> Any:
            for row in sample_rows(500):
                yield ";".join(row) + "\n"

        return app.response_class(lines(), mimetype="text/csv")

    @app.get("/small")
    def small() -> str:
        return "ok"

    return app
