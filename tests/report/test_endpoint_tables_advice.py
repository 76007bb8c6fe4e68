"""The cache advice on the tables each endpoint reads: writes to one table lower only the
predicted hit rate of the endpoint reading it; without table data, every written table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

import turbina
from app_teardown import close
from monitor.tables_app import make_app
from turbina.report.build import build_report
from turbina.report.cache_advice import advise, hit_rate, suggested_ttl, write_rates
from turbina.report.inputs import from_reading
from turbina.report.model import Finding
from turbina.store.model import TABLES, Reading

READS = 60
WRITES = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Reading]]:
    """Two read pages on different tables, writes to one of them, a page sqlglot cannot
    read; the store's window over it."""
    app, db = make_app(tmp_path_factory.mktemp("tables"))
    client = app.test_client()
    for i in range(READS):
        assert client.get("/orders").status_code == 200
        assert client.get("/customers").status_code == 200
        assert client.get("/odd").status_code == 200
        if i % 2:
            assert client.post(f"/orders/{i % 5}").status_code == 200
    state = turbina.get_state(app).monitor
    assert state is not None and state.flush()
    yield app, state.store.read(time.time() - 300)
    close(app, db)


def _advice(reading: Reading) -> dict[str, Finding]:
    facts = from_reading(reading)
    found = advise(facts.endpoints, facts.queries, facts.cache, facts.window_s, facts.per_hour)
    return {f.where or "": f for f in found if f.kind == "cache"}


def test_writes_to_a_table_lower_only_the_endpoint_that_reads_it(
    served: tuple[Flask, Reading],
) -> None:
    reading = served[1]
    advice = _advice(reading)
    orders, customers = advice["GET /orders"], advice["GET /customers"]
    r = READS / reading.seconds
    # The app's setup inserted the rows of both tables (in the window too), then the POSTs.
    rates = write_rates(from_reading(reading).queries, reading.seconds)
    assert rates["t_order"] >= WRITES / reading.seconds > 10 * rates["t_customer"]
    assert customers.evidence["written_tables"] == "t_customer"
    assert customers.evidence["reads_tables"] == "t_customer"
    w = rates["t_customer"]
    assert customers.evidence["writes_per_s"] == pytest.approx(w, abs=1e-4)
    assert customers.evidence["predicted_hit_rate"] == pytest.approx(
        hit_rate(r, w, suggested_ttl(w)), abs=1e-4
    )
    assert orders.evidence["written_tables"] == "t_order"
    w = rates["t_order"]
    assert orders.evidence["writes_per_s"] == pytest.approx(w, abs=1e-4)
    assert orders.evidence["predicted_hit_rate"] == pytest.approx(
        hit_rate(r, w, suggested_ttl(w)), abs=1e-4
    )
    assert orders.evidence["predicted_hit_rate"] < customers.evidence["predicted_hit_rate"]
    assert customers.code is not None and 'depends_on=["t_customer"]' in customers.code
    assert not any("every table" in note for note in customers.notes + orders.notes)


def test_an_endpoint_with_statements_sqlglot_cannot_parse_assumes_every_table(
    served: tuple[Flask, Reading],
) -> None:
    odd = _advice(served[1])["GET /odd"]
    assert odd.evidence["written_tables"] == "t_customer, t_order"  # every table written
    assert odd.evidence["reads_tables"] == "unknown"
    assert any("every table written" in n and "sqlglot" in n for n in odd.notes), odd.notes


def test_a_store_without_table_rows_falls_back_to_every_written_table(
    served: tuple[Flask, Reading],
) -> None:
    reading = served[1]
    old = Reading(  # what a store written before table rows were recorded returns
        reading.since,
        reading.until,
        reading.resolution,
        {key: fields for key, fields in reading.counters.items() if key[0] != TABLES},
        {key: info for key, info in reading.labels.items() if key[0] != TABLES},
    )
    advice = _advice(old)
    orders, customers = advice["GET /orders"], advice["GET /customers"]
    assert customers.evidence["writes_per_s"] == orders.evidence["writes_per_s"] > 0
    assert customers.evidence["predicted_hit_rate"] == orders.evidence["predicted_hit_rate"]
    assert any("every table written" in note for note in customers.notes)
    assert customers.code is not None and "depends_on=[...]" in customers.code


def test_the_report_states_the_model_it_used(served: tuple[Flask, Reading]) -> None:
    report = build_report(served[1])
    assert "the tables its requests read" in report.cache_model
    titles = [f.title for f in report.findings if f.kind == "cache"]
    assert any(t.startswith("cache GET /customers") for t in titles), titles


def _row(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": name,
        "method": "GET",
        "calls": 600,
        "mean_ms": 40.0,
        "errors": 0,
        "cache_hits": 0,
        "cache_misses": 0,
        **extra,
    }


def test_advise_sums_the_write_rates_of_the_tables_read_only() -> None:
    writes = [
        {"fingerprint": "update a set x = ? where id = ?", "calls": 600},
        {"fingerprint": "update b set x = ? where id = ?", "calls": 60},
    ]
    rows = [
        _row("/reads-a", reads={"a": 1.0}, reads_complete=True),
        _row("/reads-b", reads={"b": 0.5}, reads_complete=True),
        _row("/reads-both", reads={"a": 1.0, "b": 1.0}, reads_complete=True),
        _row("/reads-none", reads={}, reads_complete=True),
        _row("/unknown", reads={"b": 1.0}, reads_complete=False, reads_unknown="why"),
    ]
    found = {f.where: f.evidence for f in advise(rows, writes, [], 600.0, lambda n: n * 6)}
    assert found["GET /reads-a"]["writes_per_s"] == 1.0
    assert found["GET /reads-b"]["writes_per_s"] == 0.1
    assert found["GET /reads-both"]["writes_per_s"] == 1.1
    assert found["GET /reads-none"]["writes_per_s"] == 0
    assert found["GET /unknown"]["writes_per_s"] == 1.1
