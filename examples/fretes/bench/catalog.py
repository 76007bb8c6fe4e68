"""What the workload may ask for, read from the benchmark database itself.

Parameters are drawn from the data (the vendedores, clients, carriers and UFs that really
occur, most frequent first) so that a filter hits rows the way a real user's would. The
catalog is read once before a run, stored as JSON and handed to the load generator process.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fretes.models import (
    Embarque,
    EntregaMonitorada,
    Frete,
    Pedido,
    RelatorioFaturamentoImportado,
    Transportadora,
    User,
)

# Caps keep the catalog (and the JSON handed to the load generator) small at any scale.
MAX_NAMES = 500
MAX_CLIENTS_PER_VENDEDOR = 30
MAX_ENTREGAS_PER_VENDEDOR = 40
MAX_IDS = 2000
MAX_USERS = 2000


@dataclass(frozen=True)
class Account:
    """A user the workload can log in as."""

    username: str
    role: str
    vendedor: str | None = None


@dataclass
class Catalog:
    """Values the workload draws its parameters from; name lists are most frequent first."""

    reference_date: str
    password: str
    accounts: list[Account] = field(default_factory=list)
    vendedores: list[str] = field(default_factory=list)
    clientes: list[str] = field(default_factory=list)
    clientes_by_vendedor: dict[str, list[str]] = field(default_factory=dict)
    ufs: list[str] = field(default_factory=list)
    transportadoras: list[str] = field(default_factory=list)
    transportadora_ids: list[int] = field(default_factory=list)
    frete_transportadora_ids: list[int] = field(default_factory=list)
    open_entregas_by_vendedor: dict[str, list[int]] = field(default_factory=dict)
    embarque_ids: list[int] = field(default_factory=list)
    pedido_ids: list[int] = field(default_factory=list)
    faturamento_clientes: list[list[str]] = field(default_factory=list)  # [cnpj, nome]

    @property
    def today(self) -> date:
        """The date the dataset treats as "now"."""
        return date.fromisoformat(self.reference_date)

    def to_json(self) -> str:
        """Serialize (the load generator runs in another process)."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        """Inverse of ``to_json``."""
        raw: dict[str, Any] = json.loads(text)
        raw["accounts"] = [Account(**item) for item in raw.get("accounts", [])]
        return cls(**raw)

    def save(self, path: Path) -> None:
        """Write the catalog as JSON to ``path``."""
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Catalog:
        """Read a catalog written by ``save``."""
        return cls.from_json(path.read_text(encoding="utf-8"))


def _ranked(conn: sa.Connection, column: Any, limit: int = MAX_NAMES) -> list[str]:
    """Distinct non-empty values of ``column``, most frequent first."""
    count = sa.func.count().label("n")
    stmt = (
        sa.select(column, count)
        .where(column.is_not(None), column != "")
        .group_by(column)
        .order_by(count.desc(), column)
        .limit(limit)
    )
    return [str(row[0]) for row in conn.execute(stmt)]


def _reference_date(conn: sa.Connection) -> date:
    fat = RelatorioFaturamentoImportado.__table__.c
    latest = conn.execute(sa.select(sa.func.max(fat.data_fatura))).scalar()
    if latest is None:
        return date.today()
    return latest if isinstance(latest, date) else date.fromisoformat(str(latest)[:10])


def build_catalog(database_url: str, password: str, reference_date: date | None = None) -> Catalog:
    """Read the catalog from the dataset at ``database_url`` (read-only). ``reference_date``
    is the dataset's "today" (default: its latest invoice date)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return _read(conn, password, reference_date or _reference_date(conn))
    finally:
        engine.dispose()


def _read(conn: sa.Connection, password: str, today: date) -> Catalog:
    ent = EntregaMonitorada.__table__.c
    users = User.__table__.c
    accounts = [
        Account(username=row.username, role=row.role, vendedor=row.vendedor)
        for row in conn.execute(
            sa.select(users.username, users.role, users.vendedor)
            .where(users.ativo.is_(True))
            .order_by(users.id)
            .limit(MAX_USERS)
        )
    ]
    by_vendedor: dict[str, list[str]] = defaultdict(list)
    pairs = (
        sa.select(ent.vendedor, ent.cliente, sa.func.count().label("n"))
        .where(ent.vendedor.is_not(None))
        .group_by(ent.vendedor, ent.cliente)
        .order_by(ent.vendedor, sa.func.count().desc(), ent.cliente)
    )
    for row in conn.execute(pairs):
        names = by_vendedor[row.vendedor]
        if len(names) < MAX_CLIENTS_PER_VENDEDOR:
            names.append(row.cliente)
    open_by_vendedor: dict[str, list[int]] = defaultdict(list)
    open_rows = (
        sa.select(ent.id, ent.vendedor)
        .where(ent.status_finalizacao.is_(None), ent.vendedor.is_not(None))
        .order_by(ent.criado_em.desc(), ent.id)
    )
    for row in conn.execute(open_rows):
        ids = open_by_vendedor[row.vendedor]
        if len(ids) < MAX_ENTREGAS_PER_VENDEDOR:
            ids.append(int(row.id))
    carriers = Transportadora.__table__.c
    frete = Frete.__table__.c
    emb = Embarque.__table__.c
    fat = RelatorioFaturamentoImportado.__table__.c
    frete_carriers = (
        sa.select(frete.transportadora_id)
        .where(frete.transportadora_id.is_not(None))
        .group_by(frete.transportadora_id)
        .order_by(sa.func.count().desc(), frete.transportadora_id)
        .limit(MAX_NAMES)
    )
    fat_clients = (
        sa.select(fat.cnpj_cliente, fat.nome_cliente)
        .where(fat.cnpj_cliente.is_not(None))
        .group_by(fat.cnpj_cliente, fat.nome_cliente)
        .order_by(sa.func.count().desc(), fat.cnpj_cliente)
        .limit(MAX_NAMES)
    )
    return Catalog(
        reference_date=today.isoformat(),
        password=password,
        accounts=accounts,
        vendedores=_ranked(conn, ent.vendedor),
        clientes=_ranked(conn, ent.cliente),
        clientes_by_vendedor=dict(by_vendedor),
        ufs=_ranked(conn, ent.uf),
        transportadoras=_ranked(conn, ent.transportadora),
        transportadora_ids=[
            int(v)
            for v in conn.execute(
                sa.select(carriers.id)
                .where(carriers.ativo.is_(True))
                .order_by(carriers.id)
                .limit(MAX_IDS)
            ).scalars()
        ],
        frete_transportadora_ids=[int(v) for v in conn.execute(frete_carriers).scalars()],
        open_entregas_by_vendedor=dict(open_by_vendedor),
        embarque_ids=[
            int(v)
            for v in conn.execute(
                sa.select(emb.id)
                .where(emb.status == "ativo")
                .order_by(emb.id.desc())
                .limit(MAX_IDS)
            ).scalars()
        ],
        pedido_ids=[
            int(v)
            for v in conn.execute(
                sa.select(Pedido.__table__.c.id)
                .order_by(Pedido.__table__.c.id.desc())
                .limit(MAX_IDS)
            ).scalars()
        ],
        faturamento_clientes=[[str(r[0]), str(r[1] or "")] for r in conn.execute(fat_clients)],
    )
