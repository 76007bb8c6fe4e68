"""The app factory: which environment variables reach the config, its own cache contexts,
and the settings it refuses to start without."""

from __future__ import annotations

from pathlib import Path

import pytest

from fretes.app import CACHE_CONTEXTS, create_app
from fretes.settings import SECRET_ENV, SettingError
from turbina import get_state

STRONG = "0123456789abcdef0123456789abcdef"


def test_only_turbina_settings_reach_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURBINA_REQUIRE_SERVICES", "1")  # the test suite's own variable
    monkeypatch.setenv("TURBINA_SLOW_QUERY_MS", "7")
    monkeypatch.setenv(SECRET_ENV, STRONG)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert "TURBINA_REQUIRE_SERVICES" not in app.config
    assert app.config["SECRET_KEY"] == STRONG
    with app.app_context():
        settings = get_state(app).settings
        assert settings.slow_query_ms == 7.0
        assert dict(settings.cache_contexts) == CACHE_CONTEXTS
        get_state(app).queries.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("secret", [None, "", "short", "dev-only-change-me"])
def test_start_refused_without_a_strong_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    """Outside testing/debug the session secret is never defaulted: a known one lets anyone
    sign a session cookie as any user."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "FRETES_TURBINA": False}
    if secret is not None:
        monkeypatch.setenv(SECRET_ENV, secret)
    with pytest.raises(SettingError) as excinfo:
        create_app(config)
    assert SECRET_ENV in excinfo.value.message and SECRET_ENV in str(excinfo.value.fix)


def test_a_testing_app_without_a_secret_gets_a_random_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "FRETES_TURBINA": False}
    first = create_app({**config, "TESTING": True}).config["SECRET_KEY"]
    second = create_app({**config, "DEBUG": True}).config["SECRET_KEY"]
    assert len(first) >= 32 and first != second and "dev-only" not in first


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FRETES_MODE_HEADER", "maybe"),
        ("FRETES_EXPORT_MAX_ROWS", "0"),
        ("FRETES_LOGIN_LIMIT_PER_USER", "ten an hour"),
    ],
)
def test_bad_setting_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(SettingError) as excinfo:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "TESTING": True})
    assert key in excinfo.value.message
