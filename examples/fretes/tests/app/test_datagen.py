"""The dataset generator: determinism, sizes, realism rules, safety, both loaders, the CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from fretes.datagen import (
    DEMO_PASSWORD,
    REFERENCE_DATE,
    SCALES,
    DataExistsError,
    GenerateReport,
    data_checksums,
    generate,
)
from fretes.datagen.command import datagen
from fretes.datagen.generate import COLUMNS
from fretes.datagen.pipeline import Progress
from fretes.datagen.schema import FRETES_TABLES
from fretes.datagen.vocab import cnpj, cnpj_is_valid
from fretes.models import (
    Base,
    EntregaMonitorada,
    LogEntrega,
    Pedido,
    RelatorioFaturamentoImportado,
    User,
)
from turbina.errors import TurbinaError

CHILD_TABLES = (
    "agendamentos_entrega",
    "logs_entrega",
    "eventos_entrega",
    "custos_extra_entrega",
    "comentarios_nf",
)


@pytest.fixture
def new_sqlite(tmp_path: Path) -> Callable[[], str]:
    """Factory of fresh SQLite URLs inside the test's temp dir."""
    made: list[int] = []

    def make() -> str:
        made.append(1)
        return f"sqlite:///{tmp_path / f'dg{len(made)}.db'}"

    return make


def _scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def test_same_seed_same_data_other_seed_differs(new_sqlite: Callable[[], str]) -> None:
    first, again, other = new_sqlite(), new_sqlite(), new_sqlite()
    generate(first, "tiny", seed=42)
    generate(again, "tiny", seed=42)
    generate(other, "tiny", seed=43)
    digests = data_checksums(first)
    assert digests == data_checksums(again)
    different = data_checksums(other)
    assert all(digests[t] != different[t] for t in ("entregas_monitoradas", "pedidos", "users"))


def test_tiny_row_counts_and_report(sqlite_url: str) -> None:
    report = generate(sqlite_url, "tiny")
    assert isinstance(report, GenerateReport)
    assert (report.scale, report.seed) == ("tiny", 42)
    for table, count in SCALES["tiny"].items():
        assert report.rows[table] == count, table
        assert _scalar(sqlite_url, f"SELECT COUNT(*) FROM {table}") == count
    assert set(report.rows) == {t.name for t in FRETES_TABLES}
    assert report.total_rows == sum(report.rows.values())
    assert report.seconds > 0 and report.rows_per_second > 0
    # Every entrega has 5 to 10 children over the five child tables.
    per_entrega = " UNION ALL ".join(f"SELECT entrega_id FROM {t}" for t in CHILD_TABLES)
    sql = f"SELECT MIN(n), MAX(n), COUNT(*) FROM (SELECT COUNT(*) AS n FROM ({per_entrega}) GROUP BY entrega_id)"
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        low, high, entregas = conn.exec_driver_sql(sql).one()
    engine.dispose()
    assert (low >= 5, high <= 10, entregas) == (True, True, SCALES["tiny"]["entregas_monitoradas"])
    assert sum(report.rows[t] for t in CHILD_TABLES) == _scalar(
        sqlite_url, f"SELECT COUNT(*) FROM ({per_entrega})"
    )


def test_scales_table() -> None:
    real, large = SCALES["real"], SCALES["large"]
    assert real["entregas_monitoradas"] == 20_000
    assert real["relatorio_faturamento_importado"] == 100_000
    assert real["embarques"] == real["fretes"] == 3_000
    assert real["pedidos"] == 10_000
    assert 20 <= real["transportadoras"] <= 30
    assert 60 <= real["users"] <= 400
    for table in (
        "entregas_monitoradas",
        "relatorio_faturamento_importado",
        "embarques",
        "fretes",
        "pedidos",
        "embarque_itens",
    ):
        assert large[table] == 20 * real[table], table
    assert SCALES["tiny"]["entregas_monitoradas"] < 1_000


def test_columns_cover_the_models() -> None:
    tables = {t.name: t for t in FRETES_TABLES}
    for name, columns in COLUMNS.items():
        assert set(columns) == set(tables[name].columns.keys()), name


def test_rows_are_consistent_and_realistic(sqlite_url: str) -> None:
    generate(sqlite_url, "tiny")
    engine = sa.create_engine(sqlite_url)
    with Session(engine) as session:
        entregas = session.scalars(sa.select(EntregaMonitorada)).all()
        faturas = {
            f.numero_nf: f for f in session.scalars(sa.select(RelatorioFaturamentoImportado))
        }
        users = session.scalars(sa.select(User)).all()
        pedidos = session.scalars(sa.select(Pedido)).all()
        item_nfs = set(session.scalars(sa.text("SELECT nota_fiscal FROM embarque_itens")))
        carriers = set(session.scalars(sa.text("SELECT razao_social FROM transportadoras")))
        replies = session.execute(
            sa.text(
                "SELECT r.entrega_id, p.entrega_id, r.id > p.id FROM comentarios_nf r "
                "JOIN comentarios_nf p ON p.id = r.resposta_a_id"
            )
        ).all()
        nfs_lists = list(session.scalars(sa.text("SELECT numeros_nfs FROM fretes")))
    engine.dispose()

    end = datetime.combine(REFERENCE_DATE, time(23, 59, 59))
    vendedor_users = {u.vendedor for u in users if u.role == "vendedor"}
    for e in entregas:  # each entrega comes from its faturamento row and is an embarque item
        assert e.data_faturamento and e.data_entrega_prevista
        fat = faturas[e.numero_nf]
        assert (fat.nome_cliente, fat.vendedor) == (e.cliente, e.vendedor)
        assert e.valor_nf == fat.valor_total
        assert e.numero_nf in item_nfs
        assert e.vendedor in vendedor_users
        assert cnpj_is_valid(e.cnpj_cliente)
        assert e.criado_em <= end and e.data_faturamento <= REFERENCE_DATE
        assert e.data_embarque is None or e.data_faturamento <= e.data_embarque
        assert (e.status_finalizacao == "Entregue") == e.entregue
        assert e.transportadora and (
            e.transportadora in carriers
            or e.transportadora.upper() in {c.upper() for c in carriers}
            or e.transportadora + " Ltda" in carriers
        )
    delivered = sum(e.entregue for e in entregas) / len(entregas)
    late = sum(
        e.status_finalizacao is None
        and e.data_entrega_prevista is not None
        and e.data_entrega_prevista < REFERENCE_DATE
        for e in entregas
    )
    assert delivered > 0.8 and 0 < late < 0.1 * len(entregas)
    assert any(e.status_finalizacao is None for e in entregas)
    days = [(REFERENCE_DATE - e.data_faturamento).days for e in entregas if e.data_faturamento]
    assert max(days) <= 731 and min(days) >= 0
    recent = sum(d < 365 for d in days)
    assert recent > len(entregas) / 2  # skewed to recent
    sp = sum(e.uf == "SP" for e in entregas)
    assert sp == max(sum(e.uf == uf for e in entregas) for uf in {e.uf for e in entregas})
    # A reply answers an earlier comment on the same entrega.
    assert replies and all(child == parent and later for child, parent, later in replies)
    assert any("," in nfs for nfs in nfs_lists)
    assert {p.status for p in pedidos} <= {"ABERTO", "COTADO", "EMBARCADO", "FATURADO"}
    assert all(p.rota and p.sub_rota and p.expedicao for p in pedidos)
    assert [u.username for u in users if u.role == "admin"] == ["admin", "admin2"]


def test_refuses_a_database_with_fretes_rows(sqlite_url: str) -> None:
    generate(sqlite_url, "tiny")
    before = data_checksums(sqlite_url)
    with pytest.raises(DataExistsError) as info:
        generate(sqlite_url, "tiny", seed=1)
    assert "--reset" in (info.value.fix or "")
    assert isinstance(info.value, TurbinaError)
    assert data_checksums(sqlite_url) == before


def test_reset_leaves_foreign_tables_untouched(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notas_externas (id INTEGER PRIMARY KEY, texto TEXT)")
        conn.exec_driver_sql("INSERT INTO notas_externas VALUES (1, 'fica')")
    generate(db_url, "tiny", seed=5)  # a foreign table alone does not block a load
    generate(db_url, "tiny", seed=6, reset=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, texto FROM notas_externas").all() == [(1, "fica")]
    engine.dispose()


def test_postgres_copy_and_sqlite_load_the_same_data(pg_url: str, sqlite_url: str) -> None:
    generate(pg_url, "tiny", seed=11)
    generate(sqlite_url, "tiny", seed=11)
    assert data_checksums(pg_url) == data_checksums(sqlite_url)


def test_reset_reloads_the_same_data(pg_url: str, sqlite_url: str) -> None:
    generate(pg_url, "tiny", seed=3)
    generate(pg_url, "tiny", seed=11, reset=True)
    generate(sqlite_url, "tiny", seed=11)
    assert data_checksums(pg_url) == data_checksums(sqlite_url)


def test_orm_inserts_work_after_the_load(db_url: str) -> None:
    report = generate(db_url, "tiny")
    engine = sa.create_engine(db_url)
    with Session(engine) as session:
        entrega = session.get(EntregaMonitorada, 1)
        assert entrega is not None
        log = LogEntrega(entrega_id=entrega.id, autor="teste", descricao="novo", tipo="info")
        novo = EntregaMonitorada(numero_nf="NF-NOVA", cliente="C", cnpj_cliente=cnpj(1, 1))
        session.add_all([log, novo])
        session.commit()
        assert log.id == report.rows["logs_entrega"] + 1
        assert novo.id == report.rows["entregas_monitoradas"] + 1
    engine.dispose()


def test_schema_has_every_foreign_key_of_the_models(db_url: str) -> None:
    # PostgreSQL adds the foreign keys after the load: they must all be there (and valid).
    generate(db_url, "tiny")
    engine = sa.create_engine(db_url)
    inspector = sa.inspect(engine)
    for table in FRETES_TABLES:
        found = {
            (tuple(fk["constrained_columns"]), fk["referred_table"])
            for fk in inspector.get_foreign_keys(table.name)
        }
        wanted = {
            (tuple(c.name for c in fk.columns), fk.referred_table.name)
            for fk in table.foreign_key_constraints
        }
        assert found == wanted, table.name
        assert {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)} >= {
            (c.name,) for c in table.columns if c.unique
        }
    engine.dispose()


def test_postgres_load_leaves_the_shared_models_intact(pg_url: str, sqlite_url: str) -> None:
    # Deferring the foreign keys must not change the models' metadata for later create_all.
    generate(pg_url, "tiny")
    engine = sa.create_engine(sqlite_url)
    Base.metadata.create_all(engine)
    assert sa.inspect(engine).get_foreign_keys("comentarios_nf")
    engine.dispose()


def test_generated_users_log_in_with_the_demo_password(sqlite_url: str) -> None:
    generate(sqlite_url, "tiny")
    engine = sa.create_engine(sqlite_url)
    with Session(engine) as session:
        admin = session.scalars(sa.select(User).filter_by(username="admin")).one()
        vendedor = session.scalars(sa.select(User).filter_by(role="vendedor")).first()
        assert vendedor is not None and vendedor.vendedor == vendedor.nome
        for user in (admin, vendedor):
            assert user.check_password(DEMO_PASSWORD) and user.is_active
        assert not admin.check_password("wrong")
        assert admin.is_admin
    engine.dispose()


def test_unsupported_database_names_the_fix() -> None:
    with pytest.raises(TurbinaError) as info:
        generate("mysql://u@localhost/x", "tiny")
    assert "sqlite" in (info.value.fix or "")
    with pytest.raises(TurbinaError) as info:
        generate("sqlite:///unused.db", "huge")
    assert "tiny" in (info.value.fix or "")


def test_cnpj_check_digits() -> None:
    assert cnpj(11_222_333, 1) == "11.222.333/0001-81"
    assert cnpj_is_valid("11.222.333/0001-81") and not cnpj_is_valid("11.222.333/0001-82")


def test_progress_line_only_when_enabled() -> None:
    import io

    quiet, shown = io.StringIO(), io.StringIO()
    for out, enabled in ((quiet, False), (shown, True)):
        bar = Progress("datagen tiny", 100, enabled, stream=out)
        bar._drawn -= 1  # as if the last redraw were a second ago
        bar.advance(50)
        bar.close()
    assert quiet.getvalue() == ""
    assert "datagen tiny:  50%  50 rows" in shown.getvalue()


def test_cli_on_tiny(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(datagen, ["--scale", "tiny", "--database-url", url, "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"datagen tiny \(seed 7\): [\d,]+ rows in \d+\.\d s \([\d,]+ rows/s\) -> sqlite:///\S+cli\.db\n",
        result.output,
    )
    again = runner.invoke(datagen, ["--database-url", url])
    assert again.exit_code == 1
    assert again.output.count("\n") == 1 and "Error: " in again.output and "--reset" in again.output
    env = runner.invoke(datagen, ["--reset"], env={"DATABASE_URL": url})
    assert env.exit_code == 0 and "(seed 42)" in env.output
    bad = runner.invoke(datagen, ["--scale", "huge", "--database-url", url])
    assert bad.exit_code == 2 and "huge" in bad.output
