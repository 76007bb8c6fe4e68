"""Small models for the cache tests."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Cliente(Base):
    __tablename__ = "c_clientes"

    id: Mapped[int] = mapped_column(primary_key=True)
    nome: Mapped[str] = mapped_column(String(80))


class Nota(Base):
    __tablename__ = "c_notas"

    id: Mapped[int] = mapped_column(primary_key=True)
    cliente_id: Mapped[int] = mapped_column(ForeignKey("c_clientes.id"))
    valor: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class Conta(UserMixin, Base):
    """A Flask-Login user stored in the database."""

    __tablename__ = "c_contas"

    id: Mapped[int] = mapped_column(primary_key=True)
    nome: Mapped[str] = mapped_column(String(40))


def make_db(url: str) -> tuple[sa.Engine, sessionmaker[Session]]:
    """Engine and session factory on a fresh schema with two clientes and three notas."""
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        session.add_all([Cliente(id=1, nome="Ana"), Cliente(id=2, nome="Bia")])
        session.flush()
        session.add_all(
            [
                Nota(cliente_id=1, valor=Decimal("10.50")),
                Nota(cliente_id=1, valor=Decimal("5.25")),
                Nota(cliente_id=2, valor=Decimal("7.00")),
            ]
        )
        session.commit()
    return engine, factory


def total(factory: sessionmaker[Session], cliente_id: int) -> Decimal:
    """Sum of a cliente's notas (reads c_notas)."""
    with factory() as session:
        value = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Nota.valor), 0)).where(
                Nota.cliente_id == cliente_id
            )
        )
        return Decimal(value).quantize(Decimal("0.01"))
