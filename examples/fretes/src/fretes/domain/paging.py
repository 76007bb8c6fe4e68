"""The result type of a paginated list."""

from __future__ import annotations

import dataclasses
import math
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclasses.dataclass
class Page(Generic[T]):
    """One page of a list: its rows plus what a pager needs."""

    items: list[T]
    page: int
    per_page: int
    total: int
    pages: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, math.ceil(self.total / self.per_page))
