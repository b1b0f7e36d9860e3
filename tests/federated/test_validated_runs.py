"""Whole runs under validated aggregation: convergence, dropouts, central DP and its ledger,
malicious clients rejected, rejected counts in the History, and the configuration rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dp
from dp.mechanisms.clipping import clip_l2_unchecked
from federated.adversary import Adversary, Attack
from federated.config import (
    Aggregation,
    DPMode,
    DropoutSimulation,
    FederatedConfig,
    PrivacyConfig,
    Stage,
    UniformSelection,
    ValidatedSettings,
    Weighting,
)
from federated.errors import InvalidArgument
from federated.history import RoundStatus
from federated.runner import run
from tests.federated._linear import START, TRUE_WEIGHT, evaluate, make_clients

CLIP = 0.5
BITS = 16
SCALE = 2.0**15  # the largest power of two with CLIP * SCALE <= 2^15 - 1


def _config(**overrides: object) -> FederatedConfig:
    settings: dict[str, object] = {
        "rounds": 8,
        "selection": UniformSelection(6),
        "aggregation": Aggregation.VALIDATED,
        "clip_norm": CLIP,
        "validated": ValidatedSettings(bits=BITS),
    }
    settings.update(overrides)
    return FederatedConfig(**settings)  # type: ignore[arg-type]


def test_the_enum_and_its_value_both_select_the_backend() -> None:
    assert Aggregation("validated") is Aggregation.VALIDATED
    history = run(_config(rounds=1), make_clients(6), START)
    assert history.to_dict()["aggregation"] == "validated"
    assert history.records[0].status is RoundStatus.COMPLETED


def _plain_fedavg(clients: list, members: list[list[int]]) -> np.ndarray:
    """Plaintext FedAvg of the given clients' clipped updates, round by round."""
    parameters = START.copy()
    for cohort in members:
        deltas = [clip_l2_unchecked(clients[c].fit(parameters).delta, CLIP) for c in cohort]
        parameters = parameters + np.mean(deltas, axis=0)
    return parameters


def _honest_fedavg(clients: list, honest: list[int], rounds: int) -> np.ndarray:
    return _plain_fedavg(clients, [honest] * rounds)


def test_linear_model_converges_with_dropouts() -> None:
    # Two clients never upload in round 2, one in round 4: they are simply absent.
    schedule = {2: {0: Stage.ADVERTISE_KEYS, 1: Stage.MASKED_INPUT}, 4: {3: Stage.SHARE_KEYS}}
    config = _config(
        rounds=6, dropout=DropoutSimulation(schedule=schedule), selection=UniformSelection(6)
    )
    clients = make_clients(6)
    history = run(config, clients, START, evaluate=evaluate)
    assert [r.survivors for r in history.records] == [6, 4, 6, 5, 6, 6]
    assert all(r.status is RoundStatus.COMPLETED and r.rejected == 0 for r in history.records)
    members = [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5], [0, 1, 2, 3, 4, 5], [0, 1, 2, 4, 5]]
    members += [[0, 1, 2, 3, 4, 5]] * 2
    expected = _plain_fedavg(clients, members)
    # The sum of the survivors, up to the fixed-point rounding (under a grid step a round).
    assert np.max(np.abs(history.parameters - expected)) < 2 * len(members) / SCALE
    assert abs(history.parameters[0] - TRUE_WEIGHT) < 0.1
    assert history.metric("loss")[-1] < history.metric("loss")[0] / 10


@pytest.mark.parametrize("attack", [Attack.SCALE, Attack.REPLACE])
def test_a_poisoning_client_is_rejected_and_the_run_equals_the_honest_one(attack) -> None:
    clients = make_clients(6)
    factor = 100.0 if attack is Attack.SCALE else None
    adversary = Adversary(attack=attack, factor=factor, clients=(4,))
    rounds = 3
    config = _config(rounds=rounds, selection=UniformSelection(6), adversary=adversary)
    history = run(config, clients, START)
    for record in history.records:
        assert record.status is RoundStatus.COMPLETED
        assert record.rejected == 1
        assert record.rejected_clients == (4,)
        assert record.survivors == 5
        assert record.attackers == 1
        assert record.attackers_in_sum == 0
    expected = _honest_fedavg(clients, [0, 1, 2, 3, 5], rounds)
    # Fixed-point rounding: below one grid step per coordinate per round (the linear
    # clients' updates are 1-Lipschitz in the parameters at this learning rate).
    assert np.max(np.abs(history.parameters - expected)) < 2 * rounds / SCALE
    assert history.to_dict()["rounds"][0]["rejected_clients"] == [4]


def test_masking_lets_the_same_client_poison_the_model() -> None:
    # The contrast: under SecAgg+ the same unclipped update goes into the sum unseen.
    clients = make_clients(6)
    adversary = Adversary(attack=Attack.SCALE, factor=100.0, clients=(4,))
    config = _config(rounds=1, aggregation=Aggregation.MASKING, adversary=adversary)
    history = run(config, clients, START)
    honest = _honest_fedavg(clients, [0, 1, 2, 3, 5], 1)
    assert history.records[0].rejected == 0
    # Hundreds of times the validated run's distance from the honest run (a few 1e-5).
    assert np.max(np.abs(history.parameters - honest)) > 0.05


def test_example_weights_are_proven_with_the_weight_coordinate() -> None:
    # The weight rides as an extra coordinate; the bound covers sqrt(C^2 + 1).
    clients = make_clients(4)
    config = _config(
        rounds=1,
        selection=UniformSelection(4),
        weighting=Weighting.EXAMPLES,
        example_weight_cap=20,  # 20 examples each: every weight is 1, the sum of weights 4
    )
    history = run(config, clients, START)
    assert history.records[0].rejected == 0
    expected = _plain_fedavg(clients, [[0, 1, 2, 3]])  # equal example counts: the plain mean
    assert np.max(np.abs(history.parameters - expected)) < 4 * 2 / 2.0**14


def test_a_round_with_too_few_valid_reports_releases_nothing() -> None:
    adversary = Adversary(attack=Attack.SCALE, factor=100.0, clients=(0, 1, 2))
    config = _config(rounds=1, selection=UniformSelection(4), min_clients=2, adversary=adversary)
    history = run(config, make_clients(4), START)
    record = history.records[0]
    # The survivor threshold is ceil(0.6 * 4) = 3 reports; only 1 is valid.
    assert record.status is RoundStatus.SKIPPED
    assert record.rejected == 3
    np.testing.assert_array_equal(history.parameters, START)


def test_central_dp_run_converges_and_is_accounted_with_one_shares_noise() -> None:
    privacy = PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=0.4, delta=1e-5, accountant="rdp")
    config = _config(
        rounds=8,
        selection=UniformSelection(8),
        privacy=privacy,
        dropout=DropoutSimulation(schedule={3: {0: Stage.ADVERTISE_KEYS}}),
    )
    history = run(config, make_clients(16), START)
    completed = [r for r in history.records if r.status is RoundStatus.COMPLETED]
    assert len(completed) == 8
    # The independent ledger: a discrete Gaussian of sigma = z sqrt(B) at sensitivity
    # sqrt(B), B the proven squared norm in grid units (clip and rounding), per round,
    # sampled without replacement; the released sum carries two such noises.
    reach = CLIP * SCALE + math.sqrt(2)
    bound = math.ceil(reach * reach * (1 + 2**-40)) + 1
    event = dp.DiscreteGaussian(sigma=0.4 * math.sqrt(bound), sensitivity_l2=math.sqrt(bound))
    expected = dp.RdpAccountant().compose(dp.SampledWithoutReplacement(16, 8, event), 8)
    assert history.final_epsilon is not None
    assert history.final_epsilon == pytest.approx(expected.get_epsilon(1e-5), rel=1e-6)
    # Two shares of noise at z = 0.4 (sqrt(2) * 0.4 * 0.5 / 8 = 0.035 per coordinate of the
    # mean, damped by the later rounds' training); 0.2 is over five standard deviations.
    # Clipped at 0.5, five rounds were too few to reach the line (1.77 to 1.80 seen).
    assert abs(history.parameters[0] - TRUE_WEIGHT) < 0.2
    report = history.privacy_report()
    assert report.neighbouring == "add_remove"
    assert "two aggregators" in report.title
    assert report.threat_model.kind == "two_aggregators"
    assert "either one colludes" in report.to_markdown()


@pytest.mark.parametrize("relation", ["add_remove", "zero_out", "replace_one"])
def test_each_relation_is_accounted_by_the_accountant_of_that_relation(relation: str) -> None:
    privacy = PrivacyConfig(
        mode=DPMode.CENTRAL,
        noise_multiplier=1.0,
        delta=1e-5,
        accountant="rdp",
        neighbouring=relation,  # type: ignore[arg-type]
    )
    history = run(_config(rounds=1, privacy=privacy), make_clients(12), START)
    reach = CLIP * SCALE + math.sqrt(2)
    bound = math.ceil(reach * reach * (1 + 2**-40)) + 1
    event = dp.DiscreteGaussian(sigma=math.sqrt(bound), sensitivity_l2=math.sqrt(bound))
    expected = dp.RdpAccountant(neighbouring=relation)  # type: ignore[arg-type]
    expected.compose(dp.SampledWithoutReplacement(12, 6, event))
    assert history.final_epsilon == pytest.approx(expected.get_epsilon(1e-5), rel=1e-6)
    assert history.privacy_report().neighbouring == relation


def test_add_remove_accounting_does_not_depend_on_the_survivors() -> None:
    privacy = PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5)
    tracker_run = run(_config(rounds=1, privacy=privacy), make_clients(12), START)
    events = {repr(tracker_run.privacy.round_event(n)) for n in (1, 3, 6)}
    assert len(events) == 1


def test_distributed_dp_is_refused_with_validated_aggregation() -> None:
    privacy = PrivacyConfig(mode=DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=1e-5)
    with pytest.raises(InvalidArgument, match="CENTRAL"):
        _config(privacy=privacy)


@pytest.mark.parametrize(
    "settings",
    [
        {"bits": 3},
        {"bits": 33},
        {"bits": True},
        {"field": "Field32"},
        {"proofs": 0},
        {"proofs": 256},
        {"proofs": 2.0},
        {"circuit": "snark"},
    ],
)
def test_bad_validated_settings_are_refused(settings) -> None:
    with pytest.raises(InvalidArgument):
        ValidatedSettings(**settings)


def test_weak_soundness_is_refused_before_any_client_trains() -> None:
    class Untrainable:
        num_examples = 1

        def fit(self, parameters):  # pragma: no cover - must never run
            raise AssertionError("trained before the settings were checked")

    config = _config(validated=ValidatedSettings(proofs=1))
    with pytest.raises(InvalidArgument, match="soundness"):
        run(config, [Untrainable(), Untrainable(), Untrainable(), Untrainable()] * 2, START)
