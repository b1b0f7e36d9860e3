"""The ``plain_insecure`` baseline: clients send their updates in the clear.

For comparison only. The server sees every client's update, so this backend gives no
confidentiality at all; it is never the default, and its name and every report say so.
A client that drops before sending its update is left out; the round is skipped when
fewer updates than the threshold arrive, as with the secure backends.
"""

from __future__ import annotations

from federated._aggregation import AggregateResult, RoundInput, StageTimer
from federated.server import AggregationServer, InsecurePlaintextUpdate

__all__ = ["PlainInsecureAggregator"]

_HEADER_BYTES = 16


class PlainInsecureAggregator:
    """Sum plaintext updates on the server (insecure baseline)."""

    name = "plain_insecure"

    def __init__(self, server: AggregationServer) -> None:
        self._server = server

    def client_codec(self, cohort_size: int) -> None:
        """Clients send float contributions to this backend."""
        del cohort_size

    def aggregate(self, round_input: RoundInput, timer: StageTimer) -> AggregateResult:
        """Send every surviving update in the clear and let the server add them."""
        senders = tuple(sorted(round_input.contributions))
        bytes_sent = sum(_HEADER_BYTES + round_input.contributions[c].nbytes for c in senders)
        if len(senders) < round_input.threshold:
            return AggregateResult(None, (), bytes_sent, note="fewer survivors than threshold")
        with timer.stage("aggregate"):
            updates = [InsecurePlaintextUpdate(c, round_input.contributions[c]) for c in senders]
            total = self._server.sum_insecure_plaintext(updates)
        return AggregateResult(total, senders, bytes_sent)
