"""Through Flask-SQLAlchemy's db.session, in requests: commits invalidate, uncommitted bypass."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

import turbina

from .models import Base, Cliente, Nota


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_CACHE_CONTEXTS={"faturamento": 60},
    )
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    turbina.Turbina(app)
    computed: list[int] = []

    @turbina.cached("faturamento")
    def soma(cliente_id: int) -> str:
        computed.append(cliente_id)
        value = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Nota.valor), 0)).where(
                Nota.cliente_id == cliente_id
            )
        )
        return str(Decimal(value).quantize(Decimal("0.01")))

    @app.get("/soma/<int:cliente_id>")
    def get_soma(cliente_id: int) -> str:
        return soma(cliente_id)

    @app.post("/nota/<int:cliente_id>")
    def post_nota(cliente_id: int) -> str:
        db.session.add(Nota(cliente_id=cliente_id, valor=Decimal("1.00")))
        before_commit = soma(cliente_id)  # this session holds an uncommitted write: bypass
        db.session.commit()
        return before_commit

    with app.app_context():
        db.create_all()
        db.session.add(Cliente(id=1, nome="Ana"))
        db.session.add(Nota(cliente_id=1, valor=Decimal("2.50")))
        db.session.commit()
    app.config["computed"] = computed
    yield app
    app.extensions["turbina"].cache.close()


def test_commit_in_one_request_is_seen_by_the_next(app: Flask) -> None:
    client = app.test_client()
    assert [client.get("/soma/1").text for _ in range(3)] == ["2.50"] * 3
    assert client.post("/nota/1").text == "3.50"  # read its own uncommitted write, uncached
    assert client.get("/soma/1").text == "3.50"
    assert client.get("/soma/1").text == "3.50"
    stats = app.extensions["turbina"].cache.stats()["contexts"]["faturamento"]
    assert stats["bypassed"] == 1
    assert stats["stale_prevented"] == 1
    # learning miss, storing miss, bypassed call, recompute after the commit
    assert len(app.config["computed"]) == 4
