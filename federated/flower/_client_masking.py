"""Client side of SecAgg+ over Flower: one Flower message per protocol round.

The server's five stage messages arrive as Flower ``train`` messages carrying a fedcrypt
envelope. Each is handled by the matching method of :class:`secagg.masking.Client`, whose
state is saved in the node's :class:`flwr.app.Context` between messages and erased when
the round ends or aborts. Only at the masked-input stage is the user's ``train`` function
called; its update is clipped, encoded, masked, and only the masked vector is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from federated.errors import InvalidArgument
from federated.flower._envelope import Envelope, Protocol, get_bytes, get_int, get_str, plan_of
from federated.flower._masking_state import dump_client, load_client
from federated.flower._plan import MaskingPlan
from federated.flower._training import local_update, with_metrics
from federated.flower.errors import ClientStateError, MalformedMessage
from secagg.errors import SecAggError
from secagg.masking import (
    Client,
    ConsistencyRequest,
    KeyRoster,
    ShareBundle,
    StateKey,
    UnmaskRequest,
)

__all__ = ["STATE_KEY", "STAGES", "ClientPolicy", "handle_masking", "erase_masking_state"]

STATE_KEY = "fedcrypt.masking"
"""Key of the client's saved round state in ``context.state``."""

STAGES = ("advertise_keys", "share_keys", "masked_input", "consistency_check", "unmask")
"""The masking stages, in protocol order (Bonawitz et al. 2017, Figure 4)."""


def _save(
    ctxt: Context, round_number: int, plan_record: ConfigRecord, client: Client, key: StateKey
) -> None:
    ctxt.state[STATE_KEY] = ConfigRecord(
        {
            "round": round_number,
            "status": "active",
            "client": dump_client(client, key),
            "plan": plan_record.deflate(),
            "state_key": key.to_bytes(),
        }
    )


def erase_masking_state(ctxt: Context, round_number: int, status: str) -> None:
    """Replace the saved secrets by a tombstone: the round is over (``done``/``aborted``)."""
    ctxt.state[STATE_KEY] = ConfigRecord(
        {"round": round_number, "status": status, "client": b"", "plan": b"", "state_key": b""}
    )


def _load(ctxt: Context, round_number: int) -> tuple[ConfigRecord, MaskingPlan, Client, StateKey]:
    record = ctxt.state.config_records.get(STATE_KEY)
    if record is None:
        raise ClientStateError("no masking round in progress on this node")
    if get_int(record, "round") != round_number:
        raise ClientStateError("the message belongs to another round than the saved state")
    if get_str(record, "status") != "active":
        raise ClientStateError(f"this node's round is {record['status']!r}; nothing is released")
    plan_record = ConfigRecord.inflate(get_bytes(record, "plan"))
    plan = MaskingPlan.from_record(plan_record)
    try:
        key = StateKey.from_bytes(get_bytes(record, "state_key"))
    except SecAggError as exc:
        raise ClientStateError(f"the saved state key is malformed: {exc}") from exc
    client = load_client(get_bytes(record, "client"), key, plan.config, plan.client_id)
    return plan_record, plan, client, key


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """What a client insists on, whatever the server's plan says.

    Attributes:
        min_noise_multiplier: refuse a round with less distributed-DP noise than this
            (``None``: accept rounds without DP).
        min_threshold_fraction: refuse a Shamir threshold below this fraction of the cohort.
        min_colluders: refuse a distributed-DP round whose noise shares assume fewer
            clients colluding with the server than this, i.e. whose ``n_min`` exceeds the
            threshold minus ``min_colluders`` (the share would then be too small if that
            many colluders survived and subtracted theirs). ``"secagg"``: as many as the
            round's Shamir threshold tolerates (``t - 1``, the server's default, so
            ``n_min`` must be 1). ``None``: only ``n_min <= threshold``, which every plan
            must meet anyway.
    """

    min_noise_multiplier: float | None = None
    min_threshold_fraction: float = 0.5
    min_colluders: int | Literal["secagg"] | None = None

    def __post_init__(self) -> None:
        colluders = self.min_colluders
        if (
            colluders is not None
            and colluders != "secagg"
            and (isinstance(colluders, bool) or not isinstance(colluders, int) or colluders < 0)
        ):
            raise InvalidArgument("min_colluders must be None, 'secagg' or an int >= 0")

    def check(self, plan: MaskingPlan) -> None:
        """Raise :class:`MalformedMessage` if ``plan`` is weaker than this policy."""
        cohort = len(plan.config.client_ids)
        if plan.config.threshold < self.min_threshold_fraction * plan.config.neighbourhood_size:
            raise MalformedMessage(f"threshold {plan.config.threshold} of {cohort} is too low")
        if self.min_noise_multiplier is not None:
            noise = 0.0 if plan.dp is None else plan.dp.noise_multiplier
            if noise < self.min_noise_multiplier:
                raise MalformedMessage(
                    f"noise multiplier {noise} is below this client's minimum "
                    f"{self.min_noise_multiplier}"
                )
        if plan.dp is not None and self.min_colluders is not None:
            threshold = plan.config.threshold
            colluders = threshold - 1 if self.min_colluders == "secagg" else self.min_colluders
            if plan.dp.n_min > threshold - colluders:
                raise MalformedMessage(
                    f"the plan sizes noise shares for {plan.dp.n_min} honest survivors of a "
                    f"threshold {threshold}; this client assumes {colluders} colluders"
                )


def handle_masking(
    msg: Message,
    ctxt: Context,
    call_next: ClientAppCallable,
    envelope: Envelope,
    policy: ClientPolicy | None = None,
) -> RecordDict:
    """Run one masking stage on this node; return the reply content.

    Raises:
        MalformedMessage, ClientStateError, secagg.SecAggError: the caller turns these
            into an aborted round (secrets erased, Flower error reply).
    """
    stage, round_number = envelope.stage, envelope.round_number
    if stage not in STAGES:
        raise MalformedMessage(f"unknown masking stage {stage!r}")
    if stage == "advertise_keys":
        record = ctxt.state.config_records.get(STATE_KEY)
        if record is not None and get_int(record, "round") == round_number:
            raise ClientStateError("this round was already started on this node")
        plan_record = plan_of(msg.content)
        plan = MaskingPlan.from_record(plan_record)
        if policy is not None:
            policy.check(plan)
        if plan.config.round_number != round_number:
            raise MalformedMessage("the plan's round differs from the envelope's")
        client = Client(plan.config, plan.client_id)
        body = client.advertise_keys().to_bytes()
        _save(ctxt, round_number, plan_record, client, StateKey.generate())
        return _reply(stage, round_number, body)
    plan_record, plan, client, key = _load(ctxt, round_number)
    metrics = None
    if stage == "share_keys":
        body = client.share_keys(KeyRoster.from_bytes(envelope.body)).to_bytes()
    elif stage == "masked_input":
        bundle = ShareBundle.from_bytes(envelope.body)
        dimension = plan.config.vector_length if plan.dp is None else plan.dp.dimension
        update = local_update(msg, ctxt, call_next, dimension)
        body = client.masked_input(bundle, plan.encode(update.delta)).to_bytes()
        # Train metrics travel in the clear (as with FedAvg), but never beside a
        # distributed-DP update: they are computed on private data and carry no noise.
        metrics = update.metrics if plan.dp is None else None
    elif stage == "consistency_check":
        body = client.consistency_check(ConsistencyRequest.from_bytes(envelope.body)).to_bytes()
    else:
        body = client.unmask(UnmaskRequest.from_bytes(envelope.body)).to_bytes()
        erase_masking_state(ctxt, round_number, "done")
        return _reply(stage, round_number, body)
    _save(ctxt, round_number, plan_record, client, key)
    return with_metrics(_reply(stage, round_number, body), metrics)


def _reply(stage: str, round_number: int, body: bytes) -> RecordDict:
    return Envelope(Protocol.MASKING, stage, round_number, body).to_content()
