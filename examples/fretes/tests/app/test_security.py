"""What a hostile user tried, each answered: forged sessions, cross-site writes, oversized
bodies, bad input (always a 400), open redirects, logout, login throttling, exports, headers.

Runs on its own copy of the known dataset (SQLite and PostgreSQL; this module writes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from fretes_testing import (
    EXPORTAR,
    FATURAMENTO,
    LISTAR,
    PAGES,
    PEDIDOS,
    Login,
    csrf_token,
)
from werkzeug.security import generate_password_hash

from fretes import auth
from fretes.export import csv_value
from fretes.models import EntregaMonitorada, User, db

MakeApp = Callable[..., Flask]
PASSWORD = "senha"


def login_as(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


@pytest.fixture
def new_user(known_app: Flask) -> Iterator[Callable[..., str]]:
    """Factory: a fresh user (removed afterwards); returns the username."""
    made: list[str] = []

    def make(role: str = "vendedor", vendedor: str | None = "ANA SOUZA") -> str:
        username = f"u{len(made)}_{role}"
        with known_app.app_context():
            db.session.add(
                User(
                    username=username,
                    nome=username,
                    role=role,
                    vendedor=vendedor,
                    ativo=True,
                    password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                )
            )
            db.session.commit()
        made.append(username)
        return username

    yield make
    with known_app.app_context():
        db.session.execute(sa.delete(User).where(User.username.in_(made)))
        db.session.commit()


# --- sessions --------------------------------------------------------------------------


def forged_cookie(secret: str, data: dict[str, Any]) -> str:
    signer = Flask("forger")
    signer.config["SECRET_KEY"] = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return str(serializer.dumps(data))


@pytest.mark.parametrize("secret", ["dev-only-change-me", "test-secret"])
def test_forged_admin_session_is_rejected(known_app: Flask, secret: str) -> None:
    """Signed with the old public default, or even with the real secret: a cookie naming only
    a user id (no session version) is no session."""
    client = known_app.test_client()
    client.set_cookie("session", forged_cookie(secret, {"_user_id": "1", "_fresh": True}))
    assert client.get(LISTAR, query_string={"format": "json"}).status_code == 401


def test_session_cookie_flags(known_app: Flask) -> None:
    plain = known_app.test_client().post("/login", json={"username": "admin", "password": PASSWORD})
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = known_app.test_client().post(
        "/login",
        json={"username": "admin", "password": PASSWORD},
        base_url="https://localhost",
    )
    assert "Secure" in secure.headers["Set-Cookie"]


def test_logout_is_post_only_and_ends_every_session_of_the_user(
    known_app: Flask, new_user: Callable[..., str]
) -> None:
    username = new_user()
    first, second = login_as(known_app, username), login_as(known_app, username)
    saved = first.get_cookie("session")
    assert saved is not None
    assert first.get("/logout").status_code == 405
    assert first.post("/logout", data={}).status_code == 400  # a form without its CSRF token
    assert first.post("/logout", json={}).status_code == 200
    assert first.get(LISTAR, query_string={"format": "json"}).status_code == 401
    # The cookie saved before logging out no longer works, nor does the other session.
    replay = known_app.test_client()
    replay.set_cookie("session", saved.value)
    assert replay.get(LISTAR, query_string={"format": "json"}).status_code == 401
    assert second.get(LISTAR, query_string={"format": "json"}).status_code == 401
    assert login_as(known_app, username).get(LISTAR).status_code == 200  # a new login works


# --- cross-site writes -----------------------------------------------------------------


def test_cross_origin_writes_are_refused(login: Login, entrega_id: Callable[[str], int]) -> None:
    admin = login("admin")
    url = f"/monitoramento/{entrega_id('1001')}/log"
    evil = {"Origin": "https://evil.example"}
    token = csrf_token(admin)
    for kwargs in (
        {"json": {"descricao": "x"}, "headers": evil},
        {"data": {"descricao": "x", "csrf_token": token}, "headers": evil},
        {"json": {"descricao": "x"}, "headers": {"Sec-Fetch-Site": "cross-site"}},
    ):
        response = admin.post(url, **kwargs)
        assert response.status_code == 403, kwargs
        assert "cross-origin" in response.get_data(as_text=True)
    # A form post (or a "simple" text/plain one) without the CSRF token is refused too.
    for kwargs in (
        {"data": {"descricao": "x"}},
        {"data": '{"descricao": "x"}', "content_type": "text/plain"},
    ):
        response = admin.post(url, **kwargs)
        assert response.status_code == 400, kwargs
        assert "csrf_token" in response.get_data(as_text=True)
    same_site = admin.post(
        url,
        data={"descricao": "ok", "csrf_token": token},
        headers={"Origin": "http://localhost"},
    )
    assert same_site.status_code == 303
    assert admin.post(url, json={"descricao": "json, same site"}).status_code == 201


def test_login_form_needs_its_csrf_token(known_app: Flask) -> None:
    client = known_app.test_client()
    refused = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 400
    accepted = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert accepted.status_code == 302


# --- sizes -----------------------------------------------------------------------------


def test_oversized_bodies_are_413(login: Login, known_app: Flask) -> None:
    anonymous = known_app.test_client()
    big = {"username": "admin", "password": "x" * (300 * 1024)}
    assert anonymous.post("/login", json=big).status_code == 413
    admin = login("admin")
    assert admin.post("/monitoramento/1/log", json={"descricao": "x" * 300_000}).status_code == 413
    # The import has its own, larger cap: 1000 rows of ~280 bytes pass, 3 MB does not.
    rows = [{"numero_nf": f"77{i:04d}", "nome_cliente": "y" * 250} for i in range(1000)]
    assert admin.post("/faturamento/importar", json=rows).status_code == 201
    huge = [{"numero_nf": "1", "nome_cliente": "y" * 3_000_000}]
    assert admin.post("/faturamento/importar", json=huge).status_code == 413


def test_a_400_never_echoes_a_huge_value(login: Login) -> None:
    response = login("admin").post(
        "/monitoramento/1/comentario", json={"texto": "ok", "resposta_a_id": [7] * 40_000}
    )
    assert response.status_code == 400 and response.get_json()["parameter"] == "resposta_a_id"
    assert len(response.get_data()) < 1000


# --- every bad input is a 400 ----------------------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000
# (method, url, request kwargs, the parameter the 400 names)
BAD_INPUT: list[tuple[str, str, dict[str, Any], str]] = [
    ("GET", FATURAMENTO, {"query_string": {"ate": "0001-01-01"}}, "ate"),
    ("GET", PEDIDOS, {"query_string": {"ate": "0001-01-01", "dias": 3650}}, "ate"),
    ("GET", "/fretes/consulta", {"query_string": {"criado_ate": "9999-12-31"}}, "criado_ate"),
    ("GET", LISTAR, {"query_string": {"data_embarque_ate": "9999-12-31"}}, "data_embarque_ate"),
    ("GET", LISTAR, {"query_string": {"hoje": "1990-01-01"}}, "hoje"),
    ("GET", LISTAR, {"query_string": {"hoje": "2199-01-01"}}, "hoje"),
    ("GET", LISTAR, {"query_string": {"cliente": "a\x00b"}}, "cliente"),
    ("GET", LISTAR, {"query_string": {"vendedor": "x\x00"}}, "vendedor"),
    ("GET", EXPORTAR, {"query_string": {"municipio": "\x00"}}, "municipio"),
    ("GET", FATURAMENTO, {"query_string": {"cliente": "\x00"}}, "cliente"),
    ("POST", "/monitoramento/1/log", {"json": {"descricao": "a\x00b"}}, "descricao"),
    ("POST", "/monitoramento/1/log", {"data": DEEP, "content_type": "application/json"}, "body"),
    ("POST", "/monitoramento/99999999999999999999/log", {"json": {"descricao": "x"}}, "entrega_id"),
    ("POST", "/monitoramento/2147483648/entregar", {"json": {}}, "entrega_id"),
    ("POST", "/pedidos/99999999999/status", {"json": {"status": "ABERTO"}}, "pedido_id"),
    (
        "POST",
        "/fretes",
        {"json": {"transportadora_id": 2**40, "valor_cotado": "1"}},
        "transportadora_id",
    ),
    (
        "POST",
        "/faturamento/importar",
        {"json": [{"numero_nf": "1", "nome_cliente": "\x00"}]},
        "[0].nome_cliente",
    ),
]
LOGIN_BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"json": ["admin", "senha"]}, "body"),
    ({"json": "admin"}, "body"),
    ({"data": DEEP, "content_type": "application/json"}, "body"),
    ({"json": {"username": "ad\x00min", "password": "x"}}, "username"),
    ({"json": {"username": "admin", "password": ["x"]}}, "password"),
]
NEXT_BAD = [
    "/%09/evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "/pedidos%0d%0aSet-Cookie:%20x=1",
    "/ok%0a",
]


@pytest.mark.parametrize(("method", "url", "kwargs", "parameter"), BAD_INPUT)
def test_bad_input_is_a_400_naming_the_parameter(
    login: Login, method: str, url: str, kwargs: dict[str, Any], parameter: str
) -> None:
    kwargs = {**kwargs, "query_string": {**kwargs.get("query_string", {}), "format": "json"}}
    response = login("admin").open(url, method=method, **kwargs)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["parameter"] == parameter


@pytest.mark.parametrize(("kwargs", "parameter"), LOGIN_BAD_INPUT)
def test_bad_login_bodies_are_400(known_app: Flask, kwargs: dict[str, Any], parameter: str) -> None:
    response = known_app.test_client().post("/login", **kwargs)
    assert response.status_code == 400 and response.get_json()["parameter"] == parameter


@pytest.mark.parametrize("target", NEXT_BAD)
def test_login_redirects_only_to_a_local_path(known_app: Flask, target: str) -> None:
    client = known_app.test_client()
    token = csrf_token(client)
    body = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    response = client.post(f"/login?next={target}", data=body)
    assert response.status_code == 400 and "<code>next</code>" in response.get_data(as_text=True)


def test_login_redirect_to_a_local_path(known_app: Flask) -> None:
    client = known_app.test_client()
    body = {"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post("/login?next=/pedidos/status?ate%3D2026-03-31", data=body)
    assert response.status_code == 302
    assert response.headers["Location"] == "/pedidos/status?ate=2026-03-31"


def test_a_vendedor_account_without_vendedor_name_gets_403_not_500(login: Login) -> None:
    zeca = login("zeca")
    for url in PAGES:
        response = zeca.get(url, query_string={"format": "json"})
        assert response.status_code == 403, url
        assert "no vendedor name" in response.get_json()["error"]


# --- login -----------------------------------------------------------------------------


def test_failed_logins_cost_one_password_hash_whether_or_not_the_user_exists(
    known_app: Flask, monkeypatch: pytest.MonkeyPatch, new_user: Callable[..., str]
) -> None:
    """Assert the code path, not a timer: every failed login checks exactly one hash, and an
    unknown user's is a real hash of the app's default method (as costly as a user's)."""
    checked: list[str] = []
    real = auth.check_password_hash

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", spy)
    inactive = new_user()
    with known_app.app_context():
        db.session.execute(sa.update(User).where(User.username == inactive).values(ativo=False))
        db.session.commit()
    client = known_app.test_client()
    for username, password in (
        ("nobody-at-all", "x"),
        ("admin", "wrong"),
        (inactive, PASSWORD),
    ):
        checked.clear()
        response = client.post("/login", json={"username": username, "password": password})
        assert response.status_code == 401
        assert len(checked) == 1, username
    client.post("/login", json={"username": "nobody-at-all", "password": "x"})
    default_method = generate_password_hash("x").split(":", 1)[0]
    assert checked[-1].startswith(default_method + ":")


def test_failed_logins_are_throttled_per_user_and_per_address(make_app: MakeApp) -> None:
    app = make_app(
        {
            "FRETES_LOGIN_LIMIT_PER_USER": "3 per hour",
            "FRETES_LOGIN_LIMIT_PER_ADDRESS": "5 per hour",
        }
    )
    client = app.test_client()

    def attempt(username: str, password: str) -> int:
        return client.post("/login", json={"username": username, "password": password}).status_code

    for _ in range(10):  # good logins are never counted
        assert attempt("bruno", PASSWORD) == 200
    assert [attempt("admin", "wrong") for _ in range(3)] == [401, 401, 401]
    blocked = client.post("/login", json={"username": "ADMIN", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "too many failed logins" in blocked.get_json()["error"]
    assert attempt("ana", PASSWORD) == 200  # another user from the same address still can
    assert [attempt("ana", "wrong") for _ in range(2)] == [401, 401]
    assert attempt("olga", PASSWORD) == 429  # the address has now failed 5 times


# --- exports ---------------------------------------------------------------------------


def test_export_is_bounded_with_a_clear_message(make_app: MakeApp) -> None:
    client = login_as(make_app({"FRETES_EXPORT_MAX_ROWS": 5}), "admin")
    for formato in ("csv", "xlsx"):
        response = client.get(EXPORTAR, query_string={"formato": formato, "format": "json"})
        assert response.status_code == 400
        body = response.get_json()
        assert body["parameter"] == "filtros" and "at most 5 entregas" in body["error"]
        assert "23 entregas" in body["error"]
    small = client.get(EXPORTAR, query_string={"formato": "csv", "status": "atrasada"})
    assert small.status_code == 200


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    login: Login, known_app: Flask
) -> None:
    with known_app.app_context():
        db.session.add(
            EntregaMonitorada(
                numero_nf="6660",
                cliente='=HYPERLINK("http://evil.example","x")',
                cnpj_cliente="+5511999",
                municipio="-2+3",
                uf="SP",
                vendedor="ANA SOUZA",
                transportadora="@SUM(A1)",
                entregue=False,
                reagendar=False,
                pendencia_financeira=False,
            )
        )
        db.session.commit()
    text = login("admin").get(EXPORTAR, query_string={"formato": "csv"}).get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["numero_nf"] == "6660")
    assert row["cliente"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (row["cnpj_cliente"], row["municipio"], row["transportadora"]) == (
        "'+5511999",
        "'-2+3",
        "'@SUM(A1)",
    )
    assert csv_value("\tx") == "'\tx" and csv_value("a=b") == "a=b"


def test_an_export_failing_midway_is_an_error_not_a_truncated_200(
    known_app: Flask, make_app: MakeApp
) -> None:
    """A row that cannot be read (here a corrupt NUMERIC, which only SQLite can store) fails
    the export before its first byte is sent."""
    if not known_app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("only SQLite stores a non-number in a NUMERIC column")
    app = make_app({"PROPAGATE_EXCEPTIONS": False})
    with app.app_context():
        oldest = db.session.execute(
            sa.select(EntregaMonitorada.id).order_by(EntregaMonitorada.criado_em).limit(1)
        ).scalar_one()
        db.session.execute(
            sa.text("UPDATE entregas_monitoradas SET valor_nf = 'not a number' WHERE id = :id"),
            {"id": oldest},
        )
        db.session.commit()
    try:
        client = login_as(app, "admin")
        for formato in ("csv", "xlsx"):
            response = client.get(EXPORTAR, query_string={"formato": formato})
            assert response.status_code == 500, formato
            assert "numero_nf" not in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.execute(
                sa.text("UPDATE entregas_monitoradas SET valor_nf = 1000 WHERE id = :id"),
                {"id": oldest},
            )
            db.session.commit()


# --- headers and logs ------------------------------------------------------------------


def test_security_headers_and_private_cache(login: Login, known_app: Flask) -> None:
    anonymous = known_app.test_client().get("/login")
    for response in (
        anonymous,
        login("ana").get(LISTAR),
        login("ana").get(FATURAMENTO + "?format=json"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert "private" not in anonymous.headers.get("Cache-Control", "")
    page = login("ana").get(LISTAR)
    assert page.headers["Cache-Control"].startswith("private") and "Cookie" in page.headers["Vary"]
    export = login("ana").get(EXPORTAR, query_string={"formato": "csv"})
    assert export.headers["Cache-Control"] == "private, no-store"


def test_statement_errors_never_carry_bound_values(known_app: Flask) -> None:
    """What reaches an exception log is the statement's message: never a CPF from a filter."""
    cpf = "123.456.789-09"
    with known_app.app_context():
        with pytest.raises(sa.exc.StatementError) as excinfo:
            db.session.execute(
                sa.text("SELECT * FROM no_such_table WHERE cpf = :cpf"), {"cpf": cpf}
            )
        db.session.rollback()
    assert cpf not in str(excinfo.value)
