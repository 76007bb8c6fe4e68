"""``SEPARATE_STDERR``: the ``CliRunner`` / ``app.test_cli_runner`` keyword arguments that keep
stderr apart from stdout on every supported click. click < 8.2 mixes them unless asked not to;
8.2 always keeps them apart and removed the argument. The oldest supported click is 8.1.3
(``make compat``). Imported as ``click_compat`` (``tests/`` is on pytest's path)."""

from __future__ import annotations

import inspect
from typing import Any

from click.testing import CliRunner

SEPARATE_STDERR: dict[str, Any] = (
    {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}
)
