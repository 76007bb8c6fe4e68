"""The one exception hierarchy of Turbina: every error says what is wrong and how to fix it."""

from __future__ import annotations


class TurbinaError(Exception):
    """Base class of every error Turbina raises on purpose.

    ``fix`` is a one-line hint the CLI prints after the reason.
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} (fix: {self.fix})"
        return self.message


class ConfigError(TurbinaError):
    """A TURBINA_* setting is missing, unknown or has the wrong type/value."""
