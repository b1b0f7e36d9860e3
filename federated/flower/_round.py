"""What one secure-aggregation round over Flower produced (shared by all backends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from flwr.app import MetricRecord
from numpy.typing import NDArray

from dp.events import DpEvent

__all__ = ["RoundOutcome", "Observer"]

Observer = Callable[[str, int, bytes], None]
"""Called by a server workflow with (stage, node id, payload) for every reply it accepts."""


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """The result of one aggregation round.

    Attributes:
        total: the decoded sum of the surviving clients' clipped (and, under distributed DP,
            noised) updates; ``None`` when the round released nothing.
        cohort: node ids invited to the round.
        survivors: node ids whose update is in ``total``.
        threshold: the minimum number of survivors the round needed.
        dropped: for each stage, the node ids that dropped (no reply, error or bad reply).
        stage_seconds: wall time per stage.
        bytes_received: bytes of the protocol payloads the server received.
        note: why the round released nothing, if it did not.
        event: the DP event of the released sum (distributed DP), else ``None``.
        metrics: the train metrics each survivor sent with its protected update (in the
            clear, as with Flower's FedAvg; never sent in a distributed-DP round).
    """

    total: NDArray[np.float64] | None
    cohort: tuple[int, ...]
    survivors: tuple[int, ...]
    threshold: int
    dropped: dict[str, tuple[int, ...]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    bytes_received: int = 0
    note: str = ""
    event: DpEvent | None = None
    metrics: dict[int, MetricRecord] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        """Whether the round released a sum."""
        return self.total is not None
