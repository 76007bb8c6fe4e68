"""Typed parsers for query parameters and request bodies of the `fretes` pages.

Each parser reads one named value from a mapping (``request.args``, ``request.form`` or a
JSON object) and either returns a typed value or raises ``BadParameter`` naming the parameter
and what is accepted. The views register one error handler that turns ``BadParameter`` into
a 400 answer, so a bad value is never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from turbina import TurbinaError

MAX_PAGE = 1_000_000
MAX_TEXT = 200
DATE_FORMAT_HINT = "a date as YYYY-MM-DD (e.g. 2026-03-31)"
_TRUE = {"1", "true", "yes", "on", "sim"}
_FALSE = {"0", "false", "no", "off", "nao", "não", ""}


class BadParameter(TurbinaError):
    """A query parameter or body field has a value the page does not accept."""

    def __init__(self, parameter: str, value: Any, accepted: str) -> None:
        shown = repr(value) if not isinstance(value, str) else f"'{value[:60]}'"
        super().__init__(
            f"invalid value {shown} for parameter '{parameter}': expected {accepted}",
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
    args: Mapping[str, Any], name: str, *, max_len: int = MAX_TEXT, required: bool = False
) -> str | None:
    """Free text, stripped; blank means None. Longer than ``max_len`` is rejected."""
    accepted = f"text of at most {max_len} characters"
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, accepted)
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise BadParameter(name, value, accepted)
    return value


def require_text(args: Mapping[str, Any], name: str, *, max_len: int = MAX_TEXT) -> str:
    """Like ``parse_text`` but the value must be present."""
    value = parse_text(args, name, max_len=max_len, required=True)
    assert value is not None  # required=True raised otherwise
    return value


def parse_int(
    args: Mapping[str, Any],
    name: str,
    *,
    minimum: int = 1,
    maximum: int = 2**31 - 1,
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
    """A calendar date written YYYY-MM-DD."""
    value = _raw(args, name)
    if value is None:
        if required:
            raise MissingParameter(name, DATE_FORMAT_HINT)
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BadParameter(name, value, DATE_FORMAT_HINT)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadParameter(name, value, DATE_FORMAT_HINT) from None


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


def json_object(body: Any, name: str = "body") -> Mapping[str, Any]:
    """A JSON request body that must be an object."""
    if not isinstance(body, Mapping):
        raise BadParameter(name, type(body).__name__, "a JSON object")
    return body
