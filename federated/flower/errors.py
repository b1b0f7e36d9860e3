"""The exceptions of :mod:`federated.flower`, rooted in :class:`federated.FederatedError`.

A Flower message that does not carry a well-formed fedcrypt envelope is refused with
:class:`MalformedMessage` before any of its bytes reach a protocol state machine.
"""

from __future__ import annotations

from federated.errors import FederatedError, InvalidArgument

__all__ = ["MalformedMessage", "ClientStateError"]


class MalformedMessage(InvalidArgument):
    """A Flower message lacks the fedcrypt envelope or carries a field of the wrong type."""


class ClientStateError(FederatedError):
    """A client's saved protocol state is missing, stale or from another session."""
