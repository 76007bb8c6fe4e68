"""Typed parsers for query parameters and request bodies of the `fretes` pages.

Each parser reads one named value from a mapping (``request.args``, ``request.form`` or a
JSON object) and either returns a typed value or raises ``BadParameter`` naming the parameter
and what is accepted. The views register one error handler that turns ``BadParameter`` into
a 400 answer, so a bad value is never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from turbina import TurbinaError

MAX_PAGE = 1_000_000
MAX_TEXT = 200
# Path ids and integer fields are PostgreSQL INTEGER columns: a larger number is a 400 here,
# not a database error (a 500) later.
MAX_ID = 2**31 - 1
# Dates far enough from any real invoice that ``date - 3650 days`` and ``date + 1 day`` never
# leave Python's date range (``ate=0001-01-01`` used to be a 500).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)
DATE_FORMAT_HINT = (
    f"a date as YYYY-MM-DD from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()} (e.g. 2026-03-31)"
)
# How much of a rejected value an error message shows: a 10 MB value is never echoed back.
SHOWN_CHARS = 60
# C0 control characters (NUL included: PostgreSQL rejects it in text, which used to be a 500)
# and DEL. Multi-line texts (comments, log lines) keep tab and newlines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = {"1", "true", "yes", "on", "sim"}
_FALSE = {"0", "false", "no", "off", "nao", "não", ""}


class BadParameter(TurbinaError):
    """A query parameter or body field has a value the page does not accept."""

    def __init__(self, parameter: str, value: Any, accepted: str) -> None:
        super().__init__(
            f"invalid value {shown_value(value)} for parameter '{parameter}': expected {accepted}",
            f"pass {parameter} as {accepted}",
        )
        self.parameter = parameter
        self.accepted = accepted


class MissingParameter(BadParameter):
    """A required body field is absent or empty."""

    def __init__(self, parameter: str, accepted: str) -> None:
        TurbinaError.__init__(
            self,
            f"missing required parameter '{parameter}': expected {accepted}",
            f"pass {parameter} as {accepted}",
        )
        self.parameter = parameter
        self.accepted = accepted


def shown_value(value: Any) -> str:
    """``value`` as an error message shows it: quoted, cut to ``SHOWN_CHARS`` characters."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + f"... ({len(text)} characters)"
    return f"'{text}'" if isinstance(value, str) else text


def _raw(args: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` or None when absent/blank (blank form fields mean 'not given')."""
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_text(
    args: Mapping[str, Any],
    name: str,
    *,
    max_len: int = MAX_TEXT,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """Free text, stripped; blank means None. Longer than ``max_len`` or holding control
    characters (``multiline`` allows tab and line breaks) is rejected."""
    accepted = f"text of at most {max_len} characters without control characters"
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, accepted)
        return None
    control = _CONTROL if multiline else _CONTROL_SINGLE_LINE
    if not isinstance(value, str) or len(value) > max_len or control.search(value):
        raise BadParameter(name, value, accepted)
    return value


def require_text(
    args: Mapping[str, Any], name: str, *, max_len: int = MAX_TEXT, multiline: bool = False
) -> str:
    """Like ``parse_text`` but the value must be present."""
    value = parse_text(args, name, max_len=max_len, required=True, multiline=multiline)
    assert value is not None  # required=True raised otherwise
    return value


def parse_int(
    args: Mapping[str, Any],
    name: str,
    *,
    minimum: int = 1,
    maximum: int = MAX_ID,
    default: int | None = None,
    required: bool = False,
) -> int | None:
    """An integer within [minimum, maximum]; absent gives ``default``."""
    accepted = f"an integer from {minimum} to {maximum}"
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, accepted)
        return default
    if isinstance(value, bool):
        raise BadParameter(name, value, accepted)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,12}", value):
        number = int(value)
    else:
        raise BadParameter(name, value, accepted)
    if not minimum <= number <= maximum:
        raise BadParameter(name, value, accepted)
    return number


def parse_page(args: Mapping[str, Any], name: str = "page") -> int:
    """A 1-based page number (default 1)."""
    page = parse_int(args, name, minimum=1, maximum=MAX_PAGE, default=1)
    assert page is not None
    return page


def parse_date(args: Mapping[str, Any], name: str, *, required: bool = False) -> date | None:
    """A calendar date written YYYY-MM-DD, from ``MIN_DATE`` to ``MAX_DATE``."""
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, DATE_FORMAT_HINT)
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BadParameter(name, value, DATE_FORMAT_HINT)
    else:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise BadParameter(name, value, DATE_FORMAT_HINT) from None
    if not MIN_DATE <= parsed <= MAX_DATE:
        raise BadParameter(name, value, DATE_FORMAT_HINT)
    return parsed


def parse_date_near(
    args: Mapping[str, Any], name: str, *, today: date, window_days: int
) -> date | None:
    """A date at most ``window_days`` before or after ``today`` (a relative "today" for
    reproducible pages: cached per value, so the range of values it takes is bounded)."""
    value = parse_date(args, name)
    if value is None:
        return None
    first, last = today - timedelta(days=window_days), today + timedelta(days=window_days)
    if not first <= value <= last:
        raise BadParameter(
            name, value.isoformat(), f"a date from {first.isoformat()} to {last.isoformat()}"
        )
    return value


def parse_date_range(
    args: Mapping[str, Any], start: str, end: str
) -> tuple[date | None, date | None]:
    """Two dates where ``end`` may not come before ``start``."""
    first = parse_date(args, start)
    last = parse_date(args, end)
    if first is not None and last is not None and last < first:
        raise BadParameter(
            end, last.isoformat(), f"a date on or after {start} ({first.isoformat()})"
        )
    return first, last


def parse_choice(
    args: Mapping[str, Any],
    name: str,
    choices: Sequence[str],
    *,
    default: str | None = None,
    case_insensitive: bool = True,
) -> str | None:
    """One of ``choices`` (returned in its canonical spelling); absent gives ``default``."""
    value = _raw(args, name)
    if value is None:
        return default
    if isinstance(value, str):
        for choice in choices:
            if value == choice or (case_insensitive and value.lower() == choice.lower()):
                return choice
    raise BadParameter(name, value, "one of: " + ", ".join(choices))


def require_choice(args: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    """Like ``parse_choice`` but the value must be present."""
    value = parse_choice(args, name, choices)
    if value is None:
        raise MissingParameter(name, "one of: " + ", ".join(choices))
    return value


def parse_bool(args: Mapping[str, Any], name: str, *, default: bool = False) -> bool:
    """A boolean: true/false, 1/0, yes/no, on/off (a checkbox sends 'on')."""
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise BadParameter(name, value, "a boolean: true/false, 1/0, yes/no, on/off")


def parse_decimal(
    args: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: Decimal = Decimal("0"),
    maximum: Decimal = Decimal("9999999999999.99"),
) -> Decimal | None:
    """A money amount with at most 2 decimal places, within [minimum, maximum]."""
    accepted = f"a number from {minimum} to {maximum} with at most 2 decimals (e.g. 1234.56)"
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, accepted)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BadParameter(name, value, accepted)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadParameter(name, value, accepted) from None
    if not number.is_finite() or not minimum <= number <= maximum:
        raise BadParameter(name, value, accepted)
    if number != number.quantize(Decimal("0.01")):
        raise BadParameter(name, value, accepted)
    return number.quantize(Decimal("0.01"))


def parse_code(args: Mapping[str, Any], name: str, *, max_len: int = 20) -> str | None:
    """A document number (NF, CT-e): letters, digits, '.', '-', '/' only."""
    accepted = f"a code of 1 to {max_len} letters, digits, '.', '-' or '/'"
    value = _raw(args, name)
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(rf"[0-9A-Za-z./-]{{1,{max_len}}}", value):
        raise BadParameter(name, value, accepted)
    return value


def parse_path_id(name: str, value: int) -> int:
    """An id taken from the URL path: within the INTEGER range of the id columns."""
    if not 1 <= value <= MAX_ID:
        raise BadParameter(name, value, f"an integer from 1 to {MAX_ID}")
    return value


def json_object(body: Any, name: str = "body") -> Mapping[str, Any]:
    """A JSON request body that must be an object."""
    if not isinstance(body, Mapping):
        raise BadParameter(name, type(body).__name__, "a JSON object")
    return body
