"""The one error type of :mod:`secagg.masking` beyond those of :mod:`secagg.errors`."""

from __future__ import annotations

from secagg.errors import InsufficientShares, ProtocolAbort

__all__ = ["TooFewSurvivors"]


class TooFewSurvivors(ProtocolAbort, InsufficientShares):
    """A client aborted because fewer than ``t`` clients of its neighbourhood remain.

    Both a :class:`~secagg.errors.ProtocolAbort` (the client refuses to go on, releasing
    nothing) and an :class:`~secagg.errors.InsufficientShares` (the round failed for lack of
    clients, as dropouts cause; not necessarily an attack), so a driver that treats too many
    dropouts as a failed round catches it with the server's own error.
    """
