"""Small ORM models for the query-analyzer tests: parent/children (one-to-many) and
child -> parent (many-to-one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from turbina.queries.recorder import QueryRecorder


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "q_authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(120))
    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")


class Book(Base):
    __tablename__ = "q_books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int] = mapped_column(ForeignKey("q_authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")
    reviews: Mapped[list[Review]] = relationship(order_by="Review.id")


class Review(Base):
    __tablename__ = "q_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("q_books.id"))
    stars: Mapped[int] = mapped_column()


def seed(engine: sa.Engine, authors: int = 10, books_each: int = 3) -> None:
    """Create the tables and ``authors`` authors with ``books_each`` books each."""
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for a in range(1, authors + 1):
            author = Author(id=a, name=f"author {a}", email=f"a{a}@example.com")
            author.books = [
                Book(
                    id=a * 100 + b, title=f"book {a}.{b}", reviews=[Review(id=a * 100 + b, stars=b)]
                )
                for b in range(books_each)
            ]
            session.add(author)
        session.commit()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One seeded database per test module and backend, shared by read-only tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('queries') / 'seeded.db'}"
    else:
        url = str(request.getfixturevalue("make_pg_database")("q"))
    eng = sa.create_engine(url)
    seed(eng)
    eng.dispose()
    return url


@pytest.fixture
def engine(seeded_url: str) -> Iterator[sa.Engine]:
    """An engine on the shared seeded database (SQLite and PostgreSQL) with a recorder
    attached. Tests using it must not write."""
    eng = sa.create_engine(seeded_url)
    recorder = QueryRecorder(eng, slow_query_ms=1e9)
    yield eng
    recorder.close()
    eng.dispose()
