"""The Flower workflows without Ray: an in-process grid drives our ClientApp directly.

:class:`LocalGrid` is a Flower :class:`~flwr.serverapp.Grid` that delivers each message to
a real :class:`~flwr.clientapp.ClientApp` (with the fedcrypt mod) holding one
:class:`~flwr.app.Context` per node, as a SuperNode would. This makes the property tests
cheap: any dropout schedule that leaves the threshold gives the plain sum, and malformed
envelopes, plans and saved states are refused with typed errors.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp.events import SampledWithoutReplacement

pytest.importorskip("flwr")

from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Error,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

from federated.errors import BudgetExhausted, InvalidArgument
from federated.flower import (
    ABORT_ERROR_CODE,
    DistributedDP,
    Envelope,
    MalformedMessage,
    MaskingAggregation,
    PaillierAggregation,
    PlainInsecureAggregation,
    Protocol,
    SecureFedAvg,
    dropout_mod,
    fedcrypt_mod,
    make_fedcrypt_mod,
)
from federated.flower._client_masking import STATE_KEY
from federated.flower._masking_state import dump_client, load_client
from federated.flower._plan import MaskingPlan, fixed_point_scale
from federated.flower.errors import ClientStateError
from secagg.masking import Client, MaskingConfig, StateKey
from secagg.paillier.threshold import deal_threshold_keys

D = 5
CLIP = 4.0


@pytest.fixture(autouse=True)
def _task_identity() -> None:
    """Flower stamps messages with the running task's identity, as a ServerApp would have."""
    TaskIdentity.run_id = 1
    TaskIdentity.task_id = 1
    TaskIdentity.node_id = 0


def delta_of(node_id: int) -> np.ndarray:
    digest = hashlib.sha256(str(node_id).encode()).digest()
    return np.frombuffer(digest[: 2 * D], dtype="<u2").astype(np.float64) / 65535.0 - 0.5


def train(msg: Message, context: Context) -> Message:
    weights = msg.content["arrays"]["w"].numpy()
    trained = ArrayRecord({"w": Array(weights + delta_of(context.node_id))})
    metrics = MetricRecord({"num-examples": 3})
    return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)


class LocalGrid(Grid):
    """A Flower grid that runs the ClientApp in-process, one Context per node."""

    def __init__(self, app: ClientApp, n_nodes: int) -> None:
        self.app = app
        self.contexts = {
            1000 + i: Context(
                run_id=1,
                node_id=1000 + i,
                node_config={"partition-id": i},
                state=RecordDict(),
                run_config={},
            )
            for i in range(n_nodes)
        }
        self.sent: list[Message] = []
        self.replies: dict[str, Message] = {}
        self._ids = itertools.count()

    def set_run(self, run: Any) -> None:
        raise NotImplementedError

    @property
    def run(self) -> Any:
        raise NotImplementedError

    def create_message(self, *args: Any, **kwargs: Any) -> Message:
        raise NotImplementedError

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message_id = f"m{next(self._ids)}"
            message.metadata.__dict__["_message_id"] = message_id  # as Flower's grids do
            self.sent.append(message)
            context = self.contexts.get(message.metadata.dst_node_id)
            if context is not None:
                self.replies[message_id] = self.deliver(message, context)
            ids.append(message_id)
        return ids

    def deliver(self, message: Message, context: Context) -> Message:
        try:
            return self.app(message, context)
        except Exception as exc:  # a SuperNode answers a crashed ClientApp with an error
            return Message(Error(0, f"ClientApp raised {exc!r}"), reply_to=message)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(i) for i in list(message_ids) if i in self.replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        raise NotImplementedError


def evaluate(msg: Message, context: Context) -> Message:
    """An ordinary Flower evaluate function: a node-dependent loss and example count."""
    weights = msg.content["arrays"]["w"].numpy()
    loss = float(np.sum(weights**2)) + context.node_id % 7
    metrics = MetricRecord({"num-examples": 1 + context.node_id % 3, "loss": loss})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)


def make_app(schedule: dict[int, dict[int, str]] | None = None) -> ClientApp:
    app = ClientApp(mods=[dropout_mod(schedule or {}), fedcrypt_mod])
    app.train()(train)
    app.evaluate()(evaluate)
    return app


def initial() -> ArrayRecord:
    return ArrayRecord({"w": Array(np.zeros(D))})


def plain_sum(nodes: Iterable[int]) -> np.ndarray:
    return np.sum([np.asarray(delta_of(n)) for n in nodes], axis=0)


STAGES = ["advertise_keys", "share_keys", "masked_input", "consistency_check", "unmask"]


@settings(max_examples=10)
@given(
    n=st.integers(min_value=3, max_value=8),
    drops=st.dictionaries(st.integers(0, 7), st.sampled_from(STAGES), max_size=4),
)
def test_masked_sum_equals_plain_sum_for_any_dropout_schedule(
    n: int, drops: dict[int, str]
) -> None:
    grid = LocalGrid(make_app({1: drops}), n)
    nodes = sorted(grid.contexts)
    aggregation = MaskingAggregation(threshold_fraction=0.6)
    outcome = aggregation.run_round(grid, nodes, 1, initial(), clip=CLIP)
    stage_of = {node: drops.get(i) for i, node in enumerate(nodes)}
    # A node dropping at or before MaskedInput is out of the sum; later dropouts stay in it.
    inputs = [nd for nd in nodes if stage_of[nd] is None or STAGES.index(stage_of[nd]) > 2]
    unmaskers = [nd for nd in nodes if stage_of[nd] is None]
    if len(unmaskers) >= aggregation.threshold(n):
        assert outcome.completed, outcome.note
        assert set(outcome.survivors) == set(inputs)
        scale = fixed_point_scale(32, n, CLIP)
        np.testing.assert_allclose(outcome.total, plain_sum(inputs), atol=n / scale)
    else:
        assert not outcome.completed
        assert outcome.total is None


def test_run_updates_model_and_server_sees_no_plaintext() -> None:
    seen: list[tuple[str, int, bytes]] = []
    grid = LocalGrid(make_app(), 5)
    strategy = SecureFedAvg(
        aggregation=MaskingAggregation(), clip_norm=CLIP, observer=lambda *item: seen.append(item)
    )
    result = strategy.start(grid, initial(), num_rounds=2)
    nodes = sorted(grid.contexts)
    expected = 2 * plain_sum(nodes) / len(nodes)
    np.testing.assert_allclose(result.arrays["w"].numpy(), expected, atol=1e-5)
    assert {stage for stage, _, _ in seen} == set(STAGES)
    for node in nodes:  # no reply carries a client's update or its float bytes
        raw = np.asarray(delta_of(node), dtype="<f8").tobytes()
        assert all(raw not in body for _, _, body in seen)
    # Each client's saved round state holds no secrets once the round is over.
    for context in grid.contexts.values():
        record = context.state[STATE_KEY]
        assert record["status"] == "done"
        assert record["client"] == b""


def test_plain_baseline_sends_updates_in_the_clear() -> None:
    seen: list[bytes] = []
    grid = LocalGrid(make_app(), 3)
    outcome = PlainInsecureAggregation().run_round(
        grid,
        sorted(grid.contexts),
        1,
        initial(),
        clip=CLIP,
        observer=lambda s, n, b: seen.append(b),
    )
    np.testing.assert_allclose(outcome.total, plain_sum(grid.contexts), atol=1e-12)
    assert len(seen) == 3


def test_distributed_dp_run_stops_at_the_target_epsilon() -> None:
    grid = LocalGrid(make_app(), 6)
    strategy = SecureFedAvg(
        fraction_evaluate=0.0,
        aggregation=MaskingAggregation(),
        # A cohort of all 6 nodes is a fixed-size cohort: under add/remove it displaces,
        # so the accounting charges twice the sensitivity (z = 4 costs what z = 2 did).
        privacy=DistributedDP(noise_multiplier=4.0, delta=1e-5, target_epsilon=4.5),
        clip_norm=CLIP,
    )
    result = strategy.start(grid, initial(), num_rounds=50)
    assert 0 < len(result.records) < 50
    assert "target epsilon" in result.stop_reason
    assert result.final_epsilon is not None
    assert result.final_epsilon <= 4.5
    assert len(result.records) >= 3  # worst case (threshold survivors) allows 3 rounds
    epsilons = [r.epsilon for r in result.records]
    assert epsilons == sorted(epsilons)
    report = result.privacy_report()
    assert report is not None
    assert report.rounds == len(result.records)
    assert report.epsilon == pytest.approx(result.final_epsilon)
    assert report.target_epsilon == 4.5
    # The threshold of 6 clients at 0.6 is 4; SecAgg+ tolerates 3 colluders, so the shares
    # are sized for 1 honest survivor and each round counts survivors - 3 shares.
    assert report.threat_model.n_min == 1
    assert report.threat_model.colluders == 3
    assert report.neighbouring == "add_remove"
    assert report.noise_multiplier == 4.0
    assert report.clip_norm == CLIP
    assert result.accountant is not None
    for event, outcome in zip(
        result.accountant.events, [o for o in result.outcomes if o.completed], strict=True
    ):
        assert isinstance(event, SampledWithoutReplacement)  # a cohort of all 6 nodes
        assert event.event.n_min == len(outcome.survivors) - 3
    summary = result.to_dict()
    assert summary["privacy_report"]["rounds"] == len(result.records)


def test_flower_dp_requires_delta_and_refuses_one_above_one_over_the_nodes() -> None:
    with pytest.raises(TypeError):
        DistributedDP(1.0)  # type: ignore[call-arg]
    for bad in (0.0, 1.0, True):
        with pytest.raises(InvalidArgument):
            DistributedDP(1.0, delta=bad)
    grid = LocalGrid(make_app(), 6)
    strategy = SecureFedAvg(
        aggregation=MaskingAggregation(), privacy=DistributedDP(2.0, delta=0.5), clip_norm=CLIP
    )
    with pytest.raises(InvalidArgument, match="1 / population"):
        strategy.start(grid, initial(), num_rounds=1)


def test_flower_unreachable_target_is_refused_before_round_one() -> None:
    grid = LocalGrid(make_app(), 6)
    strategy = SecureFedAvg(
        fraction_evaluate=0.0,
        aggregation=MaskingAggregation(),
        privacy=DistributedDP(0.5, delta=1e-5, target_epsilon=0.05),
        clip_norm=CLIP,
    )
    with pytest.raises(BudgetExhausted, match="round 1"):
        strategy.start(grid, initial(), num_rounds=5)


def test_flower_colluders_and_relation_reach_the_plan_and_the_accountant() -> None:
    with pytest.raises(InvalidArgument, match="collud"):
        MaskingAggregation().plan(
            list(range(6)), 1, D, CLIP, DistributedDP(1.0, delta=1e-5, colluders=4)
        )
    plan = MaskingAggregation().plan(
        list(range(6)), 1, D, CLIP, DistributedDP(1.0, delta=1e-5, colluders=0)
    )
    assert plan.dp is not None
    assert plan.dp.n_min == plan.config.threshold == 4
    grid = LocalGrid(make_app(), 6)
    privacy = DistributedDP(2.0, delta=1e-5, neighbouring="zero_out", colluders=1)
    result = SecureFedAvg(
        fraction_evaluate=0.0, aggregation=MaskingAggregation(), privacy=privacy, clip_norm=CLIP
    ).start(grid, initial(), num_rounds=2)
    assert result.accountant is not None
    assert result.accountant.accountant().neighbouring == "zero_out"
    # Inside the fixed-size cohort of all 6 nodes: 6 survivors - 1 colluder.
    assert [e.event.n_min for e in result.accountant.events] == [5, 5]
    report = result.privacy_report()
    assert report is not None
    assert report.neighbouring == "zero_out"
    assert report.threat_model.colluders == 1
    assert report.threat_model.n_min == 3
    ledger = result.to_dict()["ledger"]
    assert ledger["neighbouring"] == "zero_out"
    assert len(ledger["entries"]) == 2


def test_run_without_dp_has_no_privacy_report() -> None:
    grid = LocalGrid(make_app(), 3)
    result = SecureFedAvg(aggregation=MaskingAggregation(), clip_norm=CLIP).start(
        grid, initial(), 1
    )
    assert result.privacy_report() is None
    assert result.to_dict()["privacy_report"] is None


def test_message_without_envelope_passes_through() -> None:
    grid = LocalGrid(make_app(), 1)
    content = RecordDict({"arrays": initial(), "config": ConfigRecord()})
    message = Message(content, dst_node_id=1000, message_type="train")
    reply = grid.app(message, grid.contexts[1000])
    np.testing.assert_allclose(reply.content["arrays"]["w"].numpy(), delta_of(1000))


def _send_raw(grid: LocalGrid, content: RecordDict) -> Message:
    message = Message(content, dst_node_id=1000, message_type="train")
    return grid.app(message, grid.contexts[1000])


@pytest.mark.parametrize(
    "fields",
    [
        {"wire": 2, "protocol": "masking", "stage": "share_keys", "round": 1, "body": b""},
        {"wire": 1, "protocol": "nope", "stage": "share_keys", "round": 1, "body": b""},
        {"wire": 1, "protocol": "masking", "stage": "share_keys", "round": "1", "body": b""},
        {"wire": 1, "protocol": "masking", "stage": "share_keys", "round": 1},
        {"wire": 1, "protocol": "masking", "stage": "x", "round": 1, "body": b"", "extra": 1},
    ],
)
def test_malformed_envelopes_get_an_error_reply(fields: dict[str, Any]) -> None:
    grid = LocalGrid(make_app(), 1)
    reply = _send_raw(grid, RecordDict({"fedcrypt": ConfigRecord(fields)}))
    assert reply.has_error()
    assert reply.error.code == ABORT_ERROR_CODE


def test_out_of_order_stage_aborts_without_state() -> None:
    grid = LocalGrid(make_app(), 1)
    envelope = Envelope(Protocol.MASKING, "unmask", 3, b"junk")
    reply = _send_raw(grid, envelope.to_content())
    assert reply.has_error()
    assert "no masking round" in str(reply.error.reason)


@given(
    protocol=st.sampled_from(list(Protocol)),
    stage=st.sampled_from(["train", "share_keys", "decrypt"]),
    round_number=st.integers(0, 2**63 - 1),
    body=st.binary(max_size=64),
)
def test_envelope_round_trip(
    protocol: Protocol, stage: str, round_number: int, body: bytes
) -> None:
    envelope = Envelope(protocol, stage, round_number, body)
    assert Envelope.from_content(envelope.to_content()) == envelope


@given(n=st.integers(2, 30), clip=st.floats(0.01, 100.0))
def test_plan_round_trip_and_no_wrap(n: int, clip: float) -> None:
    plan = MaskingAggregation().plan(list(range(n)), 2, D, clip)
    for cid in (0, n - 1):
        assert MaskingPlan.from_record(plan.for_client(cid).to_record()) == plan.for_client(cid)
    # The encoding refuses a wrap: n clients at the clip bound fit in 2^(B-1).
    assert n * np.ceil(clip * plan.scale) < 2**31


def test_plan_with_dp_round_trips() -> None:
    plan = MaskingAggregation().plan(list(range(8)), 2, D, CLIP, DistributedDP(1.0, delta=1e-5))
    assert plan.dp is not None
    assert MaskingPlan.from_record(plan.for_client(3).to_record()) == plan.for_client(3)


def test_plan_refuses_a_threshold_at_half_or_weaker_noise() -> None:
    plan = MaskingAggregation().plan(
        list(range(8)), 2, D, CLIP, DistributedDP(1.0, delta=1e-5, colluders=2)
    )
    assert plan.dp is not None
    assert plan.config.threshold == 5
    assert plan.dp.n_min == 3  # shares sized for the 5 - 2 honest survivors
    record = plan.for_client(1).to_record()
    record["threshold"] = 4
    with pytest.raises(MalformedMessage):
        MaskingPlan.from_record(record)
    # Shares sized for more survivors than the threshold guarantees carry too little noise
    # when only the threshold survives (before the fix the check ran the other way round
    # and refused n_min = 1, the safest value).
    record = plan.for_client(1).to_record()
    record["dp_n_min"] = 6
    with pytest.raises(MalformedMessage):
        MaskingPlan.from_record(record)
    record = plan.for_client(1).to_record()
    record["dp_colluders"] = 3  # claims 3 + 3 honest > threshold 5: inconsistent
    with pytest.raises(MalformedMessage):
        MaskingPlan.from_record(record)
    record = plan.for_client(1).to_record()
    record["dp_n_min"] = 1
    record["dp_colluders"] = 0
    assert MaskingPlan.from_record(record).dp is not None  # more noise per share is fine


def test_saved_client_state_round_trips_and_rejects_corruption() -> None:
    config = MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, round_number=1)
    client = Client(config, 1)
    client.advertise_keys()
    key = StateKey.generate()
    data = dump_client(client, key)
    again = load_client(data, key, config, 1)
    assert again.own_advert() == client.own_advert()
    flipped = data[:-3] + bytes([data[-3] ^ 1]) + data[-2:]
    for broken in (
        data[:-1],
        data + b"\x00",
        b"XXXX" + data[4:],
        data[:4] + b"\x09" + data[5:],
        flipped,
    ):
        with pytest.raises(ClientStateError):
            load_client(broken, key, config, 1)
    with pytest.raises(ClientStateError):
        load_client(data, StateKey.generate(), config, 1)


def test_saved_client_state_is_bound_to_its_client_and_configuration() -> None:
    config = MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, round_number=1)
    client = Client(config, 1)
    client.advertise_keys()
    key = StateKey.generate()
    data = dump_client(client, key)
    assert Client.load_state(data[5:], config, 1, key=key)  # save_state behind our header
    later = MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, round_number=2)
    for other_config, other_id in ((later, 1), (config, 2)):
        with pytest.raises(ClientStateError):
            load_client(data, key, other_config, other_id)


def test_dropout_mod_refuses_unknown_stage() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        dropout_mod({1: {0: "teleport"}})


def test_error_reply_counts_as_dropout() -> None:
    class ErrorGrid(LocalGrid):
        def deliver(self, message: Message, context: Context) -> Message:
            return Message(Error(1, "boom"), reply_to=message)

    grid = ErrorGrid(make_app(), 3)
    outcome = MaskingAggregation().run_round(grid, sorted(grid.contexts), 1, initial(), clip=CLIP)
    assert not outcome.completed
    assert len(outcome.dropped["advertise_keys"]) == 3


@pytest.fixture(scope="module")
def small_committee() -> Any:
    """A 512-bit 2-of-3 threshold key (insecure size: tests only)."""
    return deal_threshold_keys(512, n_parties=3, threshold=2, allow_insecure=True)


def paillier_app(keys: Any, *, insecure_ok: bool = True, holders: int = 3) -> ClientApp:
    shares = {i: keys.shares[i] for i in range(holders)}
    mod = make_fedcrypt_mod(
        key_share=lambda ctxt: shares.get(int(ctxt.node_config["partition-id"])),
        allow_insecure_paillier_keys=insecure_ok,
    )
    app = ClientApp(mods=[mod])
    app.train()(train)
    return app


def test_paillier_round_sums_and_committee_decrypts(small_committee: Any) -> None:
    seen: list[tuple[str, int, bytes]] = []
    grid = LocalGrid(paillier_app(small_committee), 5)
    aggregation = PaillierAggregation(small_committee.verification, allow_insecure_key=True)
    outcome = aggregation.run_round(
        grid, sorted(grid.contexts), 1, initial(), clip=CLIP, observer=lambda *x: seen.append(x)
    )
    assert outcome.completed, outcome.note
    np.testing.assert_allclose(outcome.total, plain_sum(grid.contexts), atol=5 * 2.0**-27)
    assert sum(1 for stage, _, _ in seen if stage == "decrypt") == 3
    for node in grid.contexts:
        raw = np.asarray(delta_of(node), dtype="<f8").tobytes()
        assert all(raw not in body for _, _, body in seen)


def test_paillier_without_enough_key_holders_releases_nothing(small_committee: Any) -> None:
    grid = LocalGrid(paillier_app(small_committee, holders=1), 4)
    aggregation = PaillierAggregation(small_committee.verification, allow_insecure_key=True)
    outcome = aggregation.run_round(grid, sorted(grid.contexts), 1, initial(), clip=CLIP)
    assert not outcome.completed
    assert "did not decrypt" in outcome.note


def test_clients_refuse_a_short_paillier_key_by_default(small_committee: Any) -> None:
    grid = LocalGrid(paillier_app(small_committee, insecure_ok=False), 3)
    aggregation = PaillierAggregation(small_committee.verification, allow_insecure_key=True)
    outcome = aggregation.run_round(grid, sorted(grid.contexts), 1, initial(), clip=CLIP)
    assert not outcome.completed
    assert len(outcome.dropped["encrypt"]) == 3


def test_clients_refuse_a_key_other_than_the_pinned_one(small_committee: Any) -> None:
    grid = LocalGrid(paillier_app(small_committee), 3)
    for context in grid.contexts.values():
        context.node_config["fedcrypt-key-fingerprint"] = "00" * 32
    aggregation = PaillierAggregation(small_committee.verification, allow_insecure_key=True)
    outcome = aggregation.run_round(grid, sorted(grid.contexts), 1, initial(), clip=CLIP)
    assert not outcome.completed
    assert len(outcome.dropped["encrypt"]) == 3


def test_key_holder_refuses_to_decrypt_one_clients_ciphertext(small_committee: Any) -> None:
    grid = LocalGrid(paillier_app(small_committee), 3)
    key = small_committee.verification.public_key(allow_insecure=True)
    single = key.encrypt_vector(np.ones(D), scale_bits=10, max_summands=3)
    plan = {
        "verification": small_committee.verification.to_bytes(),
        "min_summands": 2,
    }
    envelope = Envelope(Protocol.PAILLIER, "decrypt", 1, single.to_bytes())
    reply = _send_raw(grid, envelope.to_content(plan))
    assert reply.has_error()
    assert "too few clients" in str(reply.error.reason)


def test_a_crash_in_training_erases_the_round_secrets() -> None:
    def flaky(msg: Message, context: Context) -> Message:
        if context.node_config["partition-id"] == 0:
            raise RuntimeError("out of memory")
        return train(msg, context)

    app = ClientApp(mods=[fedcrypt_mod])
    app.train()(flaky)
    grid = LocalGrid(app, 4)
    nodes = sorted(grid.contexts)
    outcome = MaskingAggregation().run_round(grid, nodes, 1, initial(), clip=CLIP)
    assert outcome.completed
    assert outcome.dropped["masked_input"] == (nodes[0],)
    record = grid.contexts[nodes[0]].state[STATE_KEY]
    assert record["status"] == "aborted"
    assert record["client"] == b""
    np.testing.assert_allclose(outcome.total, plain_sum(nodes[1:]), atol=1e-6)


@pytest.mark.parametrize(
    ("policy", "server_colluders", "accepted"),
    [
        ("secagg", None, True),  # 4 nodes: threshold 3, both assume 2 colluders, n_min 1
        ("secagg", 0, False),  # the server sizes shares for 3 honest survivors
        (1, 1, True),
        (1, 0, False),
        (None, 0, True),
    ],
)
def test_clients_refuse_shares_sized_for_fewer_colluders_than_their_policy(
    policy: int | str | None, server_colluders: int | None, accepted: bool
) -> None:
    app = ClientApp(mods=[make_fedcrypt_mod(min_colluders=policy)])  # type: ignore[arg-type]
    app.train()(train)
    grid = LocalGrid(app, 4)
    privacy = DistributedDP(1.0, delta=1e-5, colluders=server_colluders)
    outcome = MaskingAggregation().run_round(
        grid, sorted(grid.contexts), 1, initial(), clip=CLIP, privacy=privacy
    )
    assert outcome.completed is accepted
    if not accepted:
        assert len(outcome.dropped["advertise_keys"]) == 4


def test_client_policy_refuses_a_bad_colluder_setting() -> None:
    for bad in (-1, True, "all", 1.5):
        with pytest.raises(InvalidArgument):
            make_fedcrypt_mod(min_colluders=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("noise", "accepted"), [(None, False), (0.5, False), (1.0, True)])
def test_clients_refuse_less_noise_than_their_policy(noise: float | None, accepted: bool) -> None:
    app = ClientApp(mods=[make_fedcrypt_mod(min_noise_multiplier=1.0)])
    app.train()(train)
    grid = LocalGrid(app, 4)
    privacy = None if noise is None else DistributedDP(noise_multiplier=noise, delta=1e-5)
    outcome = MaskingAggregation().run_round(
        grid, sorted(grid.contexts), 1, initial(), clip=CLIP, privacy=privacy
    )
    assert outcome.completed is accepted
    if not accepted:
        assert len(outcome.dropped["advertise_keys"]) == 4
