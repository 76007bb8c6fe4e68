"""A tiny, hand-built `fretes` dataset so page tests can assert exact content.

``known_app`` is module-scoped and runs each test module once on SQLite and once on
PostgreSQL (a fresh database each): the schema and the rows are created once per module.
Modules that write get their own copy, so the read-only page tests see the data unchanged.

Users (password ``senha`` for all): ``admin`` (admin), ``olga`` (operacoes), ``ana``
(vendedor ANA SOUZA), ``bruno`` (vendedor BRUNO LIMA), ``zeca`` (a vendedor account without a
vendedor name).

The app is a test app (``TESTING``): it honours ``X-Fretes-Mode``, so one app serves every
form. ``make_app`` builds another app over the same database with other settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from fretes.app import create_app
from fretes.models import (
    AgendamentoEntrega,
    ComentarioNF,
    CustoExtraEntrega,
    Embarque,
    EmbarqueItem,
    EntregaMonitorada,
    EventoEntrega,
    Frete,
    LogEntrega,
    Pedido,
    RelatorioFaturamentoImportado,
    Transportadora,
    User,
    db,
)

ANA = "ANA SOUZA"
BRUNO = "BRUNO LIMA"
CARLOS = "CARLOS DIAS"  # owns the filler rows; has no login
PASSWORD = "senha"
FILLERS = 18
REF_DATE = date(2026, 3, 31)  # the `ate` reference of faturamento and pedidos tests
PAST = date(2020, 1, 15)
FUTURE = date(2099, 1, 1)


TEST_SECRET = "test-secret"


def _user(username: str, nome: str, role: str, vendedor: str | None) -> User:
    # A cheap hash keeps logins fast in tests; the app's set_password uses the strong default.
    return User(
        username=username,
        nome=nome,
        role=role,
        vendedor=vendedor,
        ativo=True,
        password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
    )


# fmt: off
# The dataset reads best as tables, one row per line.
def _entrega(nf: str, cliente: str, vendedor: str, uf: str, transp: str | None,
             criado: datetime, **extra: object) -> EntregaMonitorada:
    values: dict[str, object] = dict(
        numero_nf=nf, cliente=cliente, cnpj_cliente=f"00.000.000/0001-{nf[-2:]}", uf=uf,
        municipio={"SP": "São Paulo", "RJ": "Rio de Janeiro", "MG": "Belo Horizonte"}[uf],
        vendedor=vendedor, transportadora=transp, valor_nf=Decimal("1000.00"),
        data_faturamento=criado.date(), data_embarque=criado.date(),
        data_entrega_prevista=FUTURE, entregue=False, status_finalizacao=None,
        reagendar=False, pendencia_financeira=False, criado_em=criado,
    )
    values.update(extra)
    return EntregaMonitorada(**values)


def seed_entregas() -> None:
    """Five hand-made entregas with children, plus FILLERS delivered ones for paging."""
    s = db.session
    e1 = _entrega("1001", "Mercado Alfa Ltda", ANA, "SP", "Rapido Sul Transportes",
                  datetime(2026, 1, 10, 10, 0), data_embarque=date(2026, 1, 10),
                  data_entrega_prevista=PAST, valor_nf=Decimal("1500.50"))
    e2 = _entrega("1002", "Padaria Beta", ANA, "RJ", "Trans Norte",
                  datetime(2026, 2, 1, 9, 0), data_embarque=date(2026, 2, 1), reagendar=True)
    e3 = _entrega("1003", "Mercado Alfa Ltda", BRUNO, "SP", "Rapido Sul Transportes",
                  datetime(2026, 1, 20, 8, 0), data_embarque=date(2026, 1, 20),
                  entregue=True, status_finalizacao="Entregue")
    e4 = _entrega("1004", "Comercial Gama", BRUNO, "MG", "Trans Norte",
                  datetime(2026, 3, 1, 12, 0), data_embarque=date(2026, 3, 1),
                  data_entrega_prevista=PAST, pendencia_financeira=True)
    e5 = _entrega("1005", "Distribuidora Delta", ANA, "SP", None,
                  datetime(2025, 12, 1, 15, 0), data_embarque=date(2025, 12, 1),
                  status_finalizacao="Cancelada")
    s.add_all([e1, e2, e3, e4, e5])
    s.flush()
    s.add_all([
        AgendamentoEntrega(entrega_id=e1.id, data_agendada=date(2026, 1, 12), protocolo="P-1",
                           status="cancelado", criado_em=datetime(2026, 1, 11)),
        AgendamentoEntrega(entrega_id=e1.id, data_agendada=date(2026, 1, 14), protocolo="P-2",
                           status="confirmado", criado_em=datetime(2026, 1, 12)),
        AgendamentoEntrega(entrega_id=e3.id, data_agendada=date(2026, 1, 22), protocolo="P-3",
                           status="confirmado", criado_em=datetime(2026, 1, 21)),
        CustoExtraEntrega(entrega_id=e1.id, tipo="descarga", valor=Decimal("100.50"), motivo="chapa"),
        CustoExtraEntrega(entrega_id=e1.id, tipo="reentrega", valor=Decimal("20.00"), motivo=None),
        LogEntrega(entrega_id=e1.id, autor="admin", data_hora=datetime(2026, 1, 11, 9),
                   descricao="Cliente contatado", tipo="contato"),
        EventoEntrega(entrega_id=e1.id, tipo_evento="saida", motorista="Zé",
                      criado_em=datetime(2026, 1, 10, 18)),
    ])
    c1 = ComentarioNF(entrega_id=e1.id, texto="Cliente pediu nova data", autor="Ana",
                      criado_em=datetime(2026, 1, 11, 10))
    c3 = ComentarioNF(entrega_id=e3.id, texto="Entregue sem ressalvas", autor="Bruno",
                      criado_em=datetime(2026, 1, 22, 10))
    s.add_all([c1, c3])
    s.flush()
    s.add(ComentarioNF(entrega_id=e1.id, texto="Ok, reagendado", autor="Admin",
                       criado_em=datetime(2026, 1, 11, 11), resposta_a_id=c1.id))
    for i in range(FILLERS):
        s.add(_entrega(f"2{i:03d}", f"Filler {i:02d}", CARLOS, "SP", "Trans Norte",
                       datetime(2025, 6, 1) + timedelta(hours=i), entregue=True,
                       status_finalizacao="Entregue"))


def seed_embarques_fretes() -> None:
    """Two carriers, four embarques (2 ativo, 1 draft, 1 cancelado), three fretes."""
    s = db.session
    t1 = Transportadora(cnpj="11.111.111/0001-11", razao_social="Rapido Sul Transportes",
                        cidade="Curitiba", uf="PR", ativo=True)
    t2 = Transportadora(cnpj="22.222.222/0001-22", razao_social="Trans Norte",
                        cidade="Manaus", uf="AM", ativo=True)
    s.add_all([t1, t2])
    s.flush()
    e100 = Embarque(numero=100, data_embarque=date(2026, 3, 1), status="ativo",
                    transportadora_id=t1.id, valor_total=Decimal("1500.00"),
                    peso_total=Decimal("30.500"), criado_em=datetime(2026, 3, 1))
    e101 = Embarque(numero=101, data_embarque=date(2026, 2, 1), status="ativo",
                    transportadora_id=t2.id, valor_total=Decimal("700.00"),
                    peso_total=Decimal("5.000"), criado_em=datetime(2026, 2, 1))
    e102 = Embarque(numero=102, data_embarque=date(2026, 1, 5), status="draft",
                    transportadora_id=t1.id, criado_em=datetime(2026, 1, 5))
    e103 = Embarque(numero=103, data_embarque=None, status="cancelado", criado_em=datetime(2025, 1, 5))
    s.add_all([e100, e101, e102, e103])
    s.flush()
    s.add_all([
        EmbarqueItem(embarque_id=e100.id, nota_fiscal="1001", cliente="Mercado Alfa Ltda",
                     peso=Decimal("10.500"), valor=Decimal("1000.00"), uf_destino="SP"),
        EmbarqueItem(embarque_id=e100.id, nota_fiscal="1003", cliente="Mercado Alfa Ltda",
                     peso=Decimal("20.000"), valor=Decimal("500.00"), uf_destino="SP"),
        EmbarqueItem(embarque_id=e101.id, nota_fiscal="1002", cliente="Padaria Beta",
                     peso=Decimal("5.000"), valor=Decimal("700.00"), uf_destino="RJ"),
        Frete(embarque_id=e100.id, transportadora_id=t1.id, nome_cliente="Mercado Alfa Ltda",
              numeros_nfs="1001,1003", valor_cotado=Decimal("250.00"), numero_cte="CTE-1",
              status="PENDENTE", criado_em=datetime(2026, 3, 2, 10)),
        Frete(embarque_id=None, transportadora_id=t2.id, nome_cliente="Padaria Beta",
              numeros_nfs="21001, 1002", valor_cotado=Decimal("90.00"), status="APROVADO",
              criado_em=datetime(2026, 2, 10, 10)),
        Frete(embarque_id=e102.id, transportadora_id=t1.id, nome_cliente="Comercial Gama",
              numeros_nfs="5000", valor_cotado=Decimal("40.00"), valor_pago=Decimal("40.00"),
              numero_cte="CTE-3", status="PAGO", criado_em=datetime(2025, 12, 20, 10)),
    ])


def seed_pedidos_faturamento() -> None:
    """Five pedidos (four in the 30 days to REF_DATE) and six faturamento rows."""
    s = db.session
    for num, status, rota, sub, days_before in (
        ("P1", "ABERTO", "A", "1", 5), ("P2", "COTADO", "A", "2", 10),
        ("P3", "EMBARCADO", "B", "1", 40), ("P4", "FATURADO", None, None, 1),
        ("P5", "ABERTO", "A", "1", 2),
    ):
        s.add(Pedido(num_pedido=num, cnpj_cpf="33.333.333/0001-33", raz_social_red=f"Cliente {num}",
                     nome_cidade="Campinas", cod_uf="SP", rota=rota, sub_rota=sub,
                     expedicao=REF_DATE - timedelta(days=days_before), status=status,
                     valor_saldo_total=Decimal("100.00"), peso_total=Decimal("1.000"),
                     criado_em=datetime(2026, 1, 1)))
    for nf, nome, cnpj, vendedor, dia, valor, ativo in (
        ("9001", "Mercado Alfa Ltda", "A1", ANA, date(2026, 3, 30), "1000.00", True),
        ("9002", "Mercado Alfa Ltda", "A1", ANA, date(2026, 3, 10), "500.00", True),
        ("9003", "Padaria Beta", "B1", ANA, date(2026, 3, 15), "2000.00", True),
        ("9004", "Comercial Gama", "G1", BRUNO, date(2026, 3, 20), "300.00", True),
        ("9005", "Mercado Alfa Ltda", "A1", ANA, date(2026, 2, 1), "999.00", True),
        ("9006", "Comercial Gama", "G1", BRUNO, date(2026, 3, 25), "777.00", False),
    ):
        s.add(RelatorioFaturamentoImportado(
            numero_nf=nf, data_fatura=dia, cnpj_cliente=cnpj, nome_cliente=nome,
            valor_total=Decimal(valor), vendedor=vendedor, municipio="São Paulo", estado="SP",
            ativo=ativo, criado_em=datetime(2026, 4, 1)))
# fmt: on


def seed_known_dataset() -> None:
    """Insert the whole known dataset (inside an app context) and commit."""
    db.session.add_all(
        [
            _user("admin", "Administrador", "admin", None),
            _user("ana", "Ana Souza", "vendedor", ANA),
            _user("bruno", "Bruno Lima", "vendedor", BRUNO),
            _user("olga", "Olga Operações", "operacoes", None),
            _user("zeca", "Zeca Sem Carteira", "vendedor", None),
        ]
    )
    seed_entregas()
    seed_embarques_fretes()
    seed_pedidos_faturamento()
    db.session.commit()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def known_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The app over a fresh database holding the known dataset (once per module and backend)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("fretes") / "known.db"
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("make_pg_database")("fretes")
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            # Query counts are read from the Server-Timing header of every answer.
            "TURBINA_SERVER_TIMING": True,
        }
    )
    with app.app_context():
        db.create_all()
        seed_known_dataset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def login(known_app: Flask) -> Callable[[str], FlaskClient]:
    """Factory: a test client logged in as ``username`` (one client per user, reused)."""
    clients: dict[str, FlaskClient] = {}

    def make(username: str) -> FlaskClient:
        if username not in clients:
            client = known_app.test_client()
            response = client.post("/login", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.get_data(as_text=True)
            clients[username] = client
        return clients[username]

    return make


@pytest.fixture
def make_app(known_app: Flask) -> Iterator[Callable[..., Flask]]:
    """Factory: another app over the known dataset's database, with ``config`` on top of the
    known app's (e.g. another FRETES_MODE); disposed of at the end of the test."""
    made: list[Flask] = []

    def make(config: Mapping[str, Any] | None = None) -> Flask:
        base = {
            "DATABASE_URL": known_app.config["DATABASE_URL"],
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "TURBINA_EXPLAIN": False,
            "TURBINA_SERVER_TIMING": True,
        }
        app = create_app({**base, **(config or {})})
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def entrega_id(known_app: Flask) -> Callable[[str], int]:
    """Look up an entrega's id by its numero_nf."""

    def find(numero_nf: str) -> int:
        with known_app.app_context():
            return db.session.execute(
                db.select(EntregaMonitorada.id).filter_by(numero_nf=numero_nf)
            ).scalar_one()

    return find
