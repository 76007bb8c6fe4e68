"""A small JSON Schema checker for the subset the monitor's SCHEMA uses (type, enum,
properties, required, items, additionalProperties) — no dependency for six keywords."""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Raise ``AssertionError`` naming the path of the first value that breaks ``schema``."""
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        ok = any(
            isinstance(value, _TYPES[k])
            and not (k in ("integer", "number") and isinstance(value, bool))
            for k in kinds
        )
        assert ok, f"{path}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            assert name in value, f"{path}: missing {name!r}"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                validate(item, properties[name], f"{path}.{name}")
            elif isinstance(extra, dict):
                validate(item, extra, f"{path}.{name}")
            elif extra is False:
                raise AssertionError(f"{path}: unexpected {name!r}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{index}]")


def test_the_checker_rejects_a_bad_document() -> None:
    import pytest

    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    validate({"a": 1}, schema)
    for bad in ({}, {"a": "1"}, {"a": True}, []):
        with pytest.raises(AssertionError):
            validate(bad, schema)
