"""Cache keys: namespace + context + module-qualified function name + typed, bound arguments.

Arguments are bound with ``inspect.signature(func).bind()`` and defaults applied, so
``f(1)``, ``f(x=1)`` and ``f(1, y=<default>)`` are one key. Each argument is encoded with
its type (``1``, ``1.0``, ``True`` and ``"1"`` are four keys; a dataclass by its fields) and the whole is hashed with
BLAKE2b to 128 bits. ``self`` is left out unless the instance declares what identifies it
(a ``__cache_key__()`` method); ``cls`` is keyed by its qualified name. A value that has no
stable identity (an object whose only name is its memory address) raises ``TypeError``
naming the parameter instead of keying by ``repr``.

A function defined inside another one (a closure, a lambda) has the same qualified name on
every call of its factory, so its key also holds a digest of its code (two lambdas of one
scope differ) and the current values of the immutable variables it closes over
(``factory(1)`` and ``factory(2)`` differ, in every process). A closure over a mutable or
process-local object (a list, a session factory) is keyed per closure object: its entries are
its own, never shared with another closure or another process.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import uuid
import uuid as _uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from hashlib import blake2b
from types import CodeType, FunctionType
from typing import Any

__all__ = ["KeyMaker", "code_digest", "function_name"]

IDENTITY_METHOD = "__cache_key__"
_REPR_SAFE = frozenset({str, int, float, bool, type(None)})
_MAX_MEMO = 4096
_IMMUTABLE = frozenset(
    {str, int, float, bool, type(None), bytes, datetime, date, time, timedelta, Decimal, uuid.UUID}
)


def _immutable(value: Any, depth: int = 0) -> bool:
    """True for a value whose content can never change (so keying by it is stable)."""
    cls = type(value)
    if cls in _IMMUTABLE or isinstance(value, enum.Enum | type):
        return True
    if cls is FunctionType:  # a helper function: by its code, if it closes over constants only
        return depth < 2 and all(
            _bound_immutable(cell, depth + 1) for cell in value.__closure__ or ()
        )
    if (cls is tuple or cls is frozenset) and depth < 4:
        return all(_immutable(item, depth + 1) for item in value)
    return callable(getattr(value, IDENTITY_METHOD, None))


def _bound_immutable(cell: Any, depth: int) -> bool:
    try:
        return _immutable(cell.cell_contents, depth)
    except ValueError:
        return True  # unbound yet


def function_name(func: Callable[..., Any]) -> str:
    """``module:qualname`` of ``func``: two functions with one name in two modules differ."""
    module = getattr(func, "__module__", None) or "?"
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    return f"{module}:{qualname}"


def code_digest(code: CodeType) -> str:
    """A digest of ``code`` that is the same in every process running the same source (no
    memory addresses, no hash-randomized set order)."""
    digest = blake2b(digest_size=8)

    def feed(co: CodeType) -> None:
        digest.update(co.co_code)
        digest.update(repr((co.co_names, co.co_varnames, co.co_freevars)).encode())
        for const in co.co_consts:
            if isinstance(const, CodeType):
                feed(const)
            elif isinstance(const, frozenset):
                digest.update(repr(sorted(map(repr, const))).encode())
            else:
                digest.update(repr(const).encode("utf-8", "surrogatepass"))

    feed(code)
    return digest.hexdigest()


def _is_local(func: Callable[..., Any]) -> bool:
    qualname = getattr(func, "__qualname__", "") or ""
    return "<locals>" in qualname or "<lambda>" in qualname


class _Unkeyable(Exception):
    def __init__(self, cls: type) -> None:
        super().__init__(cls)
        self.cls = cls


def _emit(value: Any, out: list[str]) -> None:
    """Append a typed, unambiguous text form of ``value`` to ``out``."""
    cls = type(value)
    if cls is str:
        out.append(f"s{len(value)}:{value}")
    elif cls is int:
        out.append(f"i{value};")
    elif cls is bool:
        out.append("T" if value else "F")
    elif value is None:
        out.append("N")
    elif cls is float:
        out.append(f"f{value!r};")
    elif cls is list or cls is tuple:
        out.append("[" if cls is list else "(")
        out.append(f"{len(value)}:")
        for item in value:
            _emit(item, out)
        out.append("]")
    elif cls is dict or cls is set or cls is frozenset:
        # Order-independent: sort the encoded members.
        parts: list[str] = []
        for item in value.items() if cls is dict else value:
            sub: list[str] = []
            if cls is dict:
                _emit(item[0], sub)
                _emit(item[1], sub)
            else:
                _emit(item, sub)
            parts.append("".join(sub))
        parts.sort()
        tag = {dict: "{", set: "<", frozenset: "|"}[cls]
        out.append(f"{tag}{len(parts)}:{''.join(f'{len(p)}:{p}' for p in parts)}")
    elif cls is bytes:
        out.append(f"b{len(value)}:{value.hex()}")
    elif cls in (datetime, date, time, timedelta, Decimal, uuid.UUID):
        text = str(value) if cls is not datetime else value.isoformat()
        tz = f"@{value.tzinfo!s}" if cls in (datetime, time) and value.tzinfo is not None else ""
        out.append(f"{cls.__name__}({text}{tz})")
    elif isinstance(value, enum.Enum):
        out.append(f"E{cls.__module__}.{cls.__qualname__}.{value.name};")
    elif isinstance(value, type):
        out.append(f"C{value.__module__}.{value.__qualname__};")
    elif cls is FunctionType:
        # A function (a closed-over helper): its name, its code and what it closes over
        # (one level: functions it closes over count by name and code).
        out.append(f"F{function_name(value)}:{code_digest(value.__code__)}(")
        for cell in value.__closure__ or ():
            try:
                inner = cell.cell_contents
            except ValueError:
                out.append("unbound;")
                continue
            if type(inner) is FunctionType:
                out.append(f"F{function_name(inner)}:{code_digest(inner.__code__)};")
            elif _immutable(inner):
                _emit(inner, out)
            else:
                raise _Unkeyable(type(inner))
        out.append(")")
    elif dataclasses.is_dataclass(value) and not hasattr(value, IDENTITY_METHOD):
        # A dataclass argument (a filters object) is a value: keyed by its fields now.
        out.append(f"D{cls.__module__}.{cls.__qualname__}(")
        for item in dataclasses.fields(value):
            out.append(f"{item.name}=")
            _emit(getattr(value, item.name), out)
        out.append(")")
    else:
        identity = getattr(value, IDENTITY_METHOD, None)
        if identity is None or not callable(identity):
            raise _Unkeyable(cls)
        out.append(f"O{cls.__module__}.{cls.__qualname__}(")
        _emit(identity(), out)
        out.append(")")


class KeyMaker:
    """Builds the hashed key of one decorated function for given call arguments."""

    __slots__ = (
        "_bind",
        "_cells",
        "_count",
        "_drop_self",
        "_freevars",
        "_memo",
        "_name",
        "_names",
        "_seed",
        "_simple",
    )

    def __init__(
        self, func: Callable[..., Any], namespace: str, context: str, extra: str = ""
    ) -> None:
        self._name = function_name(func)
        signature = inspect.signature(func)
        self._bind = signature.bind
        params = list(signature.parameters.values())
        self._names = tuple(p.name for p in params)
        self._count = len(params)
        self._drop_self = bool(params) and params[0].name == "self"
        # Positional-only calls to a function without defaults or *args skip bind() (hot path).
        self._simple = all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
            for p in params
        )
        code = getattr(func, "__code__", None)
        local = _is_local(func) and isinstance(code, CodeType)
        identity = f"{self._name}@{code_digest(code)}" if local else self._name  # type: ignore[arg-type]
        self._seed = f"{namespace}\x00{context}\x00{identity}\x00{extra}\x00"
        self._memo: dict[str, str] = {}  # repr of plain arguments -> key (bounded)
        closure = getattr(func, "__closure__", None) if local else None
        cells: list[tuple[str, Any]] = []
        for name, cell in zip(code.co_freevars if closure else (), closure or (), strict=True):  # type: ignore[union-attr]
            try:
                value = cell.cell_contents
            except ValueError:  # not bound yet: keyed by its value at call time
                cells.append((name, cell))
                continue
            if _immutable(value):
                cells.append((name, cell))
            elif "#" not in self._seed:
                # Closes over a mutable or process-local object: this closure's own entries.
                self._seed += f"#{_uuid.uuid4().hex}\x00"
        self._cells = tuple(cell for _, cell in cells)
        self._freevars: tuple[str, ...] = tuple(name for name, _ in cells)

    @property
    def function(self) -> str:
        """The module-qualified name of the function this key maker serves."""
        return self._name

    def picker(
        self, names: tuple[str, ...]
    ) -> Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]:
        """A function giving the values of the parameters ``names`` of one call, built once:
        positional calls of a function with no defaults or ``*args`` index ``args`` directly
        (the hot path of a partitioned function), anything else binds."""
        positions = tuple(self._names.index(n) if n in self._names else -1 for n in names)
        simple, count, arguments = self._simple, self._count, self.arguments

        def pick(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            if simple and not kwargs and len(args) == count and -1 not in positions:
                return tuple(args[i] for i in positions)
            bound = arguments(args, kwargs)
            return tuple(bound.get(n) for n in names)

        return pick

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by name, defaults applied."""
        bound = self._bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The 32-hex-digit key of one call; ``TypeError`` naming an un-keyable parameter."""
        if self._simple and not kwargs and len(args) == self._count:
            names: tuple[str, ...] = self._names
            values: tuple[Any, ...] = args
        else:
            bound = self._bind(*args, **kwargs)
            bound.apply_defaults()
            names = tuple(bound.arguments)
            values = tuple(bound.arguments.values())
        if self._drop_self and values:
            identity = getattr(values[0], IDENTITY_METHOD, None)
            if identity is None:
                names, values = names[1:], values[1:]
            else:
                values = (identity(), *values[1:])
        if self._cells:
            return self._closure_key(names, values)
        if _REPR_SAFE.issuperset(map(type, values)):
            # Fast path: repr() of str/int/float/bool/None is unambiguous and keeps the type
            # (1, 1.0, True and '1' differ); params are in signature order, so names are implied.
            text = repr(values)
            memo = self._memo
            found = memo.get(text)
            if found is None:
                found = blake2b(
                    (self._seed + "R" + text).encode("utf-8", "surrogatepass"), digest_size=16
                ).hexdigest()
                if len(memo) >= _MAX_MEMO:
                    memo.clear()
                memo[text] = found
            return found
        else:
            out: list[str] = [self._seed, "S"]
            for name, value in zip(names, values, strict=True):
                out.append(f"{name}=")
                try:
                    _emit(value, out)
                except _Unkeyable as exc:
                    raise TypeError(
                        f"cannot build a cache key for {self._name}: parameter {name!r} has type "
                        f"{exc.cls.__module__}.{exc.cls.__qualname__}, which has no stable "
                        f"identity; pass plain values (ids, strings, dates) or give the type a "
                        f"{IDENTITY_METHOD}() method returning one"
                    ) from None
            text = "".join(out)
        return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def _closure_key(self, names: tuple[str, ...], values: tuple[Any, ...]) -> str:
        out: list[str] = [self._seed, "K"]
        for name, cell in zip(self._freevars, self._cells, strict=True):
            out.append(f"{name}~")
            try:
                value = cell.cell_contents
            except ValueError:
                out.append("unbound;")
                continue
            try:
                _emit(value, out)
            except _Unkeyable as exc:  # rebound to an object with no stable identity
                raise TypeError(
                    f"cannot build a cache key for {self._name}: the variable {name!r} it "
                    f"closes over now holds a {exc.cls.__module__}.{exc.cls.__qualname__}, "
                    "which has no stable identity"
                ) from None
        out.append("|")
        for name, value in zip(names, values, strict=True):
            out.append(f"{name}=")
            try:
                _emit(value, out)
            except _Unkeyable as exc:
                raise TypeError(
                    f"cannot build a cache key for {self._name}: parameter {name!r} has type "
                    f"{exc.cls.__module__}.{exc.cls.__qualname__}, which has no stable "
                    f"identity; pass plain values (ids, strings, dates) or give the type a "
                    f"{IDENTITY_METHOD}() method returning one"
                ) from None
        return blake2b("".join(out).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
