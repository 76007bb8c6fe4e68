"""Candidate extraction: which columns a statement filters, joins, sorts and groups on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from turbina.indexes.candidates import CandidateSpace, analyze
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload import from_samples
from turbina.queries.recorder import QueryRecorder

SCHEMA = {
    "entregas_monitoradas": {
        "id",
        "vendedor",
        "entregue",
        "data_embarque",
        "status_finalizacao",
        "uf",
        "criado_em",
        "cliente",
    },
    "logs_entrega": {"id", "entrega_id", "tipo"},
}


def by_table(sql: str, dialect: str = "postgresql") -> dict:
    return {u.table: u for u in analyze(sql, dialect, SCHEMA)}


def test_equality_range_in_join_sort() -> None:
    usages = by_table(
        "SELECT e.id FROM entregas_monitoradas AS e JOIN logs_entrega l ON l.entrega_id = e.id "
        "WHERE e.vendedor = %(v)s AND e.data_embarque >= %(d)s AND e.uf IN (%(u1)s, %(u2)s) "
        "ORDER BY e.criado_em DESC LIMIT %(n)s"
    )
    e, logs = usages["entregas_monitoradas"], usages["logs_entrega"]
    assert e.equality == ["vendedor", "uf", "id"]
    assert e.range == ["data_embarque"]
    assert e.sort == ["criado_em"]
    assert logs.equality == ["entrega_id"]


def test_value_on_the_left_as_in_lazy_loads() -> None:
    usages = by_table(
        "SELECT logs_entrega.id FROM logs_entrega WHERE %(param_1)s = logs_entrega.entrega_id "
        "AND 5 < logs_entrega.id"
    )
    assert usages["logs_entrega"].equality == ["entrega_id"]
    assert usages["logs_entrega"].range == ["id"]


def test_unqualified_columns_resolved_by_schema_and_group_by() -> None:
    usages = by_table(
        "SELECT vendedor, count(*) FROM entregas_monitoradas WHERE uf = ? GROUP BY vendedor",
        "sqlite",
    )
    assert usages["entregas_monitoradas"].group == ["vendedor"]
    assert usages["entregas_monitoradas"].equality == ["uf"]


def test_ilike_contains_and_functions_are_not_indexable() -> None:
    usages = by_table(
        "SELECT id FROM entregas_monitoradas WHERE cliente ILIKE '%x%' AND lower(uf) = 'sp'"
    )
    assert usages["entregas_monitoradas"].indexable() == []


def test_prefix_like_is_a_range() -> None:
    assert by_table("SELECT id FROM entregas_monitoradas WHERE cliente LIKE 'ACME%'")[
        "entregas_monitoradas"
    ].range == ["cliente"]


def test_constant_predicates_become_partial_candidates_but_not_numbers_or_params() -> None:
    e = by_table(
        "SELECT * FROM entregas_monitoradas e WHERE e.entregue = false AND e.status_finalizacao IS NULL "
        "AND e.uf = 'SP' AND e.id = 3 AND e.vendedor = %(v)s"
    )["entregas_monitoradas"]
    # Keywords are the statement's text; 'SP' is one call's value: no evidence on its own.
    assert [p.sql for p in e.constants] == ["NOT entregue", "status_finalizacao IS NULL"]


def test_a_value_is_a_partial_predicate_only_with_evidence_that_it_is_constant() -> None:
    sql = "SELECT * FROM logs_entrega WHERE entrega_id = %(e)s AND tipo = 'billing'"
    [plain] = analyze(sql, "postgresql", SCHEMA)
    assert plain.constants == []  # one sample of the value: not evidence
    [hinted] = analyze(sql, "postgresql", SCHEMA, constant={"tipo"})  # the workload says so
    assert [p.sql for p in hinted.constants] == ["tipo = 'billing'"]
    # The recorder's bounded distinct count: placeholder "t" took one value on every call.
    recorded = "SELECT * FROM logs_entrega WHERE entrega_id = %(e)s AND tipo = %(t)s"
    params = {"e": 7, "t": "billing"}
    assert analyze(recorded, "postgresql", SCHEMA, params=params)[0].constants == []
    [seen] = analyze(recorded, "postgresql", SCHEMA, constant={"t"}, params=params)
    assert [p.sql for p in seen.constants] == ["tipo = 'billing'"]
    [positional] = analyze(
        "SELECT * FROM logs_entrega WHERE entrega_id = ? AND tipo = ?",
        "sqlite",
        SCHEMA,
        constant={"1"},
        params=(7, "billing"),
    )
    assert [p.sql for p in positional.constants] == ["tipo = 'billing'"]


def test_or_branches_give_no_partial_predicate() -> None:
    e = by_table("SELECT * FROM entregas_monitoradas WHERE entregue = true OR uf = 'SP'")[
        "entregas_monitoradas"
    ]
    assert e.constants == []
    assert set(e.equality) == {"entregue", "uf"}


def test_writes_and_garbage_are_ignored() -> None:
    assert (
        analyze("UPDATE entregas_monitoradas SET uf = 'SP' WHERE id = 1", "postgresql", SCHEMA)
        == []
    )
    assert analyze("this is not sql", "postgresql", SCHEMA) == []


def test_orderings_equality_then_range_then_sort() -> None:
    usages = analyze(
        "SELECT * FROM entregas_monitoradas WHERE vendedor = %(v)s AND uf = %(u)s AND data_embarque > %(d)s "
        "ORDER BY criado_em",
        "postgresql",
        SCHEMA,
    )
    space = CandidateSpace(usages)
    assert space.appendable(IndexSpec("entregas_monitoradas", ("vendedor",))) == [
        "uf",
        "data_embarque",
    ]
    assert space.appendable(IndexSpec("entregas_monitoradas", ("data_embarque",))) == []
    no_range = CandidateSpace(
        analyze(
            "SELECT * FROM entregas_monitoradas WHERE vendedor = %(v)s ORDER BY criado_em, id",
            "postgresql",
            SCHEMA,
        )
    )
    assert no_range.appendable(IndexSpec("entregas_monitoradas", ("vendedor",))) == ["criado_em"]
    assert no_range.appendable(IndexSpec("entregas_monitoradas", ("vendedor", "criado_em"))) == [
        "id"
    ]


def test_existing_index_prefix_is_skipped() -> None:
    usages = analyze(
        "SELECT * FROM logs_entrega WHERE entrega_id = 1 AND tipo = 'x'", "postgresql", SCHEMA
    )
    existing = [IndexSpec("logs_entrega", ("entrega_id", "tipo"))]
    space = CandidateSpace(usages, existing=existing)
    singles = space.singles()
    assert IndexSpec("logs_entrega", ("entrega_id",)) not in singles
    assert IndexSpec("logs_entrega", ("tipo",)) in singles


def test_partial_needs_a_small_fraction_and_include_variants_on_postgres() -> None:
    usages = analyze(
        "SELECT criado_em, vendedor FROM entregas_monitoradas WHERE entregue = false ORDER BY criado_em",
        "postgresql",
        SCHEMA,
    )
    small = CandidateSpace(usages, supports_include=True, fraction=lambda table, pred: 0.1)
    big = CandidateSpace(usages, supports_include=True, fraction=lambda table, pred: 0.9)
    spec = IndexSpec("entregas_monitoradas", ("criado_em",))
    assert spec.with_where("NOT entregue") in small.variants(spec)
    assert spec.with_where("NOT entregue") not in big.variants(spec)
    assert spec.with_include(["entregue", "vendedor"]) in small.variants(spec)
    assert all(not v.include for v in CandidateSpace(usages).variants(spec))


def test_index_names_are_deterministic_and_short() -> None:
    spec = IndexSpec(
        "relatorio_faturamento_importado",
        ("data_fatura", "nome_cliente", "valor_total", "vendedor"),
    )
    assert spec.name == IndexSpec(spec.table, spec.columns).name
    assert len(spec.name) <= 63
    assert spec.with_where("ativo").name != spec.name


def test_quoted_words_make_partial_predicates_only_on_small_vocabularies() -> None:
    usages = analyze(
        "SELECT * FROM entregas_monitoradas WHERE uf = 'SP' AND vendedor = 'Ana' "
        "AND entregue = false ORDER BY criado_em",
        "postgresql",
        SCHEMA,
        constant={"uf", "vendedor"},
    )
    distinct = {"uf": 5, "vendedor": 60, "entregue": 2}
    space = CandidateSpace(usages, fraction=lambda t, p: 0.1, distinct=lambda t, c: distinct[c])
    spec = IndexSpec("entregas_monitoradas", ("criado_em",))
    assert {v.where for v in space.variants(spec)} == {"uf = 'SP'", "NOT entregue"}


def test_the_recorder_gives_the_evidence_a_partial_predicate_needs(tmp_path: Path) -> None:
    """End to end on real SQLite: a value passed on every call becomes a partial predicate, one
    that varies does not — from what the recorder saw, with no hint in the workload."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'rec.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE logs_entrega (id INTEGER PRIMARY KEY, entrega_id INT, tipo TEXT)"
        )
    recorder = QueryRecorder(engine)
    stmt = sa.text("SELECT * FROM logs_entrega WHERE entrega_id = :e AND tipo = :t")
    with engine.connect() as conn:
        for i in range(20):
            conn.execute(stmt, {"e": i, "t": "billing"}).all()
    [query] = [q for q in from_samples(recorder.workload_samples()) if "tipo" in q.sql]
    recorder.close()
    engine.dispose()
    [usage] = analyze(query.sql, "sqlite", SCHEMA, query.constant, query.params)
    assert [p.sql for p in usage.constants] == ["tipo = 'billing'"]
