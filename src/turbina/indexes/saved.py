"""The last advisor report, saved as one JSON file for others to read (the dashboard).

``flask turbina indexes advise`` writes it to the app's instance folder after each run
(one report: each run replaces the last one, atomically); the dashboard's Indexes page reads
it. Its size is capped: past ``MAX_REPORT_BYTES`` the per-index statement lists are cut to
``MAX_QUERIES_KEPT``, then indexes are dropped from the end, and ``truncated`` says so.
Statements in it are redacted (``report.to_json``), so the file holds no literal value.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from turbina.errors import TurbinaError

__all__ = ["MAX_REPORT_BYTES", "REPORT_FILE", "load_report", "report_path", "save_report"]

REPORT_FILE = "turbina-index-advice.json"
MAX_REPORT_BYTES = 512 * 1024
MAX_QUERIES_KEPT = 5
MAX_LINES = 400
FORMAT = 1


def report_path(instance_path: str | Path) -> Path:
    """Where an app whose instance folder is ``instance_path`` keeps its last report."""
    return Path(instance_path) / REPORT_FILE


def _encoded(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=1, sort_keys=True).encode("utf-8")


def _capped(payload: dict[str, Any]) -> bytes:
    data = _encoded(payload)
    if len(data) <= MAX_REPORT_BYTES:
        return data
    payload["truncated"] = True
    payload["lines"] = payload["lines"][:MAX_LINES]
    recs = payload["report"].get("indexes", [])
    for rec in recs:
        rec["queries"] = rec.get("queries", [])[:MAX_QUERIES_KEPT]
    data = _encoded(payload)
    while len(data) > MAX_REPORT_BYTES and (recs or payload["lines"]):
        if recs:
            recs.pop()
        else:
            payload["lines"] = payload["lines"][: len(payload["lines"]) // 2]
        data = _encoded(payload)
    return data


def save_report(
    path: Path,
    report: dict[str, Any],
    lines: list[str],
    *,
    dialect: str,
    database: str,
    source: str,
    ran_at: float | None = None,
) -> Path:
    """Write the report (``report.to_json`` output and the text lines) to ``path``,
    replacing the previous one atomically; a ``TurbinaError`` when it cannot be written."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "ran_at": time.time() if ran_at is None else ran_at,
        "dialect": dialect,
        "database": database,
        "source": source,
        "truncated": False,
        "report": report,
        "lines": list(lines),
    }
    data = _capped(payload)
    fix = "make the app's instance folder writable, or pass --no-save"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".advice-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise TurbinaError(
            f"cannot save the report to {path}: {exc.strerror or exc}", fix
        ) from None
    return path


def load_report(path: Path) -> dict[str, Any] | None:
    """The saved report at ``path``, or ``None`` when there is none; a ``TurbinaError``
    naming the file when it is unreadable or not a report."""
    fix = f"run `flask turbina indexes advise` again to replace {path.name}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TurbinaError(f"cannot read {path}: {exc.strerror or exc}", fix) from None
    if len(data) > 2 * MAX_REPORT_BYTES:
        raise TurbinaError(f"{path} is larger than a saved report can be", fix)
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TurbinaError(f"{path} is not JSON: {exc}", fix) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise TurbinaError(f"{path} is not a saved index report (format {FORMAT})", fix)
    if not isinstance(payload.get("report"), dict) or not isinstance(payload.get("lines"), list):
        raise TurbinaError(f"{path} is not a saved index report (no report or lines)", fix)
    return payload
