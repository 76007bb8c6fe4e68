"""A small app shaped like the Flask Mega-Tutorial's microblog, for the findings tests.

- ``/explore``: ``db.paginate(select(Post))`` rendered by a template loop that includes
  ``_post.html``, which lazy-loads the many-to-one ``post.author`` (a template N+1);
  ``?fixed=1`` adds the loader option the finding names.
- ``/api/users``: ``[user.to_dict() for user in users]``, where ``to_dict`` runs three counts
  per user over ``WriteOnlyMapped`` relationships (repeated statements, no loader applies).
- A ``before_request`` hook that loads the current user and commits ``last_seen``, and an
  ``after_request`` hook that reads a count, both registered before ``Turbina(app)``.

Lines the tests point at carry a ``# site: <name>`` comment (``site_line`` finds them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, render_template, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, WriteOnlyMapped, joinedload, mapped_column, relationship

HERE = Path(__file__).resolve().parent
USERS = 12
POSTS = 60

db = SQLAlchemy()

af_followers = sa.Table(
    "af_followers",
    db.metadata,
    sa.Column("follower_id", sa.ForeignKey("af_users.id"), primary_key=True),
    sa.Column("followed_id", sa.ForeignKey("af_users.id"), primary_key=True),
)


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "af_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    last_seen: Mapped[int] = mapped_column(default=0)
    posts: WriteOnlyMapped[Post] = relationship(back_populates="author")
    following: WriteOnlyMapped[User] = relationship(
        secondary=af_followers,
        primaryjoin=(af_followers.c.follower_id == id),
        secondaryjoin=(af_followers.c.followed_id == id),
        back_populates="followers",
    )
    followers: WriteOnlyMapped[User] = relationship(
        secondary=af_followers,
        primaryjoin=(af_followers.c.followed_id == id),
        secondaryjoin=(af_followers.c.follower_id == id),
        back_populates="following",
    )

    def posts_count(self) -> int:
        query = sa.select(sa.func.count()).select_from(self.posts.select().subquery())
        return int(db.session.scalar(query) or 0)  # site: posts-count

    def followers_count(self) -> int:
        query = sa.select(sa.func.count()).select_from(self.followers.select().subquery())
        return int(db.session.scalar(query) or 0)  # site: followers-count

    def following_count(self) -> int:
        query = sa.select(sa.func.count()).select_from(self.following.select().subquery())
        return int(db.session.scalar(query) or 0)  # site: following-count

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "post_count": self.posts_count(),
            "follower_count": self.followers_count(),
            "following_count": self.following_count(),
        }


class Post(db.Model):  # type: ignore[name-defined]
    __tablename__ = "af_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(140))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("af_users.id"), index=True)
    author: Mapped[User] = relationship(back_populates="posts")


def create_app(database_url: str, **config: Any) -> Flask:
    """The app, its hooks registered, ``Turbina`` not yet initialised (the tests do it)."""
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, **config)
    db.init_app(app)

    @app.before_request
    def load_current_user() -> None:
        user = db.session.get(User, 1)
        assert user is not None
        user.last_seen += 1
        db.session.commit()
        g.user = user

    @app.after_request
    def count_posts(response: Response) -> Response:
        response.headers["X-Posts"] = str(db.session.scalar(sa.select(sa.func.count(Post.id))))
        return response

    @app.get("/explore")
    def explore() -> str:
        query = sa.select(Post).order_by(Post.id.desc())
        if request.args.get("fixed"):
            query = query.options(joinedload(Post.author))
        page = db.paginate(query, page=1, per_page=25, error_out=False)  # site: explore-query
        return render_template("index.html", posts=page.items)

    @app.get("/api/users")
    def api_users() -> dict[str, Any]:
        users = db.session.scalars(sa.select(User).order_by(User.id)).all()
        return {"items": [user.to_dict() for user in users]}  # site: api-loop

    return app


def seed(app: Flask) -> None:
    """Create the tables: ``USERS`` users, ``POSTS`` posts round-robin, some follows."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.add_all(User(id=i, username=f"user{i}") for i in range(1, USERS + 1))
        db.session.flush()
        db.session.add_all(
            Post(id=i, body=f"post {i}", user_id=(i % USERS) + 1) for i in range(1, POSTS + 1)
        )
        db.session.execute(
            af_followers.insert(),
            [
                {"follower_id": a, "followed_id": b}
                for a in range(1, USERS + 1)
                for b in range(1, USERS + 1)
                if a != b and (a + b) % 3 == 0
            ],
        )
        db.session.commit()


def site_line(name: str, path: Path | None = None) -> int:
    """The line number of the ``# site: <name>`` comment (or a template line containing
    ``name`` when ``path`` is a template)."""
    path = path or HERE / "__init__.py"
    marker = name if path.suffix == ".html" else f"# site: {name}"
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise LookupError(f"{marker!r} not in {path}")
