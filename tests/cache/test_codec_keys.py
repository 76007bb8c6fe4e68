"""The typed codec and the key maker (seed bugs: repr keys, one name in two modules)."""

from __future__ import annotations

import dataclasses
import types
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from turbina.cache.codec import decode, encode
from turbina.cache.keys import KeyMaker

VALUES: list[Any] = [
    "texto ç",
    0,
    -12345678901234567890,
    1.5,
    0.0,
    True,
    False,
    None,
    [],
    {},
    (),
    "",
    [1, (2, 3), {"a": [None]}],
    {1: "int key", (1, "x"): "tuple key", None: 0, 2.5: "f"},
    {"~t": "looks like a tag"},
    datetime(2024, 5, 1, 12, 30, 1, 123456),
    datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/Sao_Paulo")),
    date(2024, 2, 29),
    time(23, 59, 59, 5),
    timedelta(days=-1, seconds=5),
    Decimal("1234.50"),
    Decimal("-0.001"),
    uuid.UUID(int=7),
    b"\x00\xffbytes",
    {1, 2, 3},
    frozenset({"a"}),
    float("inf"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trip_keeps_value_and_types(value: Any) -> None:
    decoded = decode(encode(value))
    assert decoded == value
    assert type(decoded) is type(value)
    if isinstance(value, datetime):
        assert decoded.tzinfo == value.tzinfo


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_the_in_process_form_round_trips_the_same(value: Any) -> None:
    from turbina.cache.codec import decode_local, encode_local

    decoded = decode_local(encode_local(value))
    assert decoded == value
    assert type(decoded) is type(value)
    assert decoded == decode(encode(value))


def test_nested_types_survive() -> None:
    value = {"rows": [(Decimal("1.10"), date(2024, 1, 1))], "when": datetime(2024, 1, 1)}
    decoded = decode(encode(value))
    assert type(decoded["rows"][0]) is tuple
    assert type(decoded["rows"][0][0]) is Decimal
    assert str(decoded["rows"][0][0]) == "1.10"


def test_sqlalchemy_rows_round_trip() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT 1 AS id, 'x' AS name")).one()
    decoded_row, decoded_map = decode(encode([row, row._mapping]))
    assert isinstance(decoded_row, sa.Row)
    assert decoded_row.id == 1 and decoded_row.name == "x" and decoded_row._fields == ("id", "name")
    assert isinstance(decoded_map, sa.RowMapping)
    assert dict(decoded_map) == {"id": 1, "name": "x"}
    engine.dispose()


def test_unknown_type_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="object"):
        encode([object()])


# --- keys ---------------------------------------------------------------------------------


def lookup(a: Any, b: Any = 2, *, c: Any = None) -> None:
    """A function to key."""


def test_defaults_and_keywords_bind_to_one_key() -> None:
    keys = KeyMaker(lookup, "ns", "ctx")
    assert keys.key((1,), {}) == keys.key((1, 2), {}) == keys.key((), {"a": 1, "b": 2, "c": None})
    assert keys.key((1,), {}) != keys.key((1, 3), {})
    assert len(keys.key((1,), {})) == 32  # 128 bits


def test_argument_types_are_part_of_the_key() -> None:
    keys = KeyMaker(lookup, "ns", "ctx")
    variants = [1, 1.0, True, "1", (1,), [1], Decimal(1), b"1"]
    assert len({keys.key((v,), {}) for v in variants}) == len(variants)


def test_dict_and_set_order_does_not_matter() -> None:
    keys = KeyMaker(lookup, "ns", "ctx")
    assert keys.key(({"a": 1, "b": 2},), {}) == keys.key(({"b": 2, "a": 1},), {})
    assert keys.key(({3, 1, 2},), {}) == keys.key(({1, 2, 3},), {})


def test_context_and_namespace_are_part_of_the_key() -> None:
    assert KeyMaker(lookup, "ns", "a").key((1,), {}) != KeyMaker(lookup, "ns", "b").key((1,), {})
    assert KeyMaker(lookup, "x", "a").key((1,), {}) != KeyMaker(lookup, "y", "a").key((1,), {})


class Report:
    def load(self, day: date) -> None:
        """Method without a declared identity."""


class TenantReport:
    def __init__(self, tenant: int) -> None:
        self.tenant = tenant

    def __cache_key__(self) -> int:
        return self.tenant

    def load(self, day: date) -> None:
        """Method of an instance that declares its identity."""


def test_seed_bug_instance_repr_is_not_in_the_key() -> None:
    keys = KeyMaker(Report.load, "ns", "ctx")
    day = date(2024, 1, 1)
    assert keys.key((Report(), day), {}) == keys.key((Report(), day), {})


def test_declared_instance_identity_is_in_the_key() -> None:
    keys = KeyMaker(TenantReport.load, "ns", "ctx")
    day = date(2024, 1, 1)
    assert keys.key((TenantReport(1), day), {}) == keys.key((TenantReport(1), day), {})
    assert keys.key((TenantReport(1), day), {}) != keys.key((TenantReport(2), day), {})


def test_unkeyable_argument_raises_type_error_naming_the_parameter() -> None:
    keys = KeyMaker(lookup, "ns", "ctx")
    with pytest.raises(TypeError, match=r"parameter 'b'.*__cache_key__"):
        keys.key((1, object()), {})


def _function_in_module(module_name: str) -> Any:
    module = types.ModuleType(module_name)
    exec("def total(x):\n    return x\n", module.__dict__)
    return module.total


def test_seed_bug_two_functions_with_one_name_in_two_modules_differ() -> None:
    first = _function_in_module("app.faturamento")
    second = _function_in_module("app.entregas")
    assert first.__name__ == second.__name__
    assert KeyMaker(first, "ns", "ctx").key((1,), {}) != KeyMaker(second, "ns", "ctx").key((1,), {})


@dataclasses.dataclass
class Pagina:
    items: list[Any]
    total: int
    pages: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, self.total // 10)


@dataclasses.dataclass(frozen=True)
class Linha:
    valor: Decimal
    quando: date


def test_dataclasses_round_trip_exactly() -> None:
    value = Pagina([Linha(Decimal("1.50"), date(2024, 1, 2))], 25)
    decoded = decode(encode(value))
    assert decoded == value
    assert type(decoded.items[0]) is Linha and type(decoded.items[0].valor) is Decimal
    assert decoded.pages == 2


def test_unregistered_dataclass_is_not_instantiated() -> None:
    data = encode(Linha(Decimal(1), date(2024, 1, 1))).replace(b"Linha", b"Nope")
    with pytest.raises(TypeError, match="not registered"):
        decode(data)


@dataclasses.dataclass(frozen=True)
class Filtros:
    dias: int
    ate: date
    vendedor: str | None = None


def test_dataclass_arguments_are_keyed_by_their_fields() -> None:
    keys = KeyMaker(lookup, "ns", "ctx")
    same = keys.key((Filtros(30, date(2024, 1, 1)),), {})
    assert same == keys.key((Filtros(30, date(2024, 1, 1)),), {})
    assert same != keys.key((Filtros(30, date(2024, 1, 1), "ana"),), {})
    assert same != keys.key((Filtros(31, date(2024, 1, 1)),), {})
