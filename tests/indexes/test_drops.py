"""Drop suggestions only with evidence: statistics old enough, no workload plan using the
index, and duplicates only when truly redundant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from turbina.flask.cli import main
from turbina.indexes.report import drop_suggestions
from turbina.indexes.workload_file import from_sql_text

pytestmark = pytest.mark.postgres

WORKLOAD = """-- turbina: calls=300
SELECT * FROM logs_entrega WHERE entrega_id = 17;
-- turbina: calls=50
SELECT id FROM fretes WHERE status = 'PAGO' ORDER BY criado_em DESC LIMIT 50;
-- turbina: calls=20
SELECT count(*) FROM logs_entrega WHERE entrega_id = 99;
"""


def _create(engine: sa.Engine, *statements: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_a_fresh_database_calls_no_index_unused(
    make_fretes_db: Callable[..., sa.Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_fretes_db(entregas=2000)
    _create(
        engine,
        "CREATE INDEX logs_by_entrega ON logs_entrega (entrega_id)",  # the plans use it
        "CREATE INDEX fretes_status ON fretes (status, criado_em)",
        "CREATE INDEX never_used ON pedidos (rota)",  # 0 scans, but no evidence yet
    )
    workload = tmp_path / "w.sql"
    workload.write_text(WORKLOAD)
    url = engine.url.render_as_string(hide_password=False)
    assert main(["indexes", "advise", "--database-url", url, "--workload", str(workload)]) == 0
    out = capsys.readouterr().out
    assert "unused" not in "\n".join(line for line in out.splitlines() if "drop:" in line)
    assert "statistics were never reset" in out or "days old" in out


def test_unused_needs_old_statistics_and_no_workload_plan_using_it(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db(entregas=2000)
    _create(
        engine,
        "CREATE INDEX logs_by_entrega ON logs_entrega (entrega_id)",
        "CREATE INDEX never_used ON pedidos (rota)",
        "SELECT pg_stat_reset()",
    )
    queries = from_sql_text(WORKLOAD)
    kinds = {d.name: d for d in drop_suggestions(engine, queries, min_stats_days=0)}
    assert "logs_by_entrega" not in kinds  # 0 scans since the reset, but a plan uses it
    assert kinds["never_used"].kind == "unused"
    assert "days since statistics were reset" in kinds["never_used"].reason
    young = drop_suggestions(engine, queries)  # statistics a few seconds old: no evidence
    assert not [d for d in young if d.kind == "unused"]
    assert any("never_used" in note and "7 days" in note for note in young.notes)


def test_duplicates_only_when_truly_redundant(make_fretes_db: Callable[..., sa.Engine]) -> None:
    engine = make_fretes_db(entregas=500)
    _create(
        engine,
        "CREATE INDEX f_status ON fretes (status)",
        "CREATE INDEX f_status_again ON fretes (status)",  # exact duplicate of f_status
        "CREATE INDEX f_status_criado ON fretes (status, criado_em)",  # f_status is a prefix
        "CREATE INDEX f_cover ON fretes (transportadora_id) INCLUDE (valor_pago)",
        "CREATE INDEX f_tr_emb ON fretes (transportadora_id, embarque_id)",
        "CREATE INDEX f_hash ON fretes USING hash (numero_cte)",
        "CREATE INDEX f_cte ON fretes (numero_cte, status)",
        "CREATE INDEX f_desc ON fretes (criado_em DESC)",
        "CREATE INDEX f_asc ON fretes (criado_em, id)",
        "CREATE INDEX f_open ON fretes (embarque_id) WHERE status = 'PENDENTE'",
        "CREATE INDEX f_emb ON fretes (embarque_id, status)",
    )
    drops = {d.name: d.reason for d in drop_suggestions(engine) if d.kind == "duplicate"}
    assert "same columns" in drops["f_status_again"]
    assert "prefix of f_status_criado" in drops["f_status"]
    # Not redundant: the INCLUDE index covers valor_pago, which (transportadora_id,
    # embarque_id) does not hold; a hash index is not a btree prefix; DESC is another order;
    # a partial index has another predicate than the full one.
    assert not {"f_cover", "f_hash", "f_desc", "f_open"} & set(drops)
