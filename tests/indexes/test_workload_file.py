"""The workload file format: hints where a user writes them, every statement accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from idx_dataset import populate

from turbina.flask.cli import main
from turbina.indexes.workload_file import from_sql_text

HINTS = """-- turbina: calls=120 mean_ms=3.5 label=listar
SELECT * FROM logs_entrega WHERE entrega_id = 1;
SELECT * FROM fretes WHERE status = 'PAGO';  -- turbina: calls=40
SELECT * FROM pedidos
WHERE status = 'ABERTO';  -- calls=7
-- a plain comment, not a hint: see ticket=123 for why
SELECT * FROM embarques WHERE status = 'ativo';
"""


def test_hints_belong_to_the_statement_a_user_wrote_them_for() -> None:
    queries = from_sql_text(HINTS)
    calls = {q.sql.split("FROM ")[1].split()[0]: q.calls for q in queries}
    # Before the statement, after its ';' on the same line, bare `-- calls=N`, and a comment
    # that only contains a '=' is not a hint.
    assert calls == {"logs_entrega": 120, "fretes": 40, "pedidos": 7, "embarques": 1}
    first = next(q for q in queries if "logs_entrega" in q.sql)
    assert (first.mean_ms, first.label) == (3.5, "listar")


BROKEN = """SELECT * FROM logs_entrega WHERE entrega_id = 1;
SELECT * FROM FROM fretes WHERE;
SELECT * FROM no_such_table WHERE a = 1;
UPDATE fretes SET status = 'PAGO' WHERE id = 3;  -- calls=50
-- turbina: calls=many
SELECT * FROM pedidos WHERE status = 'ABERTO';
CREATE INDEX i ON fretes (status);
SELECT * FROM fretes WHERE numero_cte = 'unterminated
"""


def test_every_statement_not_used_is_reported_with_its_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = sa.create_engine(sqlite_url)
    populate(engine, 300)
    engine.dispose()
    workload = tmp_path / "w.sql"
    workload.write_text(BROKEN)
    args = ["indexes", "advise", "--database-url", sqlite_url, "--workload", str(workload)]
    assert main(args) == 0
    out = capsys.readouterr().out
    skipped = {line.split(": ")[2] for line in out.splitlines() if "skipped:" in line}
    assert skipped == {"w.sql:2", "w.sql:3", "w.sql:6", "w.sql:7", "w.sql:8"}
    assert "w.sql:3: unknown table(s): no_such_table" in out
    assert "w.sql:6: bad hint value" in out
    assert "w.sql:8: unterminated quoted string" in out
    assert "1 write loads" in out  # the UPDATE is write load, not lost
    # Nothing usable at all: the statements are listed, and the run fails.
    workload.write_text("SELECT * FROM nope;\nSELECT FROM FROM;\n")
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "turbina: skipped: w.sql:1: unknown table(s): nope" in captured.out
    assert "turbina: skipped: w.sql:2:" in captured.out
    assert captured.err.startswith("turbina: error: none of the 2 workload statement(s) is usable")


def test_a_pg_stat_statements_export_is_a_workload(tmp_path: Path) -> None:
    from turbina.indexes.workload_file import read_workload

    export = tmp_path / "pgss.csv"
    export.write_text(
        "query,calls,mean_exec_time,rows\n"
        '"SELECT * FROM fretes WHERE status = $1",1200,2.5,3000\n'
        '"UPDATE fretes SET status = $1 WHERE id = $2",300,0.4,300\n'
        '"SET search_path = public",5,0.01,0\n'
    )
    workload = read_workload(export)
    [query] = workload.queries
    assert (query.calls, query.mean_ms, query.generic) == (1200, 2.5, True)
    [write] = workload.writes
    assert (write.table, write.kind, write.calls, write.columns) == (
        "fretes",
        "update",
        300,
        frozenset({"status"}),
    )
    assert [s.source for s in workload.skipped] == ["pgss.csv:4"]
