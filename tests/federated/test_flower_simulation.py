"""Our protocols on Flower's simulation engine (Ray): 20 virtual clients, one Ray start.

One module-scoped simulation runs every scenario from one ServerApp, in sequence, over the
same grid: masking with dropouts at every stage (including before masking), masking with
distributed DP, the plain baseline, and the attacks that break Flower's own SecAgg+
(a request for both shares of a client, split views of who survived, a wrong-length
vector). The tests then check what each scenario produced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr")
if importlib.util.find_spec("ray") is None:  # pragma: no cover - depends on the extra
    pytest.skip("flwr[simulation] (ray) is not installed", allow_module_level=True)

from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from federated.flower import (
    DistributedDP,
    Envelope,
    MaskingAggregation,
    MaskingRound,
    PaillierAggregation,
    PlainInsecureAggregation,
    Protocol,
    SecureFedAvg,
    dropout_mod,
    make_fedcrypt_mod,
)
from secagg.masking import ConsistencyRequest, MaskedInput, UnmaskRequest, UnmaskResponse
from secagg.paillier.threshold import KeyShare, deal_threshold_keys

D = 7
"""Model size of the test apps."""


def delta_of(node_id: int) -> np.ndarray:
    """The update node ``node_id`` always makes: entries in [-0.2, 0.2]."""
    digest = hashlib.sha256(str(node_id).encode()).digest()
    raw = np.frombuffer(digest[: 2 * D], dtype="<u2").astype(np.float64)
    return (raw / 65535.0 - 0.5) * 0.4


def train(msg: Message, context: Context) -> Message:
    """An ordinary Flower train function: return the global model plus a fixed update."""
    weights = msg.content["arrays"]["w"].numpy()
    trained = ArrayRecord({"w": Array(weights + delta_of(context.node_id))})
    metrics = MetricRecord({"num-examples": 10})
    return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)


def initial_arrays() -> ArrayRecord:
    """The global model at round 0."""
    return ArrayRecord({"w": Array(np.zeros(D))})


pytestmark = pytest.mark.slow

N_NODES = 20
CLIP = 10.0
DROPS = {
    1: {3: "advertise_keys", 4: "share_keys", 5: "masked_input", 6: "unmask"},
    2: {1: "decrypt"},
}
TAMPER_ROUND = 50
ATTACK_ROUND = 60
SPLIT_ROUND = 61


def wrong_length_mod(msg: Message, ctxt: Context, call_next: Any) -> Message:
    """Malicious client (partition 7) that appends one word to its masked vector."""
    reply = call_next(msg, ctxt)
    if ctxt.node_config.get("partition-id") != 7 or reply.has_error():
        return reply
    envelope = Envelope.from_content(reply.content)
    if envelope.round_number != TAMPER_ROUND or envelope.stage != "masked_input":
        return reply
    honest = MaskedInput.from_bytes(envelope.body)
    longer = np.append(honest.vector, honest.vector[:1])
    forged = MaskedInput(honest.session_id, honest.client_id, longer)
    body = Envelope(Protocol.MASKING, "masked_input", TAMPER_ROUND, forged.to_bytes())
    return Message(body.to_content(), reply_to=msg)


class BothSharesRound(MaskingRound):
    """A malicious server: lists one survivor as dropped too, asking for both its shares."""

    victim = 0

    def unmask_requests(self, answering: Sequence[int]) -> dict[int, UnmaskRequest]:
        honest = self.unmask_request
        forged = UnmaskRequest(honest.session_id, honest.survivors, (self.victim,))
        return dict.fromkeys(answering, forged)


class SplitViewRound(MaskingRound):
    """A malicious server: half the clients are told the victim survived, half that it did not."""

    victim = 0

    def _halves(self, ids: Sequence[int]) -> tuple[set[int], set[int]]:
        others = [c for c in ids if c != self.victim]
        return set(others[: len(others) // 2]) | {self.victim}, set(others[len(others) // 2 :])

    def consistency_requests(self, survivors: Sequence[int]) -> dict[int, ConsistencyRequest]:
        alive, told_dead = self._halves(survivors)
        session = self.consistency_request.session_id
        without = tuple(c for c in survivors if c != self.victim)
        out = dict.fromkeys(alive, ConsistencyRequest(session, tuple(survivors)))
        out.update({c: ConsistencyRequest(session, without) for c in told_dead})
        return out

    def unmask_requests(self, answering: Sequence[int]) -> dict[int, UnmaskRequest]:
        alive, told_dead = self._halves(self.consistency_request.survivors)
        session = self.consistency_request.session_id
        survivors = self.consistency_request.survivors
        without = tuple(c for c in survivors if c != self.victim)
        out = {c: UnmaskRequest(session, survivors, ()) for c in answering if c in alive}
        out.update(
            {
                c: UnmaskRequest(session, without, (self.victim,))
                for c in answering
                if c in told_dead
            }
        )
        return out


def _attack(grid: Grid, cls: type[MaskingRound], round_number: int) -> dict[str, Any]:
    received: list[bytes] = []
    nodes = sorted(grid.get_node_ids())
    aggregation = MaskingAggregation(threshold_fraction=0.6)
    plan = aggregation.plan(nodes, round_number, D, CLIP)
    driver = cls(
        grid,
        plan,
        nodes,
        initial_arrays(),
        timeout=60,
        observer=lambda stage, node, body: received.append(body) if stage == "unmask" else None,
    )
    outcome = driver.run()
    seed_shares = key_shares = 0
    for body in received:
        response = UnmaskResponse.from_bytes(body)
        seed_shares += sum(1 for owner, _ in response.seed_shares if owner == 0)
        key_shares += sum(1 for owner, _ in response.key_shares if owner == 0)
    return {
        "outcome": outcome,
        "threshold": plan.config.threshold,
        "seed_shares": seed_shares,
        "key_shares": key_shares,
        "unmask_failures": driver.dropped.get("unmask", ()),
    }


@pytest.fixture(scope="module")
def simulation() -> dict[str, Any]:
    results: dict[str, Any] = {}
    keys = deal_threshold_keys(1024, n_parties=3, threshold=2, allow_insecure=True)
    shares = {i: keys.shares[i].to_bytes() for i in range(3)}  # partitions 0-2 hold shares

    def key_share(ctxt: Context) -> KeyShare | None:
        data = shares.get(int(ctxt.node_config["partition-id"]))
        return None if data is None else KeyShare.from_bytes(data)

    mod = make_fedcrypt_mod(key_share=key_share, allow_insecure_paillier_keys=True)
    client = ClientApp(mods=[dropout_mod(DROPS), wrong_length_mod, mod])
    client.train()(train)
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        masking = SecureFedAvg(
            fraction_evaluate=0.0,
            min_available_nodes=N_NODES,
            aggregation=MaskingAggregation(),
            clip_norm=CLIP,
        )
        results["masking"] = masking.start(grid, initial_arrays(), num_rounds=2, timeout=300)
        private = SecureFedAvg(
            fraction_train=0.75,  # 15 of the 20 nodes
            fraction_evaluate=0.0,
            min_available_nodes=N_NODES,
            aggregation=MaskingAggregation(),
            privacy=DistributedDP(noise_multiplier=0.5, delta=1e-5, target_epsilon=50.0),
            clip_norm=CLIP,
        )
        results["dp"] = private.start(grid, initial_arrays(), num_rounds=1, timeout=300)
        plain = SecureFedAvg(
            fraction_evaluate=0.0,
            min_available_nodes=N_NODES,
            aggregation=PlainInsecureAggregation(),
            clip_norm=CLIP,
        )
        results["plain"] = plain.start(grid, initial_arrays(), num_rounds=1, timeout=300)
        paillier = SecureFedAvg(
            fraction_evaluate=0.0,
            min_available_nodes=N_NODES,
            aggregation=PaillierAggregation(keys.verification, allow_insecure_key=True),
            clip_norm=CLIP,
        )
        results["paillier"] = paillier.start(grid, initial_arrays(), num_rounds=2, timeout=300)
        nodes = sorted(grid.get_node_ids())
        tamper = MaskingAggregation().run_round(
            grid, nodes, TAMPER_ROUND, initial_arrays(), clip=CLIP, timeout=60
        )
        results["tamper"] = tamper
        results["both_shares"] = _attack(grid, BothSharesRound, ATTACK_ROUND)
        results["split_view"] = _attack(grid, SplitViewRound, SPLIT_ROUND)

    run_simulation(
        server,
        client,
        num_supernodes=N_NODES,
        backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}},
    )
    return results


def _plain_sum(nodes: Sequence[int]) -> np.ndarray:
    return np.sum([delta_of(n) for n in nodes], axis=0)


def check_masked_aggregate_equals_plain_aggregate_with_dropouts(simulation: dict[str, Any]) -> None:
    result = simulation["masking"]
    assert [r.status.value for r in result.records] == ["completed", "completed"]
    first, second = result.outcomes
    # Round 1: four nodes dropped, at AdvertiseKeys, ShareKeys, MaskedInput and Unmask.
    assert len(first.survivors) == N_NODES - 3  # the Unmask dropout's input is still summed
    assert all(len(first.dropped[s]) == 1 for s in ("advertise_keys", "share_keys", "unmask"))
    assert len(first.dropped["masked_input"]) == 1
    assert len(second.survivors) == N_NODES
    for outcome in result.outcomes:
        bound = len(outcome.survivors) / MaskingAggregation().plan(outcome.cohort, 1, D, CLIP).scale
        np.testing.assert_allclose(outcome.total, _plain_sum(outcome.survivors), atol=bound)


def check_dropout_before_masking_does_not_abort_the_round(simulation: dict[str, Any]) -> None:
    first = simulation["masking"].outcomes[0]
    early = set(first.dropped["advertise_keys"]) | set(first.dropped["share_keys"])
    assert len(early) == 2
    assert first.completed
    assert not early & set(first.survivors)


def check_model_moves_by_the_mean_update(simulation: dict[str, Any]) -> None:
    result = simulation["masking"]
    expected = sum(_plain_sum(o.survivors) / len(o.survivors) for o in result.outcomes)
    np.testing.assert_allclose(result.arrays["w"].numpy(), expected, atol=1e-5)


def check_plain_baseline_matches(simulation: dict[str, Any]) -> None:
    outcome = simulation["plain"].outcomes[0]
    np.testing.assert_allclose(outcome.total, _plain_sum(outcome.survivors), atol=1e-12)


def check_distributed_dp_round_is_accounted(simulation: dict[str, Any]) -> None:
    result = simulation["dp"]
    (outcome,) = result.outcomes
    assert outcome.completed
    assert len(outcome.cohort) == 15
    assert outcome.event is not None
    epsilon = result.final_epsilon
    assert epsilon is not None
    assert 0 < epsilon <= 50.0
    assert result.records[0].epsilon == pytest.approx(epsilon)
    report = result.privacy_report()
    assert report is not None
    assert report.epsilon == pytest.approx(epsilon)
    assert report.privacy_unit == "client"
    assert report.sampling == "fixed_size"
    assert report.threat_model.kind == "distributed"
    # Noise at z = 0.5 over the clip: the decoded sum is near, not equal to, the plain sum.
    # Each share is sized so that n_min honest shares reach z * CLIP (n_min = 1 with the
    # default colluders on the complete graph), so the survivors' sum carries a standard
    # deviation of z * CLIP * sqrt(survivors / n_min) per coordinate; seven of them bound it.
    assert report.threat_model.n_min is not None
    sigma = 0.5 * CLIP * math.sqrt(len(outcome.survivors) / report.threat_model.n_min)
    error = np.abs(outcome.total - _plain_sum(outcome.survivors))
    assert 0 < float(error.max()) < 7 * sigma


def check_wrong_length_vector_is_refused_not_summed(simulation: dict[str, Any]) -> None:
    outcome = simulation["tamper"]
    assert outcome.completed
    (cheater,) = outcome.dropped["masked_input"]
    assert cheater not in outcome.survivors
    assert len(outcome.survivors) == N_NODES - 1
    bound = len(outcome.survivors) / MaskingAggregation().plan(outcome.cohort, 1, D, CLIP).scale
    np.testing.assert_allclose(outcome.total, _plain_sum(outcome.survivors), atol=bound)


def check_request_for_both_shares_makes_clients_abort(simulation: dict[str, Any]) -> None:
    attack = simulation["both_shares"]
    assert not attack["outcome"].completed
    assert attack["seed_shares"] == 0
    assert attack["key_shares"] == 0
    assert len(attack["unmask_failures"]) == N_NODES


def check_split_views_never_yield_both_secrets(simulation: dict[str, Any]) -> None:
    attack = simulation["split_view"]
    threshold = attack["threshold"]
    assert min(attack["seed_shares"], attack["key_shares"]) < threshold
    assert not attack["outcome"].completed


def check_paillier_sum_decrypted_by_threshold_committee(simulation: dict[str, Any]) -> None:
    result = simulation["paillier"]
    first, second = result.outcomes
    assert first.completed
    assert second.completed
    assert len(first.survivors) == N_NODES - 3  # three dropped before encrypting
    assert len(second.survivors) == N_NODES  # one key holder dropped: 2 of 3 still decrypt
    for outcome in result.outcomes:
        bound = len(outcome.survivors) * 2.0**-25
        np.testing.assert_allclose(outcome.total, _plain_sum(outcome.survivors), atol=bound)


CHECKS = (
    check_masked_aggregate_equals_plain_aggregate_with_dropouts,
    check_dropout_before_masking_does_not_abort_the_round,
    check_model_moves_by_the_mean_update,
    check_plain_baseline_matches,
    check_distributed_dp_round_is_accounted,
    check_wrong_length_vector_is_refused_not_summed,
    check_request_for_both_shares_makes_clients_abort,
    check_split_views_never_yield_both_secrets,
    check_paillier_sum_decrypted_by_threshold_committee,
)


def test_every_scenario_of_one_simulation(simulation: dict[str, Any]) -> None:
    """One test for all checks, so that pytest-xdist starts the simulation once, not per worker."""
    failures = []
    for check in CHECKS:
        try:
            check(simulation)
        except AssertionError as exc:
            failures.append(f"{check.__name__}: {exc}")
    assert not failures, "\n\n".join(failures)
