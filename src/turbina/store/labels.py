"""``LabelCap``: at most N distinct labels per kind in one worker; the rest fold into ``<other>``.

Admission is sticky (a label admitted stays admitted for the life of the process), so a
label's numbers never move between itself and ``<other>``. The store therefore holds at most
cap x workers labels of a kind — in practice the cap, since workers see the same labels.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from turbina.store.model import OTHER, label_id

__all__ = ["LabelCap"]


class LabelCap:
    """Label ids per kind, capped by ``limits[kind]`` (kinds not listed: ``default``)."""

    def __init__(self, limits: Mapping[str, int] | None = None, default: int = 1000) -> None:
        self.limits = dict(limits or {})
        self.default = default
        self._ids: dict[str, dict[tuple[str, ...], str]] = {}
        self._lock = threading.Lock()
        self.folded: dict[str, int] = {}

    def id_for(self, kind: str, parts: tuple[str, ...]) -> tuple[str, bool]:
        """``(label id, folded)``: the id of ``parts``, or of ``<other>`` past the cap."""
        known = self._ids.get(kind)
        if known is not None:
            found = known.get(parts)
            if found is not None:
                return found, False
        with self._lock:
            known = self._ids.setdefault(kind, {})
            found = known.get(parts)
            if found is not None:
                return found, False
            if len(known) >= self.limits.get(kind, self.default):
                self.folded[kind] = self.folded.get(kind, 0) + 1
                return self.other(kind), True
            found = known[parts] = label_id(kind, parts)
            return found, False

    @staticmethod
    def other(kind: str) -> str:
        """The id of ``<other>`` in ``kind``."""
        return label_id(kind, (OTHER,))

    def __len__(self) -> int:
        return sum(len(known) for known in self._ids.values())
