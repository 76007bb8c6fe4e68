"""The cached fretes list's scoped dependencies: a write invalidates the pages it can change,
and only those. Every answer is also checked against the naive form (no stale read).

On the known dataset: frete 1 (PENDENTE, carrier Rapido Sul, embarque 100), frete 2
(APROVADO, Trans Norte, no embarque), frete 3 (PAGO, Rapido Sul, embarque 102). So
``status=PAGO`` is a page showing frete 3 only and ``status=APROVADO`` one showing frete 2.
Each test filters on its own dates so that its keys are its own (the module's database is
its own copy: these tests write).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import FRETES, Login, fetch_json

from fretes.access import cached as cached_form
from fretes.mode import CACHED, NAIVE
from fretes.models import Embarque, Frete, Transportadora, db


def lookups(app: Flask) -> tuple[int, int]:
    """(hits, misses) of the ``embarques`` context (the fretes list's) so far."""
    with app.app_context():
        stats = app.extensions["turbina"].cache.stats()
    found = stats["contexts"].get("embarques", {})
    return int(found.get("hits", 0)), int(found.get("misses", 0))


def consulta(client: FlaskClient, **params: Any) -> tuple[Any, bool]:
    """The cached list (asserted equal to the naive one) and whether it was a hit."""
    app = client.application
    before = lookups(app)
    answer = fetch_json(client, FRETES, CACHED, **params)
    after = lookups(app)
    assert answer == fetch_json(client, FRETES, NAIVE, **params)
    return answer, after[1] == before[1] and after[0] > before[0]


def frete_id(app: Flask, **by: Any) -> int:
    with app.app_context():
        return int(db.session.execute(db.select(Frete.id).filter_by(**by)).scalar_one())


def update(app: Flask, model: Any, row_id: int, **values: Any) -> None:
    """An ORM update (the cache sees the old and new values of every column)."""
    with app.app_context():
        row = db.session.get(model, row_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def window(day: int) -> dict[str, str]:
    """A created-between filter holding every frete, its own per test (its own keys)."""
    return {"criado_de": f"2020-01-{day:02d}", "criado_ate": "2099-01-01"}


def test_dependencies_are_scoped() -> None:
    spec = next(s for s in cached_form.CACHED_FUNCTIONS if s.name == "consultar_fretes")
    assert Frete not in spec.depends_on and Transportadora not in spec.depends_on
    assert {"status", "transportadora_id", "criado_em"} <= cached_form._FRETES_PLACING
    assert "valor_pago" not in cached_form._FRETES_PLACING


def test_a_shown_only_column_invalidates_only_the_pages_showing_that_frete(
    known_app: Flask, login: Login
) -> None:
    admin = login("admin")
    pago, aprovado = {"status": "PAGO", **window(1)}, {"status": "APROVADO", **window(1)}
    consulta(admin, **pago), consulta(admin, **aprovado)
    assert consulta(admin, **pago)[1] and consulta(admin, **aprovado)[1]
    update(known_app, Frete, frete_id(known_app, status="APROVADO"), valor_cte=91)
    assert consulta(admin, **pago)[1]  # does not show frete 2: still cached
    data, hit = consulta(admin, **aprovado)
    assert not hit and data["items"][0]["valor_cte"] == "91.00"


def test_a_carrier_change_invalidates_only_the_pages_naming_it(
    known_app: Flask, login: Login
) -> None:
    admin = login("admin")
    pago, aprovado = {"status": "PAGO", **window(2)}, {"status": "APROVADO", **window(2)}
    consulta(admin, **pago), consulta(admin, **aprovado)
    frete = frete_id(known_app, status="APROVADO")
    with known_app.app_context():
        carrier = db.session.get(Frete, frete).transportadora_id
    update(known_app, Transportadora, carrier, razao_social="Trans Norte Renomeada")
    assert consulta(admin, **pago)[1]  # frete 3's carrier is another one
    data, hit = consulta(admin, **aprovado)
    assert not hit and data["items"][0]["transportadora"] == "Trans Norte Renomeada"


def test_an_embarque_change_invalidates_only_the_pages_showing_it(
    known_app: Flask, login: Login
) -> None:
    admin = login("admin")
    pendente, pago = {"status": "PENDENTE", **window(3)}, {"status": "PAGO", **window(3)}
    consulta(admin, **pendente), consulta(admin, **pago)
    with known_app.app_context():
        embarque = db.session.execute(db.select(Embarque.id).filter_by(numero=100)).scalar_one()
    update(known_app, Embarque, embarque, numero=1100)
    assert consulta(admin, **pago)[1]  # frete 3 is on embarque 102
    data, hit = consulta(admin, **pendente)
    assert not hit and data["items"][0]["embarque_numero"] == 1100


def test_a_status_change_moves_rows_so_every_page_goes(known_app: Flask, login: Login) -> None:
    admin = login("admin")
    pago, todos = {"status": "PAGO", **window(4)}, window(4)
    consulta(admin, **pago), consulta(admin, **todos)
    update(known_app, Frete, frete_id(known_app, status="PENDENTE"), status="PAGO")
    data, hit = consulta(admin, **pago)
    assert not hit and len(data["items"]) == 2
    assert not consulta(admin, **todos)[1]


def test_a_new_frete_invalidates_the_pages(known_app: Flask, login: Login) -> None:
    admin = login("admin")
    aprovado = {"status": "APROVADO", **window(5)}
    before = len(consulta(admin, **aprovado)[0]["items"])
    with known_app.app_context():
        carrier = db.session.execute(db.select(Transportadora.id).limit(1)).scalar_one()
        db.session.add(Frete(transportadora_id=carrier, nome_cliente="Novo", status="APROVADO"))
        db.session.commit()
    data, hit = consulta(admin, **aprovado)
    assert not hit and len(data["items"]) == before + 1
