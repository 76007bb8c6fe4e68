"""The populations the rows draw from: vendedores, clients, carriers, people; plus the users,
transportadoras and pedidos rows that come straight from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from fretes.datagen.distributions import (
    Timeline,
    Weighted,
    Zipf,
    at_time,
    grams,
    lognormal_cents,
    money,
    stream,
)
from fretes.datagen.scales import Scale
from fretes.datagen.vocab import (
    MUNICIPIOS,
    REGIAO,
    UF_WEIGHTS,
    carrier_name,
    cnpj,
    company_name,
    person_name,
    unique_names,
    username_for,
)

Row = tuple[object, ...]


@dataclass(frozen=True)
class Client:
    """A customer: every faturamento row, entrega and pedido of it carries these values."""

    nome: str
    cnpj: str
    municipio: str
    uf: str
    sub_rota: str
    vendedor: str
    agenda: bool  # requires a delivery appointment (data_agenda / agendamentos)


@dataclass(frozen=True)
class Carrier:
    """A transportadora; ``id`` is its primary key."""

    id: int
    cnpj: str
    razao_social: str
    cidade: str
    uf: str
    ativo: bool


@dataclass(frozen=True)
class Catalog:
    """Everything the row builders pick from, with its popularity (Zipf) built in."""

    vendedores: list[str]
    clients: Zipf[Client]
    carriers: Zipf[Carrier]
    operators: list[str]
    motoristas: list[str]


def build_catalog(scale: Scale, seed: int) -> Catalog:
    """Draw the populations of ``scale`` from the seed's ``catalog`` stream."""
    rng = stream(seed, "catalog")
    vendedores = unique_names(rng, scale.vendedores, person_name)
    # Clients per vendedor are Zipf too: a few reps carry most of the big accounts.
    vendedor_of = Zipf(vendedores, s=0.8)
    uf_of = Weighted(list(UF_WEIGHTS), list(UF_WEIGHTS.values()))
    municipio_of = {uf: Zipf(list(names), s=1.0) for uf, names in MUNICIPIOS.items()}
    roots = rng.sample(range(1_000_000, 99_999_999), scale.clients + scale.transportadoras)

    clients: list[Client] = []
    for n, nome in enumerate(unique_names(rng, scale.clients, company_name)):
        uf = uf_of.pick(rng)
        municipio = municipio_of[uf].pick(rng)
        clients.append(
            Client(
                nome=nome,
                cnpj=cnpj(roots[n], 1 if rng.random() < 0.85 else rng.randint(2, 40)),
                municipio=municipio,
                uf=uf,
                sub_rota=f"{uf}-{MUNICIPIOS[uf].index(municipio) + 1:02d}",
                vendedor=vendedor_of.pick(rng),
                agenda=rng.random() < 0.3,
            )
        )

    carriers: list[Carrier] = []
    carrier_names = unique_names(rng, scale.transportadoras, carrier_name)
    for n, razao in enumerate(carrier_names):
        uf = "SP" if rng.random() < 0.6 else uf_of.pick(rng)
        carriers.append(
            Carrier(
                id=n + 1,
                cnpj=cnpj(roots[scale.clients + n], 1),
                razao_social=razao,
                cidade=municipio_of[uf].pick(rng),
                uf=uf,
                # Deactivated carriers sit in the unpopular tail: they show up in old embarques.
                ativo=n < max(1, int(scale.transportadoras * 0.9)),
            )
        )

    return Catalog(
        vendedores=vendedores,
        clients=Zipf(clients, s=0.9),
        carriers=Zipf(carriers, s=1.0),
        operators=unique_names(rng, 12, person_name),
        motoristas=[person_name(rng) for _ in range(80)],
    )


USERS_COLUMNS = (
    "id",
    "username",
    "nome",
    "password_hash",
    "role",
    "vendedor",
    "ativo",
    "criado_em",
)


def user_rows(
    catalog: Catalog, scale: Scale, seed: int, timeline: Timeline, password_hash: str
) -> Iterator[Row]:
    """Admins ``admin``, ``admin2``, ... then one ``vendedor`` user per vendedor name.

    Every user shares ``password_hash`` (the demo password hashed once by the caller).
    """
    rng = stream(seed, "users")
    start = timeline.reference - timedelta(days=timeline.days)
    for n in range(scale.admins):
        suffix = "" if n == 0 else str(n + 1)
        yield (
            n + 1,
            f"admin{suffix}",
            f"Administrador {suffix}".strip(),
            password_hash,
            "admin",
            None,
            True,
            at_time(start, rng),
        )
    taken: set[str] = set()
    for n, nome in enumerate(catalog.vendedores):
        username, k = username_for(nome), 2
        while username in taken:
            username, k = f"{username_for(nome)}{k}", k + 1
        taken.add(username)
        joined = start + timedelta(days=rng.below(timeline.days))
        yield (
            scale.admins + n + 1,
            username,
            nome,
            password_hash,
            "vendedor",
            nome,
            True,
            at_time(joined, rng),
        )


TRANSPORTADORAS_COLUMNS = ("id", "cnpj", "razao_social", "cidade", "uf", "ativo")


def transportadora_rows(catalog: Catalog) -> Iterator[Row]:
    """One row per carrier of the catalog."""
    for c in catalog.carriers.items:
        yield (c.id, c.cnpj, c.razao_social, c.cidade, c.uf, c.ativo)


PEDIDOS_COLUMNS = (
    "id",
    "num_pedido",
    "cnpj_cpf",
    "raz_social_red",
    "nome_cidade",
    "cod_uf",
    "rota",
    "sub_rota",
    "expedicao",
    "status",
    "valor_saldo_total",
    "peso_total",
    "criado_em",
)
PEDIDO_BASE = 2_000_000


def pedido_number(index: int) -> str:
    """The ``num_pedido`` of the pedido at 0-based ``index``."""
    return f"VCD{PEDIDO_BASE + index}"


def _pedido_status(rng_value: float, days_to_expedicao: int) -> str:
    if days_to_expedicao >= 0:  # scheduled: still being quoted
        return "ABERTO" if rng_value < 0.6 else "COTADO"
    if days_to_expedicao >= -7:
        return "COTADO" if rng_value < 0.2 else "EMBARCADO" if rng_value < 0.7 else "FATURADO"
    if rng_value < 0.93:
        return "FATURADO"
    return "EMBARCADO" if rng_value < 0.97 else "COTADO" if rng_value < 0.99 else "ABERTO"


def pedido_rows(catalog: Catalog, scale: Scale, seed: int, timeline: Timeline) -> Iterator[Row]:
    """Pedidos in id order = expedicao order; the newest are scheduled up to 6 days ahead."""
    rng = stream(seed, "pedidos")
    for p in range(scale.pedidos):
        client = catalog.clients.pick(rng)
        expedicao = timeline.day_at((p + 1) / scale.pedidos) + timedelta(days=rng.randint(0, 6))
        status = _pedido_status(rng.random(), (expedicao - timeline.reference).days)
        if client.uf == "SP":
            rota = "SP-CAPITAL" if client.municipio == MUNICIPIOS["SP"][0] else "SP-INTERIOR"
        else:
            rota = REGIAO[client.uf]
        valor = lognormal_cents(rng, 4_000.0, 0.9)
        criado = timeline.clamp(at_time(expedicao - timedelta(days=rng.randint(1, 10)), rng))
        yield (
            p + 1,
            pedido_number(p),
            client.cnpj,
            client.nome.upper()[:40],
            client.municipio,
            client.uf,
            rota,
            client.sub_rota,
            expedicao,
            status,
            money(valor),
            grams(valor * 10 // rng.randint(10, 40)),
            criado,
        )
