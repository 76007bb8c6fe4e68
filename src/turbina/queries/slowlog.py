"""Slow-query log: a capped ring buffer of redacted entries (oldest dropped first)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SlowQuery:
    """One slow execution. ``sql`` is the fingerprint: literals are already gone."""

    at: float
    engine: str
    sql: str
    duration_ms: float
    endpoint: str | None
    callsite: str | None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data = asdict(self)
        data["tags"] = dict(self.tags)
        return data


class SlowLog:
    """At most ``capacity`` ``SlowQuery`` entries; ``total`` counts every one ever added."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._entries: deque[SlowQuery] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: SlowQuery) -> None:
        """Append ``entry``, dropping the oldest when full."""
        with self._lock:
            self._entries.append(entry)
            self.total += 1

    def entries(self) -> list[SlowQuery]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._entries))

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
