"""N+1 detection on real databases: found, not found, the right loader, dedup."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from turbina.queries.context import collect
from turbina.queries.nplusone import (
    LAZY_LOAD,
    REPEATED_STATEMENT,
    FindingsLog,
    findings,
    install_listener,
)

from .conftest import Author, Book

THRESHOLD = 5


def _run(engine: sa.Engine, work) -> list:  # type: ignore[no-untyped-def]
    install_listener(Session)  # these tests use plain Session(engine)
    with Session(engine) as session, collect("/books", threshold=THRESHOLD) as collector:
        work(session)
    return findings(collector, THRESHOLD)


def test_lazy_collection_is_a_finding_with_selectinload(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        for author in session.scalars(sa.select(Author)):
            assert len(author.books) == 3

    [finding] = _run(engine, work)
    assert finding.kind == LAZY_LOAD
    assert finding.subject == "Author.books"
    assert finding.loads == 10
    assert finding.loader == "selectinload"
    assert finding.fix == "selectinload(Author.books)"
    assert finding.callsite is not None and "test_nplusone.py" in finding.callsite
    assert finding.endpoint == "/books"


def test_lazy_many_to_one_is_a_finding_with_joinedload(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        for book in session.scalars(sa.select(Book)):
            assert book.author.name

    [finding] = _run(engine, work)
    assert finding.subject == "Book.author"
    assert finding.loads == 10  # one per distinct author; the rest come from the identity map
    assert finding.fix == "joinedload(Book.author)"


def test_selectin_batches_are_not_findings(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        for author in session.scalars(sa.select(Author).options(selectinload(Author.books))):
            assert author.books
        for book in session.scalars(sa.select(Book).options(joinedload(Book.author))):
            assert book.author

    assert _run(engine, work) == []


def test_few_loads_are_not_findings(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        author = session.get(Author, 1)
        assert author is not None and author.books
        for author in session.scalars(sa.select(Author).limit(THRESHOLD - 1)):
            assert author.books

    assert _run(engine, work) == []


def test_repeated_statement_outside_relationships_is_a_finding(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        for i in range(1, 8):
            session.execute(sa.select(Author.name).where(Author.id == i)).scalar_one()

    [finding] = _run(engine, work)
    assert finding.kind == REPEATED_STATEMENT
    assert finding.loads == 7
    assert "from q_authors where q_authors.id = ?" in finding.subject
    assert "IN (...)" in finding.fix


def test_findings_dedup_across_requests_with_counts(engine: sa.Engine) -> None:
    log = FindingsLog()

    def work(session: Session) -> None:
        for author in session.scalars(sa.select(Author)):
            author.books  # noqa: B018 - the lazy load is the point

    for _ in range(3):
        log.add(_run(engine, work))
    [seen] = log.all()
    assert seen.requests == 3
    assert seen.total_loads == 30
    assert seen.finding.subject == "Author.books"


def test_nested_lazy_loads_get_a_chained_fix(engine: sa.Engine) -> None:
    def work(session: Session) -> None:
        for author in session.scalars(sa.select(Author)):
            for book in author.books:
                assert len(book.reviews) == 1

    found = {f.subject: f for f in _run(engine, work)}
    assert set(found) == {"Author.books", "Book.reviews"}
    assert found["Author.books"].fix == "selectinload(Author.books)"
    assert found["Book.reviews"].loads == 30
    assert found["Book.reviews"].fix == "selectinload(Author.books).selectinload(Book.reviews)"

    def fixed(session: Session) -> None:
        options = selectinload(Author.books).selectinload(Book.reviews)
        for author in session.scalars(sa.select(Author).options(options)):
            for book in author.books:
                assert len(book.reviews) == 1

    assert _run(engine, fixed) == []
