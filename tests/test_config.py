"""Configuration: one reader, a typed frozen ``Settings``, errors that name the key."""

from __future__ import annotations

import dataclasses

import pytest

from turbina.config import KEYS, Settings, load_settings
from turbina.errors import ConfigError


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.slow_query_ms == 500.0
    assert settings.max_fingerprints == 5000
    assert dict(settings.cache_contexts) == {}  # the library knows no app's contexts


def test_settings_are_typed_frozen_and_match_the_key_table() -> None:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    assert sorted(fields) == sorted(key.name.lower() for key in KEYS)
    defaults = load_settings({})
    for key in KEYS:
        assert getattr(defaults, key.name.lower()) == key.default, key.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.slow_query_ms = 1.0  # type: ignore[misc]


def test_unknown_key_names_the_key_and_suggests() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"TURBINA_SLOW_QUERY_MSS": 10})
    assert "TURBINA_SLOW_QUERY_MSS" in str(info.value)
    assert "TURBINA_SLOW_QUERY_MS" in (info.value.fix or "")


def test_bad_value_names_key_and_accepted_values() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"TURBINA_CACHE_BACKEND": "memcached"})
    text = str(info.value)
    assert "TURBINA_CACHE_BACKEND" in text and "redis" in text


def test_contexts_are_exactly_what_the_app_declares() -> None:
    settings = load_settings({"TURBINA_CACHE_CONTEXTS": {"relatorios": 60}})
    assert dict(settings.cache_contexts) == {"relatorios": 60}


def test_non_turbina_keys_are_ignored_and_redis_url_falls_back() -> None:
    settings = load_settings({"SECRET_KEY": "x", "REDIS_URL": "redis://h:1/2"})
    assert settings.redis_url == "redis://h:1/2"


def test_contexts_from_an_environment_string() -> None:
    settings = load_settings({"TURBINA_CACHE_CONTEXTS": "relatorios=60, entregas=10"})
    assert settings.cache_contexts["relatorios"] == 60
    assert settings.cache_contexts["entregas"] == 10
    with pytest.raises(ConfigError) as info:
        load_settings({"TURBINA_CACHE_CONTEXTS": "relatorios"})
    assert "TURBINA_CACHE_CONTEXTS" in str(info.value)


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [f"TURBINA_{key.name}" for key in KEYS if f"`TURBINA_{key.name}`" not in readme]
    assert not missing, f"README configuration table lacks {missing}"
