"""The fretes schema of the index-advisor tests, as SQLAlchemy Core tables.

A copy of the reference app's models (examples/fretes/src/fretes/models.py): same tables,
columns, types, nullability, primary keys, foreign keys and unique constraints — and, like
them, no secondary index (the advisor tests count on the missing ones, e.g. on
``logs_entrega.entrega_id``). Kept here so the library's tests run with only the library
installed; the app's DDL and this one are compared by nothing but review, so change both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

# Vocabularies (as in the reference app).
ENTREGA_FINAL_STATUSES = ("Entregue", "Cancelada", "Devolvida", "Troca de NF", "Sinistro")
FRETE_STATUSES = ("PENDENTE", "EM_TRATATIVA", "APROVADO", "REJEITADO", "PAGO", "CANCELADO")
PEDIDO_STATUSES = ("ABERTO", "COTADO", "EMBARCADO", "FATURADO")

metadata = MetaData()


def money() -> Numeric[Decimal]:
    return Numeric(15, 2)


def weight() -> Numeric[Decimal]:
    return Numeric(15, 3)


def pk() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def created() -> Column[datetime]:
    return Column("criado_em", DateTime, nullable=False, default=datetime.now)


def entrega_fk() -> Column[int]:
    return Column("entrega_id", ForeignKey("entregas_monitoradas.id"), nullable=False)


users = Table(
    "users",
    metadata,
    pk(),
    Column("username", String(80), nullable=False, unique=True),
    Column("nome", String(120), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(20), nullable=False, default="vendedor"),
    Column("vendedor", String(120), nullable=True),
    Column("ativo", Boolean, nullable=False, default=True),
    created(),
)

entregas_monitoradas = Table(
    "entregas_monitoradas",
    metadata,
    pk(),
    Column("numero_nf", String(20), nullable=False, unique=True),
    Column("cliente", String(255), nullable=False),
    Column("cnpj_cliente", String(20), nullable=False),
    Column("transportadora", String(255), nullable=True),
    Column("municipio", String(100), nullable=True),
    Column("uf", String(2), nullable=True),
    Column("vendedor", String(120), nullable=True),
    Column("valor_nf", money(), nullable=True),
    Column("data_faturamento", Date, nullable=True),
    Column("data_embarque", Date, nullable=True),
    Column("data_entrega_prevista", Date, nullable=True),
    Column("data_agenda", Date, nullable=True),
    Column("entregue", Boolean, nullable=False, default=False),
    Column("status_finalizacao", String(50), nullable=True),  # NULL = open
    Column("reagendar", Boolean, nullable=False, default=False),
    Column("pendencia_financeira", Boolean, nullable=False, default=False),
    created(),
)

agendamentos_entrega = Table(
    "agendamentos_entrega",
    metadata,
    pk(),
    entrega_fk(),
    Column("data_agendada", Date, nullable=True),
    Column("protocolo", String(50), nullable=True),
    Column("status", String(20), nullable=False, default="aguardando"),
    Column("autor", String(120), nullable=True),
    created(),
)

logs_entrega = Table(
    "logs_entrega",
    metadata,
    pk(),
    entrega_fk(),
    Column("autor", String(120), nullable=False),
    Column("data_hora", DateTime, nullable=False, default=datetime.now),
    Column("descricao", Text, nullable=False),
    Column("tipo", String(50), nullable=False, default="info"),
)

eventos_entrega = Table(
    "eventos_entrega",
    metadata,
    pk(),
    entrega_fk(),
    Column("tipo_evento", String(50), nullable=False),
    Column("motorista", String(120), nullable=True),
    created(),
)

custos_extra_entrega = Table(
    "custos_extra_entrega",
    metadata,
    pk(),
    entrega_fk(),
    Column("tipo", String(50), nullable=False),
    Column("valor", money(), nullable=False),
    Column("motivo", Text, nullable=True),
)

comentarios_nf = Table(
    "comentarios_nf",
    metadata,
    pk(),
    entrega_fk(),
    Column("texto", Text, nullable=False),
    Column("autor", String(120), nullable=False),
    created(),
    Column("resposta_a_id", ForeignKey("comentarios_nf.id"), nullable=True),
)

transportadoras = Table(
    "transportadoras",
    metadata,
    pk(),
    Column("cnpj", String(20), nullable=False, unique=True),
    Column("razao_social", String(255), nullable=False),
    Column("cidade", String(100), nullable=True),
    Column("uf", String(2), nullable=True),
    Column("ativo", Boolean, nullable=False, default=True),
)

embarques = Table(
    "embarques",
    metadata,
    pk(),
    Column("numero", Integer, nullable=False, unique=True),
    Column("data_embarque", Date, nullable=True),
    Column("status", String(20), nullable=False, default="draft"),
    Column("transportadora_id", ForeignKey("transportadoras.id"), nullable=True),
    Column("valor_total", money(), nullable=True),
    Column("peso_total", weight(), nullable=True),
    created(),
)

embarque_itens = Table(
    "embarque_itens",
    metadata,
    pk(),
    Column("embarque_id", ForeignKey("embarques.id"), nullable=False),
    Column("nota_fiscal", String(20), nullable=True),
    Column("cliente", String(255), nullable=False),
    Column("cnpj_cliente", String(20), nullable=True),
    Column("pedido", String(50), nullable=True),
    Column("peso", weight(), nullable=True),
    Column("valor", money(), nullable=True),
    Column("uf_destino", String(2), nullable=True),
    Column("data_agenda", String(10), nullable=True),  # text, as in the real system
    Column("status", String(20), nullable=False, default="ativo"),
)

fretes = Table(
    "fretes",
    metadata,
    pk(),
    Column("embarque_id", ForeignKey("embarques.id"), nullable=True),
    Column("transportadora_id", ForeignKey("transportadoras.id"), nullable=True),
    Column("cnpj_cliente", String(20), nullable=True),
    Column("nome_cliente", String(255), nullable=True),
    Column("numeros_nfs", Text, nullable=True),  # comma-separated NF numbers
    Column("valor_cotado", money(), nullable=True),
    Column("valor_cte", money(), nullable=True),
    Column("valor_pago", money(), nullable=True),
    Column("numero_cte", String(50), nullable=True),
    Column("status", String(20), nullable=False, default="PENDENTE"),
    created(),
)

pedidos = Table(
    "pedidos",
    metadata,
    pk(),
    Column("num_pedido", String(30), nullable=False, unique=True),
    Column("cnpj_cpf", String(20), nullable=False),
    Column("raz_social_red", String(255), nullable=True),
    Column("nome_cidade", String(100), nullable=True),
    Column("cod_uf", String(2), nullable=True),
    Column("rota", String(50), nullable=True),
    Column("sub_rota", String(50), nullable=True),
    Column("expedicao", Date, nullable=True),
    Column("status", String(20), nullable=False, default="ABERTO"),
    Column("valor_saldo_total", money(), nullable=True),
    Column("peso_total", weight(), nullable=True),
    created(),
)

relatorio_faturamento_importado = Table(
    "relatorio_faturamento_importado",
    metadata,
    pk(),
    Column("numero_nf", String(20), nullable=False, unique=True),
    Column("data_fatura", Date, nullable=True),
    Column("cnpj_cliente", String(20), nullable=True),
    Column("nome_cliente", String(255), nullable=True),
    Column("valor_total", money(), nullable=True),
    Column("vendedor", String(120), nullable=True),
    Column("municipio", String(100), nullable=True),
    Column("estado", String(2), nullable=True),
    Column("ativo", Boolean, nullable=False, default=True),
    created(),
)
