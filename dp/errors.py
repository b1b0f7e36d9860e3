"""The exceptions of :mod:`dp`: one root, typed subclasses.

Accountants refuse what they cannot account for rather than guess, so a privacy number is
either conservative or absent, never silently wrong.
"""

from __future__ import annotations

__all__ = [
    "DPError",
    "InvalidArgument",
    "UnsupportedEvent",
    "SerializationError",
    "CalibrationError",
    "BudgetExceeded",
]


class DPError(Exception):
    """Root of every error raised by :mod:`dp`."""


class InvalidArgument(DPError, ValueError):
    """An argument is outside its valid domain (e.g. a negative noise multiplier)."""


class UnsupportedEvent(DPError, TypeError):
    """An accountant was given an event it cannot account for soundly."""


class SerializationError(InvalidArgument):
    """A saved event, ledger or report has an unknown version or a malformed field."""


class CalibrationError(DPError):
    """No parameter in the search range meets the privacy target."""


class BudgetExceeded(DPError):
    """Composing a further event would exceed the privacy budget."""
