"""Selection on real PostgreSQL: partial predicates need evidence, a composite beats a partial
plus a plain index, writes are charged, and one threshold rule holds on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from turbina.indexes.advise import advise_workload
from turbina.indexes.ddl import create_sql
from turbina.indexes.report import render_lines
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload_file import from_sql_text

pytestmark = pytest.mark.postgres

EVENTS = IndexSpec("events", ("tenant_id", "kind"))


TENANT_WORKLOAD = """-- turbina: calls=100 {hint}
SELECT id, payload FROM events WHERE tenant_id = 7 AND kind = 'billing';
-- turbina: calls=100
SELECT id, payload FROM events WHERE tenant_id = 9;
"""


def test_one_composite_not_a_partial_from_one_sample_plus_a_plain_index(
    events_db: sa.Engine,
) -> None:
    # 'billing' is one sample of the statement's value: no evidence for a partial predicate.
    advice = advise_workload(
        events_db, from_sql_text(TENANT_WORKLOAD.format(hint="")), budget="50MB"
    )
    assert advice.specs == [EVENTS]
    # The workload says kind is constant: the partial index is a candidate, and selection
    # still prefers the one composite that serves both statements for less storage.
    hinted = from_sql_text(TENANT_WORKLOAD.format(hint="constant=kind"))
    assert advise_workload(events_db, hinted, budget="50MB").specs == [EVENTS]


WRITES = """-- turbina: calls=20
SELECT id FROM events WHERE payload = 'needle';
INSERT INTO events (tenant_id, kind, payload) VALUES (1, 'k1', 'y');  -- calls={inserts}
"""


def test_writes_are_charged_to_the_indexes_of_their_table(events_db: sa.Engine) -> None:
    from turbina.indexes.workload_file import parse_workload

    light = advise_workload(events_db, parse_workload(WRITES.format(inserts=10)), budget="50MB")
    assert light.specs == [IndexSpec("events", ("payload",))]
    [rec] = light.recommendations
    assert rec.write_cost > 0
    assert any("write cost +" in line for line in render_lines(light))
    # Ten million inserted rows cost more to maintain than the reads save: no index.
    heavy = advise_workload(
        events_db, parse_workload(WRITES.format(inserts=10_000_000)), budget="50MB"
    )
    assert heavy.specs == []
    # A HOT update of a column nothing indexes: an index on it would end HOT and charge an
    # entry for every index of the table (the primary key too).
    update = parse_workload(
        "SELECT id FROM events WHERE payload = 'needle'; -- calls=20\n"
        "UPDATE events SET payload = 'z' WHERE id = 3; -- calls=200000\n"
    )
    assert advise_workload(events_db, update, budget="50MB").specs == []


THRESHOLD = """-- turbina: calls=300
SELECT * FROM logs_entrega WHERE entrega_id = 17;
-- turbina: calls=10
SELECT * FROM fretes WHERE numero_cte = 'CTE5';
"""


@pytest.mark.parametrize("backend", ["hypopg", "transaction"])
def test_the_margin_is_measured_against_the_starting_cost_on_every_path(
    make_fretes_db: Callable[..., sa.Engine], backend: str
) -> None:
    engine = make_fretes_db()
    advice = advise_workload(engine, from_sql_text(THRESHOLD), backend=backend)
    # fretes (numero_cte) saves 1 % of what is left after the logs index, but 0.6 % of the
    # starting cost, and its statement (cost ~33) is below the 100 a statement needs.
    assert advice.specs == [IndexSpec("logs_entrega", ("entrega_id",))]
    for rec in advice.recommendations:
        assert rec.benefit >= 0.01 * advice.base_cost
    assert "margin" in advice.stopped


SMALL_PAGE = """-- turbina: calls=500
SELECT * FROM items WHERE order_id = 77;
-- turbina: calls=2
SELECT * FROM tickets WHERE created >= '2024-02-01' ORDER BY created DESC LIMIT 50;
"""


def test_a_small_page_keeps_its_index_beside_a_big_foreign_key_index(
    orders_db: sa.Engine,
) -> None:
    # The fretes/consulta case at `large`: the child table's FK index saves ~99 % of the
    # workload and the small page's index 0.1 %, so the small page gets what the budget
    # leaves. With sizes that run high (HypoPG: +37 % for the timestamp index) the budget
    # seemed spent and the small page lost its index, under a "no move improves" message.
    wanted = [IndexSpec("items", ("order_id",)), IndexSpec("tickets", ("created",))]
    real = {}
    with orders_db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for spec in wanted:
            conn.exec_driver_sql(create_sql(spec, "postgresql"))
            real[spec] = conn.exec_driver_sql(f"SELECT pg_relation_size('{spec.name}')").scalar()
            conn.exec_driver_sql(f"DROP INDEX {spec.name}")
    budget = int(sum(real.values()) * 1.05)  # both fit, with 5 % to spare
    advice = advise_workload(orders_db, from_sql_text(SMALL_PAGE), budget=f"{budget}b")
    assert sorted(advice.specs, key=IndexSpec.sort_key) == wanted
    assert advice.total_size <= budget
