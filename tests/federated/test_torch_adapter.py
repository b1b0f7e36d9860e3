from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from federated.errors import InvalidArgument
from federated.torch import (
    TorchClient,
    TorchEvaluator,
    flatten_parameters,
    initial_parameters,
    load_parameters,
)


def _mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


MLP_SIZE = 3 * 4 + 4 + 4 * 2 + 2


@settings(max_examples=20)
@given(arrays(np.float64, MLP_SIZE, elements=st.floats(-1e3, 1e3, width=32)))
def test_flatten_inverts_load(vector: np.ndarray) -> None:
    model = _mlp()
    load_parameters(model, vector)
    np.testing.assert_array_equal(flatten_parameters(model), vector)


def test_flatten_follows_parameter_order() -> None:
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.copy_(torch.tensor([3.0]))
    np.testing.assert_array_equal(flatten_parameters(model), [1.0, 2.0, 3.0])
    assert initial_parameters(_mlp).shape == (MLP_SIZE,)


def test_load_rejects_a_wrong_length() -> None:
    with pytest.raises(InvalidArgument):
        load_parameters(_mlp(), np.zeros(MLP_SIZE + 1))


def test_torch_client_learns_a_line() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(64, 1, generator=generator) * 2 - 1
    y = 2 * x
    factory = functools.partial(torch.nn.Linear, 1, 1)
    client = TorchClient(
        factory,
        x,
        y,
        torch.nn.functional.mse_loss,
        learning_rate=0.5,
        local_epochs=20,
        batch_size=16,
    )
    start = np.zeros(2)
    update = client.fit(start)
    assert update.num_examples == 64
    assert abs(update.delta[0] - 2.0) < 0.1
    evaluator = TorchEvaluator(factory, x, y, torch.nn.functional.mse_loss)
    assert evaluator(start + update.delta)["loss"] < evaluator(start)["loss"]


def test_torch_evaluator_reports_accuracy() -> None:
    x = torch.eye(2)
    y = torch.tensor([0, 1])
    factory = functools.partial(torch.nn.Linear, 2, 2, bias=False)
    evaluator = TorchEvaluator(
        factory, x, y, torch.nn.functional.cross_entropy, classification=True
    )
    identity = np.array([1.0, 0.0, 0.0, 1.0])
    assert evaluator(identity)["accuracy"] == 1.0
    assert evaluator(-identity)["accuracy"] == 0.0


def test_torch_client_validates_its_data() -> None:
    with pytest.raises(InvalidArgument):
        TorchClient(_mlp, torch.zeros(3, 3), torch.zeros(2), torch.nn.functional.mse_loss)
    with pytest.raises(InvalidArgument):
        TorchClient(
            _mlp, torch.zeros(3, 3), torch.zeros(3), torch.nn.functional.mse_loss, local_epochs=0
        )


def test_torch_client_copies_without_its_cached_model() -> None:
    import copy

    x = torch.zeros(4, 1)
    client = TorchClient(
        functools.partial(torch.nn.Linear, 1, 1), x, x, torch.nn.functional.mse_loss
    )
    client.fit(np.zeros(2))
    clone = copy.deepcopy(client)
    assert clone._model is None
    assert clone.num_examples == 4
    assert clone.fit(np.zeros(2)).delta.shape == (2,)
