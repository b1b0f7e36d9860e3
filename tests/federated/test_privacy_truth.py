"""The runner never reports a weaker guarantee than it gives (issue 15 and issue 16, federated).

Each test here failed on the code before the fix it names:

* fixed-size cohorts were accounted with the add/remove sensitivity ``C`` although a client
  added to a fixed-size cohort displaces another (the sum moves by ``2C``);
* distributed DP counted every survivor's noise share, although a client colluding with the
  server can subtract its own;
* noise without a DP mode ran with no DP, delta defaulted silently, an unreachable target
  under the STOP policy returned an untrained model with epsilon 0;
* a NaN example count under example weighting gave a NaN model on the plain backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dp
from federated._privacy import PrivacyTracker
from federated.client import ClientUpdate, check_example_count
from federated.config import (
    Aggregation,
    BudgetPolicy,
    DPMode,
    DropoutSimulation,
    FederatedConfig,
    MaskingSettings,
    PoissonSelection,
    PrivacyConfig,
    Stage,
    UniformSelection,
    Weighting,
)
from federated.errors import BudgetExhausted, InvalidArgument
from federated.history import RoundStatus
from federated.runner import run
from tests.federated._linear import START, make_clients

# -- fixed-size cohorts under add/remove: the displacement pair --------------------------------


@pytest.mark.parametrize(
    ("population", "cohort", "z", "rounds"), [(21, 5, 1.0, 20), (40, 8, 2.0, 12)]
)
def test_fixed_size_epsilon_is_at_least_the_displacement_lower_bound(
    population: int, cohort: int, z: float, rounds: int
) -> None:
    """Central DP, plain backend (no rounding slack): the pair is exactly
    PoissonSampled(m / (N + 1), Gaussian(z / 2)); our epsilon may not be below its lower bound.
    """
    delta = 1e-5
    config = FederatedConfig(
        rounds=rounds,
        selection=UniformSelection(cohort),
        aggregation=Aggregation.PLAIN_INSECURE,
        clip_norm=0.5,
        privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=z, delta=delta),
    )
    history = run(config, make_clients(population), START)
    assert history.completed_rounds == rounds
    displacement = dp.PldAccountant().compose(
        dp.PoissonSampled(cohort / (population + 1), dp.Gaussian(z / 2)), rounds
    )
    lower = displacement.get_epsilon(delta, bound="lower")
    assert history.final_epsilon is not None
    assert history.final_epsilon >= lower
    report = history.privacy_report()
    assert report.neighbouring == "add_remove"
    assert report.epsilon >= lower
    # The planned epsilon (used by REFUSE and the budget checks) is no smaller either.
    planned = history.privacy.planned_epsilon()
    assert planned is not None
    assert planned >= lower


def test_planned_epsilon_and_budget_checks_use_the_runs_relation() -> None:
    config = FederatedConfig(
        rounds=6,
        selection=UniformSelection(5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(
            mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5, neighbouring="replace_one"
        ),
    )
    history = run(config, make_clients(20), START)
    tracker = history.privacy
    assert tracker.accountant is not None
    assert tracker.accountant.neighbouring == "replace_one"
    worst = tracker.worst_case_event()
    expected = type(tracker.accountant)(neighbouring="replace_one").compose(worst, 6)
    planned = tracker.planned_epsilon()
    assert planned == pytest.approx(expected.get_epsilon(1e-5), rel=1e-12)
    assert history.final_epsilon == pytest.approx(planned, rel=1e-9)
    default = type(tracker.accountant)().compose(worst, 6).get_epsilon(1e-5)
    assert planned >= default  # replace-one is never cheaper than add/remove
    assert history.privacy_report().neighbouring == "replace_one"


def test_zero_out_is_an_explicit_labelled_choice() -> None:
    assert PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5).neighbouring == (
        "add_remove"
    )
    with pytest.raises(InvalidArgument):
        PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5, neighbouring="bogus")  # type: ignore[arg-type]
    config = FederatedConfig(
        rounds=2,
        selection=PoissonSelection(0.5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(
            mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5, neighbouring="zero_out"
        ),
    )
    history = run(config, make_clients(20), START)
    report = history.privacy_report()
    assert report.neighbouring == "zero_out"
    assert history.privacy.accountant is not None
    assert history.privacy.accountant.neighbouring == "zero_out"


# -- colluding clients in distributed DP -------------------------------------------------------


def _distributed(**privacy: object) -> FederatedConfig:
    return FederatedConfig(
        rounds=3,
        selection=UniformSelection(10),
        clip_norm=0.5,
        masking=MaskingSettings(neighbours=4, threshold_fraction=0.6),
        privacy=PrivacyConfig(
            mode=DPMode.DISTRIBUTED,
            noise_multiplier=1.0,
            delta=1e-5,
            **privacy,  # type: ignore[arg-type]
        ),
        dropout=DropoutSimulation(schedule={2: {0: Stage.SHARE_KEYS, 1: Stage.ADVERTISE_KEYS}}),
    )


def test_colluders_default_to_what_secagg_tolerates_and_reduce_n_min() -> None:
    config = _distributed()
    # Neighbourhoods of 5, threshold ceil(0.6 * 5) = 3: SecAgg+ tolerates 2 colluders.
    assert config.masking.shamir_threshold(10) == 3
    assert config.colluders(10) == 2
    assert config.survivor_threshold(10) == 6
    assert config.honest_survivor_threshold(10) == 4
    history = run(config, make_clients(10), START)
    tracker = history.privacy
    assert tracker.colluders == 2
    assert tracker.n_min == 4
    # The noise shares are sized for 4 honest survivors, not for the 6 of the threshold.
    assert tracker._distributed is not None
    assert tracker._distributed.n_min == 4
    assert [r.survivors for r in history.records] == [10, 8, 10]
    assert tracker.accountant is not None
    # A cohort of the whole population is still a fixed-size cohort (it displaces).
    honest = [event.event.n_min for event, _ in tracker.accountant.ledger]
    assert honest == [8, 6, 8]  # survivors minus the 2 colluders
    threat = history.privacy_report().threat_model
    assert threat.colluders == 2
    assert threat.n_min == 4


def test_explicit_colluders_and_their_limits() -> None:
    trusting = _distributed(colluders=0)
    assert trusting.honest_survivor_threshold(10) == 6
    history = run(trusting, make_clients(10), START)
    assert history.privacy_report().threat_model.colluders == 0
    assert history.privacy.accountant is not None
    assert [e.event.n_min for e, _ in history.privacy.accountant.ledger] == [10, 8, 10]
    # More colluders than the SecAgg+ threshold tolerates: the masking itself no longer
    # hides an honest client's input, so no DP claim can rest on it.
    with pytest.raises(InvalidArgument, match="collud"):
        _distributed(colluders=3)
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidArgument):
            PrivacyConfig(
                mode=DPMode.DISTRIBUTED,
                noise_multiplier=1.0,
                delta=1e-5,
                colluders=bad,  # type: ignore[arg-type]
            )
    with pytest.raises(InvalidArgument, match="distributed"):
        PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5, colluders=1)


def test_complete_graph_default_leaves_one_honest_share() -> None:
    # Complete graph over 10: threshold 6, so 5 colluders; a released round then holds at
    # least one honest share, and each share carries the whole target noise.
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(10),
        privacy=PrivacyConfig(mode=DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=1e-5),
    )
    assert config.colluders(10) == 5
    assert config.honest_survivor_threshold(10) == 1


# -- no silent weaker guarantee ----------------------------------------------------------------


def test_noise_without_a_mode_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match="mode"):
        PrivacyConfig(noise_multiplier=1.0, delta=1e-5)
    with pytest.raises(InvalidArgument, match="mode"):
        PrivacyConfig(target_epsilon=3.0)


@pytest.mark.parametrize("mode", [DPMode.CENTRAL, DPMode.DISTRIBUTED])
def test_delta_is_required_with_dp(mode: DPMode) -> None:
    with pytest.raises(InvalidArgument, match="delta"):
        PrivacyConfig(mode=mode, noise_multiplier=1.0)
    for bad in (0.0, 1.0, float("nan"), True):
        with pytest.raises(InvalidArgument, match="delta"):
            PrivacyConfig(mode=mode, noise_multiplier=1.0, delta=bad)


def test_delta_above_one_over_the_population_is_refused() -> None:
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=0.1),
    )
    with pytest.raises(InvalidArgument, match="1 / population"):
        run(config, [_MustNotTrain() for _ in range(20)], START)
    # delta = 1/N exactly is the limit (allowed, although smaller is wiser).
    ok = FederatedConfig(
        rounds=1,
        selection=UniformSelection(5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=0.05),
    )
    assert run(ok, make_clients(20), START).completed_rounds == 1


class _MustNotTrain:
    num_examples = 1

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        raise AssertionError("a refused run must not train")


def test_stop_policy_with_an_unreachable_target_refuses_before_round_one() -> None:
    config = FederatedConfig(
        rounds=10,
        selection=UniformSelection(10),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(
            mode=DPMode.CENTRAL,
            noise_multiplier=0.5,
            delta=1e-5,
            target_epsilon=0.01,
            budget_policy=BudgetPolicy.STOP,
        ),
    )
    with pytest.raises(BudgetExhausted, match="round 1"):
        run(config, [_MustNotTrain() for _ in range(20)], START)


def test_stop_policy_with_a_reachable_target_still_runs_and_stops() -> None:
    config = FederatedConfig(
        rounds=200,
        selection=UniformSelection(5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(
            mode=DPMode.CENTRAL, noise_multiplier=4.0, delta=1e-5, target_epsilon=3.0
        ),
    )
    history = run(config, make_clients(20), START)
    assert 0 < history.completed_rounds < 200
    assert history.final_epsilon is not None
    assert history.final_epsilon <= 3.0


def test_reports_state_clip_noise_relation_colluders_and_release() -> None:
    history = run(_distributed(), make_clients(10), START)
    report = history.privacy_report()
    assert report.clip_norm == 0.5
    assert report.noise_multiplier == 1.0
    assert report.neighbouring == "add_remove"
    assert report.threat_model.colluders == 2
    assert report.released
    text = report.to_markdown()
    assert "collud" in text.lower()
    central = run(
        FederatedConfig(
            rounds=2,
            selection=UniformSelection(5),
            aggregation=Aggregation.PLAIN_INSECURE,
            clip_norm=0.25,
            privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.5, delta=1e-5),
        ),
        make_clients(20),
        START,
    ).privacy_report()
    assert central.clip_norm == 0.25
    assert central.noise_multiplier == 1.5


# -- example counts are validated for every backend ---------------------------------------------


class _CountClient:
    def __init__(self, count: object) -> None:
        self.num_examples = count
        self.inner = make_clients(1)[0]

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        update = self.inner.fit(parameters)
        return ClientUpdate(update.delta, self.num_examples)  # type: ignore[arg-type]


BAD_COUNTS = [float("nan"), float("inf"), -3, True, "12", 2.5, None]


@pytest.mark.parametrize("count", BAD_COUNTS)
def test_bad_example_counts_are_refused_on_the_plain_backend(count: object) -> None:
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(3),
        aggregation=Aggregation.PLAIN_INSECURE,
        weighting=Weighting.EXAMPLES,
    )
    clients = [*make_clients(2), _CountClient(count)]
    with pytest.raises(InvalidArgument, match="num_examples"):
        run(config, clients, START)


@pytest.mark.parametrize("count", [float("nan"), -1, True])
def test_bad_example_counts_are_refused_under_masking_with_the_same_error(count: object) -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(3), weighting=Weighting.EXAMPLES)
    clients = [*make_clients(2), _CountClient(count)]
    with pytest.raises(InvalidArgument, match="num_examples"):
        run(config, clients, START)


def test_good_example_counts_are_accepted() -> None:
    assert check_example_count(0) == 0
    assert check_example_count(np.int64(7)) == 7
    for bad in BAD_COUNTS:
        with pytest.raises(InvalidArgument):
            check_example_count(bad)
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(3),
        aggregation=Aggregation.PLAIN_INSECURE,
        weighting=Weighting.EXAMPLES,
    )
    history = run(config, [*make_clients(2), _CountClient(np.int32(5))], START)
    assert history.records[0].status is RoundStatus.COMPLETED
    assert all(math.isfinite(v) for v in history.parameters)


class _BadUpdateClient:
    num_examples = 3

    def __init__(self, result: object) -> None:
        self.result = result

    def fit(self, parameters: np.ndarray) -> object:
        return self.result


BAD_UPDATES = [
    None,
    (np.zeros(2), 3),
    ClientUpdate(np.array(["a", "b"]), 3),
    ClientUpdate(np.array([1 + 1j, 0j]), 3),
    ClientUpdate(np.array([True, False]), 3),
    ClientUpdate(np.array([object(), object()]), 3),
    ClientUpdate([[1.0], [2.0, 3.0]], 3),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("aggregation", [Aggregation.PLAIN_INSECURE, Aggregation.MASKING])
@pytest.mark.parametrize("result", BAD_UPDATES, ids=range(len(BAD_UPDATES)))
def test_malformed_updates_are_refused_with_a_typed_error(
    aggregation: Aggregation, result: object
) -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(3), aggregation=aggregation)
    clients = [*make_clients(2), _BadUpdateClient(result)]
    with pytest.raises(InvalidArgument):
        run(config, clients, START)


@pytest.mark.parametrize(
    "start", [["a", "b"], np.array([1j, 0j]), [[0.0], [1.0, 2.0]], np.array([True, False])]
)
def test_malformed_initial_parameters_are_refused_with_a_typed_error(start: object) -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(2))
    with pytest.raises(InvalidArgument, match="initial_parameters"):
        run(config, make_clients(2), start)  # type: ignore[arg-type]


def test_the_saved_ledger_carries_the_relation_and_rebuilds_the_epsilon() -> None:
    config = FederatedConfig(
        rounds=3,
        selection=UniformSelection(5),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(
            mode=DPMode.CENTRAL, noise_multiplier=2.0, delta=1e-5, neighbouring="replace_one"
        ),
    )
    history = run(config, make_clients(20), START)
    summary = history.to_dict()
    assert summary["neighbouring"] == "replace_one"
    ledger = summary["ledger"]
    assert ledger["neighbouring"] == "replace_one"
    assert history.privacy.accountant is not None
    rebuilt = type(history.privacy.accountant).from_ledger_dict(ledger)
    assert rebuilt.neighbouring == "replace_one"
    assert rebuilt.get_epsilon(1e-5) == pytest.approx(history.final_epsilon, rel=1e-12)


def test_a_cohort_of_the_whole_population_still_displaces() -> None:
    # UniformSelection(N) of N clients: with one client more it would leave one out, so
    # under add/remove it is accounted at twice the sensitivity; PoissonSelection(1.0)
    # grows with the population and is not.
    base = {"rounds": 3, "clip_norm": 1.0}
    privacy = PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=2.0, delta=1e-5)
    fixed = PrivacyTracker(
        FederatedConfig(selection=UniformSelection(10), privacy=privacy, **base), 10, 4
    )
    event = fixed.worst_case_event()
    assert isinstance(event, dp.SampledWithoutReplacement)
    assert (event.population, event.sample_size) == (10, 10)
    everyone = PrivacyTracker(
        FederatedConfig(
            selection=PoissonSelection(1.0, expected_cohort=10.0), privacy=privacy, **base
        ),
        10,
        4,
    )
    assert not isinstance(everyone.worst_case_event(), dp.SampledWithoutReplacement)
    rounds = 3
    assert fixed.planned_epsilon() is not None
    fixed_eps = dp.RdpAccountant().compose(event, rounds).get_epsilon(1e-5)
    full_eps = dp.RdpAccountant().compose(everyone.worst_case_event(), rounds).get_epsilon(1e-5)
    assert fixed_eps > 1.8 * full_eps
