"""Index advice: find the indexes a workload needs, prove the gain, apply them safely (no Flask).

Pipeline: ``workload`` / ``workload_file`` (what runs, and what writes) -> ``candidates`` (what could help) -> ``whatif`` /
``sqlite_whatif`` (what it would cost) -> ``advisor`` (Extend selection) -> ``report`` /
``verify`` / ``ddl`` (say it, measure it, apply it); ``sizes`` estimates PostgreSQL index sizes. ``advise`` runs it end to end; ``check``
reviews a hand-written index file. ``verify`` is a module here: its function is
``turbina.indexes.verify.verify``. The CLI is in ``turbina.flask.cli.indexes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbina._exports import lazy_exports

_EXPORTS = {
    "DEFAULT_MIN_IMPROVEMENT": "turbina.indexes.advisor",
    "Advice": "turbina.indexes.advisor",
    "Advisor": "turbina.indexes.advisor",
    "NoUsableWorkload": "turbina.indexes.advise",
    "advise_workload": "turbina.indexes.advise",
    "open_backend": "turbina.indexes.advise",
    "parse_budget": "turbina.indexes.advise",
    "drop_suggestions": "turbina.indexes.report",
    "apply_verified": "turbina.indexes.verify",
    "Workload": "turbina.indexes.workload",
    "WriteLoad": "turbina.indexes.workload",
    "workload_from_samples": "turbina.indexes.workload",
    "writes_from_samples": "turbina.indexes.workload",
    "writes_from_pg_stat_user_tables": "turbina.indexes.workload",
    "parse_workload": "turbina.indexes.workload_file",
    "read_workload": "turbina.indexes.workload_file",
    "check_file": "turbina.indexes.check",
    "check_sql": "turbina.indexes.check",
    "apply": "turbina.indexes.ddl",
    "create_sql": "turbina.indexes.ddl",
    "emit_sql": "turbina.indexes.ddl",
    "migration_text": "turbina.indexes.ddl",
    "portable_migration_text": "turbina.indexes.ddl",
    "IndexSpec": "turbina.indexes.spec",
    "time_workload": "turbina.indexes.verify",
    "WorkloadQuery": "turbina.indexes.workload",
    "from_recorder": "turbina.indexes.workload",
    "from_samples": "turbina.indexes.workload",
    "from_sql_file": "turbina.indexes.workload_file",
    "from_sql_text": "turbina.indexes.workload_file",
    "render_lines": "turbina.indexes.report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from turbina.indexes.advise import (
        NoUsableWorkload,
        advise_workload,
        open_backend,
        parse_budget,
    )
    from turbina.indexes.advisor import DEFAULT_MIN_IMPROVEMENT, Advice, Advisor
    from turbina.indexes.check import check_file, check_sql
    from turbina.indexes.ddl import (
        apply,
        create_sql,
        emit_sql,
        migration_text,
        portable_migration_text,
    )
    from turbina.indexes.report import drop_suggestions, render_lines
    from turbina.indexes.spec import IndexSpec
    from turbina.indexes.verify import apply_verified, time_workload
    from turbina.indexes.workload import (
        Workload,
        WorkloadQuery,
        WriteLoad,
        from_recorder,
        from_samples,
        workload_from_samples,
        writes_from_pg_stat_user_tables,
        writes_from_samples,
    )
    from turbina.indexes.workload_file import (
        from_sql_file,
        from_sql_text,
        parse_workload,
        read_workload,
    )
