"""The learning task of the seed example: y = 2x + noise, a linear model (weight, bias)."""

from __future__ import annotations

import numpy as np

TRUE_WEIGHT = 2.0
TRUE_BIAS = 0.0


def load_partition(
    partition_id: int, num_partitions: int, size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic shard of the data for one node (non-identical x ranges)."""
    rng = np.random.default_rng(1000 + partition_id)
    low = -1.0 + 2.0 * partition_id / max(num_partitions, 1)
    x = rng.uniform(low, low + 1.0, size)
    y = TRUE_WEIGHT * x + TRUE_BIAS + rng.normal(0.0, 0.1, size)
    return x, y


def train_linear(
    weight: float, bias: float, x: np.ndarray, y: np.ndarray, epochs: int, lr: float
) -> tuple[float, float]:
    """Full-batch gradient descent on the mean squared error."""
    for _ in range(epochs):
        error = weight * x + bias - y
        weight -= lr * 2.0 * float(np.mean(error * x))
        bias -= lr * 2.0 * float(np.mean(error))
    return weight, bias


def mean_squared_error(weight: float, bias: float, x: np.ndarray, y: np.ndarray) -> float:
    """The model's mean squared error on a shard."""
    return float(np.mean((weight * x + bias - y) ** 2))
