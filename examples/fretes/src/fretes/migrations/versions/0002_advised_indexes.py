"""advised indexes (turbina indexes advise, scale real)

The indexes `turbina indexes advise` chose for fretes's workload at scale `real`, one set per
database: PostgreSQL (hypopg, 17 indexes) and SQLite (sqlite-hypothetical, 15), each advised on
that database. Workload: the captured pages of bench/indexes_bench.py (recorder + test client on
`real`, 89 statements); the advisor's statements are copied from its output,
bench/results/indexes_real.json (sets.advisor.ddl; the same lists are in indexes_real.md), and
rendered by `turbina.indexes.ddl.portable_migration_text` - the renderer of
`turbina indexes advise --format migration` - into one revision for both dialects (each DDL
parsed back into an IndexSpec whose name matched the advised one). To refresh it after new
advice, render the new sets the same way and keep revision "0002" / down_revision "0001".

On PostgreSQL the indexes are built CONCURRENTLY outside the migration's transaction (the
table stays writable); `fretes.schema_migrations.upgrade` drops an INVALID index a failed build
leaves. SQLite: plain CREATE INDEX in the transaction.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Per dialect (op.get_bind().dialect.name): the statements upgrade and downgrade run.
CREATE = {
    "postgresql": [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_embarque_itens_embarque_id ON embarque_itens (embarque_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_eventos_entrega_entrega_id ON eventos_entrega (entrega_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_comentarios_nf_entrega_id ON comentarios_nf (entrega_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_comentarios_nf_resposta_a_id ON comentarios_nf (resposta_a_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_agendamentos_entrega_entrega_id ON agendamentos_entrega (entrega_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_fretes_embarque_id ON fretes (embarque_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_custos_extra_entrega_entrega_id ON custos_extra_entrega (entrega_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_relatorio_faturamento_importado_data_fatura ON relatorio_faturamento_importado (data_fatura)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_entregas_monitoradas_data_embarque ON entregas_monitoradas (data_embarque)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pedidos_status_expedicao ON pedidos (status, expedicao)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_entregas_monitoradas_reagendar_p29a793 ON entregas_monitoradas (reagendar) WHERE status_finalizacao IS NULL",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_entregas_monitoradas_vendedor_entregue ON entregas_monitoradas (vendedor, entregue)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pedidos_expedicao ON pedidos (expedicao)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_fretes_status_transportadora_id ON fretes (status, transportadora_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_fretes_criado_em ON fretes (criado_em)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_fretes_transportadora_id ON fretes (transportadora_id)",
    ],
    "sqlite": [
        "CREATE INDEX IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id)",
        "CREATE INDEX IF NOT EXISTS idx_embarque_itens_embarque_id ON embarque_itens (embarque_id)",
        "CREATE INDEX IF NOT EXISTS idx_comentarios_nf_entrega_id ON comentarios_nf (entrega_id)",
        "CREATE INDEX IF NOT EXISTS idx_relatorio_faturamento_importado_data_fatura ON relatorio_faturamento_importado (data_fatura)",
        "CREATE INDEX IF NOT EXISTS idx_eventos_entrega_entrega_id ON eventos_entrega (entrega_id)",
        "CREATE INDEX IF NOT EXISTS idx_comentarios_nf_resposta_a_id ON comentarios_nf (resposta_a_id)",
        "CREATE INDEX IF NOT EXISTS idx_agendamentos_entrega_entrega_id ON agendamentos_entrega (entrega_id)",
        "CREATE INDEX IF NOT EXISTS idx_fretes_embarque_id ON fretes (embarque_id)",
        "CREATE INDEX IF NOT EXISTS idx_custos_extra_entrega_entrega_id ON custos_extra_entrega (entrega_id)",
        "CREATE INDEX IF NOT EXISTS idx_pedidos_status_expedicao ON pedidos (status, expedicao)",
        "CREATE INDEX IF NOT EXISTS idx_entregas_monitoradas_id_p29a793 ON entregas_monitoradas (id) WHERE status_finalizacao IS NULL",
        "CREATE INDEX IF NOT EXISTS idx_entregas_monitoradas_data_embarque ON entregas_monitoradas (data_embarque)",
        "CREATE INDEX IF NOT EXISTS idx_entregas_monitoradas_vendedor ON entregas_monitoradas (vendedor)",
        "CREATE INDEX IF NOT EXISTS idx_embarques_status ON embarques (status)",
        "CREATE INDEX IF NOT EXISTS idx_fretes_status_transportadora_id_criado_em ON fretes (status, transportadora_id, criado_em)",
    ],
}
DROP = {
    "postgresql": [
        "DROP INDEX CONCURRENTLY IF EXISTS idx_fretes_transportadora_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_fretes_criado_em",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_fretes_status_transportadora_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_pedidos_expedicao",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_entregas_monitoradas_vendedor_entregue",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_entregas_monitoradas_reagendar_p29a793",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_pedidos_status_expedicao",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_entregas_monitoradas_data_embarque",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_relatorio_faturamento_importado_data_fatura",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_custos_extra_entrega_entrega_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_fretes_embarque_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_agendamentos_entrega_entrega_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_comentarios_nf_resposta_a_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_comentarios_nf_entrega_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_eventos_entrega_entrega_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_embarque_itens_embarque_id",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_logs_entrega_entrega_id",
    ],
    "sqlite": [
        "DROP INDEX IF EXISTS idx_fretes_status_transportadora_id_criado_em",
        "DROP INDEX IF EXISTS idx_embarques_status",
        "DROP INDEX IF EXISTS idx_entregas_monitoradas_vendedor",
        "DROP INDEX IF EXISTS idx_entregas_monitoradas_data_embarque",
        "DROP INDEX IF EXISTS idx_entregas_monitoradas_id_p29a793",
        "DROP INDEX IF EXISTS idx_pedidos_status_expedicao",
        "DROP INDEX IF EXISTS idx_custos_extra_entrega_entrega_id",
        "DROP INDEX IF EXISTS idx_fretes_embarque_id",
        "DROP INDEX IF EXISTS idx_agendamentos_entrega_entrega_id",
        "DROP INDEX IF EXISTS idx_comentarios_nf_resposta_a_id",
        "DROP INDEX IF EXISTS idx_eventos_entrega_entrega_id",
        "DROP INDEX IF EXISTS idx_relatorio_faturamento_importado_data_fatura",
        "DROP INDEX IF EXISTS idx_comentarios_nf_entrega_id",
        "DROP INDEX IF EXISTS idx_embarque_itens_embarque_id",
        "DROP INDEX IF EXISTS idx_logs_entrega_entrega_id",
    ],
}


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in statements:
        raise NotImplementedError(
            f"revision {revision} has no index statements for {dialect}: run "
            f"`turbina indexes advise --format migration` on a {dialect} database"
        )
    if dialect == "postgresql":
        # CREATE/DROP INDEX CONCURRENTLY cannot run inside the migration's transaction.
        with op.get_context().autocommit_block():
            for statement in statements[dialect]:
                op.execute(statement)
    else:
        for statement in statements[dialect]:  # plain DDL, in the migration's transaction
            op.execute(statement)


def upgrade() -> None:
    _run(CREATE)


def downgrade() -> None:
    _run(DROP)
