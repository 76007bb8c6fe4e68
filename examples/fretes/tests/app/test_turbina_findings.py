"""N+1 findings on the naive `fretes` monitoring list, and the suggested loaders fixing it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from fretes import models
from fretes.access.naive import linha_naive
from fretes.app import create_app
from fretes.datagen import DEMO_PASSWORD, REFERENCE_DATE, generate
from fretes.models import EntregaMonitorada, db
from turbina import Turbina, collect, get_state
from turbina.testing import max_queries, no_n_plus_one


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    generate(db_url, "tiny", progress=False)
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "FRETES_TURBINA": False,
            "TURBINA_EXPLAIN": False,
            "TURBINA_CACHE_BACKEND": "null",
            "TURBINA_SERVER_TIMING": True,
        }
    )
    Turbina(app)
    yield app
    get_state(app).queries.close()  # type: ignore[union-attr]
    with app.app_context():
        db.engine.dispose()


def _lazy_findings(app: Flask) -> list[Any]:
    # A lazy-load finding is the one that names a loader (a repeated statement names none).
    return [s.finding for s in get_state(app).queries.findings.all() if s.finding.loader]


def _loader_options(found: list[Any]) -> list[Any]:
    """Turn each finding's fix (``selectinload(Parent.rel)``) into the loader option it names."""
    options = []
    for finding in found:
        parent, relationship = finding.subject.split(".")
        assert finding.fix == f"{finding.loader}({finding.subject})"
        loader = getattr(orm, str(finding.loader))
        options.append(loader(getattr(getattr(models, parent), relationship)))
    return options


def _page(limit: int, options: list[Any]) -> int:
    """A copy of the list's row query (with ``options``) plus the naive row builder."""
    e = EntregaMonitorada
    rows = db.session.scalars(
        sa.select(e).order_by(e.criado_em.desc(), e.id.desc()).limit(limit).options(*options)
    )
    return len([linha_naive(entrega, REFERENCE_DATE) for entrega in rows.all()])


def test_listar_findings_name_every_lazy_relationship_and_the_fix_makes_queries_constant(
    app: Flask,
) -> None:
    client = app.test_client()
    assert (
        client.post("/login", json={"username": "admin", "password": DEMO_PASSWORD}).status_code
        == 200
    )
    with collect("outer", threshold=1) as everything:
        response = client.get("/monitoramento/listar")
    assert response.status_code == 200
    assert "Server-Timing" in response.headers

    touched = {group.attribute for group in everything.lazy.values()}
    found = _lazy_findings(app)
    assert {f.subject for f in found} == touched
    assert {
        "EntregaMonitorada.agendamentos",
        "EntregaMonitorada.custos_extras",
        "EntregaMonitorada.comentarios",
    } <= touched
    for finding in found:
        assert finding.endpoint == "/monitoramento/listar"
        assert finding.loads == 20  # one per row of the page
        assert finding.loader == "selectinload"  # all collections
        assert finding.callsite is not None and "access/naive.py" in finding.callsite

    options = _loader_options(found)
    counts = {}
    with app.test_request_context():
        for limit in (5, 20, 60):
            db.session.expunge_all()
            with no_n_plus_one(), max_queries(1 + len(options)) as collector:
                assert _page(limit, options) == limit
            counts[limit] = collector.count
        db.session.expunge_all()
        with collect() as naive:
            _page(20, [])
    assert set(counts.values()) == {1 + len(options)}  # constant, independent of page size
    assert naive.count == 1 + 20 * len(options)
