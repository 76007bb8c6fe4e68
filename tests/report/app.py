"""A real Flask + Flask-SQLAlchemy + SQLite app for the report tests: an N+1 page, a repeated
statement, a page that writes, a cached context and a slow statement; the store on SQLite."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column, relationship

import turbina

SECRET = "maria.silva@example.com.br"
EVIL = "<script>alert(1)</script>"


def make_app(tmp_path: Path, **config: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask("report_app", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'app.db'}",
        TURBINA_EXPLAIN=False,
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_STORE="sqlite",
        TURBINA_FLUSH_INTERVAL_S=3600,  # flushed by the tests
        TURBINA_NPLUSONE_THRESHOLD=3,
        TURBINA_CACHE_CONTEXTS={"pages": 60},
        **config,
    )
    db = SQLAlchemy()

    class Author(db.Model):  # type: ignore[name-defined]
        __tablename__ = "r_author"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str]

    class Book(db.Model):  # type: ignore[name-defined]
        __tablename__ = "r_book"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(sa.ForeignKey("r_author.id"))
        author: Mapped[Author] = relationship()

    db.init_app(app)
    turbina.Turbina(app)
    with app.app_context():
        db.create_all()
        db.session.add_all(Author(id=i, email=f"{i}{SECRET}") for i in range(20))
        db.session.add_all(Book(id=i, author_id=i % 20) for i in range(40))
        db.session.commit()

    @app.get("/books")
    def books() -> Any:
        return [b.author.email for b in db.session.scalars(sa.select(Book))]  # N+1

    @app.get("/emails")
    def emails() -> Any:  # the same statement once per id: a repeated statement
        return [
            db.session.execute(
                sa.text("SELECT email FROM r_author WHERE id = :i"), {"i": i}
            ).scalar()
            for i in range(10)
        ]

    @app.get("/slow")
    def slow() -> Any:  # a statement slow by itself (a recursive CTE counting to 200k)
        rows = db.session.execute(
            sa.text(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)"
                f" SELECT count(*) FROM c WHERE x > 0 AND '{SECRET}' <> ''"
            )
        )
        return {"n": rows.scalar()}

    @app.post("/author/<int:item>")
    def touch(item: int) -> Any:
        db.session.execute(
            sa.update(Author).where(Author.id == item).values(email=f"{time.time()}{SECRET}")
        )
        db.session.commit()
        return {"ok": True}

    @app.get("/cached")
    @turbina.cached_view("pages", depends_on=["r_author"], per_user=False)
    def cached() -> Any:
        return {"n": db.session.execute(sa.text("SELECT count(*) FROM r_author")).scalar()}

    @app.get("/evil")
    def evil() -> Any:  # a table whose quoted name is markup: its fingerprint keeps it
        db.session.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{EVIL}" (v TEXT)'))
        for _ in range(5):
            db.session.execute(sa.text(f"SELECT v FROM \"{EVIL}\" WHERE v = '{SECRET}'")).all()
        return {"ok": True}

    return app, db
