"""Per-endpoint table reads: a fingerprint's tables (sqlglot), counted per request in the
flush thread, capped, and read back from the store by ``api.endpoint_tables``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import turbina
from app_teardown import close
from turbina.flask.monitor import MonitorState
from turbina.monitor import api
from turbina.monitor.requests import RequestAggregator, RequestsSource
from turbina.queries.tables import statement_tables
from turbina.store.backends.memory import MemoryStore
from turbina.store.flusher import Flusher
from turbina.store.labels import LabelCap
from turbina.store.model import OTHER, TABLES, UNPARSED

from .schema import validate
from .tables_app import WIDE_TABLES, make_app


@pytest.mark.parametrize(
    ("fingerprint", "tables"),
    [
        ("select t.id from t join u on u.id = t.u_id where t.x = ?", (("t", "u"), ())),
        ("select * from t where id in (select t_id from v where k = ?)", (("t", "v"), ())),
        ("update t set x = ? where id = ?", ((), ("t",))),
        ("delete from t where id in (?)", ((), ("t",))),
        ("insert into t (a) select b from u where c = ?", (("u",), ("t",))),
        ("insert into t (a) values (?) on conflict (a) do nothing", ((), ("t",))),
        (  # a CTE is not a table
            "with recursive c(x) as (select ? union all select x + ? from c where x < ?) "
            "select count(*) from c",
            ((), ()),
        ),
        ("select * from public.t where j @> ?", (("t",), ())),  # PostgreSQL's operator
        ('select v from "<b>x</b>" where v = ?', (("<b>x</b>",), ())),
        ("savepoint sa_savepoint_1", ((), ())),  # no table, and not handed to sqlglot
        ("begin (implicit)", ((), ())),
        ("select 1", ((), ())),
        ("select x from t where cast(? as) = x", None),  # no dialect parses it
        ("select ((( from", None),
    ],
)
def test_statement_tables(fingerprint: str, tables: Any) -> None:
    assert statement_tables(fingerprint) == tables


def test_the_request_path_queues_the_collectors_dict_and_parses_nothing() -> None:
    aggregator = RequestAggregator()
    fingerprints = {"select * from never_seen_before_table where id = ?": 3}
    before = statement_tables.cache_info()
    aggregator.record("/x", "GET", 200, 1.0, 0.1, 3, 0, 0, fingerprints)
    assert aggregator._queue[-1][-1] is fingerprints  # handed over, not copied
    assert statement_tables.cache_info() == before  # nothing parsed on the request path
    (counters,) = aggregator.drain().values()
    assert counters.table_fields() == {"never_seen_before_table": {"r": 1, "rs": 3}}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    flask_app, db = make_app(tmp_path)
    yield flask_app
    close(flask_app, db)


def _monitor(app: Flask) -> MonitorState:
    state = turbina.get_state(app).monitor
    assert state is not None
    return state


def _tables(app: Flask) -> dict[str, Any]:
    state = _monitor(app)
    assert state.flush()
    data = api.endpoint_tables(state.store.read(time.time() - 300))
    validate(data, api.SCHEMA["endpoint_tables"])
    return data


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{row['method']} {row['endpoint']}": row for row in data["endpoints"]}


def _shares(row: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {t["table"]: (t["read_share"], t["write_share"]) for t in row["tables"]}


def test_each_endpoint_reads_its_own_tables(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert client.get("/orders").status_code == 200
    for _ in range(3):
        assert client.get("/customers").status_code == 200
    for i in range(2):
        assert client.post(f"/orders/{i}").status_code == 200
    data = _tables(app)
    rows = _rows(data)
    assert _shares(rows["GET /orders"]) == {"t_order": (1.0, 0.0)}
    assert _shares(rows["GET /customers"]) == {"t_customer": (1.0, 0.0)}
    assert _shares(rows["POST /orders/<int:item>"]) == {"t_order": (0.0, 1.0)}
    (orders,) = rows["GET /orders"]["tables"]
    assert (orders["reads"], orders["read_statements"]) == (5, 5)
    assert rows["GET /orders"]["requests"] == 5
    assert all(row["complete"] for row in rows.values())
    assert data["folded_requests"] == 0
    # A second flush adds only what came after the first.
    client.get("/orders")
    (orders,) = _rows(_tables(app))["GET /orders"]["tables"]
    assert orders["reads"] == 6


def test_a_statement_sqlglot_cannot_parse_is_counted_and_the_flush_goes_on(app: Flask) -> None:
    client = app.test_client()
    for _ in range(2):
        assert client.get("/odd").status_code == 200
    assert client.get("/orders").status_code == 200
    rows = _rows(_tables(app))
    odd = rows["GET /odd"]
    assert (odd["unparsed_requests"], odd["complete"], odd["tables"]) == (2, False, [])
    assert _shares(rows["GET /orders"]) == {"t_order": (1.0, 0.0)}
    assert rows["GET /orders"]["complete"]


def test_tables_past_an_endpoints_cap_fold_into_other(app: Flask) -> None:
    _monitor(app).requests.max_tables = 3
    assert app.test_client().get("/wide").status_code == 200
    row = _rows(_tables(app))["GET /wide"]
    names = [t["table"] for t in row["tables"]]
    assert len(names) == 4 and OTHER in names, names
    other = next(t for t in row["tables"] if t["table"] == OTHER)
    assert other["reads"] == 1  # one request, however many tables it folded
    assert other["read_statements"] == WIDE_TABLES + 1 - 3
    assert not row["complete"]


def test_rows_past_the_stores_label_cap_fold_into_their_endpoints_other(app: Flask) -> None:
    state = _monitor(app)
    state.labels.limits[TABLES] = 2
    client = app.test_client()
    client.get("/orders")
    client.get("/customers")
    client.get("/wide")
    rows = _rows(_tables(app))
    labels = {label for label, _info, _f in state.store.read(time.time() - 300).of_kind(TABLES)}
    assert len(labels) == 3  # two admitted, and /wide's <other>
    assert rows["GET /orders"]["complete"] and rows["GET /customers"]["complete"]
    assert _shares(rows["GET /wide"]) == {OTHER: (1.0, 0.0)}
    assert not rows["GET /wide"]["complete"]


def test_an_unparsable_fingerprint_does_not_break_a_flush_to_the_store() -> None:
    aggregator = RequestAggregator()
    store = MemoryStore()
    flusher = Flusher(store, [RequestsSource(aggregator, LabelCap())], interval_s=3600)
    aggregator.record("/x", "GET", 200, 1.0, fingerprints={"select ((( from": 1, "select 1": 1})
    aggregator.record("/x", "GET", 200, 1.0, fingerprints={"select a from t": 2})
    assert flusher.flush()
    rows = _rows(api.endpoint_tables(store.read(time.time() - 60)))
    assert rows["GET /x"]["unparsed_requests"] == 1
    assert _shares(rows["GET /x"]) == {"t": (0.5, 0.0)}
    assert UNPARSED not in _shares(rows["GET /x"])
