"""turbina.testing guards: pass when fixed, fail with the statements and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from turbina.testing import max_queries, max_queries_fixture, no_n_plus_one, no_n_plus_one_fixture

from .conftest import Author

# The fixtures, as a project's conftest would import them.
__all__ = ["max_queries_fixture", "no_n_plus_one_fixture"]


def _naive(session: Session) -> int:
    return sum(len(a.books) for a in session.scalars(sa.select(Author)))


def _fixed(session: Session) -> int:
    return sum(
        len(a.books) for a in session.scalars(sa.select(Author).options(selectinload(Author.books)))
    )


def test_max_queries_passes_and_counts(engine: sa.Engine) -> None:
    with Session(engine) as session, max_queries(2, engine) as collector:
        assert _fixed(session) == 30
    assert collector.count == 2


def test_max_queries_failure_lists_statements_and_fix(engine: sa.Engine) -> None:
    with (
        Session(engine) as session,
        pytest.raises(AssertionError) as failure,
        max_queries(2, engine),
    ):
        _naive(session)
    message = str(failure.value)
    assert message.startswith("expected at most 2 queries, ran 11:")
    assert "  10 x select q_books.id" in message
    assert "test_testing.py" in message  # the call site of each statement
    assert "fix: .options(selectinload(Author.books))" in message


def test_no_n_plus_one_guard(engine: sa.Engine) -> None:
    with Session(engine) as session, no_n_plus_one(engine):
        _fixed(session)
    with (
        Session(engine) as session,
        pytest.raises(AssertionError) as failure,
        no_n_plus_one(engine),
    ):
        _naive(session)
    assert "N+1: Author.books lazy-loaded 10 times" in str(failure.value)
    assert "selectinload(Author.books)" in str(failure.value)


@pytest.mark.usefixtures("engine")
def test_fixtures_are_the_guards(request: pytest.FixtureRequest, engine: sa.Engine) -> None:
    budget: Callable[..., Any] = request.getfixturevalue("max_queries")
    guard: Callable[..., Any] = request.getfixturevalue("no_n_plus_one")
    assert budget is max_queries and guard is no_n_plus_one
    with Session(engine) as session, budget(2, engine), guard(engine):
        _fixed(session)
