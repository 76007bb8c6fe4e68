"""Dataset sizes (``SCALES``) and the fixed date every generated row is relative to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from turbina import TurbinaError

# All dates end here, whatever day the generator runs: the data stays deterministic and the
# benchmark workload computes its "last 30 days" windows relative to this date.
REFERENCE_DATE = date(2026, 11, 27)

# Exact row counts of the tables the generator sizes directly. Each entrega is one
# embarque item (so embarque_itens == entregas_monitoradas) and gets 5 to 10 child rows
# spread over agendamentos_entrega, logs_entrega, eventos_entrega, custos_extra_entrega
# and comentarios_nf (those counts are drawn, hence not listed here).
SCALES: dict[str, dict[str, int]] = {
    "tiny": {
        "users": 10,
        "transportadoras": 8,
        "embarques": 60,
        "embarque_itens": 300,
        "fretes": 60,
        "entregas_monitoradas": 300,
        "relatorio_faturamento_importado": 1_500,
        "pedidos": 200,
    },
    "real": {
        "users": 63,
        "transportadoras": 25,
        "embarques": 3_000,
        "embarque_itens": 20_000,
        "fretes": 3_000,
        "entregas_monitoradas": 20_000,
        "relatorio_faturamento_importado": 100_000,
        "pedidos": 10_000,
    },
    "large": {
        "users": 305,
        "transportadoras": 100,
        "embarques": 60_000,
        "embarque_itens": 400_000,
        "fretes": 60_000,
        "entregas_monitoradas": 400_000,
        "relatorio_faturamento_importado": 2_000_000,
        "pedidos": 200_000,
    },
}

# Population sizes behind the rows: admins (the rest of the users are vendedores) and clients.
_ADMINS = {"tiny": 2, "real": 3, "large": 5}
_CLIENTS = {"tiny": 40, "real": 1_500, "large": 20_000}

CHILDREN_PER_ENTREGA = (5, 10)


@dataclass(frozen=True)
class Scale:
    """Resolved sizes of one scale (see ``SCALES``)."""

    name: str
    admins: int
    vendedores: int
    clients: int
    transportadoras: int
    embarques: int
    entregas: int
    faturamento: int
    fretes: int
    pedidos: int


def resolve_scale(name: str) -> Scale:
    """The sizes of scale ``name``; unknown names raise a ``TurbinaError`` listing the choices."""
    counts = SCALES.get(name)
    if counts is None:
        raise TurbinaError(f"unknown scale {name!r}", f"use one of: {', '.join(SCALES)}")
    admins = _ADMINS[name]
    scale = Scale(
        name=name,
        admins=admins,
        vendedores=counts["users"] - admins,
        clients=_CLIENTS[name],
        transportadoras=counts["transportadoras"],
        embarques=counts["embarques"],
        entregas=counts["entregas_monitoradas"],
        faturamento=counts["relatorio_faturamento_importado"],
        fretes=counts["fretes"],
        pedidos=counts["pedidos"],
    )
    # Each entrega comes from its own faturamento row and belongs to one embarque.
    assert scale.faturamento >= scale.entregas >= scale.embarques > 0
    assert counts["embarque_itens"] == scale.entregas
    return scale
