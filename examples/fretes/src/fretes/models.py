"""ORM models of `fretes`, with the seed's table names.

Naive schema on purpose: primary keys and unique constraints only (no index on child tables'
foreign keys, as in the real system) and every relationship loads lazily.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# mypy cannot see through Flask-SQLAlchemy's dynamic ``db.Model``; at run time it is that class.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model

Money = Numeric(15, 2)
Weight = Numeric(15, 3)

# Vocabularies (as in the real system).
ENTREGA_FINAL_STATUSES = ("Entregue", "Cancelada", "Devolvida", "Troca de NF", "Sinistro")
EMBARQUE_STATUSES = ("draft", "ativo", "cancelado")
FRETE_STATUSES = ("PENDENTE", "EM_TRATATIVA", "APROVADO", "REJEITADO", "PAGO", "CANCELADO")
PEDIDO_STATUSES = ("ABERTO", "COTADO", "EMBARCADO", "FATURADO")
AGENDAMENTO_STATUSES = ("aguardando", "confirmado", "cancelado")
# admin: everything. operacoes: the back office (sees every row; writes pedidos, fretes,
# embarques and the faturamento import). vendedor: their own rows only, and writes only on
# their own entregas.
ADMIN = "admin"
OPERACOES = "operacoes"
VENDEDOR = "vendedor"
ROLES = (ADMIN, OPERACOES, VENDEDOR)
BACK_OFFICE_ROLES = (ADMIN, OPERACOES)


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    nome: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), default="vendedor")
    # For role 'vendedor': the vendedor name their rows carry (the forced filter).
    vendedor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    ativo: Mapped[bool] = mapped_column(Boolean, default=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    # Part of the session's user id: logging out bumps it, which ends every session of the
    # user (a saved cookie stops working), not only the one in the browser that logged out.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def sees_all_rows(self) -> bool:
        """True for the roles no vendedor filter is forced on."""
        return self.role in BACK_OFFICE_ROLES

    def get_id(self) -> str:  # Flask-Login: what the session cookie stores
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.ativo)


class EntregaMonitorada(Model):
    __tablename__ = "entregas_monitoradas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    numero_nf: Mapped[str] = mapped_column(String(20), unique=True)
    cliente: Mapped[str] = mapped_column(String(255))
    cnpj_cliente: Mapped[str] = mapped_column(String(20))
    transportadora: Mapped[str | None] = mapped_column(String(255), nullable=True)  # free text
    municipio: Mapped[str | None] = mapped_column(String(100), nullable=True)
    uf: Mapped[str | None] = mapped_column(String(2), nullable=True)
    vendedor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    valor_nf: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    data_faturamento: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_embarque: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_entrega_prevista: Mapped[date | None] = mapped_column(Date, nullable=True)
    data_agenda: Mapped[date | None] = mapped_column(Date, nullable=True)
    entregue: Mapped[bool] = mapped_column(Boolean, default=False)
    status_finalizacao: Mapped[str | None] = mapped_column(String(50), nullable=True)  # NULL = open
    reagendar: Mapped[bool] = mapped_column(Boolean, default=False)
    pendencia_financeira: Mapped[bool] = mapped_column(Boolean, default=False)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)

    agendamentos: Mapped[list[AgendamentoEntrega]] = relationship(
        back_populates="entrega", order_by="AgendamentoEntrega.id"
    )
    logs: Mapped[list[LogEntrega]] = relationship(
        back_populates="entrega", order_by="LogEntrega.id"
    )
    eventos: Mapped[list[EventoEntrega]] = relationship(
        back_populates="entrega", order_by="EventoEntrega.id"
    )
    custos_extras: Mapped[list[CustoExtraEntrega]] = relationship(
        back_populates="entrega", order_by="CustoExtraEntrega.id"
    )
    comentarios: Mapped[list[ComentarioNF]] = relationship(
        back_populates="entrega", order_by="ComentarioNF.id"
    )


class AgendamentoEntrega(Model):
    __tablename__ = "agendamentos_entrega"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entrega_id: Mapped[int] = mapped_column(ForeignKey("entregas_monitoradas.id"))
    data_agendada: Mapped[date | None] = mapped_column(Date, nullable=True)
    protocolo: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="aguardando")
    autor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)

    entrega: Mapped[EntregaMonitorada] = relationship(back_populates="agendamentos")


class LogEntrega(Model):
    __tablename__ = "logs_entrega"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entrega_id: Mapped[int] = mapped_column(ForeignKey("entregas_monitoradas.id"))
    autor: Mapped[str] = mapped_column(String(120))
    data_hora: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    descricao: Mapped[str] = mapped_column(Text)
    tipo: Mapped[str] = mapped_column(String(50), default="info")

    entrega: Mapped[EntregaMonitorada] = relationship(back_populates="logs")


class EventoEntrega(Model):
    __tablename__ = "eventos_entrega"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entrega_id: Mapped[int] = mapped_column(ForeignKey("entregas_monitoradas.id"))
    tipo_evento: Mapped[str] = mapped_column(String(50))
    motorista: Mapped[str | None] = mapped_column(String(120), nullable=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)

    entrega: Mapped[EntregaMonitorada] = relationship(back_populates="eventos")


class CustoExtraEntrega(Model):
    __tablename__ = "custos_extra_entrega"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entrega_id: Mapped[int] = mapped_column(ForeignKey("entregas_monitoradas.id"))
    tipo: Mapped[str] = mapped_column(String(50))
    valor: Mapped[Decimal] = mapped_column(Money)
    motivo: Mapped[str | None] = mapped_column(Text, nullable=True)

    entrega: Mapped[EntregaMonitorada] = relationship(back_populates="custos_extras")


class ComentarioNF(Model):
    __tablename__ = "comentarios_nf"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entrega_id: Mapped[int] = mapped_column(ForeignKey("entregas_monitoradas.id"))
    texto: Mapped[str] = mapped_column(Text)
    autor: Mapped[str] = mapped_column(String(120))
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    resposta_a_id: Mapped[int | None] = mapped_column(
        ForeignKey("comentarios_nf.id"), nullable=True
    )

    entrega: Mapped[EntregaMonitorada] = relationship(back_populates="comentarios")
    resposta_a: Mapped[ComentarioNF | None] = relationship(
        back_populates="respostas", remote_side="ComentarioNF.id"
    )
    respostas: Mapped[list[ComentarioNF]] = relationship(
        back_populates="resposta_a", order_by="ComentarioNF.id"
    )


class Transportadora(Model):
    __tablename__ = "transportadoras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cnpj: Mapped[str] = mapped_column(String(20), unique=True)
    razao_social: Mapped[str] = mapped_column(String(255))
    cidade: Mapped[str | None] = mapped_column(String(100), nullable=True)
    uf: Mapped[str | None] = mapped_column(String(2), nullable=True)
    ativo: Mapped[bool] = mapped_column(Boolean, default=True)

    embarques: Mapped[list[Embarque]] = relationship(back_populates="transportadora")


class Embarque(Model):
    __tablename__ = "embarques"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    numero: Mapped[int] = mapped_column(Integer, unique=True)
    data_embarque: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    transportadora_id: Mapped[int | None] = mapped_column(
        ForeignKey("transportadoras.id"), nullable=True
    )
    valor_total: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    peso_total: Mapped[Decimal | None] = mapped_column(Weight, nullable=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)

    transportadora: Mapped[Transportadora | None] = relationship(back_populates="embarques")
    itens: Mapped[list[EmbarqueItem]] = relationship(
        back_populates="embarque", order_by="EmbarqueItem.id"
    )
    fretes: Mapped[list[Frete]] = relationship(back_populates="embarque", order_by="Frete.id")


class EmbarqueItem(Model):
    __tablename__ = "embarque_itens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embarque_id: Mapped[int] = mapped_column(ForeignKey("embarques.id"))
    nota_fiscal: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cliente: Mapped[str] = mapped_column(String(255))
    cnpj_cliente: Mapped[str | None] = mapped_column(String(20), nullable=True)
    pedido: Mapped[str | None] = mapped_column(String(50), nullable=True)
    peso: Mapped[Decimal | None] = mapped_column(Weight, nullable=True)
    valor: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    uf_destino: Mapped[str | None] = mapped_column(String(2), nullable=True)
    data_agenda: Mapped[str | None] = mapped_column(
        String(10), nullable=True
    )  # text, as in the real system
    status: Mapped[str] = mapped_column(String(20), default="ativo")

    embarque: Mapped[Embarque] = relationship(back_populates="itens")


class Frete(Model):
    __tablename__ = "fretes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embarque_id: Mapped[int | None] = mapped_column(ForeignKey("embarques.id"), nullable=True)
    transportadora_id: Mapped[int | None] = mapped_column(
        ForeignKey("transportadoras.id"), nullable=True
    )
    cnpj_cliente: Mapped[str | None] = mapped_column(String(20), nullable=True)
    nome_cliente: Mapped[str | None] = mapped_column(String(255), nullable=True)
    numeros_nfs: Mapped[str | None] = mapped_column(
        Text, nullable=True
    )  # comma-separated NF numbers
    valor_cotado: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    valor_cte: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    valor_pago: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    numero_cte: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="PENDENTE")
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)

    embarque: Mapped[Embarque | None] = relationship(back_populates="fretes")
    transportadora: Mapped[Transportadora | None] = relationship()


class Pedido(Model):
    __tablename__ = "pedidos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    num_pedido: Mapped[str] = mapped_column(String(30), unique=True)
    cnpj_cpf: Mapped[str] = mapped_column(String(20))
    raz_social_red: Mapped[str | None] = mapped_column(String(255), nullable=True)
    nome_cidade: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cod_uf: Mapped[str | None] = mapped_column(String(2), nullable=True)
    rota: Mapped[str | None] = mapped_column(String(50), nullable=True)
    sub_rota: Mapped[str | None] = mapped_column(String(50), nullable=True)
    expedicao: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="ABERTO")
    valor_saldo_total: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    peso_total: Mapped[Decimal | None] = mapped_column(Weight, nullable=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


class RelatorioFaturamentoImportado(Model):
    __tablename__ = "relatorio_faturamento_importado"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    numero_nf: Mapped[str] = mapped_column(String(20), unique=True)
    data_fatura: Mapped[date | None] = mapped_column(Date, nullable=True)
    cnpj_cliente: Mapped[str | None] = mapped_column(String(20), nullable=True)
    nome_cliente: Mapped[str | None] = mapped_column(String(255), nullable=True)
    valor_total: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    vendedor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    municipio: Mapped[str | None] = mapped_column(String(100), nullable=True)
    estado: Mapped[str | None] = mapped_column(String(2), nullable=True)
    ativo: Mapped[bool] = mapped_column(Boolean, default=True)
    criado_em: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


ALL_TABLES = tuple(
    model.__table__
    for model in (
        User,
        EntregaMonitorada,
        AgendamentoEntrega,
        LogEntrega,
        EventoEntrega,
        CustoExtraEntrega,
        ComentarioNF,
        Transportadora,
        Embarque,
        EmbarqueItem,
        Frete,
        Pedido,
        RelatorioFaturamentoImportado,
    )
)
