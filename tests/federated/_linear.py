"""A tiny numpy linear-regression client: y = 2x + noise, fast enough for end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from federated.client import ClientUpdate

TRUE_WEIGHT = 2.0
TRUE_BIAS = 0.0


@dataclass
class LinearClient:
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    learning_rate: float = 0.2
    steps: int = 5

    @property
    def num_examples(self) -> int:
        return len(self.x)

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        w, b = float(parameters[0]), float(parameters[1])
        for _ in range(self.steps):
            residual = w * self.x + b - self.y
            w -= self.learning_rate * 2 * float(np.mean(residual * self.x))
            b -= self.learning_rate * 2 * float(np.mean(residual))
        return ClientUpdate(np.array([w, b]) - parameters, self.num_examples)


def make_clients(count: int = 20, examples: int = 20, seed: int = 0) -> list[LinearClient]:
    rng = np.random.default_rng(seed)
    clients = []
    for _ in range(count):
        x = rng.uniform(-1, 1, examples)
        y = TRUE_WEIGHT * x + TRUE_BIAS + 0.1 * rng.standard_normal(examples)
        clients.append(LinearClient(x, y))
    return clients


def evaluate(parameters: NDArray[np.float64]) -> dict[str, float]:
    x = np.linspace(-1, 1, 50)
    loss = float(np.mean((parameters[0] * x + parameters[1] - TRUE_WEIGHT * x) ** 2))
    return {"loss": loss}


START = np.zeros(2, dtype=np.float64)
