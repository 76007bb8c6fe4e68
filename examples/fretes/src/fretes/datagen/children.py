"""The children of one entrega: agendamentos, logs, eventos, custos extra and comentarios."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from fretes.datagen.catalog import Catalog, Row
from fretes.datagen.distributions import FastRandom, Timeline, Weighted, lognormal_cents, money
from fretes.datagen.scales import CHILDREN_PER_ENTREGA
from fretes.datagen.vocab import COMMENT_TEXTS, CUSTO_TIPOS, LOG_TEXTS, REPLY_TEXTS

CHILD_TABLES = (
    "agendamentos_entrega",
    "logs_entrega",
    "eventos_entrega",
    "custos_extra_entrega",
    "comentarios_nf",
)
_COMMENTS = Weighted((0, 1, 2, 3), (35, 30, 20, 15))
_EVENT_FLOW = ("saida_cd", "em_rota", "chegada_cliente")


@dataclass(slots=True)
class EntregaFacts:
    """What the children and the embarque item need to know about one entrega."""

    row: Row
    id: int
    vendedor: str
    shipped: date | None
    prevista: date
    agenda: date | None
    final: str | None
    reagendar: bool
    criado: datetime

    @property
    def entregue(self) -> bool:
        """True when the entrega was delivered."""
        return self.final == "Entregue"


@dataclass
class ChildIds:
    """Next primary key per child table (children ids run across groups)."""

    next: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHILD_TABLES, 1))

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def add_children(
    rng: FastRandom,
    catalog: Catalog,
    timeline: Timeline,
    ids: ChildIds,
    group: dict[str, list[Row]],
    entrega: EntregaFacts,
) -> None:
    """5 to 10 rows over the five child tables, dated between creation and delivery."""
    e = entrega
    eid, shipped, prevista, agenda, final, reagendar, criado = (
        e.id,
        e.shipped,
        e.prevista,
        e.agenda,
        e.final,
        e.reagendar,
        e.criado,
    )
    entregue = e.entregue
    left = rng.randint(*CHILDREN_PER_ENTREGA) - 1  # one log is always there
    n_ag = min(left, (1 if agenda or rng.random() < 0.1 else 0) + (1 if reagendar else 0))
    left -= n_ag
    n_custo = min(left, 1 if rng.random() < 0.15 else 0)
    left -= n_custo
    n_ev = min(left, rng.randint(1, 3) if shipped else 0)
    left -= n_ev
    n_com = min(left, _COMMENTS.pick(rng))
    n_log = 1 + left - n_com

    # Open entregas are still followed up today; closed ones stop around their delivery.
    until = (
        timeline.reference
        if final is None
        else min(prevista + timedelta(days=1), timeline.reference)
    )
    end = timeline.clamp(datetime(until.year, until.month, until.day, 20))
    span = max(0, int((end - criado).total_seconds()))

    def moments(n: int) -> list[datetime]:
        return sorted(criado + timedelta(seconds=rng.below(span + 1)) for _ in range(n))

    people = (e.vendedor, rng.choice(catalog.operators))
    first_day = agenda or prevista
    for n, when in enumerate(moments(n_ag)):
        rescheduled = n_ag == 2 and n == 0
        day = first_day if n == 0 else first_day + timedelta(days=rng.randint(2, 5))
        if rescheduled:
            ag_status = "cancelado"
        elif entregue or day <= timeline.reference:
            ag_status = "confirmado"
        else:
            ag_status = "aguardando"
        protocolo = f"AG{rng.randint(10**7, 10**8 - 1)}" if rng.random() < 0.8 else None
        group["agendamentos_entrega"].append(
            (
                ids.take("agendamentos_entrega"),
                eid,
                day,
                protocolo,
                ag_status,
                rng.choice(people),
                when,
            )
        )
    for n, when in enumerate(moments(n_log)):
        tipo, texto = LOG_TEXTS[0] if n == 0 else rng.choice(LOG_TEXTS[1:])
        group["logs_entrega"].append(
            (
                ids.take("logs_entrega"),
                eid,
                rng.choice(people),
                criado if n == 0 else when,
                texto,
                tipo,
            )
        )
    motorista = rng.choice(catalog.motoristas)
    for n, when in enumerate(moments(n_ev)):
        tipo_evento = _EVENT_FLOW[min(n, len(_EVENT_FLOW) - 1)]
        if entregue and n == n_ev - 1:
            tipo_evento = "entrega"
        elif reagendar and n == n_ev - 1:
            tipo_evento = "tentativa_frustrada"
        group["eventos_entrega"].append(
            (ids.take("eventos_entrega"), eid, tipo_evento, motorista, when)
        )
    for _ in range(n_custo):
        tipo, motivo = rng.choice(CUSTO_TIPOS)
        group["custos_extra_entrega"].append(
            (
                ids.take("custos_extra_entrega"),
                eid,
                tipo,
                money(lognormal_cents(rng, 180.0, 0.7)),
                motivo,
            )
        )
    thread: list[int] = []
    for when in moments(n_com):
        cid = ids.take("comentarios_nf")
        reply_to = rng.choice(thread) if thread and rng.random() < 0.4 else None
        texto = rng.choice(REPLY_TEXTS) if reply_to else rng.choice(COMMENT_TEXTS)
        group["comentarios_nf"].append((cid, eid, texto, rng.choice(people), when, reply_to))
        thread.append(cid)
