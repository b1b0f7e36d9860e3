"""Data and models of the demo: the seed's line y = 2x + noise, and scikit-learn's digits.

Synthetic data comes from a seeded :class:`torch.Generator` (it is data, not cryptography, and
a fixed seed makes the demo reproducible). torch is imported inside the functions, so that
importing :mod:`federated` never pulls it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federated import _demo_extra  # noqa: F401  (checks the extra before torch)
from federated.torch import TorchClient, TorchEvaluator

if TYPE_CHECKING:
    import torch

__all__ = [
    "TRUE_WEIGHT",
    "TRUE_BIAS",
    "linear_model",
    "digits_model",
    "LinearTask",
    "DigitsTask",
    "make_linear_task",
    "make_digits_task",
]

TRUE_WEIGHT = 2.0
TRUE_BIAS = 0.0


def linear_model() -> torch.nn.Module:
    """``torch.nn.Linear(1, 1)``: the seed's model."""
    import torch

    return torch.nn.Linear(1, 1)


def digits_model() -> torch.nn.Module:
    """A small MLP for 8x8 digits: 64 -> 32 -> 10 (2,410 parameters)."""
    import torch

    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


@dataclass(frozen=True)
class LinearTask:
    """The federated line-fitting task."""

    clients: list[TorchClient]
    evaluate: TorchEvaluator
    model_fn: Callable[[], Any]


@dataclass(frozen=True)
class DigitsTask:
    """The federated digits task with a non-IID split."""

    clients: list[TorchClient]
    evaluate: TorchEvaluator
    model_fn: Callable[[], Any]
    labels_per_client: int


def make_linear_task(
    n_clients: int = 100, examples: int = 20, noise: float = 0.1, seed: int = 0
) -> LinearTask:
    """Y = 2x + noise, x uniform in [-1, 1], ``examples`` points on each of ``n_clients``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    mse = torch.nn.functional.mse_loss
    clients = []
    for _ in range(n_clients):
        x = torch.rand(examples, 1, generator=generator) * 2 - 1
        y = TRUE_WEIGHT * x + TRUE_BIAS + noise * torch.randn(examples, 1, generator=generator)
        clients.append(
            TorchClient(linear_model, x, y, mse, learning_rate=0.2, local_epochs=2, batch_size=10)
        )
    x_test = torch.linspace(-1, 1, 101).unsqueeze(1)
    evaluator = TorchEvaluator(linear_model, x_test, TRUE_WEIGHT * x_test + TRUE_BIAS, mse)
    return LinearTask(clients, evaluator, linear_model)


def make_digits_task(n_clients: int = 100, labels_per_client: int = 2, seed: int = 0) -> DigitsTask:
    """scikit-learn's digits (ships inside the package), split non-IID by label shards.

    80% of the images are shared out: sorted by label, cut into ``n_clients *
    labels_per_client`` shards, and each client gets ``labels_per_client`` random shards, so
    most clients see only one or two digits (McMahan et al. 2017, section 3). The other 20%
    is the server's test set.
    """
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    features = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    train = train[torch.argsort(labels[train], stable=True)]
    shard_count = n_clients * labels_per_client
    shards = torch.tensor_split(train, shard_count)
    assignment = torch.randperm(shard_count, generator=generator)
    cross_entropy = torch.nn.functional.cross_entropy
    clients = []
    for client in range(n_clients):
        picks = assignment[client * labels_per_client : (client + 1) * labels_per_client]
        indices = torch.cat([shards[int(i)] for i in picks])
        clients.append(
            TorchClient(
                digits_model,
                features[indices],
                labels[indices],
                cross_entropy,
                learning_rate=0.3,
                local_epochs=5,
                batch_size=16,
            )
        )
    evaluator = TorchEvaluator(
        digits_model, features[test], labels[test], cross_entropy, classification=True
    )
    return DigitsTask(clients, evaluator, digits_model, labels_per_client)
