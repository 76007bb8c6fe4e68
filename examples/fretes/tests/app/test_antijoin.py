"""``without_child``: the same rows on every database, each with the plan it handles well."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fretes.domain.antijoin import without_child
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
        assert found == [1, 3, 5, 7, 8, 9, 10]
        assert count == 7  # the parent's table is the predicate's FROM
    finally:
        _META.drop_all(engine)
        engine.dispose()


def test_postgresql_gets_an_anti_join_and_sqlite_a_key_list() -> None:
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
