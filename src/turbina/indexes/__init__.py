"""Index advice: find the indexes a workload needs, prove the gain, apply them safely.

Pipeline: ``workload`` (what runs) -> ``candidates`` (what could help) -> ``whatif`` (what it
would cost) -> ``advisor`` (Extend selection) -> ``report`` / ``verify`` / ``ddl`` (say it,
measure it, apply it). ``check`` reviews a hand-written index file. CLI: ``commands``.
"""

from __future__ import annotations

from turbina.indexes.advisor import Advice, Advisor
from turbina.indexes.check import check_file, check_sql
from turbina.indexes.commands import advise_workload
from turbina.indexes.ddl import apply, emit_sql, migration_text
from turbina.indexes.spec import IndexSpec
from turbina.indexes.verify import verify
from turbina.indexes.whatif import open_backend
from turbina.indexes.workload import WorkloadQuery, from_recorder, from_samples, from_sql_file

__all__ = [
    "Advice",
    "Advisor",
    "IndexSpec",
    "WorkloadQuery",
    "advise_workload",
    "apply",
    "check_file",
    "check_sql",
    "emit_sql",
    "from_recorder",
    "from_samples",
    "from_sql_file",
    "migration_text",
    "open_backend",
    "verify",
]
