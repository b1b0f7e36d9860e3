"""The exceptions of :mod:`federated`: one root, typed subclasses."""

from __future__ import annotations

__all__ = [
    "FederatedError",
    "InvalidArgument",
    "InsufficientClients",
    "BudgetExhausted",
    "ServerViewViolation",
]


class FederatedError(Exception):
    """Root of every error raised by :mod:`federated`."""


class InvalidArgument(FederatedError, ValueError):
    """A configuration or argument is invalid (e.g. a threshold above the cohort size)."""


class InsufficientClients(FederatedError):
    """Too few clients survived a round for the protocol to recover the sum."""


class BudgetExhausted(FederatedError):
    """The next round would spend more privacy than the run's target epsilon allows."""


class ServerViewViolation(FederatedError, TypeError):
    """Something other than a masked vector or a ciphertext was handed to the server."""
