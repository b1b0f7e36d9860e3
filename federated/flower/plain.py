"""The ``plain_insecure`` baseline over Flower: FedAvg with updates in the clear.

For comparison only: the server sees every client's clipped update. It shares the
transport, the clipping and the run loop of the secure backends, so the difference in a
benchmark or an accuracy table is the cryptography alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord
from flwr.serverapp import Grid
from numpy.typing import NDArray

from dp.mechanisms.clipping import l2_norm
from federated.flower._arrays import flatten
from federated.flower._envelope import Envelope, Protocol
from federated.flower._exchange import exchange
from federated.flower._round import Observer, RoundOutcome
from federated.flower._training import ARRAYS_KEY, CONFIG_KEY, reply_metrics
from federated.flower._vectors import floats_from_bytes
from federated.flower.errors import MalformedMessage

__all__ = ["PlainInsecureAggregation"]


@dataclass(frozen=True, slots=True)
class PlainInsecureAggregation:
    """Sum the clients' clipped updates in the clear (insecure; a baseline only)."""

    name = "plain_insecure"

    def run_round(
        self,
        grid: Grid,
        nodes: Sequence[int],
        round_number: int,
        global_arrays: ArrayRecord,
        *,
        clip: float,
        train_config: ConfigRecord | None = None,
        timeout: float | None = 600.0,
        observer: Observer | None = None,
    ) -> RoundOutcome:
        """Send the model, receive each clipped update in the clear, sum them."""
        _, layout = flatten(global_arrays)
        plan = {"vector_length": layout.size, "clip": float(clip)}
        requests = {}
        for node in nodes:
            content = Envelope(Protocol.PLAIN_INSECURE, "train", round_number).to_content(plan)
            content[ARRAYS_KEY] = global_arrays
            content[CONFIG_KEY] = train_config if train_config is not None else ConfigRecord()
            requests[node] = content
        replies = exchange(grid, requests, group_id=str(round_number), timeout=timeout)
        total: NDArray[np.float64] = np.zeros(layout.size, dtype=np.float64)
        survivors: list[int] = []
        metrics: dict[int, MetricRecord] = {}
        dropped = set(replies.failures)
        for node, content in replies.replies.items():
            try:
                envelope = Envelope.from_content(content)
                if envelope.protocol is not Protocol.PLAIN_INSECURE:
                    raise MalformedMessage("wrong protocol")
                update = floats_from_bytes(envelope.body, layout.size)
            except MalformedMessage:
                dropped.add(node)
                continue
            if l2_norm(update) > clip * (1 + 1e-9):
                dropped.add(node)
                continue
            if observer is not None:
                observer("train", node, envelope.body)
            total += update
            survivors.append(node)
            record = reply_metrics(content)
            if record is not None:
                metrics[node] = record
        return RoundOutcome(
            total if survivors else None,
            tuple(nodes),
            tuple(sorted(survivors)),
            1,
            {"train": tuple(sorted(dropped))},
            {"train": replies.seconds},
            replies.bytes_received,
            "" if survivors else "no client replied",
            metrics=metrics,
        )
