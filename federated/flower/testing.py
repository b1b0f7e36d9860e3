"""Dropout injection for simulations and tests: a Flower mod that makes nodes vanish.

Real deployments lose clients at any protocol stage; :func:`dropout_mod` reproduces that
inside Flower's simulation engine or a local deployment. A node listed for a stage fails
(with a Flower error reply, which the server cannot tell from a crash) on that stage's
message and every later one of the same round, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from flwr.app import Context, Error, Message
from flwr.clientapp.typing import ClientAppCallable
from flwr.clientapp.typing import Mod as FlowerMod

from federated.flower._client_masking import STAGES
from federated.flower._envelope import Envelope, has_envelope
from federated.flower.errors import MalformedMessage

__all__ = ["DROPOUT_ERROR_CODE", "dropout_mod"]

DROPOUT_ERROR_CODE = 4_291
"""Flower error code of a simulated dropout."""

_ORDER = {"train": 2, "encrypt": 2, "decrypt": 3, **{stage: i for i, stage in enumerate(STAGES)}}


def dropout_mod(schedule: Mapping[int, Mapping[int, str]]) -> FlowerMod:
    """A mod dropping node ``p`` from round ``r`` at ``schedule[r][p]`` and later stages.

    Args:
        schedule: ``{round: {partition_id: stage}}``, where ``partition_id`` is the node's
            ``partition-id`` node-config value (set by Flower's simulation engine, or by
            ``--node-config`` in a deployment) and ``stage`` one of the masking stages
            (``advertise_keys`` ... ``unmask``), ``train`` (plain), ``encrypt`` or ``decrypt``
            (Paillier).

    Returns:
        A Flower mod; place it before :func:`federated.flower.fedcrypt_mod`.
    """
    for per_round in schedule.values():
        for stage in per_round.values():
            if stage not in _ORDER:
                raise ValueError(f"unknown stage {stage!r}")
    plan = {int(r): {int(p): s for p, s in per.items()} for r, per in schedule.items()}

    def mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        if not msg.has_content() or not has_envelope(msg.content):
            return call_next(msg, ctxt)
        try:
            envelope = Envelope.from_content(msg.content)
        except MalformedMessage:
            return call_next(msg, ctxt)  # not ours to judge: fedcrypt_mod refuses it
        partition = ctxt.node_config.get("partition-id")
        drop_at = plan.get(envelope.round_number, {}).get(
            int(partition) if isinstance(partition, int | str) else -1
        )
        if drop_at is not None and _ORDER.get(envelope.stage, -1) >= _ORDER[drop_at]:
            return Message(Error(DROPOUT_ERROR_CODE, "simulated dropout"), reply_to=msg)
        return call_next(msg, ctxt)

    return mod
