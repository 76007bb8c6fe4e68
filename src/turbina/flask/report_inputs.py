"""What ``build_report`` reads from a running app besides the store: the saved index advice,
the assets facts and the slow-statement rules.

One place for the CLI (``turbina report``) and the dashboard's Report page, so that both
report on the same inputs. Reading them touches no database and no store: the advice is the
file ``turbina indexes advise`` saved in the instance folder, the assets facts are the
manifest the app already loaded, the rules are the recorder's settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from turbina.errors import TurbinaError
from turbina.flask.state import TurbinaState
from turbina.indexes.saved import load_report, report_path
from turbina.queries.slow import SlowRules

__all__ = ["AppInputs", "app_inputs", "assets_facts", "saved_index_advice", "slow_rules"]


@dataclass
class AppInputs:
    """The app's side of a report; ``problems`` holds what could not be read (lenient mode)."""

    index_advice: dict[str, Any] | None = None
    assets: dict[str, Any] | None = None
    rules: SlowRules | None = None
    problems: list[str] = field(default_factory=list)

    def build_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``build_report`` (add ``reading=`` and the rest)."""
        return {"index_advice": self.index_advice, "assets": self.assets, "rules": self.rules}


def saved_index_advice(app: Flask) -> dict[str, Any] | None:
    """The advice ``turbina indexes advise`` saved for ``app`` (``None``: none saved yet); a
    ``TurbinaError`` naming the file when it is unreadable."""
    return load_report(report_path(app.instance_path))


def assets_facts(state: TurbinaState | None) -> dict[str, Any] | None:
    """The app's built assets manifest as data, or ``None`` when assets are off or unbuilt."""
    if state is None or state.assets is None or state.assets.manifest is None:
        return None
    facts = json.loads(state.assets.manifest.dumps())
    return facts if isinstance(facts, dict) else None


def slow_rules(state: TurbinaState | None) -> SlowRules | None:
    """The recorder's rules for a slow statement (``None``: the recorder is off)."""
    return state.queries.slow_rules if state is not None and state.queries is not None else None


def app_inputs(app: Flask, state: TurbinaState | None, *, strict: bool = True) -> AppInputs:
    """Everything but the store. ``strict``: an unreadable advice file raises its
    ``TurbinaError`` (the CLI exits 1 on it); otherwise it is left out and said in
    ``problems`` (a dashboard page still shows the rest)."""
    inputs = AppInputs(assets=assets_facts(state), rules=slow_rules(state))
    try:
        inputs.index_advice = saved_index_advice(app)
    except TurbinaError as exc:
        if strict:
            raise
        inputs.problems.append(f"the saved index advice is left out: {exc.message} ({exc.fix})")
    return inputs
