"""The endpoint-tables kind in every backend: merged across workers, read by default, and
answered by ``api.endpoint_tables``."""

from __future__ import annotations

import time

from turbina.monitor import api
from turbina.store.backends.base import StoreBackend
from turbina.store.model import REQUESTS, TABLES, Batch, label_id


def _batch(at: float, worker: str, reads: int, writes: int) -> Batch:
    batch = Batch(at=at, worker=worker)
    request = label_id(REQUESTS, ("/orders", "GET"))
    batch.add(REQUESTS, request, {"n": 4})
    batch.describe(REQUESTS, request, {"endpoint": "/orders", "method": "GET"})
    label = label_id(TABLES, ("/orders", "GET", "entregas"))
    batch.add(TABLES, label, {"r": reads, "rs": 2 * reads, "w": writes, "ws": writes})
    batch.describe(TABLES, label, {"endpoint": "/orders", "method": "GET", "table": "entregas"})
    return batch


def test_every_worker_s_table_counts_add_up(store: StoreBackend) -> None:
    now = time.time()
    store.write([_batch(now, "w1", 3, 1), _batch(now, "w2", 1, 0)])
    reading = store.read(now - 60)  # every kind by default, this one too
    (row,) = api.endpoint_tables(reading)["endpoints"]
    (table,) = row["tables"]
    assert row["requests"] == 8
    assert (table["reads"], table["read_statements"], table["writes"]) == (4, 8, 1)
    assert (table["read_share"], table["write_share"]) == (0.5, 0.125)
    (total,) = api.endpoint_tables(store.totals())["endpoints"]
    assert total["tables"][0]["reads"] >= 4
