"""Stamp tokens (one per table, one per context, one generation) and bumps that must land.

A bump is tried at once, in the committing thread. One that fails (the store is unreachable
from this process) is kept and retried from the background thread (``background``) every
``retry_interval_s`` — not on this process's next cached call — until it lands. Meanwhile
the contexts it affects are bypassed here: read and written by nobody in this process,
because an entry computed before the write would otherwise be served again. Other processes
cannot know about the write until the retry lands; how long they may serve the old value is
bounded by that, or — if this process dies first — by the entries' TTL (capped by
``TURBINA_CACHE_MAX_STALE_S``). A failed table bump affects every context.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from turbina.cache import background

__all__ = [
    "ALL_TABLES_TOKEN",
    "GENERATION_TOKEN",
    "PendingBumps",
    "context_token",
    "table_name",
    "table_token",
]

log = logging.getLogger("turbina.cache")

_MAX_PENDING = 10_000
_RETRY_INTERVAL_S = 0.2
_MAX_RETRY_INTERVAL_S = 2.0
ALL_TABLES_TOKEN = "t:*"
GENERATION_TOKEN = "g"  # bumped when the store lost data (a restart, a flush): every entry
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
    """Bumps that failed and are retried in the background; the contexts they make unsafe."""

    def __init__(
        self,
        bump: Callable[[Sequence[str]], None],
        every_context: Callable[[], list[str]],
        retry_interval_s: float = _RETRY_INTERVAL_S,
    ) -> None:
        self._bump = bump
        self._every_context = every_context
        self._retry_interval_s = retry_interval_s
        self._interval = retry_interval_s
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._next_retry = 0.0
        self.retried = 0  # bumps that landed on a retry
        background.register(self.tick, self.at_exit)

    def bump(self, tokens: Iterable[str], *, attempt: bool = True) -> bool:
        """Bump now, with whatever is still pending (``attempt=False``: the store is known to
        be down, only remember). On failure the tokens are kept for the background retry.
        True if it landed."""
        wanted = set(tokens)
        if not wanted:
            return True
        if attempt:
            with self._lock:
                pending = set(self._tokens)
            try:
                self._bump(self._expand(sorted(wanted | pending)))
            except Exception as exc:
                log.debug("turbina.cache: bump failed: %s", exc)
            else:
                if pending:
                    with self._lock:
                        self._tokens -= pending
                return True
        with self._lock:
            if len(self._tokens) + len(wanted) > _MAX_PENDING:
                # Too many distinct tables to remember: bump every context instead.
                self._tokens = {ALL_TABLES_TOKEN}
            else:
                self._tokens.update(wanted)
            self._interval = self._retry_interval_s
            self._next_retry = time.monotonic() + self._interval
        background.wake()
        return False

    def _expand(self, tokens: Sequence[str]) -> list[str]:
        if ALL_TABLES_TOKEN in tokens:
            return [t for t in tokens if t != ALL_TABLES_TOKEN] + self._every_context()
        return list(tokens)

    def blocks(self, context: str) -> bool:
        """True while ``context`` must be bypassed (a bump that concerns it is pending)."""
        tokens = self._tokens
        if not tokens:
            return False
        return "c:" + context in tokens or any(token.startswith("t:") for token in tokens)

    def retry(self) -> bool:
        """Try the pending bumps once. True when nothing is pending any more."""
        with self._lock:
            tokens = sorted(self._tokens)
        if not tokens:
            return True
        try:
            self._bump(self._expand(tokens))
        except Exception:
            with self._lock:
                self._interval = min(self._interval * 2, _MAX_RETRY_INTERVAL_S)
                self._next_retry = time.monotonic() + self._interval
            return False
        with self._lock:
            self._tokens.difference_update(tokens)
            self.retried += len(tokens)
            self._next_retry = 0.0
            self._interval = self._retry_interval_s
            return not self._tokens

    def tick(self) -> float | None:
        """Background job: retry when due; seconds until the next retry (None: idle)."""
        if not self._tokens:
            return None
        now = time.monotonic()
        if now >= self._next_retry:
            self.retry()
        if not self._tokens:
            return None
        return max(0.0, self._next_retry - time.monotonic())

    def at_exit(self) -> None:
        """Last chance at exit: try once, and say loudly what could not be delivered."""
        if self._tokens and not self.retry():
            log.error(
                "turbina.cache: exiting with stamp bumps that never reached the store: %s; "
                "other processes may serve entries that depend on them until their TTL",
                ", ".join(self.pending()),
            )

    def drop(self) -> list[str]:
        """Forget what is pending (the caller reported the failure itself)."""
        with self._lock:
            dropped, self._tokens = sorted(self._tokens), set()
            return dropped

    def pending(self) -> list[str]:
        """Tokens whose bump has not reached the store yet."""
        with self._lock:
            return sorted(self._tokens)
