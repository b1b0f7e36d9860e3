"""The round's client-side helpers after the overhead work: same values, no surprises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dp.mechanisms.clipping import l2_norm
from federated.client import ClientUpdate
from federated.config import Aggregation, FederatedConfig, UniformSelection, Weighting
from federated.errors import InvalidArgument
from federated.runner import _contribution, run
from federated.torch import flatten_parameters, load_parameters


def _mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))


SIZE = 5 * 7 + 7 + 7 * 3 + 3


@settings(max_examples=15)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.01, 1.0, 100.0]), st.booleans())
def test_contribution_is_the_clipped_update_and_the_weight(
    seed: int, spread: float, weighted: bool
) -> None:
    weighting = Weighting.EXAMPLES if weighted else Weighting.UNIFORM
    config = FederatedConfig(
        rounds=1, selection=UniformSelection(1), clip_norm=1.0, weighting=weighting
    )
    delta = np.random.default_rng(seed).standard_normal(50) * spread
    kept = delta.copy()
    out = _contribution(ClientUpdate(delta, num_examples=10), config, 50)
    np.testing.assert_array_equal(delta, kept)  # the client's update is never modified
    clipped = out[:50] / out[50] if weighted else out
    assert l2_norm(clipped) <= 1.0 * (1 + 1e-12)
    norm = float(np.linalg.norm(kept))
    expected = kept if norm <= 1.0 else kept / norm
    np.testing.assert_allclose(clipped, expected, rtol=1e-9, atol=1e-12)


def test_contribution_refuses_bad_updates_with_the_federated_error() -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(1))
    with pytest.raises(InvalidArgument):
        _contribution(ClientUpdate(np.array([1.0, np.nan]), 1), config, 2)
    with pytest.raises(InvalidArgument):
        _contribution(ClientUpdate(np.zeros(3), 1), config, 2)


@pytest.mark.parametrize("layout", ["read-only", "strided", "float32"])
def test_load_parameters_accepts_any_vector_layout_exactly(layout: str) -> None:
    values = np.random.default_rng(3).standard_normal(2 * SIZE).astype(np.float32)
    vector: np.ndarray = values[:SIZE].astype(np.float64)
    if layout == "read-only":
        vector.setflags(write=False)
    elif layout == "strided":
        vector = values.astype(np.float64)[::2]
    else:
        vector = values[:SIZE]
    snapshot = vector.copy()
    model = _mlp()
    load_parameters(model, vector)
    np.testing.assert_array_equal(flatten_parameters(model), snapshot.astype(np.float64))
    # The model does not alias the caller's vector.
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    np.testing.assert_array_equal(vector, snapshot)
    np.testing.assert_allclose(flatten_parameters(model), snapshot + 1.0, rtol=1e-6)


class _NanClient:
    """Returns an update with a NaN in it: the run must refuse it, not encode it."""

    num_examples = 1

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        update = np.zeros_like(parameters)
        update[-1] = np.nan
        return ClientUpdate(update, 1)


@pytest.mark.parametrize("aggregation", [Aggregation.MASKING, Aggregation.PLAIN_INSECURE])
def test_a_bad_update_stops_the_run_on_either_client_job(aggregation: Aggregation) -> None:
    """Masking clips and encodes inside the client's task; plain clips on return."""
    config = FederatedConfig(rounds=1, selection=UniformSelection(3), aggregation=aggregation)
    with pytest.raises(InvalidArgument, match=r"NaN|finite"):
        run(config, [_NanClient() for _ in range(3)], np.zeros(4))
