"""A pytest plugin of tests/compat/run.py, loaded with ``-p compat_probe``.

At the end of the run it writes, to the JSON file named by ``TURBINA_COMPAT_REPORT``, where the
``turbina`` the tests imported came from and the outcome counts — so run.py knows the tests ran
against the installed wheel (not ``src/``) without parsing pytest's output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    target = os.environ.get("TURBINA_COMPAT_REPORT")
    if not target:
        return
    module = sys.modules.get("turbina")
    counts = {outcome: len(terminalreporter.stats.get(outcome, [])) for outcome in OUTCOMES}
    Path(target).write_text(
        json.dumps(
            {
                "turbina_file": getattr(module, "__file__", None),
                "exitstatus": int(exitstatus),
                **counts,
            }
        )
    )
