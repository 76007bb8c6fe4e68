"""Row builders for the movement tables, generated one embarque at a time.

An embarque "group" holds the embarque, its items, its fretes, the slice of faturamento rows
dated up to it, the entregas shipped in it (each from one of those faturamento rows, with
the same NF, client, vendedor and value) and the entregas' children. Groups are produced in
id order from one random stream, so the data depends only on the seed and the scale, never
on how the loader batches it; memory holds one group at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple

from fretes.datagen.catalog import Catalog, Client, Row, pedido_number
from fretes.datagen.children import ChildIds, EntregaFacts, add_children
from fretes.datagen.distributions import (
    FastRandom,
    Timeline,
    Weighted,
    at_time,
    grams,
    lognormal_cents,
    money,
    stream,
)
from fretes.datagen.scales import Scale
from fretes.datagen.vocab import (
    LEAD_DAYS,
    REGIAO,
)

# fmt: off
COLUMNS: dict[str, tuple[str, ...]] = {
    "embarques": ("id", "numero", "data_embarque", "status", "transportadora_id",
                  "valor_total", "peso_total", "criado_em"),
    "embarque_itens": ("id", "embarque_id", "nota_fiscal", "cliente", "cnpj_cliente", "pedido",
                       "peso", "valor", "uf_destino", "data_agenda", "status"),
    "fretes": ("id", "embarque_id", "transportadora_id", "cnpj_cliente", "nome_cliente",
               "numeros_nfs", "valor_cotado", "valor_cte", "valor_pago", "numero_cte", "status",
               "criado_em"),
    "relatorio_faturamento_importado": ("id", "numero_nf", "data_fatura", "cnpj_cliente",
                                        "nome_cliente", "valor_total", "vendedor", "municipio",
                                        "estado", "ativo", "criado_em"),
    "entregas_monitoradas": ("id", "numero_nf", "cliente", "cnpj_cliente", "transportadora",
                             "municipio", "uf", "vendedor", "valor_nf", "data_faturamento",
                             "data_embarque", "data_entrega_prevista", "data_agenda", "entregue",
                             "status_finalizacao", "reagendar", "pendencia_financeira",
                             "criado_em"),
    "agendamentos_entrega": ("id", "entrega_id", "data_agendada", "protocolo", "status", "autor",
                             "criado_em"),
    "logs_entrega": ("id", "entrega_id", "autor", "data_hora", "descricao", "tipo"),
    "eventos_entrega": ("id", "entrega_id", "tipo_evento", "motorista", "criado_em"),
    "custos_extra_entrega": ("id", "entrega_id", "tipo", "valor", "motivo"),
    "comentarios_nf": ("id", "entrega_id", "texto", "autor", "criado_em", "resposta_a_id"),
}
# fmt: on
# Parents before children (foreign keys are checked while loading).
GROUP_TABLES = tuple(COLUMNS)
NF_BASE = 100_000
EMBARQUE_BASE = 10_000

_FINAL = Weighted(
    ("open", "Devolvida", "Troca de NF", "Sinistro", "Cancelada", "Entregue"),
    (2.5, 1.0, 0.5, 0.2, 0.5, 95.3),
)


class _Fatura(NamedTuple):
    numero_nf: str
    client: Client
    day: date
    cents: int


def movement_groups(
    catalog: Catalog, scale: Scale, seed: int, timeline: Timeline
) -> Iterator[dict[str, list[Row]]]:
    """Yield one dict (table -> rows, in ``COLUMNS`` order) per embarque, in id order."""
    rng = stream(seed, "movement")
    ids = ChildIds()
    n_emb, n_ent, n_fat, n_fr = scale.embarques, scale.entregas, scale.faturamento, scale.fretes
    for j in range(n_emb):
        e_lo, e_hi = j * n_ent // n_emb, (j + 1) * n_ent // n_emb
        group: dict[str, list[Row]] = {t: [] for t in GROUP_TABLES}
        faturas = [
            _fatura(rng, catalog, timeline, k, n_fat)
            for k in range(e_lo * n_fat // n_ent, e_hi * n_fat // n_ent)
        ]
        group["relatorio_faturamento_importado"] = [_fatura_row(rng, k, f) for k, f in faturas]
        by_index = dict(faturas)

        carrier = catalog.carriers.pick(rng)
        # Never before its faturamento rows: the timeline is monotone in the position.
        day = timeline.day_at((j + 1) / n_emb) + timedelta(days=rng.randint(0, 2))
        if day > timeline.reference - timedelta(days=4) and rng.random() < 0.6:
            status = "draft"
        else:
            status = "cancelado" if rng.random() < 0.015 else "ativo"
            day = min(day, timeline.reference)
        created = timeline.clamp(at_time(day - timedelta(days=rng.randint(0, 1)), rng))

        valor_total = peso_total = 0
        items: list[Row] = []
        cents: list[int] = []
        for i in range(e_lo, e_hi):
            k = i * n_fat // n_ent + rng.below(max(1, n_fat // n_ent))
            fat = by_index[min(k, (i + 1) * n_fat // n_ent - 1)]
            entrega = _entrega(rng, catalog, timeline, i, fat, carrier.razao_social, day, status)
            group["entregas_monitoradas"].append(entrega.row)
            add_children(rng, catalog, timeline, ids, group, entrega)
            cancelled = status == "cancelado" or entrega.final == "Cancelada"
            peso = fat.cents * 10 // rng.randint(10, 40)
            if not cancelled:
                valor_total += fat.cents
                peso_total += peso
            agenda = entrega.agenda
            cents.append(fat.cents)
            items.append(
                (
                    i + 1,
                    j + 1,
                    fat.numero_nf,
                    fat.client.nome,
                    fat.client.cnpj,
                    pedido_number(i * scale.pedidos // n_ent),
                    grams(peso),
                    money(fat.cents),
                    fat.client.uf,
                    agenda.strftime("%d/%m/%Y") if agenda else None,
                    "cancelado" if cancelled else "ativo",
                )
            )
        group["embarques"].append(
            (
                j + 1,
                EMBARQUE_BASE + j + 1,
                day,
                status,
                carrier.id,
                money(valor_total),
                grams(peso_total),
                created,
            )
        )
        group["embarque_itens"] = items
        frete_ids = range(j * n_fr // n_emb, (j + 1) * n_fr // n_emb)
        members = list(zip(items, cents, strict=True))
        for m, q in enumerate(frete_ids):
            group["fretes"].append(
                _frete(
                    rng,
                    timeline,
                    q,
                    j,
                    carrier.id,
                    status,
                    day,
                    created,
                    members[m :: len(frete_ids)] or members,
                )
            )
        yield group


def _fatura(
    rng: FastRandom, catalog: Catalog, timeline: Timeline, k: int, n_fat: int
) -> tuple[int, _Fatura]:
    client = catalog.clients.pick(rng)
    return k, _Fatura(
        str(NF_BASE + k), client, timeline.day_at(k / n_fat), lognormal_cents(rng, 2_500.0, 1.0)
    )


def _fatura_row(rng: FastRandom, k: int, f: _Fatura) -> Row:
    c = f.client
    return (
        k + 1,
        f.numero_nf,
        f.day,
        c.cnpj,
        c.nome,
        money(f.cents),
        c.vendedor,
        c.municipio,
        c.uf,
        rng.random() >= 0.015,
        at_time(f.day, rng, 18, 23),
    )


def _entrega(
    rng: FastRandom,
    catalog: Catalog,
    timeline: Timeline,
    i: int,
    fat: _Fatura,
    carrier: str,
    ship_day: date,
    embarque_status: str,
) -> EntregaFacts:
    c = fat.client
    if rng.random() < 0.12:  # free text, typed by people: case and suffix vary
        carrier = carrier.upper() if rng.random() < 0.5 else carrier.removesuffix(" Ltda")
    low, high = LEAD_DAYS["SP" if c.uf == "SP" else REGIAO[c.uf]]
    prevista = ship_day + timedelta(days=rng.randint(low, high))
    agenda = prevista + timedelta(days=rng.randint(0, 2)) if c.agenda else None
    final: str | None = None
    shipped: date | None = ship_day
    if embarque_status == "cancelado":
        final = "Cancelada"
    elif embarque_status == "draft":
        shipped = None
    else:
        u = rng.random()
        delay = (
            rng.randint(-1, 0)
            if u < 0.75
            else rng.randint(1, 3)
            if u < 0.95
            else rng.randint(4, 10)
        )
        if prevista + timedelta(days=delay) <= timeline.reference:
            outcome = _FINAL.pick(rng)
            final = None if outcome == "open" else outcome  # "open": stuck, hence late
    open_ = final is None
    late = open_ and prevista < timeline.reference
    reagendar = open_ and rng.random() < (0.35 if late else 0.10)
    pendencia = rng.random() < (0.08 if final == "Devolvida" else 0.03)
    criado = at_time(fat.day, rng, 8, 22)
    row = (
        i + 1,
        fat.numero_nf,
        c.nome,
        c.cnpj,
        carrier,
        c.municipio,
        c.uf,
        c.vendedor,
        money(fat.cents),
        fat.day,
        shipped,
        prevista,
        agenda,
        final == "Entregue",
        final,
        reagendar,
        pendencia,
        criado,
    )
    return EntregaFacts(row, i + 1, c.vendedor, shipped, prevista, agenda, final, reagendar, criado)


def _frete_status(rng: FastRandom, embarque_status: str, age_days: int) -> str:
    if embarque_status == "cancelado":
        return "CANCELADO"
    if embarque_status == "draft":
        return "PENDENTE"
    u = rng.random()
    if age_days < 7:
        return "PENDENTE" if u < 0.5 else "EM_TRATATIVA" if u < 0.7 else "APROVADO"
    if age_days < 30:
        return (
            "APROVADO"
            if u < 0.5
            else "PAGO"
            if u < 0.9
            else "EM_TRATATIVA"
            if u < 0.95
            else "REJEITADO"
        )
    return (
        "PAGO"
        if u < 0.9
        else "APROVADO"
        if u < 0.94
        else "REJEITADO"
        if u < 0.97
        else "EM_TRATATIVA"
    )


def _frete(
    rng: FastRandom,
    timeline: Timeline,
    q: int,
    j: int,
    carrier_id: int,
    embarque_status: str,
    day: date,
    embarque_created: datetime,
    members: list[tuple[Row, int]],
) -> Row:
    """One frete for ``members`` (item row, item value in cents) of embarque ``j``."""
    status = _frete_status(rng, embarque_status, (timeline.reference - day).days)
    items = [item for item, _ in members]
    cotado = max(5_000, sum(c for _, c in members) * rng.randint(30, 80) // 1000)
    cte = (
        cotado * rng.randint(95, 110) // 100
        if status in ("APROVADO", "PAGO", "REJEITADO")
        else None
    )
    first = items[0]
    return (
        q + 1,
        j + 1,
        carrier_id,
        first[4],
        first[3],
        ",".join(str(item[2]) for item in items),
        money(cotado),
        money(cte) if cte is not None else None,
        money(cte) if status == "PAGO" and cte is not None else None,
        str(rng.randint(100_000, 999_999)) if cte is not None else None,
        status,
        timeline.clamp(embarque_created + timedelta(hours=rng.randint(1, 48))),
    )
