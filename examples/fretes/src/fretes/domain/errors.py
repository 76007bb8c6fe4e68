"""What a request may not see or do, raised by the domain and the data access (no Flask).

The views answer ``NotFoundError`` with 404 and ``ForbiddenError`` with 403. Neither message
says whether a row the user may not see exists: a vendedor asking for another vendedor's
entrega gets the very answer an unknown id gets.
"""

from __future__ import annotations


class NotFoundError(LookupError):
    """No row with this id among the rows the current user may see."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.message = f"{what} not found"


class ForbiddenError(PermissionError):
    """The current user's role does not allow this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
