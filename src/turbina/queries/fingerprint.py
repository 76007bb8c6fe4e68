"""Statement fingerprints: one normalized text per query *shape*.

``fingerprint(sql)`` turns a cursor-level statement into its shape: literals and placeholders
of every style (``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``) become ``?``, comments are
dropped (a trailing sqlcommenter ``/*key='value'*/`` tag set is returned separately),
``IN (...)`` lists, multi-row ``VALUES`` and ``ARRAY[...]`` collapse to one item, whitespace
and keyword case fold. Quoted identifiers and digits inside identifiers are kept, so
``"Users"`` and ``table2`` survive. ``IN (SELECT ...)`` stays distinct from ``IN (?)``.

A hand-written regex tokenizer keeps a miss at a few tens of microseconds; hits are served
by ``FingerprintCache`` (a bounded LRU keyed by the raw statement).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import unquote

# One alternation, tried left to right: the order matters (comments and quotes before
# identifiers; ``::`` casts before ``:name`` placeholders; identifiers before numbers so the
# digits of ``table2`` never look like a literal).
TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lcomment>--[^\n]*)
  | (?P<bcomment>/\*.*?(?:\*/|\Z))
  | (?P<string>[eE]'(?:[^'\\]|\\.|'')*'|[xXbBnNuU]&?'(?:[^']|'')*'|'(?:[^']|'')*')
  | (?P<dollar>\$(?P<dtag>[A-Za-z_]\w*)?\$.*?\$(?P=dtag)?\$)
  | (?P<qident>"(?:[^"]|"")*"|`[^`]*`)
  | (?P<cast>::)
  | (?P<pyformat>%\(\w+\)s|%s)
  | (?P<numeric>\$\d+|:\w+|\?)
  | (?P<ident>[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<op>[<>=!|&^~+\-*/]+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

LITERAL_KINDS = frozenset({"string", "dollar", "pyformat", "numeric", "number"})

_SPACES = re.compile(r" {2,}")
_COMMA = re.compile(r" ?, ?")
_CAST = re.compile(r" ?:: ?")
_OPEN = re.compile(r"([(\[]) ")
_CLOSE = re.compile(r" ([)\]])")
# `IN (?, ?, ?)` (items optionally cast, as psycopg renders them) -> `IN (?)`.
_IN_LIST = re.compile(r"\bin \((\?(?:::[\w ]+?)?)(?:, \?(?:::[\w ]+?)?)*\)")
# Repeated identical parenthesized groups, e.g. multi-row VALUES or tuple IN lists.
_REPEATED_GROUP = re.compile(r"(\([^()]*\))(?:, \1)+")
# Driver-rendered casts on placeholders (psycopg's `%(x)s::INTEGER`) are part of the
# placeholder, not of the query shape: `?::integer` -> `?`, so one query has one fingerprint
# on every dialect.
_PLACEHOLDER_CAST = re.compile(
    r"\?::[a-z_][\w.]*(?: (?:without|with|time|zone|precision|varying)\b)*(?:\(\?(?:, \?)?\))?(?:\[\])*"
)
_ARRAY = re.compile(r"\barray\[\?(?:, \?)*\]")
_SQLCOMMENTER = re.compile(r"/\*((?:[\w.\-]+='[^']*',?)+)\*/\s*;?\s*\Z")
_TAG = re.compile(r"([\w.\-]+)='([^']*)'")


def split_tags(sql: str) -> tuple[str, dict[str, str]]:
    """Split a trailing sqlcommenter comment off ``sql``: ``(statement, tags)``."""
    if "*/" not in sql:
        return sql, {}
    match = _SQLCOMMENTER.search(sql)
    if match is None:
        return sql, {}
    tags = {unquote(key): unquote(value) for key, value in _TAG.findall(match.group(1))}
    return sql[: match.start()].rstrip(), tags


def fingerprint(sql: str) -> str:
    """The normalized shape of ``sql`` (see the module docstring for the rules)."""
    out: list[str] = []
    append = out.append
    for match in TOKEN_RE.finditer(sql):
        kind = match.lastgroup
        if kind == "ident":  # most frequent first
            append(match.group().lower())
        elif kind == "ws" or kind == "lcomment" or kind == "bcomment":
            append(" ")
        elif kind in LITERAL_KINDS:
            append("?")
        elif kind == "op":
            append(f" {match.group()} ")
        else:  # quoted identifiers, casts, punctuation: kept verbatim
            append(match.group())
    text = _SPACES.sub(" ", "".join(out)).strip()
    text = _COMMA.sub(", ", text)
    text = _CAST.sub("::", text)
    text = _OPEN.sub(r"\1", text)
    text = _CLOSE.sub(r"\1", text)
    if "?::" in text:
        text = _PLACEHOLDER_CAST.sub("?", text)
    if "in (" in text:
        text = _IN_LIST.sub(r"in (\1)", text)
    if "), (" in text:
        text = _REPEATED_GROUP.sub(r"\1", text)
    if "array[" in text:
        text = _ARRAY.sub("array[?]", text)
    return text.rstrip("; ")


class FingerprintCache:
    """Bounded LRU ``raw statement -> fingerprint`` so each distinct statement is parsed once.

    ``skip_prefix`` marks statements Turbina itself sent: they map to ``None`` (not recorded).
    """

    def __init__(
        self,
        capacity: int,
        skip_prefix: str = "/* turbina */",
        fingerprinter: Callable[[str], str] | None = None,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.skip_prefix = skip_prefix
        self.fingerprinter = fingerprinter or fingerprint
        self._data: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, statement: str) -> str | None:
        """The fingerprint of ``statement`` (``None`` for Turbina's own SQL)."""
        data = self._data
        try:
            result = data[statement]
        except KeyError:
            return self._miss(statement)
        self.hits += 1
        try:  # noqa: SIM105 - contextlib.suppress costs ~0.3 µs on this hot path
            data.move_to_end(statement)
        except KeyError:  # evicted by another thread between the two lines
            pass
        return result

    def _miss(self, statement: str) -> str | None:
        self.misses += 1
        result: str | None
        if statement.lstrip().startswith(self.skip_prefix):
            result = None
        else:
            result = self.fingerprinter(split_tags(statement)[0])
        with self._lock:
            data = self._data
            data[statement] = result
            while len(data) > self.capacity:
                data.popitem(last=False)
        return result
