"""Stamp tokens (one per table, one per context) and bumps that must not be lost.

A bump that fails (Redis down) is retried; while it keeps failing, the contexts it affects
are bypassed — read and written by nobody in this process — because an entry computed
before the write would otherwise be served again once Redis is back. A failed table bump
affects every context (any of them may hold an entry that read the table).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence

__all__ = ["PendingBumps", "context_token", "table_name", "table_token"]

_MAX_PENDING = 10_000
_RETRY_INTERVAL_S = 0.5
ALL_TABLES = "t:*"
_UNSAFE = re.compile(r"[\s=\t\"`\[\]]")


def table_name(raw: str) -> str:
    """Normalize a table name as written in SQL or by SQLAlchemy: unquoted, lower case, no
    schema, so ``"public"."Orders"`` from raw SQL and ``orders`` from the ORM are one stamp."""
    name = raw.strip().rsplit(".", 1)[-1]
    return _UNSAFE.sub("", name).lower()


def table_token(raw: str) -> str:
    """Stamp token of a table."""
    return "t:" + table_name(raw)


def context_token(context: str) -> str:
    """Stamp token of a context."""
    return "c:" + context


class PendingBumps:
    """Bumps that failed and are retried; the contexts they make unsafe to serve."""

    def __init__(
        self,
        bump: Callable[[Sequence[str]], None],
        every_context: Callable[[], list[str]],
        retries: int = 2,
    ) -> None:
        self._bump = bump
        self._every_context = every_context
        self._retries = retries
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._next_retry = 0.0

    def bump(self, tokens: Iterable[str]) -> bool:
        """Bump now (with retries); on failure remember the tokens. True if it succeeded."""
        wanted = sorted(set(tokens))
        if not wanted:
            return True
        for attempt in range(self._retries + 1):
            try:
                self._bump(wanted)
            except Exception:
                if attempt == self._retries:
                    break
                time.sleep(0.005 * (attempt + 1))
                continue
            return True
        with self._lock:
            if len(self._tokens) + len(wanted) > _MAX_PENDING:
                # Too many distinct tables to remember: bump every context instead.
                self._tokens = {ALL_TABLES}
            else:
                self._tokens.update(wanted)
            self._next_retry = time.monotonic() + _RETRY_INTERVAL_S
        return False

    def blocks(self, context: str) -> bool:
        """True while ``context`` must be bypassed; retries the pending bumps now and then."""
        if not self._tokens:
            return False
        if time.monotonic() >= self._next_retry:
            self.retry()
        tokens = self._tokens
        return bool(tokens) and (
            "c:" + context in tokens or any(token.startswith("t:") for token in tokens)
        )

    def retry(self) -> bool:
        """Try the pending bumps once. True when nothing is pending any more."""
        with self._lock:
            tokens = sorted(self._tokens)
            self._next_retry = time.monotonic() + _RETRY_INTERVAL_S
        if not tokens:
            return True
        try:
            if ALL_TABLES in tokens:
                self._bump([t for t in tokens if t != ALL_TABLES] + self._every_context())
            else:
                self._bump(tokens)
        except Exception:
            return False
        with self._lock:
            self._tokens.difference_update(tokens)
            return not self._tokens

    def pending(self) -> list[str]:
        """Tokens whose bump has not reached the store yet."""
        with self._lock:
            return sorted(self._tokens)
