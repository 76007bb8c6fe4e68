"""What one SQL statement does to the data: the tables it writes and how.

``effect_of(statement)`` classifies a cursor-level statement once (bounded memo): the tables
an ``INSERT``/``UPDATE``/``DELETE``/``MERGE``/``REPLACE``/``TRUNCATE a, b``/``COPY ... FROM``/
``REFRESH MATERIALIZED VIEW``/``DROP``/``ALTER TABLE`` writes, every statement of a
multi-statement string, ``EXPLAIN ANALYZE`` of a write (which runs it), writes inside
``WITH`` (sqlglot), whether it may delete or update referenced rows (so foreign-key
``ON DELETE``/``ON UPDATE`` actions apply), transaction control (``COMMIT``/``ROLLBACK``
sent as text, ``SET TRANSACTION ISOLATION LEVEL``), DDL (views and foreign keys may have
changed) and statements whose writes cannot be known (``CALL``, ``DO``: every table).
A read costs one dict lookup after its first sight.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import sqlglot
from sqlglot import exp

from turbina.cache.stamps import table_name

__all__ = ["NO_EFFECT", "Effect", "effect_of", "split_statements", "written_tables"]

_MAX_MEMO = 10_000
_MAX_MEMO_CHARS = 4096


class Effect(NamedTuple):
    """What a statement does besides reading."""

    tables: frozenset[str] = frozenset()  # normalized names of the tables it writes
    deletes: bool = False  # may delete rows others reference (ON DELETE actions)
    updates: bool = False  # may update rows others reference (ON UPDATE actions)
    truncate_cascade: bool = False  # TRUNCATE ... CASCADE: every referencing table too
    unknown: bool = False  # may write any table (CALL, DO)
    schema: bool = False  # DDL: views and foreign keys may have changed
    ends: str = ""  # "commit" / "rollback": transaction control sent as SQL text
    isolation: str = ""  # isolation level the statement sets for the transaction


NO_EFFECT = Effect()

_NAME = r"(?:\"(?:[^\"]|\"\")+\"|`[^`]+`|\[[^\]]+\]|[\w$]+)"
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME}){{0,2}})"
_HEAD = re.compile(r"\s*([A-Za-z]+)")
_COMMENT = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*(?:\n|$)\s*)+", re.S)
_INSERT = re.compile(
    rf"^\s*(?:INSERT(?:\s+OR\s+(\w+))?(?:\s+IGNORE)?\s+INTO|(REPLACE)\s+INTO)\s+{_QUALIFIED}",
    re.I,
)
_UPDATE = re.compile(rf"^\s*UPDATE(?:\s+OR\s+\w+)?(?:\s+ONLY)?\s+{_QUALIFIED}", re.I)
_DELETE = re.compile(rf"^\s*DELETE\s+FROM(?:\s+ONLY)?\s+{_QUALIFIED}", re.I)
_MERGE = re.compile(rf"^\s*MERGE\s+INTO(?:\s+ONLY)?\s+{_QUALIFIED}", re.I)
_TRUNCATE = re.compile(r"^\s*TRUNCATE(?:\s+TABLE)?\s+(.*)$", re.I | re.S)
_COPY_FROM = re.compile(rf"^\s*COPY\s+{_QUALIFIED}(?:\s*\([^)]*\))?\s+FROM\b", re.I)
_REFRESH = re.compile(
    rf"^\s*REFRESH\s+MATERIALIZED\s+VIEW(?:\s+CONCURRENTLY)?\s+{_QUALIFIED}", re.I
)
_DROP_ALTER = re.compile(
    rf"^\s*(?:DROP|ALTER)\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?"
    rf"\s+{_QUALIFIED}",
    re.I,
)
_CREATE_VIEW = re.compile(
    rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:MATERIALIZED\s+)?VIEW"
    rf"(?:\s+IF\s+NOT\s+EXISTS)?\s+{_QUALIFIED}",
    re.I,
)
_EXPLAIN = re.compile(
    r"^\s*EXPLAIN\s+(\((?:[^()]|\([^()]*\))*\)|(?:(?:ANALY[SZ]E|VERBOSE)\s+)*)", re.I
)
_ISOLATION = re.compile(
    r"ISOLATION\s+LEVEL\s+(READ\s+UNCOMMITTED|READ\s+COMMITTED|REPEATABLE\s+READ|SERIALIZABLE|SNAPSHOT)",
    re.I,
)
_ANY_WRITE = re.compile(rf"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+{_QUALIFIED}", re.I)
_UPSERT = re.compile(
    r"\bON\s+(?:CONFLICT\b.*\bDO\s+UPDATE|DUPLICATE\s+KEY\s+UPDATE)\b", re.I | re.S
)
_READS = frozenset(
    {"SELECT", "VALUES", "TABLE", "SHOW", "PRAGMA", "SAVEPOINT", "RELEASE", "DESCRIBE", "FETCH"}
)
_DDL = frozenset({"CREATE", "DROP", "ALTER", "COMMENT", "GRANT", "REVOKE"})

_memo: dict[str, Effect] = {}


def effect_of(statement: str) -> Effect:
    """The ``Effect`` of ``statement`` (memoized per distinct string)."""
    found = _memo.get(statement)
    if found is None:
        found = _classify(statement)
        if len(statement) <= _MAX_MEMO_CHARS:  # long multi-row INSERTs: cheap to redo
            if len(_memo) >= _MAX_MEMO:
                _memo.clear()
            _memo[statement] = found
    return found


def written_tables(statement: str) -> frozenset[str]:
    """Tables a statement writes; empty for reads."""
    return effect_of(statement).tables


def _classify(statement: str) -> Effect:
    parts = split_statements(statement) if ";" in statement.rstrip().rstrip(";") else None
    if parts is not None and len(parts) > 1:
        return _combine([_single(part) for part in parts])
    return _single(statement)


def _combine(effects: list[Effect]) -> Effect:
    if all(e is NO_EFFECT for e in effects):
        return NO_EFFECT
    ends = [e.ends for e in effects if e.ends]
    return Effect(
        tables=frozenset().union(*(e.tables for e in effects)),
        deletes=any(e.deletes for e in effects),
        updates=any(e.updates for e in effects),
        truncate_cascade=any(e.truncate_cascade for e in effects),
        unknown=any(e.unknown for e in effects),
        schema=any(e.schema for e in effects),
        ends=ends[-1] if ends else "",
        isolation=next((e.isolation for e in reversed(effects) if e.isolation), ""),
    )


def _single(statement: str) -> Effect:
    match = _HEAD.match(statement)
    if match is None:
        if statement.lstrip().startswith(("/*", "--")):
            statement = _COMMENT.sub("", statement, count=1)
            match = _HEAD.match(statement)
        if match is None:
            return NO_EFFECT
    head = match.group(1).upper()
    if head in _READS:
        return NO_EFFECT
    if head == "INSERT" or head == "REPLACE":
        found = _INSERT.match(statement)
        if found is None:
            return _fallback(statement)
        replaces = head == "REPLACE" or (found.group(1) or "").upper() == "REPLACE"
        upsert = replaces or _UPSERT.search(statement) is not None
        return Effect(_names(found.group(3)), deletes=replaces, updates=upsert)
    if head == "UPDATE":
        found = _UPDATE.match(statement)
        return Effect(_names(found.group(1)), updates=True) if found else _fallback(statement)
    if head == "DELETE":
        found = _DELETE.match(statement)
        return Effect(_names(found.group(1)), deletes=True) if found else _fallback(statement)
    if head == "MERGE":
        found = _MERGE.match(statement)
        if found is None:
            return _fallback(statement)
        return Effect(_names(found.group(1)), deletes=True, updates=True)
    if head == "TRUNCATE":
        return _truncate(statement)
    if head == "WITH":
        return _with(statement)
    if head == "EXPLAIN":
        found = _EXPLAIN.match(statement)
        if found is None or "ANALY" not in found.group(1).upper():
            return NO_EFFECT  # plain EXPLAIN plans the statement without running it
        options = found.group(1).upper()
        if re.search(r"ANALY[SZ]E\s+(?:FALSE|OFF|0)\b", options):
            return NO_EFFECT
        return _single(statement[found.end() :])
    if head == "COPY":
        found = _COPY_FROM.match(statement)
        return Effect(_names(found.group(1))) if found else NO_EFFECT
    if head == "REFRESH":
        found = _REFRESH.match(statement)
        return Effect(_names(found.group(1))) if found else NO_EFFECT
    if head in ("COMMIT", "END"):
        return Effect(ends="commit")
    if head == "ROLLBACK" or head == "ABORT":
        if re.match(r"\s*ROLLBACK\s+(?:WORK\s+|TRANSACTION\s+)?TO\b", statement, re.I):
            return NO_EFFECT  # ROLLBACK TO SAVEPOINT: the transaction goes on
        if re.match(r"\s*ROLLBACK\s+PREPARED\b", statement, re.I):
            return NO_EFFECT
        return Effect(ends="rollback")
    if head in ("BEGIN", "START", "SET"):
        level = _ISOLATION.search(statement)
        if level is None:
            return NO_EFFECT
        return Effect(isolation=" ".join(level.group(1).upper().split()))
    if head in ("CALL", "DO"):
        return Effect(unknown=True)
    if head in _DDL:
        found = _DROP_ALTER.match(statement) or _CREATE_VIEW.match(statement)
        return Effect(_names(found.group(1)) if found else frozenset(), schema=True)
    return NO_EFFECT


def _names(text: str) -> frozenset[str]:
    return frozenset({table_name(_unqualify(text))})


def _unqualify(text: str) -> str:
    # The last dotted part, outside quotes: "my.schema"."t" -> "t"
    parts = re.findall(_NAME, text)
    return parts[-1] if parts else text


def _truncate(statement: str) -> Effect:
    found = _TRUNCATE.match(statement)
    if found is None:
        return NO_EFFECT
    body = found.group(1)
    cascade = re.search(r"\bCASCADE\b", body, re.I) is not None
    body = re.split(
        r"\b(?:RESTART|CONTINUE)\s+IDENTITY\b|\bCASCADE\b|\bRESTRICT\b", body, flags=re.I
    )[0]
    names = set()
    for item in body.split(","):
        item = re.sub(r"^\s*ONLY\s+", "", item.strip(), flags=re.I).rstrip("*").strip()
        if item:
            names.add(table_name(_unqualify(item)))
    return Effect(frozenset(names), deletes=True, truncate_cascade=cascade)


def _with(statement: str) -> Effect:
    try:
        tree = sqlglot.parse_one(statement)
        names: set[str] = set()
        deletes = updates = False
        for node in tree.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
            target = node.this
            table = target if isinstance(target, exp.Table) else target.find(exp.Table)
            if table is not None and table.name:
                names.add(table_name(table.name))
            deletes = deletes or isinstance(node, exp.Delete | exp.Merge)
            updates = updates or isinstance(node, exp.Update | exp.Merge)
        if names:
            return Effect(frozenset(names), deletes=deletes, updates=updates)
        if not any(word in statement.upper() for word in ("INSERT", "UPDATE", "DELETE", "MERGE")):
            return NO_EFFECT
    except Exception:
        pass
    return _fallback(statement)


def _fallback(statement: str) -> Effect:
    """A write we could not parse: every table named after a write keyword, conservatively."""
    names = frozenset(table_name(_unqualify(m)) for m in _ANY_WRITE.findall(statement))
    if not names:
        return Effect(unknown=True)
    return Effect(names, deletes=True, updates=True)


def split_statements(sql: str) -> list[str]:
    """Split on ``;`` outside quotes, comments and dollar-quoted bodies."""
    parts: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or c == '"' or c == "`":
            end = sql.find(c, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == c:  # doubled quote
                end = sql.find(c, end + 2)
            i = n if end == -1 else end + 1
        elif c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif c == "$":
            tag = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if tag is None:
                i += 1
                continue
            end = sql.find(tag.group(0), i + len(tag.group(0)))
            i = n if end == -1 else end + len(tag.group(0))
        elif c == ";":
            parts.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    parts.append(sql[start:])
    return [part for part in parts if part.strip()]
