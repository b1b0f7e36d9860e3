"""End-to-end runs of every aggregation backend on the linear model y = 2x + noise."""

from __future__ import annotations

import numpy as np
import pytest

from federated.config import (
    Aggregation,
    FederatedConfig,
    MaskingSettings,
    PoissonSelection,
    UniformSelection,
    Weighting,
)
from federated.errors import InvalidArgument
from federated.executors import ProcessPoolExecutor
from federated.history import RoundStatus
from federated.runner import run
from tests.federated._linear import START, TRUE_BIAS, TRUE_WEIGHT, evaluate, make_clients
from tests.federated.conftest import TEST_PAILLIER

# The stated tolerance: without noise, FedAvg on this problem reaches the truth to well
# within 0.05 (the data noise alone moves the least-squares fit by about 0.01).
TOLERANCE = 0.05


def _assert_converged(parameters: np.ndarray) -> None:
    assert abs(parameters[0] - TRUE_WEIGHT) < TOLERANCE
    assert abs(parameters[1] - TRUE_BIAS) < TOLERANCE


@pytest.mark.parametrize("aggregation", [Aggregation.PLAIN_INSECURE, Aggregation.MASKING])
def test_linear_model_converges(aggregation: Aggregation) -> None:
    config = FederatedConfig(rounds=12, selection=UniformSelection(8), aggregation=aggregation)
    history = run(config, make_clients(16), START, evaluate=evaluate)
    _assert_converged(history.parameters)
    assert history.completed_rounds == 12
    assert history.final_epsilon is None
    losses = history.metric("loss")
    assert losses[-1] < losses[0]
    assert all(r.survivors == 8 and r.bytes_sent > 0 for r in history.records)


def test_masking_with_secagg_plus_graph_converges() -> None:
    config = FederatedConfig(
        rounds=10,
        selection=UniformSelection(12),
        masking=MaskingSettings(neighbours=4, threshold_fraction=0.6),
    )
    history = run(config, make_clients(16), START)
    _assert_converged(history.parameters)


@pytest.mark.slow
def test_paillier_with_threshold_committee_converges(committee_keys) -> None:
    config = FederatedConfig(
        rounds=6,
        selection=UniformSelection(4),
        aggregation=Aggregation.PAILLIER,
        server_learning_rate=1.0,
        paillier=TEST_PAILLIER,
    )
    history = run(config, make_clients(8), START, paillier_keys=committee_keys)
    _assert_converged(history.parameters)
    assert {"encrypt", "aggregate", "decrypt"} <= set(history.records[-1].stage_seconds)


def test_poisson_selection_runs() -> None:
    config = FederatedConfig(rounds=10, selection=PoissonSelection(0.5))
    history = run(config, make_clients(16), START)
    _assert_converged(history.parameters)
    assert all(
        r.selected == r.survivors for r in history.records if r.status is RoundStatus.COMPLETED
    )


def test_process_pool_executor_gives_the_same_kind_of_result() -> None:
    config = FederatedConfig(rounds=8, selection=UniformSelection(8))
    with ProcessPoolExecutor(2) as executor:
        history = run(config, make_clients(8), START, executor=executor)
    _assert_converged(history.parameters)


def test_example_weighting_matches_the_weighted_mean() -> None:
    clients = make_clients(4)
    clients[0].x, clients[0].y = clients[0].x[:5], clients[0].y[:5]
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(4),
        aggregation=Aggregation.PLAIN_INSECURE,
        weighting=Weighting.EXAMPLES,
        clip_norm=100.0,
        example_weight_cap=20,
    )
    history = run(config, clients, START)
    updates = [c.fit(START) for c in clients]
    weights = np.array([u.num_examples for u in updates], dtype=float)
    expected = sum(w * u.delta for w, u in zip(weights, updates, strict=True)) / weights.sum()
    np.testing.assert_allclose(history.parameters, START + expected, atol=1e-12)


def test_example_weighting_under_masking_matches_the_plain_baseline() -> None:
    clients = make_clients(4)
    clients[1].x, clients[1].y = clients[1].x[:7], clients[1].y[:7]
    results = []
    for aggregation in (Aggregation.PLAIN_INSECURE, Aggregation.MASKING):
        config = FederatedConfig(
            rounds=1,
            selection=UniformSelection(4),
            aggregation=aggregation,
            weighting=Weighting.EXAMPLES,
            example_weight_cap=20,
        )
        results.append(run(config, clients, START).parameters)
    # Four clients, each within one grid step (4 * sqrt(2) / 2^30) per coordinate.
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)


def test_short_committee_key_needs_the_insecure_opt_in(committee_keys) -> None:
    config = FederatedConfig(
        rounds=1, selection=UniformSelection(2), aggregation=Aggregation.PAILLIER
    )
    with pytest.raises(InvalidArgument, match="allow_insecure_key"):
        run(config, make_clients(2), START, paillier_keys=committee_keys)


def test_signed_masking_converges() -> None:
    config = FederatedConfig(
        rounds=8,
        selection=UniformSelection(6),
        masking=MaskingSettings(signed=True, neighbours=4),
    )
    history = run(config, make_clients(8), START)
    _assert_converged(history.parameters)
