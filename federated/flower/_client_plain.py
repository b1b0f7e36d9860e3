"""Client side of the ``plain_insecure`` baseline: the update goes to the server in the clear.

For comparison runs only: the server sees every client's update. It exists so that the
secure protocols can be compared against the plain FedAvg they replace, in the same app.
"""

from __future__ import annotations

import numpy as np
from flwr.app import Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from federated.flower._envelope import Envelope, Protocol, get_float, get_int, plan_of
from federated.flower._training import local_update, with_metrics
from federated.flower._vectors import clip_l2
from federated.flower.errors import MalformedMessage

__all__ = ["handle_plain"]


def handle_plain(
    msg: Message, ctxt: Context, call_next: ClientAppCallable, envelope: Envelope
) -> RecordDict:
    """Train, clip, and reply with the clipped update as little-endian float64 bytes."""
    if envelope.stage != "train":
        raise MalformedMessage(f"unknown plain stage {envelope.stage!r}")
    plan = plan_of(msg.content)
    length = get_int(plan, "vector_length")
    clip = get_float(plan, "clip")
    update = local_update(msg, ctxt, call_next, length)
    delta = clip_l2(update.delta, clip)
    body = np.ascontiguousarray(delta, dtype="<f8").tobytes()
    content = Envelope(Protocol.PLAIN_INSECURE, "train", envelope.round_number, body).to_content()
    return with_metrics(content, update.metrics)
