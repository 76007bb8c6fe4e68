"""The dashboard's test app: a real Flask + Flask-SQLAlchemy app with Turbina, an N+1 page,
a cached function, and an endpoint and a statement that carry HTML."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

import turbina

# A quoted identifier survives fingerprinting (only literals are redacted), so this HTML
# reaches the queries table and the slow log as it is: it must stay text there.
EVIL_ALIAS = "<img src=x onerror=window.__pwned=1>"
EVIL_LITERAL = "<script>window.__pwned=2</script>"


def is_admin(request: Any) -> bool:
    """The dashboard's auth callable: an admin logged in through ``/login``."""
    return bool(session.get("admin"))


def create_app(instance: str, **config: Any) -> Flask:
    class Base(DeclarativeBase):  # one registry per app: each test builds its own models
        pass

    db = SQLAlchemy(model_class=Base)

    class Author(db.Model):  # type: ignore[name-defined]
        __tablename__ = "author"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    class Post(db.Model):  # type: ignore[name-defined]
        __tablename__ = "post"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
        author: Mapped[Author] = relationship()

    app = Flask("dashboard_site", instance_path=instance)
    app.config.update(
        SECRET_KEY="dashboard-tests-" + "k" * 32,
        SQLALCHEMY_DATABASE_URI="sqlite://",
        TURBINA_STORE="memory",
        TURBINA_FLUSH_INTERVAL_S=3600,  # the tests flush when they want numbers
        TURBINA_SLOW_QUERY_MS=0,  # every statement goes to the slow log
        TURBINA_CACHE_CONTEXTS={"posts": 300},
        TURBINA_DASHBOARD_AUTH=is_admin,
        TURBINA_DASHBOARD_REFRESH_S=1,
        TURBINA_ASSETS_SERVE=False,
        TURBINA_COMPRESS_RESPONSES=False,
    )
    app.config.update(config)
    db.init_app(app)
    turbina.Turbina(app)

    @turbina.cached("posts", depends_on=[Post])
    def titles() -> list[str]:
        return list(db.session.scalars(select(Post.title)))

    @app.get("/login")
    def login() -> str:
        session["admin"] = True
        return "ok"

    @app.get("/favicon.ico")
    def favicon() -> tuple[str, int]:
        return "", 204

    @app.get("/posts")
    def posts() -> Any:  # lazy-loads post.author once per post: an N+1
        return jsonify([[p.title, p.author.name] for p in db.session.scalars(select(Post))])

    @app.get("/titles")
    def cached_titles() -> Any:
        return jsonify(titles())

    @app.get("/evil/<script>")
    def evil(script: str) -> Any:  # the url rule itself reads "/evil/<script>"
        # An inline literal: the recorder must redact it to ``?`` before anything shows it.
        query = text(f"SELECT '{EVIL_LITERAL}' AS \"{EVIL_ALIAS}\"")
        return jsonify(db.session.execute(query).scalar_one())

    with app.app_context():
        db.create_all()
        db.session.add_all(Author(id=i, name=f"author {i}") for i in range(6))
        db.session.add_all(Post(title=f"post {i}", author_id=i % 6) for i in range(12))
        db.session.commit()
    return app


def workload(app: Flask, rounds: int = 3) -> None:
    """Some traffic on every page, then one flush into the store."""
    client = app.test_client()
    for _ in range(rounds):
        assert client.get("/posts").status_code == 200
        assert client.get("/titles").status_code == 200
        assert client.get("/evil/x").status_code == 200
    flush(app)


def flush(app: Flask) -> None:
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    assert monitor.flush()
