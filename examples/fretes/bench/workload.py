"""The `fretes` workload: a weighted page mix with realistic parameters, plus writes.

Framework-free on purpose: it only plans requests (method, path, query, JSON body) from a
``Catalog`` and a seeded ``random.Random``; the load generator sends them. Every choice of a
name (vendedor, client, carrier, UF) is Zipf-distributed over the catalog's list, which is
ordered most frequent first, so popular values are asked for far more often, as in real use.
Each virtual user works in sessions: it logs in as one account (mostly vendedores, chosen by
how active they are; some admins), makes a run of requests, then logs in as someone else.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from bench.catalog import Account, Catalog

T = TypeVar("T")

LISTAR = "GET /monitoramento/listar"
EXPORTAR = "GET /monitoramento/exportar"
EMBARQUES = "GET /embarques/dashboard"
FATURAMENTO = "GET /faturamento/relatorio"
FRETES = "GET /fretes/consulta"
PEDIDOS = "GET /pedidos/status"
PAGES = (LISTAR, EXPORTAR, EMBARQUES, FATURAMENTO, FRETES, PEDIDOS)

W_LOG = "POST /monitoramento/<id>/log"
W_EVENTO = "POST /monitoramento/<id>/evento"
W_COMENTARIO = "POST /monitoramento/<id>/comentario"
W_AGENDAMENTO = "POST /monitoramento/<id>/agendamento"
W_ENTREGAR = "POST /monitoramento/<id>/entregar"
W_FRETE = "POST /fretes"
W_PEDIDO = "POST /pedidos/<id>/status"
W_IMPORTAR = "POST /faturamento/importar"
WRITES = (W_LOG, W_EVENTO, W_COMENTARIO, W_AGENDAMENTO, W_ENTREGAR, W_FRETE, W_PEDIDO, W_IMPORTAR)
LOGIN = "POST /login"

# Page weights per role: sales reps live in the monitoring list and their faturamento;
# the back office (admins) spreads over embarques, fretes and pedidos. Export is rare and heavy.
PAGE_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "vendedor": {LISTAR: 50, EXPORTAR: 2, EMBARQUES: 5, FATURAMENTO: 25, FRETES: 5, PEDIDOS: 13},
    "admin": {LISTAR: 30, EXPORTAR: 3, EMBARQUES: 17, FATURAMENTO: 15, FRETES: 20, PEDIDOS: 15},
}
WRITE_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "vendedor": {W_LOG: 30, W_COMENTARIO: 35, W_AGENDAMENTO: 20, W_EVENTO: 10, W_ENTREGAR: 5},
    "admin": {
        W_LOG: 15,
        W_COMENTARIO: 15,
        W_AGENDAMENTO: 10,
        W_EVENTO: 10,
        W_ENTREGAR: 5,
        W_FRETE: 20,
        W_PEDIDO: 20,
        W_IMPORTAR: 5,
    },
}
LISTAR_STATUSES = (
    "pendente",
    "pendente",
    "atrasada",
    "atrasada",
    "entregue",
    "reagendar",
    "sem_agendamento",
    "com_comentarios",
    "no_prazo",
)
FRETE_STATUSES = ("PENDENTE", "EM_TRATATIVA", "APROVADO", "REJEITADO", "PAGO", "CANCELADO")
PEDIDO_STATUSES = ("ABERTO", "COTADO", "EMBARCADO", "FATURADO")
DATE_WINDOWS = (7, 15, 30, 60, 90)
IMPORT_BATCH = 20


class ZipfSampler(Generic[T]):
    """Draw from ``items`` with P(rank k) proportional to 1 / k**s (rank 1 = first item)."""

    def __init__(self, items: Sequence[T], s: float = 1.1) -> None:
        if not items:
            raise ValueError("ZipfSampler needs at least one item")
        if s <= 0:
            raise ValueError("the Zipf exponent s must be > 0")
        self.items = list(items)
        self.cumulative = list(
            itertools.accumulate(1.0 / (rank**s) for rank in range(1, len(items) + 1))
        )

    def sample(self, rng: random.Random) -> T:
        """One item."""
        point = rng.random() * self.cumulative[-1]
        return self.items[min(bisect.bisect_right(self.cumulative, point), len(self.items) - 1)]


class WeightedChoice(Generic[T]):
    """Draw keys of a weight mapping in proportion to their weights."""

    def __init__(self, weights: Mapping[T, float]) -> None:
        kept = [(key, float(w)) for key, w in weights.items() if w > 0]
        if not kept:
            raise ValueError("at least one weight must be > 0")
        self.keys = [key for key, _ in kept]
        self.cumulative = list(itertools.accumulate(w for _, w in kept))

    def sample(self, rng: random.Random) -> T:
        """One key."""
        point = rng.random() * self.cumulative[-1]
        return self.keys[min(bisect.bisect_right(self.cumulative, point), len(self.keys) - 1)]


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request to send; ``label`` groups it in the report."""

    label: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | list[dict[str, Any]] | None = None

    @property
    def is_write(self) -> bool:
        """True for the POSTs that change data."""
        return self.method != "GET"


class Workload:
    """Plans sessions and requests for virtual users from a catalog."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        write_ratio: float = 0.05,
        admin_share: float = 0.2,
        session_length: int = 25,
        zipf_s: float = 1.1,
    ) -> None:
        if not 0.0 <= write_ratio <= 1.0:
            raise ValueError(f"write_ratio must be within [0, 1], got {write_ratio}")
        if not catalog.accounts:
            raise ValueError("the catalog has no user accounts: generate the dataset first")
        self.catalog = catalog
        self.write_ratio = write_ratio
        self.session_length = max(1, session_length)
        self.today = catalog.today
        admins = [a for a in catalog.accounts if a.role == "admin"]
        sellers = [a for a in catalog.accounts if a.role != "admin" and a.vendedor]
        rank = {name: i for i, name in enumerate(catalog.vendedores)}
        # The most active vendedores (most rows) log in most often.
        sellers.sort(key=lambda a: (rank.get(a.vendedor or "", len(rank)), a.username))
        self.admin_share = admin_share if sellers and admins else (1.0 if admins else 0.0)
        self._admins = ZipfSampler(admins, zipf_s) if admins else None
        self._sellers = ZipfSampler(sellers, zipf_s) if sellers else None
        self._pages = {role: WeightedChoice(w) for role, w in PAGE_WEIGHTS.items()}
        self._writes = {role: WeightedChoice(w) for role, w in WRITE_WEIGHTS.items()}
        self._z: dict[str, ZipfSampler[Any]] = {}
        for key in ("vendedores", "clientes", "ufs", "transportadoras", "frete_transportadora_ids"):
            values = getattr(catalog, key)
            if values:
                self._z[key] = ZipfSampler(values, zipf_s)
        self._zipf_s = zipf_s
        self._nf_counter = itertools.count(1)

    # --- sessions -------------------------------------------------------------------------

    def pick_account(self, rng: random.Random) -> Account:
        """The account of a new session."""
        if self._admins is not None and (self._sellers is None or rng.random() < self.admin_share):
            return self._admins.sample(rng)
        assert self._sellers is not None
        return self._sellers.sample(rng)

    def session_requests(self, rng: random.Random) -> int:
        """How many requests the next session makes (geometric, mean ``session_length``)."""
        p = 1.0 / self.session_length
        count = 1
        while rng.random() > p and count < 20 * self.session_length:
            count += 1
        return count

    def login_body(self, account: Account) -> dict[str, str]:
        """JSON body of POST /login."""
        return {"username": account.username, "password": self.catalog.password}

    # --- requests -------------------------------------------------------------------------

    def next_request(self, rng: random.Random, account: Account) -> PlannedRequest:
        """The next request of a session of ``account``."""
        role = "admin" if account.role == "admin" else "vendedor"
        if rng.random() < self.write_ratio:
            planned = self._write(rng, account, self._writes[role].sample(rng))
            if planned is not None:
                return planned
        return self._page(rng, account, self._pages[role].sample(rng))

    def _pick(self, key: str, rng: random.Random) -> str | None:
        sampler = self._z.get(key)
        return None if sampler is None else str(sampler.sample(rng))

    def _client(self, rng: random.Random, account: Account) -> str | None:
        own = self.catalog.clientes_by_vendedor.get(account.vendedor or "")
        if account.role != "admin" and own:
            return str(ZipfSampler(own, self._zipf_s).sample(rng))
        return self._pick("clientes", rng)

    def _page_number(self, rng: random.Random) -> str:
        # Most people stay on page 1; a few page forward.
        page = 1
        while rng.random() < 0.25 and page < 10:
            page += 1
        return str(page)

    def _since(self, rng: random.Random) -> str:
        return (self.today - timedelta(days=rng.choice(DATE_WINDOWS))).isoformat()

    def _entrega_filters(
        self, rng: random.Random, account: Account, export: bool
    ) -> dict[str, str]:
        # The dataset's "today", so that "atrasada" means the same at every run.
        params: dict[str, str] = {"hoje": self.today.isoformat()}
        if account.role == "admin" and (export or rng.random() < 0.35):
            # Admins export per rep: an unfiltered export of the whole table is not a real use.
            vendedor = self._pick("vendedores", rng)
            if vendedor:
                params["vendedor"] = vendedor
        if rng.random() < 0.40:
            params["status"] = rng.choice(LISTAR_STATUSES)
        if rng.random() < 0.15:
            client = self._client(rng, account)
            if client:
                params["cliente"] = client
        if rng.random() < 0.10:
            uf = self._pick("ufs", rng)
            if uf:
                params["uf"] = uf
        if rng.random() < 0.10:
            carrier = self._pick("transportadoras", rng)
            if carrier:
                params["transportadora"] = carrier
        if rng.random() < 0.20 or export:
            params["data_embarque_de"] = self._since(rng)
            params["data_embarque_ate"] = self.today.isoformat()
        return params

    def _page(self, rng: random.Random, account: Account, label: str) -> PlannedRequest:
        path = label.split(" ", 1)[1]
        params: dict[str, str]
        if label == LISTAR:
            params = self._entrega_filters(rng, account, export=False)
            params["page"] = self._page_number(rng)
        elif label == EXPORTAR:
            params = self._entrega_filters(rng, account, export=True)
            params["formato"] = "xlsx" if rng.random() < 0.6 else "csv"
        elif label == FATURAMENTO:
            params = {
                "dias": str(rng.choice((7, 30, 30, 30, 60, 90))),
                "ate": self.today.isoformat(),
            }
            if account.role == "admin" and rng.random() < 0.3:
                vendedor = self._pick("vendedores", rng)
                if vendedor:
                    params["vendedor"] = vendedor
            if rng.random() < 0.1:
                client = self._client(rng, account)
                if client:
                    params["cliente"] = client
            if rng.random() < 0.3:
                params["page"] = self._page_number(rng)
        elif label == EMBARQUES:
            params = {
                "status": "ativo" if rng.random() < 0.85 else rng.choice(("draft", "cancelado"))
            }
            if rng.random() < 0.2:
                params["page"] = self._page_number(rng)
        elif label == FRETES:
            params = {"page": self._page_number(rng)}
            if rng.random() < 0.5:
                params["status"] = rng.choice(FRETE_STATUSES)
            if rng.random() < 0.3:
                carrier = self._pick("frete_transportadora_ids", rng)
                if carrier:
                    params["transportadora"] = carrier
            if rng.random() < 0.3:
                params["criado_de"] = self._since(rng)
                params["criado_ate"] = self.today.isoformat()
        elif label == PEDIDOS:
            params = {"ate": self.today.isoformat(), "page": self._page_number(rng)}
            if rng.random() < 0.3:
                params["dias"] = str(rng.choice((7, 15, 60, 90)))
            if rng.random() < 0.3:
                params["status"] = rng.choice(PEDIDO_STATUSES)
        else:
            params = {}
        return PlannedRequest(label=label, method="GET", path=path, params=params)

    def _entrega_id(self, rng: random.Random, account: Account) -> int | None:
        by_vendedor = self.catalog.open_entregas_by_vendedor
        vendedor = account.vendedor if account.role != "admin" else self._pick("vendedores", rng)
        ids = by_vendedor.get(vendedor or "")
        # Only an admin may write to any vendedor's entrega: a vendedor with no open entrega
        # of their own makes no write (another one's would be a 403).
        if not ids and by_vendedor and account.role == "admin":
            ids = by_vendedor[rng.choice(sorted(by_vendedor))]
        return rng.choice(ids) if ids else None

    def _write(self, rng: random.Random, account: Account, label: str) -> PlannedRequest | None:
        """A write request, or None when the catalog has nothing to write to."""
        who = account.username
        cat = self.catalog
        if label in (W_LOG, W_EVENTO, W_COMENTARIO, W_AGENDAMENTO, W_ENTREGAR):
            entrega = self._entrega_id(rng, account)
            if entrega is None:
                return None
            action = label.rsplit("/", 1)[1]
            body: dict[str, Any] = {
                "log": {"descricao": f"Contato com o cliente ({who})", "tipo": "info"},
                "evento": {
                    "tipo_evento": rng.choice(("chegada", "saida", "ocorrencia")),
                    "motorista": "Motorista Bench",
                },
                "comentario": {"texto": f"Cliente pediu retorno ({who})"},
                "agendamento": {
                    "data_agendada": (self.today + timedelta(days=rng.randint(1, 10))).isoformat(),
                    "protocolo": f"PB{rng.randint(100000, 999999)}",
                },
                "entregar": {},
            }[action]
            return PlannedRequest(label, "POST", f"/monitoramento/{entrega}/{action}", json=body)
        if (
            label == W_FRETE
            and cat.embarque_ids
            and cat.transportadora_ids
            and cat.faturamento_clientes
        ):
            cnpj, nome = rng.choice(cat.faturamento_clientes)
            body = {
                "embarque_id": rng.choice(cat.embarque_ids),
                "transportadora_id": rng.choice(cat.transportadora_ids),
                "cnpj_cliente": cnpj,
                "nome_cliente": nome,
                "numeros_nfs": ",".join(
                    str(rng.randint(100000, 999999)) for _ in range(rng.randint(1, 4))
                ),
                "valor_cotado": f"{rng.uniform(150, 9000):.2f}",
            }
            return PlannedRequest(label, "POST", "/fretes", json=body)
        if label == W_PEDIDO and cat.pedido_ids:
            pedido = (
                rng.choice(cat.pedido_ids[:200])
                if rng.random() < 0.8
                else rng.choice(cat.pedido_ids)
            )
            return PlannedRequest(
                label,
                "POST",
                f"/pedidos/{pedido}/status",
                json={"status": rng.choice(PEDIDO_STATUSES)},
            )
        if label == W_IMPORTAR and cat.faturamento_clientes:
            return PlannedRequest(
                label, "POST", "/faturamento/importar", json=self._import_rows(rng)
            )
        return None

    def _import_rows(self, rng: random.Random) -> list[dict[str, Any]]:
        rows = []
        for _ in range(IMPORT_BATCH):
            cnpj, nome = rng.choice(self.catalog.faturamento_clientes)
            # Unique per process and run: a random tag plus a counter.
            number = f"BN{rng.randint(0, 99999):05d}{next(self._nf_counter):07d}"
            rows.append(
                {
                    "numero_nf": number,
                    "data_fatura": self.today.isoformat(),
                    "cnpj_cliente": cnpj,
                    "nome_cliente": nome,
                    "valor_total": f"{rng.uniform(100, 50000):.2f}",
                    "vendedor": self._pick("vendedores", rng),
                    "estado": self._pick("ufs", rng),
                }
            )
        return rows
