"""Typed, safe value codec: compact JSON with type tags, no pickle.

Plain JSON values (str, int, float, bool, None, list, dict with str keys) are written as they
are, so decoding a typical result is one ``json.loads``. Everything JSON cannot say exactly is
wrapped in a one-key object whose key is a tag starting with ``~``: tuples, dicts with non-str
keys (or a user dict that looks like a tag), sets, datetime (naive and aware), date, time,
timedelta, Decimal, UUID, bytes, SQLAlchemy ``Row``/``RowMapping`` and dataclasses (only
classes registered in the process are ever instantiated). A decoded value has the
same types as the value that was encoded, so a cache hit and a miss look identical to callers.

``encode_local``/``decode_local`` are the same tagged data in ``marshal`` form, for stores
whose bytes never leave the process (the memory backend): loading it is 2-4 times faster
than parsing JSON, and it is never read from anything another program could write.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import json.scanner
import marshal
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.engine.result import result_tuple

__all__ = ["decode", "decode_local", "encode", "encode_local", "register_dataclass"]

_TUPLE = "~t"
_DICT = "~d"
_SET = "~s"
_FROZENSET = "~fs"
_DATETIME = "~dt"
_DATE = "~da"
_TIME = "~ti"
_TIMEDELTA = "~td"
_DECIMAL = "~dec"
_UUID = "~u"
_BYTES = "~b"
_ROW = "~row"
_ROWMAP = "~rm"
_ZONED = "~dz"  # datetime in a named zone: keeps the zone, not just today's offset
_FLOAT = "~f"
_DATACLASS = "~dc"
_DATACLASSES: dict[str, type] = {}
_MAX_DATACLASSES = 10_000  # nan and the infinities, which strict JSON cannot carry

_PLAIN = (str, int, bool, type(None))


def _prep(value: Any) -> Any:
    """Turn ``value`` into plain JSON data with tags (recursive)."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    if cls is float:
        if value != value or value in (float("inf"), float("-inf")):
            return {_FLOAT: repr(value)}
        return value
    if cls is list:
        return [_prep(item) for item in value]
    if cls is dict:
        if all(type(k) is str for k in value) and not (len(value) == 1 and _looks_tagged(value)):
            return {k: _prep(v) for k, v in value.items()}
        return {_DICT: [[_prep(k), _prep(v)] for k, v in value.items()]}
    if cls is tuple:
        return {_TUPLE: [_prep(item) for item in value]}
    if cls is datetime:
        if isinstance(value.tzinfo, ZoneInfo):
            return {_ZONED: [value.replace(tzinfo=None).isoformat(), value.tzinfo.key, value.fold]}
        return {_DATETIME: value.isoformat()}
    if cls is date:
        return {_DATE: value.isoformat()}
    if cls is time:
        return {_TIME: value.isoformat()}
    if cls is timedelta:
        return {_TIMEDELTA: [value.days, value.seconds, value.microseconds]}
    if cls is Decimal:
        return {_DECIMAL: str(value)}
    if cls is uuid.UUID:
        return {_UUID: str(value)}
    if cls is bytes:
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if cls is set:
        return {_SET: [_prep(item) for item in value]}
    if cls is frozenset:
        return {_FROZENSET: [_prep(item) for item in value]}
    if isinstance(value, Row):
        return {_ROW: [list(value._fields), [_prep(item) for item in value]]}
    if isinstance(value, RowMapping):
        return {_ROWMAP: [list(value.keys()), [_prep(item) for item in value.values()]]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = f"{cls.__module__}:{cls.__qualname__}"
        if _DATACLASSES.get(name) is not cls:
            register_dataclass(cls)
        fields = {f.name: _prep(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_DATACLASS: [name, fields]}
    raise TypeError(
        f"cannot cache a value of type {cls.__module__}.{cls.__qualname__}: the codec handles "
        "str, int, float, bool, None, list, tuple, dict, set, datetime, date, time, timedelta, "
        "Decimal, UUID, bytes, dataclasses and SQLAlchemy Row/RowMapping; return those from "
        "the cached function"
    )


def _looks_tagged(value: dict[str, Any]) -> bool:
    (key,) = value
    return key in _DECODERS


def register_dataclass(cls: type) -> type:
    """Allow ``cls`` to be decoded. Encoding a dataclass registers it too; a process that
    reads an entry of a class it never registered treats it as a miss. Only registered
    classes are ever instantiated (never a class named by the data), so decoding stays safe.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if len(_DATACLASSES) < _MAX_DATACLASSES:
        _DATACLASSES[f"{cls.__module__}:{cls.__qualname__}"] = cls
    return cls


def _dataclass(data: list[Any]) -> Any:
    name, fields = data
    cls = _DATACLASSES.get(name)
    if cls is None:
        raise TypeError(f"dataclass {name} is not registered in this process")
    # Restore the exact state (init=False fields included) without re-running __init__.
    instance: Any = object.__new__(cls)
    for field_name, field_value in fields.items():
        object.__setattr__(instance, field_name, field_value)
    return instance


def _row(data: list[Any]) -> Any:
    fields, values = data
    return result_tuple(fields)(values)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    _TUPLE: tuple,
    _DICT: lambda pairs: {k: v for k, v in pairs},
    _SET: lambda items: set(items),
    _FROZENSET: lambda items: frozenset(items),
    _DATETIME: datetime.fromisoformat,
    _ZONED: lambda d: datetime.fromisoformat(d[0]).replace(tzinfo=ZoneInfo(d[1]), fold=d[2]),
    _DATE: date.fromisoformat,
    _TIME: time.fromisoformat,
    _TIMEDELTA: lambda parts: timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
    _DECIMAL: Decimal,
    _UUID: uuid.UUID,
    _BYTES: lambda text: base64.b64decode(text),
    _ROW: _row,
    _DATACLASS: _dataclass,
    _ROWMAP: lambda data: _row(data)._mapping,
    _FLOAT: float,
}


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        for key, data in obj.items():
            decoder = _DECODERS.get(key)
            if decoder is not None:
                return decoder(data)
    return obj


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def encode(value: Any) -> bytes:
    """Encode ``value`` to bytes; ``TypeError`` for a type the codec cannot round-trip
    (``RecursionError`` for a value nested too deep: the cache then does not store it).

    The first byte says how to decode: ``J`` plain JSON (no tag anywhere, so the decoder
    skips the per-object hook), ``T`` tagged JSON.
    """
    text = _dumps(_prep(value))
    # surrogatepass: a str holding a lone surrogate (from a bad decode upstream) round-trips
    # exactly instead of failing the call.
    return (b"T" if '"~' in text else b"J") + text.encode("utf-8", "surrogatepass")


# The C scanners directly: the hit path skips json's Python-level wrappers. ``encode`` never
# writes whitespace around the document, so nothing needs to be stripped.
_tagged_scan = json.scanner.make_scanner(json.JSONDecoder(object_hook=_hook))  # type: ignore[arg-type]
_plain_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def decode(data: bytes) -> Any:
    """Decode bytes written by ``encode`` back to a value with the same types."""
    text = str(memoryview(data)[1:], "utf-8", "surrogatepass")  # one copy, not two
    value, end = (_plain_scan if data[0] == 74 else _tagged_scan)(text, 0)  # b"J"
    if end != len(text):
        raise ValueError(f"trailing data after the cached value at offset {end}")
    return value


def encode_local(value: Any) -> bytes:
    """``encode`` for a store inside this process: the same tagged data, marshalled."""
    prepped = _prep(value)
    # Walked once here (on a miss) so that the hit path skips the walk for untagged data.
    return (b"T" if _has_tag(prepped) else b"J") + marshal.dumps(prepped)


def decode_local(data: bytes) -> Any:
    """Decode bytes written by ``encode_local``."""
    value = marshal.loads(memoryview(data)[1:])
    return _untag(value) if data[0] == 84 else value  # b"T"


def _has_tag(value: Any) -> bool:
    cls = type(value)
    if cls is list:
        return any(_has_tag(item) for item in value)
    if cls is dict:
        if len(value) == 1 and next(iter(value)) in _DECODERS:
            return True
        return any(_has_tag(item) for item in value.values())
    return False


def _untag(value: Any) -> Any:
    """Apply the decoders bottom-up, as the JSON scanner's object hook does."""
    cls = type(value)
    if cls is list:
        return [_untag(item) for item in value]
    if cls is dict:
        return _hook({key: _untag(item) for key, item in value.items()})
    return value
