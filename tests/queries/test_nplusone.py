"""N+1 detection on real databases: found, not found, the right loader, dedup."""

from __future__ import annotations

import inspect
import os

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    sessionmaker,
)

from turbina.queries.context import collect
from turbina.queries.nplusone import (
    LAZY_LOAD,
    REPEATED_STATEMENT,
    Finding,
    FindingsLog,
    findings,
)
from turbina.queries.recorder import QueryRecorder

from .conftest import Author, Book, seed

_HERE = os.path.relpath(__file__)

THRESHOLD = 5


def _run(engine: sa.Engine, work) -> list:  # type: ignore[no-untyped-def]
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
    # A primary-key lookup per row: one IN query, as code on the mapped class.
    assert finding.fix == (
        "by_key = {row.id: row for row in session.scalars(select(Author)"
        ".where(Author.id.in_(keys)))}  # keys: every Author.id needed; one query for all"
    )


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


def test_lazy_loads_are_timed_by_the_recorder_not_run_by_the_hook(engine: sa.Engine) -> None:
    """Detection never executes a statement itself: a lazy group's time is exactly the cursor
    time the recorder booked for the loads' statement."""
    recorder = QueryRecorder.for_engine(engine)
    recorder.reset()
    with Session(engine) as session, collect("/books", threshold=THRESHOLD) as collector:
        for author in session.scalars(sa.select(Author)):
            assert author.books
    [group] = collector.lazy.values()
    booked = recorder.stats.get(str(group.fingerprint))
    assert booked is not None and booked.calls == group.count == 10
    assert group.total_ms == pytest.approx(booked.total_ms, rel=1e-9, abs=1e-9)
    assert group.fingerprint in collector.relationship_fingerprints


def test_an_autoflush_before_a_lazy_load_is_not_booked_to_it(sqlite_url: str) -> None:
    eng = sa.create_engine(sqlite_url)
    seed(eng)
    recorder = QueryRecorder(eng, slow_query_ms=1e9)
    try:
        with Session(eng) as session, collect("/edit", threshold=THRESHOLD) as collector:
            for author in session.scalars(sa.select(Author)):
                author.name += "!"  # flushed by the autoflush of the next lazy load
                assert author.books
            session.rollback()
        [group] = collector.lazy.values()
        assert group.count == 10 and str(group.fingerprint).startswith("select ")
        updates = [f for f in collector.fingerprints if f.startswith("update q_authors")]
        assert updates and not set(updates) & collector.relationship_fingerprints
    finally:
        recorder.close()
        eng.dispose()


def test_any_session_of_a_recorded_engine_is_seen_and_nothing_listens_on_sessions(
    engine: sa.Engine,
) -> None:
    """Detection rides on the engine's recorder: a sessionmaker's sessions, a Session
    subclass's, a plain Session are all seen once, and no ORM event listener is installed."""

    class AppSession(Session):
        pass

    for factory in (sessionmaker(engine), sessionmaker(engine, class_=AppSession)):
        with factory() as session, collect("/books", threshold=THRESHOLD) as collector:
            for author in session.scalars(sa.select(Author)):
                assert author.books
            assert not session.dispatch.do_orm_execute  # no ORM listener on any session
        assert [g.count for g in collector.lazy.values()] == [10]


def test_an_engine_without_detection_counts_no_lazy_loads(sqlite_url: str) -> None:
    eng = sa.create_engine(sqlite_url)
    seed(eng)
    recorder = QueryRecorder(eng, slow_query_ms=1e9, nplusone=False)
    try:
        with Session(eng) as session, collect("/books", threshold=THRESHOLD) as collector:
            for author in session.scalars(sa.select(Author)):
                assert author.books
        assert collector.lazy == {} and collector.count == 11  # still counted as queries
    finally:
        recorder.close()
        eng.dispose()


def test_the_query_to_change_is_learned_from_the_first_n_plus_one(sqlite_url: str) -> None:
    """Top-level queries record their call site only once their mapper fed an N+1 (fresh
    mappers here); test guards record every one from the start."""

    class Fresh(DeclarativeBase):
        pass

    class Shelf(Fresh):
        __tablename__ = "f_shelves"
        id: Mapped[int] = mapped_column(primary_key=True)
        items: Mapped[list[Item]] = relationship()

    class Item(Fresh):
        __tablename__ = "f_items"
        id: Mapped[int] = mapped_column(primary_key=True)
        shelf_id: Mapped[int] = mapped_column(ForeignKey("f_shelves.id"))

    eng = sa.create_engine(sqlite_url)
    Fresh.metadata.create_all(eng)
    with Session(eng) as session:
        session.add_all(Shelf(id=i, items=[Item()]) for i in range(8))
        session.commit()
    recorder = QueryRecorder(eng, slow_query_ms=1e9)

    def page() -> list[Finding]:
        with Session(eng) as session, collect("/shelves", threshold=THRESHOLD) as collector:
            shelves = session.scalars(sa.select(Shelf)).all()  # the query to change
            session.scalar(sa.select(sa.func.count()).select_from(Shelf))  # not it: a count
            assert all(shelf.items for shelf in shelves)
        return findings(collector, THRESHOLD)

    query_line = inspect.getsourcelines(page)[1] + 2
    try:
        [first] = page()
        assert first.query_site is None  # not known yet: this request taught it
        [second] = page()
        assert second.query_site == f"{_HERE}:{query_line} in page"
        assert second.describe().endswith(
            f"fix: .options(selectinload(Shelf.items)) on the query at {second.query_site}"
        )
        log = FindingsLog()
        log.add([first])
        log.add([second])
        assert log.all()[0].finding.query_site == second.query_site  # filled in later
    finally:
        recorder.close()
        eng.dispose()


def test_the_findings_log_remembers_which_sites_are_known() -> None:
    """Requests skip the stack walks for sites an earlier request recorded."""
    log = FindingsLog(capacity=2)
    mapper = Author.__mapper__

    def lazy(endpoint: str, callsite: str | None, query_site: str | None) -> Finding:
        return Finding(
            LAZY_LOAD, "Author.books", 10, 1.0, callsite, "selectinload(Author.books)",
            "selectinload", endpoint, None, query_site,
        )  # fmt: skip

    assert not log.knows_callsite("/a", "Author.books")
    log.add([lazy("/a", "app.py:3", None)], {"Author.books": mapper})
    assert log.knows_callsite("/a", "Author.books") and not log.knows_callsite("/b", "Author.books")
    assert log.wants_query_site("/a", mapper) and not log.wants_query_site("/b", mapper)
    log.add([lazy("/a", None, "app.py:1 in page")], {"Author.books": mapper})  # learned
    assert not log.wants_query_site("/a", mapper)
    assert log.all()[0].finding.callsite == "app.py:3"  # the first sighting's, kept
    log.add([lazy("/b", "b.py:1", None), lazy("/c", "c.py:1", None)])  # evicts /b or /a
    assert len(log) == 2
    assert sum(log.knows_callsite(e, "Author.books") for e in ("/a", "/b", "/c")) == 2
