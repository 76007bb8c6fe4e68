"""The app factory: which environment variables reach the config, and its own cache contexts."""

from __future__ import annotations

from pathlib import Path

import pytest

from fretes.app import CACHE_CONTEXTS, create_app
from turbina import get_state


def test_only_turbina_settings_reach_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURBINA_REQUIRE_SERVICES", "1")  # the test suite's own variable
    monkeypatch.setenv("TURBINA_SLOW_QUERY_MS", "7")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert "TURBINA_REQUIRE_SERVICES" not in app.config
    with app.app_context():
        settings = get_state(app).settings
        assert settings.slow_query_ms == 7.0
        assert dict(settings.cache_contexts) == CACHE_CONTEXTS
        get_state(app).queries.close()  # type: ignore[union-attr]
