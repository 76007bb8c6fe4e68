"""Fit fingerprints into a column without making different statements look the same.

Two steps: ``compact`` drops what is long and rarely tells statements apart — each long
select list of several items becomes its first item and ``...`` (``select a.id, ... from a``),
column labels that repeat the column name go — and ``fit`` cuts each text to a width,
keeping the beginning *and* the part where it first differs from the other texts shown
(``select count(*) from (select a.id, ... from a ... where ? = a.followed_id``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ELLIPSIS = "..."
_SELECT = re.compile(r"\bselect (?:distinct )?")
# ``t.c as c`` and ``t.c as t_c`` (SQLAlchemy 2.0's labels) say nothing ``t.c`` does not.
_LABEL = re.compile(r"\b(\w+)\.(\w+) as (?:\1_)?\2\b")
_CONTEXT = 12  # characters kept before the first difference
_SHORT_LIST = 24  # a select list this short is kept whole


def compact(sql: str) -> str:
    """``sql`` with long select lists folded to their first item and redundant labels gone."""
    text = _LABEL.sub(r"\1.\2", sql)
    out: list[str] = []
    position = 0
    for match in _SELECT.finditer(text):
        if match.start() < position:
            continue  # inside a select list already folded
        start = match.end()
        end, first_comma = _select_list_end(text, start)
        if end is None or first_comma is None or end - start <= _SHORT_LIST:
            continue
        out.append(text[position:first_comma])
        out.append(f", {ELLIPSIS} ")
        position = end
    out.append(text[position:])
    return "".join(out)


def _select_list_end(text: str, start: int) -> tuple[int | None, int | None]:
    """(index of the ``from`` ending the select list at ``start``, index of its first
    top-level comma); ``None`` when not found at the same parenthesis depth."""
    depth = 0
    first_comma: int | None = None
    index = start
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return None, None
            depth -= 1
        elif depth == 0:
            if char == "," and first_comma is None:
                first_comma = index
            elif text.startswith("from ", index) and text[index - 1] == " ":
                return index, first_comma
        index += 1
    return None, None


def fit(texts: Sequence[str], width: int | None) -> list[str]:
    """Each of ``texts`` compacted and cut to ``width`` characters (``None``: not cut),
    keeping the part that tells it apart from the others."""
    compacted = [compact(t) for t in texts]
    if width is None:
        return compacted
    width = max(width, 20)
    fitted = []
    for i, text in enumerate(compacted):
        if len(text) <= width:
            fitted.append(text)
            continue
        shared = max(
            (_common_prefix(text, other) for j, other in enumerate(compacted) if j != i),
            default=0,
        )
        if shared + _CONTEXT <= width - len(ELLIPSIS):
            fitted.append(text[: width - len(ELLIPSIS)] + ELLIPSIS)  # differs early: a plain cut
            continue
        head = width // 3
        start = max(head, shared - _CONTEXT)
        space = text.rfind(" ", head, shared)
        if space >= 0 and shared - space <= 3 * _CONTEXT:
            start = space + 1  # begin the kept part at a word
        room = width - head - len(ELLIPSIS)
        piece = text[start : start + room]
        if start + room < len(text):
            piece = piece[: room - len(ELLIPSIS)] + ELLIPSIS
        fitted.append(text[:head] + ELLIPSIS + piece)
    return fitted


def _common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    index = 0
    while index < limit and a[index] == b[index]:
        index += 1
    return index
