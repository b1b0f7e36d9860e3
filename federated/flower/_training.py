"""Run the user's Flower ``train`` function inside a protocol stage and take its delta.

The fedcrypt mod hands the user's ``@app.train()`` function an ordinary Flower training
message (``"arrays"``: the global model, ``"config"``: the training configuration) and
expects the usual reply: the locally trained model as an :class:`~flwr.app.ArrayRecord`
(and, optionally, metrics). The update that is protected is the difference between the
two models; the reply's plaintext arrays and metrics never leave the client.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable
from numpy.typing import NDArray

from federated.flower._arrays import flatten, same_layout
from federated.flower.errors import MalformedMessage

__all__ = ["ARRAYS_KEY", "CONFIG_KEY", "local_update"]

ARRAYS_KEY = "arrays"
"""Key of the model's ArrayRecord, as in Flower's own strategies."""

CONFIG_KEY = "config"
"""Key of the training ConfigRecord, as in Flower's own strategies."""


def _model_arrays(content: RecordDict, who: str) -> ArrayRecord:
    records = content.array_records
    if ARRAYS_KEY in records:
        return records[ARRAYS_KEY]
    if len(records) == 1:
        return next(iter(records.values()))
    raise MalformedMessage(f"the {who} message carries no {ARRAYS_KEY!r} ArrayRecord")


def local_update(
    msg: Message, ctxt: Context, call_next: ClientAppCallable, expected_length: int
) -> NDArray[np.float64]:
    """Train with the user's function on the message's global model; return local - global.

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
    return delta
