"""The workload plans realistic, valid requests: mix, Zipf skew, roles, parameters."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from bench.catalog import Account, Catalog
from bench.workload import (
    EMBARQUES,
    EXPORTAR,
    FATURAMENTO,
    FRETES,
    LISTAR,
    PAGES,
    PEDIDOS,
    W_FRETE,
    W_IMPORTAR,
    W_PEDIDO,
    WRITES,
    PlannedRequest,
    WeightedChoice,
    Workload,
    ZipfSampler,
)
from werkzeug.datastructures import MultiDict

from fretes.domain import embarques, faturamento, monitoramento, pedidos
from fretes.domain import fretes as fretes_page
from fretes.params import parse_choice

VENDEDORES = [f"Vendedor {i:02d}" for i in range(1, 21)]


def make_catalog() -> Catalog:
    accounts = [Account("admin", "admin"), Account("admin2", "admin")]
    accounts += [Account(f"v{i:02d}", "vendedor", name) for i, name in enumerate(VENDEDORES, 1)]
    return Catalog(
        reference_date="2026-11-27",
        password="secret",
        accounts=accounts,
        vendedores=VENDEDORES,
        clientes=[f"Cliente {i}" for i in range(50)],
        clientes_by_vendedor={v: [f"Cliente {i}" for i in range(5)] for v in VENDEDORES},
        ufs=["SP", "MG", "RJ", "PR"],
        transportadoras=["Rapido Sul", "Jaguar"],
        transportadora_ids=[1, 2, 3],
        frete_transportadora_ids=[2, 1, 3],
        open_entregas_by_vendedor={
            v: [i * 100 + k for k in range(5)] for i, v in enumerate(VENDEDORES)
        },
        embarque_ids=[10, 11],
        pedido_ids=[5, 6, 7],
        faturamento_clientes=[["12.345.678/0001-90", "Cliente 0"]],
    )


def test_zipf_sampler_prefers_the_first_ranks_and_is_deterministic() -> None:
    sampler = ZipfSampler(list(range(1, 101)), s=1.1)
    draws = [sampler.sample(random.Random(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(1)
    counts = Counter(sampler.sample(rng) for _ in range(20_000))
    assert counts[1] > counts[2] > counts[10] > counts[100]
    # P(1)/P(2) = 2**1.1 ~ 2.14 in theory.
    assert 1.8 < counts[1] / counts[2] < 2.5
    assert set(counts) <= set(range(1, 101))


def test_samplers_reject_empty_input() -> None:
    with pytest.raises(ValueError):
        ZipfSampler([])
    with pytest.raises(ValueError):
        WeightedChoice({"a": 0})


def test_weighted_choice_follows_the_weights() -> None:
    choice = WeightedChoice({"a": 3, "b": 1, "never": 0})
    rng = random.Random(3)
    counts = Counter(choice.sample(rng) for _ in range(8_000))
    assert "never" not in counts
    assert 2.5 < counts["a"] / counts["b"] < 3.5


def plan(workload: Workload, n: int, seed: int = 5) -> list[tuple[Account, PlannedRequest]]:
    rng = random.Random(seed)
    out = []
    account = workload.pick_account(rng)
    left = workload.session_requests(rng)
    for _ in range(n):
        if left <= 0:
            account = workload.pick_account(rng)
            left = workload.session_requests(rng)
        out.append((account, workload.next_request(rng, account)))
        left -= 1
    return out


def test_write_ratio_and_page_mix() -> None:
    planned = plan(Workload(make_catalog(), write_ratio=0.05), 10_000)
    labels = Counter(req.label for _, req in planned)
    writes = sum(labels[w] for w in WRITES)
    assert 0.035 < writes / len(planned) < 0.065
    assert set(labels) <= set(PAGES) | set(WRITES)
    assert set(PAGES) <= set(labels)
    assert labels[LISTAR] == max(labels[p] for p in PAGES)
    assert labels[EXPORTAR] < labels[FRETES]
    none = Counter(req.label for _, req in plan(Workload(make_catalog(), write_ratio=0.0), 2_000))
    assert not set(none) & set(WRITES)


def test_sessions_are_mostly_vendedores_and_follow_activity() -> None:
    workload = Workload(make_catalog(), admin_share=0.2)
    rng = random.Random(11)
    accounts = Counter(workload.pick_account(rng) for _ in range(5_000))
    admins = sum(n for a, n in accounts.items() if a.role == "admin")
    assert 0.15 < admins / 5_000 < 0.25
    top = Account("v01", "vendedor", VENDEDORES[0])
    last = Account("v20", "vendedor", VENDEDORES[-1])
    assert accounts[top] > 3 * accounts[last]
    lengths = [workload.session_requests(rng) for _ in range(2_000)]
    assert 20 < sum(lengths) / len(lengths) < 30


def test_vendedores_never_ask_for_another_vendedor_nor_write_outside_their_rows() -> None:
    catalog = make_catalog()
    for account, req in plan(Workload(catalog, write_ratio=0.3), 5_000):
        if account.role == "admin":
            continue
        assert "vendedor" not in req.params
        assert req.label not in (W_FRETE, W_PEDIDO, W_IMPORTAR)
        if req.path.startswith("/monitoramento/") and req.method == "POST":
            entrega = int(req.path.split("/")[2])
            assert entrega in catalog.open_entregas_by_vendedor[account.vendedor or ""]


def test_planned_parameters_pass_the_pages_own_validation() -> None:
    """Every GET the workload plans is accepted by the page's parser (no accidental 400s)."""
    for _, req in plan(Workload(make_catalog()), 3_000):
        args = MultiDict(req.params)
        label = req.label
        if label in (LISTAR, EXPORTAR):
            monitoramento.parse_filtros(args)
        if label == EXPORTAR:
            assert parse_choice(args, "formato", ("xlsx", "csv"))
        elif label == FATURAMENTO:
            faturamento.parse_filtros(args)
        elif label == FRETES:
            fretes_page.parse_filtros(args)
        elif label == PEDIDOS:
            pedidos.parse_filtros(args)
        elif label == EMBARQUES:
            assert args.get("status")
            embarques.parse_filtros(args)


def test_write_bodies_are_complete() -> None:
    seen = set()
    for _, req in plan(Workload(make_catalog(), write_ratio=1.0, admin_share=1.0), 600):
        if not req.is_write:
            continue
        seen.add(req.label)
        if req.label == W_IMPORTAR:
            rows = req.json
            assert isinstance(rows, list) and rows
            numbers = [row["numero_nf"] for row in rows]
            assert len(set(numbers)) == len(numbers) and all(len(n) <= 20 for n in numbers)
        else:
            assert isinstance(req.json, dict)
    assert seen == set(WRITES)


def test_catalog_round_trips_through_json() -> None:
    catalog = make_catalog()
    again = Catalog.from_json(catalog.to_json())
    assert again == catalog
    assert again.accounts[0] == Account("admin", "admin")
