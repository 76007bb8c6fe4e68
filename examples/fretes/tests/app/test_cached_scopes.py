"""The cached list's scoped dependencies: a write invalidates the pages it can change, and
only those. Every answer is also checked against the naive form (no stale read).

On the known dataset: ANA SOUZA has entregas 1001 (SP), 1002 (RJ) and 1005 (SP), BRUNO LIMA
1003 (SP) and 1004 (MG). The list shows 20 rows a page, so ``uf=RJ`` is a page of ANA's
showing 1002 only and ``uf=SP`` one showing 1001 and 1005. Each test asks for its own
``hoje`` so that its keys are its own (the module's database is its own copy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import LISTAR, Login, fetch_json

from fretes.access import cached as cached_form
from fretes.mode import CACHED, NAIVE
from fretes.models import EntregaMonitorada, db


def lookups(app: Flask) -> tuple[int, int]:
    """(hits, misses) of the ``entregas`` context so far."""
    with app.app_context():
        stats = app.extensions["turbina"].cache.stats()
    found = stats["contexts"].get("entregas", {})
    return int(found.get("hits", 0)), int(found.get("misses", 0))


def listar(client: FlaskClient, **params: Any) -> tuple[Any, bool]:
    """The cached list (asserted equal to the naive one) and whether it was served entirely
    from the cache (its page of rows and its badge counters both hits)."""
    app = client.application
    before = lookups(app)
    cached = fetch_json(client, LISTAR, CACHED, **params)
    after = lookups(app)
    assert cached == fetch_json(client, LISTAR, NAIVE, **params)
    return cached, after[1] == before[1] and after[0] > before[0]


def numeros(data: Any) -> set[str]:
    return {row["numero_nf"] for row in data["entregas"]["items"]}


def test_a_comment_invalidates_only_the_pages_showing_its_entrega(
    login: Login, entrega_id: Callable[[str], int]
) -> None:
    ana = login("ana")
    rj, sp = {"uf": "RJ", "hoje": "2026-03-02"}, {"uf": "SP", "hoje": "2026-03-02"}
    assert numeros(listar(ana, **rj)[0]) == {"1002"}
    assert numeros(listar(ana, **sp)[0]) == {"1001", "1005"}
    assert listar(ana, **rj)[1] and listar(ana, **sp)[1]  # both cached now
    response = ana.post(f"/monitoramento/{entrega_id('1001')}/comentario", json={"texto": "oi"})
    assert response.status_code == 201
    assert listar(ana, **rj)[1]  # does not show 1001 (nor count it): still cached
    data, from_cache = listar(ana, **sp)
    assert not from_cache  # shows 1001: recomputed, with the new comment
    row = next(r for r in data["entregas"]["items"] if r["numero_nf"] == "1001")
    assert row["comentarios"] >= 1


def test_an_agendamento_changes_shown_columns_only(
    login: Login, entrega_id: Callable[[str], int]
) -> None:
    """Scheduling sets the entrega's ``data_agenda``, a column no filter or ordering reads:
    a page of the same vendedor that does not show that entrega stays cached."""
    assert "data_agenda" not in cached_form.PLACING_COLUMNS
    ana = login("ana")
    rj, sp = {"uf": "RJ", "hoje": "2026-03-03"}, {"uf": "SP", "hoje": "2026-03-03"}
    listar(ana, **rj), listar(ana, **sp)
    response = ana.post(
        f"/monitoramento/{entrega_id('1005')}/agendamento",
        json={"data_agendada": "2026-04-10", "protocolo": "AG-SCOPE"},
    )
    assert response.status_code == 201
    assert listar(ana, **rj)[1]
    data, from_cache = listar(ana, **sp)
    assert not from_cache
    row = next(r for r in data["entregas"]["items"] if r["numero_nf"] == "1005")
    assert row["ultimo_agendamento"]["protocolo"] == "AG-SCOPE"


def test_a_delivery_moves_rows_between_statuses_so_the_vendedor_pages_go(
    login: Login, entrega_id: Callable[[str], int]
) -> None:
    """``entregue`` is a watched column (statuses and counters read it): marking 1002
    delivered invalidates ANA's pages, even one not showing 1002, but not BRUNO's."""
    ana, bruno = login("ana"), login("bruno")
    sp = {"uf": "SP", "hoje": "2026-03-04"}
    listar(ana, **sp), listar(bruno, **sp)
    assert ana.post(f"/monitoramento/{entrega_id('1002')}/entregar", json={}).status_code == 200
    assert not listar(ana, **sp)[1]  # ANA's counters changed (pendente, entregue)
    assert listar(bruno, **sp)[1]


def test_a_vendedor_change_invalidates_both_vendedores(
    known_app: Flask, login: Login, entrega_id: Callable[[str], int]
) -> None:
    """An ORM update of the partition column bumps its old and its new value."""
    ana, bruno = login("ana"), login("bruno")
    page = {"hoje": "2026-03-05"}
    before_ana, before_bruno = listar(ana, **page)[0], listar(bruno, **page)[0]
    assert listar(ana, **page)[1] and listar(bruno, **page)[1]
    assert "1003" in numeros(before_bruno) and "1003" not in numeros(before_ana)
    with known_app.app_context():
        entrega = db.session.get(EntregaMonitorada, entrega_id("1003"))
        assert entrega is not None
        entrega.vendedor = "ANA SOUZA"
        db.session.commit()
    after_ana, from_cache_ana = listar(ana, **page)
    after_bruno, from_cache_bruno = listar(bruno, **page)
    assert not from_cache_ana and not from_cache_bruno
    assert "1003" in numeros(after_ana) and "1003" not in numeros(after_bruno)


def test_a_core_write_invalidates_every_scoped_page(known_app: Flask, login: Login) -> None:
    """A write whose rows are unknown (Core ``UPDATE``) makes every scoped entry stale."""
    ana, bruno = login("ana"), login("bruno")
    page = {"hoje": "2026-03-06"}
    listar(ana, **page), listar(bruno, **page)
    with known_app.app_context():
        db.session.execute(
            db.update(EntregaMonitorada)
            .where(EntregaMonitorada.numero_nf == "1004")
            .values(municipio="Uberlândia")
        )
        db.session.commit()
    assert not listar(ana, **page)[1] and not listar(bruno, **page)[1]
