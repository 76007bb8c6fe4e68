"""Index sizes checked against real builds, and a stop reason that names the budget."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from turbina.indexes.advise import advise_workload, open_backend
from turbina.indexes.ddl import create_sql
from turbina.indexes.report import render_lines
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload_file import from_sql_text

pytestmark = pytest.mark.postgres

SHAPES = [
    IndexSpec("events", ("tenant_id",)),
    IndexSpec("events", ("tenant_id", "kind")),  # composite: HypoPG ignores deduplication
    IndexSpec("events", ("kind", "payload")),
    IndexSpec("events", ("tenant_id",), include=("kind", "payload")),  # INCLUDE
    IndexSpec("events", ("payload",), where="kind = 'billing'"),  # partial
    IndexSpec("events", ("id", "tenant_id"), unique=True),
]


def test_estimated_sizes_match_real_builds(events_db: sa.Engine) -> None:
    whatif = open_backend(events_db, "hypopg")
    try:
        _costs, estimated = whatif.costs(SHAPES, [])
    finally:
        whatif.close()
    with events_db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for spec in SHAPES:
            conn.exec_driver_sql(create_sql(spec, "postgresql"))
            real = conn.exec_driver_sql(f"SELECT pg_relation_size('{spec.name}')").scalar()
            conn.exec_driver_sql(f"DROP INDEX {spec.name}")
            assert real, spec
            assert 0.85 <= estimated[spec] / real <= 1.15, (spec.describe(), estimated[spec], real)


def test_the_stop_reason_names_the_budget_and_what_it_blocked(events_db: sa.Engine) -> None:
    workload = from_sql_text(
        "SELECT id, payload FROM events WHERE tenant_id = 7 AND kind = 'k1'; -- turbina: calls=50"
    )
    advice = advise_workload(events_db, workload, budget="64kB")  # the index needs ~700 kB
    assert advice.specs == []
    assert advice.stop_reason == "budget"
    assert "blocks events (tenant_id" in advice.stopped
    header = next(line for line in render_lines(advice) if line.startswith("turbina: advise:"))
    assert "stopped by the budget" in header and "events (tenant_id" in header
    roomy = advise_workload(events_db, workload, budget="50MB")
    assert roomy.specs and roomy.stop_reason == "margin"
