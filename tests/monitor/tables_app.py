"""A real Flask + Flask-SQLAlchemy + SQLite app whose endpoints read different tables: the
endpoint-tables tests of the monitor and of the report's cache advice share it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

import turbina

WIDE_TABLES = 8  # tables GET /wide reads in one statement
WORK_S = 0.003  # what a read page spends besides its statement (worth caching: > 2 ms)


def make_app(tmp_path: Path, **config: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask("tables_app", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'app.db'}",
        TURBINA_EXPLAIN=False,
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_STORE="sqlite",
        TURBINA_FLUSH_INTERVAL_S=3600,  # flushed by the tests
        **config,
    )
    db = SQLAlchemy()

    class Order(db.Model):  # type: ignore[name-defined]
        __tablename__ = "t_order"
        id: Mapped[int] = mapped_column(primary_key=True)
        status: Mapped[str]

    class Customer(db.Model):  # type: ignore[name-defined]
        __tablename__ = "t_customer"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    db.init_app(app)
    turbina.Turbina(app)
    with app.app_context():
        db.create_all()
        for i in range(WIDE_TABLES):
            db.session.execute(sa.text(f"CREATE TABLE t_wide{i} (id INTEGER PRIMARY KEY)"))
        db.session.add_all(Order(id=i, status="new") for i in range(10))
        db.session.add_all(Customer(id=i, name=f"c{i}") for i in range(10))
        db.session.commit()

    @app.get("/orders")
    def orders() -> Any:
        time.sleep(WORK_S)
        return [o.status for o in db.session.scalars(sa.select(Order))]

    @app.get("/customers")
    def customers() -> Any:
        time.sleep(WORK_S)
        return [c.name for c in db.session.scalars(sa.select(Customer))]

    @app.post("/orders/<int:item>")
    def touch(item: int) -> Any:
        db.session.execute(sa.update(Order).where(Order.id == item).values(status="paid"))
        db.session.commit()
        return {"ok": True}

    @app.get("/odd")
    def odd() -> Any:  # SQLite takes a CAST to no type; no sqlglot dialect parses it
        time.sleep(WORK_S)
        rows = db.session.execute(
            sa.text("SELECT id FROM t_customer WHERE CAST(:v AS) = name"), {"v": "c1"}
        )
        return {"n": len(rows.all())}

    @app.get("/wide")
    def wide() -> Any:
        joined = " ".join(
            f"LEFT JOIN t_wide{i} ON t_wide{i}.id = t_order.id" for i in range(WIDE_TABLES)
        )
        rows = db.session.execute(sa.text(f"SELECT t_order.id FROM t_order {joined}"))
        return {"n": len(rows.all())}

    return app, db
