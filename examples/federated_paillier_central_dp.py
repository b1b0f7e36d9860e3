"""Federated line fitting with Paillier aggregation, a 2-of-3 key committee and central DP.

    .venv/bin/python examples/federated_paillier_central_dp.py

Clients encrypt their clipped updates as packed Paillier ciphertexts; the server adds them
and asks a committee of three key holders for decryption shares of the sum (any two
suffice, none alone can decrypt); the server then adds central Gaussian noise to the sum,
so here the server is trusted with the un-noised sum (the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import federated
from secagg.paillier.threshold import deal_threshold_keys


@dataclass
class LineClient:
    x: np.ndarray
    y: np.ndarray

    @property
    def num_examples(self) -> int:
        return len(self.x)

    def fit(self, parameters: np.ndarray) -> federated.ClientUpdate:
        w, b = parameters
        for _ in range(5):
            residual = w * self.x + b - self.y
            w -= 0.4 * np.mean(residual * self.x)
            b -= 0.4 * np.mean(residual)
        return federated.ClientUpdate(np.array([w, b]) - parameters, len(self.x))


def main() -> None:
    data = np.random.default_rng(1)
    clients = []
    for _ in range(40):
        x = data.uniform(-1, 1, 25)
        clients.append(LineClient(x, 2 * x + 0.1 * data.standard_normal(25)))
    print("dealing a 2048-bit threshold key to 3 key holders (a few seconds)...")
    committee = deal_threshold_keys(2048, n_parties=3, threshold=2)
    config = federated.FederatedConfig(
        rounds=10,
        selection=federated.UniformSelection(20),
        aggregation=federated.Aggregation.PAILLIER,
        clip_norm=0.3,
        privacy=federated.PrivacyConfig(
            mode=federated.DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-4
        ),
    )
    history = federated.run(config, clients, np.zeros(2), paillier_keys=committee)
    print("weight, bias:", np.round(history.parameters, 3))
    print("epsilon:", round(history.final_epsilon or 0.0, 2), "at delta 1e-4")
    print(history.privacy_report().to_table())


if __name__ == "__main__":
    main()
