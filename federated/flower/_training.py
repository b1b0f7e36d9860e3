"""Run the user's Flower ``train`` function inside a protocol stage and take its delta.

The fedcrypt mod hands the user's ``@app.train()`` function an ordinary Flower training
message (``"arrays"``: the global model, ``"config"``: the training configuration) and
expects the usual reply: the locally trained model as an :class:`~flwr.app.ArrayRecord`
(and, optionally, metrics). The update that is protected is the difference between the
two models; the reply's plaintext arrays never leave the client. Its metrics go to the
server in the clear beside the protected update, as with Flower's FedAvg, except in a
distributed-DP round (they are computed on private data and no noise covers them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp.typing import ClientAppCallable
from numpy.typing import NDArray

from federated.flower._arrays import flatten, same_layout
from federated.flower.errors import MalformedMessage

__all__ = [
    "ARRAYS_KEY",
    "CONFIG_KEY",
    "METRICS_KEY",
    "LocalUpdate",
    "local_update",
    "reply_metrics",
    "with_metrics",
]

ARRAYS_KEY = "arrays"
"""Key of the model's ArrayRecord, as in Flower's own strategies."""

CONFIG_KEY = "config"
"""Key of the training ConfigRecord, as in Flower's own strategies."""

METRICS_KEY = "metrics"
"""Key of the train MetricRecord in a reply, as in Flower's own examples."""


@dataclass(frozen=True, slots=True)
class LocalUpdate:
    """What the user's train function produced: the update and its reply's metrics."""

    delta: NDArray[np.float64]
    metrics: MetricRecord | None


def reply_metrics(content: RecordDict) -> MetricRecord | None:
    """The train metrics a reply carries under :data:`METRICS_KEY`, if any."""
    record = content.get(METRICS_KEY)
    return record if isinstance(record, MetricRecord) else None


def with_metrics(content: RecordDict, metrics: MetricRecord | None) -> RecordDict:
    """``content`` with the train metrics added under :data:`METRICS_KEY` (if any)."""
    if metrics is not None:
        content[METRICS_KEY] = metrics
    return content


def _model_arrays(content: RecordDict, who: str) -> ArrayRecord:
    records = content.array_records
    if ARRAYS_KEY in records:
        return records[ARRAYS_KEY]
    if len(records) == 1:
        return next(iter(records.values()))
    raise MalformedMessage(f"the {who} message carries no {ARRAYS_KEY!r} ArrayRecord")


def local_update(
    msg: Message, ctxt: Context, call_next: ClientAppCallable, expected_length: int
) -> LocalUpdate:
    """Train with the user's function on the message's global model: local - global, metrics.

    Raises:
        MalformedMessage: if the global model is missing, the reply is an error or its
            model has another layout than the global one.
    """
    global_arrays = _model_arrays(msg.content, "server's")
    global_vector, layout = flatten(global_arrays)
    if layout.size != expected_length:
        raise MalformedMessage(
            f"the global model has {layout.size} entries, the round expects {expected_length}"
        )
    config = msg.content.config_records.get(CONFIG_KEY, ConfigRecord())
    msg.content = RecordDict({ARRAYS_KEY: global_arrays, CONFIG_KEY: config})
    reply = call_next(msg, ctxt)
    if reply.has_error():
        raise MalformedMessage(f"local training failed: {reply.error.reason}")
    local_arrays = _model_arrays(reply.content, "train function's")
    if not same_layout(local_arrays, layout):
        raise MalformedMessage("the trained model's layout differs from the global model's")
    local_vector, _ = flatten(local_arrays)
    delta: NDArray[np.float64] = local_vector - global_vector
    records = reply.content.metric_records
    metrics = records.get(METRICS_KEY) or (
        next(iter(records.values())) if len(records) == 1 else None
    )
    return LocalUpdate(delta, metrics)
