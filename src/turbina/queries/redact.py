"""Literal redaction for anything Turbina shows (slow log, findings, plans, CLI).

``redact_sql`` gives the statement's fingerprint (every literal and placeholder is ``?``).
``redact_text`` keeps a free-form text (a plan's ``Filter`` line, an SQLite plan detail) as
it is but replaces quoted strings and numbers with ``?``.
"""

from __future__ import annotations

from typing import Any

from turbina.queries.fingerprint import LITERAL_KINDS, TOKEN_RE, fingerprint, split_tags


def redact_sql(sql: str) -> str:
    """``sql`` with literals replaced by ``?`` (its fingerprint)."""
    return fingerprint(split_tags(sql)[0])


def redact_text(text: str) -> str:
    """``text`` with quoted strings and numbers replaced by ``?``; identifiers kept."""
    parts: list[str] = []
    for match in TOKEN_RE.finditer(text):
        parts.append("?" if match.lastgroup in LITERAL_KINDS else match.group())
    return "".join(parts)


def redact_tree(value: Any) -> Any:
    """Redact every string value inside a JSON-like tree (keys, and numbers such as costs
    and row estimates, are kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_tree(item) for item in value]
    return value
