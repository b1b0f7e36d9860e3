"""The interface between the runner and an aggregation backend.

Each backend takes the clipped client contributions of one round (on the client side),
runs its protocol through the :class:`federated.server.AggregationServer`, and hands back
the decoded sum of the survivors' contributions, or ``None`` when the round cannot finish.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from federated._codecs import IntegerCodec
from federated.config import Stage
from federated.errors import InvalidArgument

__all__ = ["StageTimer", "RoundInput", "EncodedContributions", "AggregateResult", "Aggregator"]


class StageTimer:
    """Accumulates wall time per named stage of a round."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block under ``name`` (times add up)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed


@dataclass(frozen=True, slots=True)
class RoundInput:
    """One round as a backend sees it.

    Attributes:
        round_number: the federated round, from 1.
        cohort: ids of the selected clients, sorted.
        contributions: for each client that reaches the masked-input stage, its clipped
            (and, without DP, weighted) float vector; held on the client side.
        dropouts: the stage at which each dropping client leaves.
        threshold: the minimum number of survivors.
        encoded: when the backend gave the clients a codec (:meth:`Aggregator.client_codec`),
            each sender's contribution already encoded by that codec on the client side,
            with the codec; ``contributions`` is then empty.
    """

    round_number: int
    cohort: tuple[int, ...]
    contributions: Mapping[int, NDArray[np.float64]]
    dropouts: Mapping[int, Stage]
    threshold: int
    encoded: EncodedContributions | None = None

    def __post_init__(self) -> None:
        # Every backend sums what it is handed and sizes its ring or packing for the cohort:
        # an input from outside the cohort would be summed unchecked (and could overflow).
        members = set(self.cohort)
        senders = set(self.contributions)
        if self.encoded is not None:
            senders |= set(self.encoded.words)
        outsiders = sorted(senders - members)
        if outsiders:
            raise InvalidArgument(
                f"round {self.round_number}: inputs from clients {outsiders} outside the cohort"
            )


@dataclass(frozen=True, slots=True)
class EncodedContributions:
    """Contributions the clients encoded themselves, and the round's codec that did it."""

    codec: IntegerCodec
    words: Mapping[int, NDArray[np.unsignedinteger[Any]]]


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """The outcome of a backend's round.

    Attributes:
        total: the decoded sum of the survivors' contributions (noised under distributed DP),
            or ``None`` when the round had too few survivors to finish.
        survivors: the clients whose contribution is in ``total``.
        bytes_sent: bytes the clients sent to the server.
        note: why the round did not finish, if it did not.
        rejected: reports the aggregators refused (validated aggregation: a proof that
            failed, a malformed or replayed report); those clients are not in ``total``.
        rejected_clients: the ids of the rejected clients, when the server learned them (a
            validated round abandoned for too few valid reports knows only the count).
    """

    total: NDArray[np.float64] | None
    survivors: tuple[int, ...]
    bytes_sent: int
    note: str = ""
    rejected: int = 0
    rejected_clients: tuple[int, ...] = ()


class Aggregator(Protocol):
    """A secure-aggregation backend."""

    name: str

    def client_codec(self, cohort_size: int) -> IntegerCodec | None:
        """The codec the clients encode with this round, or ``None`` (float contributions).

        With a codec, each client's training task also clips and encodes, so only the
        encoded words leave the client's worker.
        """
        ...

    def aggregate(self, round_input: RoundInput, timer: StageTimer) -> AggregateResult:
        """Run one round of the protocol and return the decoded sum."""
        ...
