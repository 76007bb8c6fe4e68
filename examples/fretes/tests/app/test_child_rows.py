"""``has_child`` / ``without_child``: the same rows on every database, each in the form its
planner handles well."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fretes.access.optimized import badge_counters
from fretes.domain.child_rows import has_child, without_child
from fretes.domain.monitoramento import FiltrosEntregas
from fretes.models import AgendamentoEntrega, EntregaMonitorada

_META = sa.MetaData()
PARENT = sa.Table("aj_parent", _META, sa.Column("id", sa.Integer, primary_key=True))
CHILD = sa.Table(
    "aj_child",
    _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("parent_id", sa.Integer, nullable=True),
)


def test_parents_without_a_child_on_both_databases(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        _META.create_all(engine)
        with engine.begin() as conn:
            conn.execute(PARENT.insert(), [{"id": i} for i in range(1, 11)])
            # Children of 2, 4 and 6, and one with no parent (NULL): NOT IN over a NULL
            # would match nothing, so the NULL must not count.
            rows = [{"id": i, "parent_id": p} for i, p in enumerate([2, 4, 4, 6, None], 1)]
            conn.execute(CHILD.insert(), rows)
            found = conn.scalars(
                sa.select(PARENT.c.id)
                .where(without_child(PARENT.c.id, CHILD.c.parent_id))
                .order_by(PARENT.c.id)
            ).all()
            count = conn.scalar(
                sa.select(sa.func.count()).where(without_child(PARENT.c.id, CHILD.c.parent_id))
            )
            with_children = conn.scalars(
                sa.select(PARENT.c.id)
                .where(has_child(PARENT.c.id, CHILD.c.parent_id))
                .order_by(PARENT.c.id)
            ).all()
            # Inside an aggregate's CASE, as the badge counters use them.
            counted = conn.execute(
                sa.select(
                    sa.func.count(sa.case((has_child(PARENT.c.id, CHILD.c.parent_id), 1))),
                    sa.func.count(sa.case((without_child(PARENT.c.id, CHILD.c.parent_id), 1))),
                )
            ).one()
        assert found == [1, 3, 5, 7, 8, 9, 10]
        assert count == 7  # the parent's table is the predicate's FROM
        assert with_children == [2, 4, 6]
        assert tuple(counted) == (3, 7)
    finally:
        _META.drop_all(engine)
        engine.dispose()


def test_postgresql_gets_exists_and_sqlite_a_key_list() -> None:
    statement = sa.select(EntregaMonitorada.id).where(
        without_child(EntregaMonitorada.id, AgendamentoEntrega.entrega_id)
    )
    pg = str(statement.compile(dialect=postgresql.dialect()))
    lite = str(statement.compile(dialect=sqlite.dialect()))
    assert (
        "NOT (EXISTS (SELECT 1" in pg
        and "agendamentos_entrega.entrega_id = entregas_monitoradas.id" in pg
    )
    assert "NOT IN (SELECT agendamentos_entrega.entrega_id" in lite and "IS NOT NULL" in lite
    assert "= 1" not in lite.split("WHERE", 1)[1].split("(", 1)[0]  # a predicate, not "x = 1"


def test_the_badge_counters_probe_per_row_on_postgresql() -> None:
    """The counters' CASEs hold both forms: on PostgreSQL no IN (subquery) is left, which past
    work_mem re-scans the child table for every entrega (minutes per list at `large`)."""
    pg = str(
        sa.select(*badge_counters(FiltrosEntregas()))
        .select_from(EntregaMonitorada)
        .compile(dialect=postgresql.dialect())
    )
    assert " IN (SELECT" not in pg
    assert pg.count("EXISTS (SELECT 1") == 2
