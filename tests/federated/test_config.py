from __future__ import annotations

import pytest

from federated.config import (
    Aggregation,
    DPMode,
    DropoutSimulation,
    FederatedConfig,
    MaskingSettings,
    PaillierSettings,
    PrivacyConfig,
    Stage,
    UniformSelection,
    Weighting,
)
from federated.errors import InvalidArgument

SELECT = UniformSelection(4)


@pytest.mark.parametrize(
    "build",
    [
        lambda: FederatedConfig(rounds=0, selection=SELECT),
        lambda: FederatedConfig(rounds=1, selection=4),  # type: ignore[arg-type]
        lambda: FederatedConfig(rounds=1, selection=SELECT, clip_norm=0.0),
        lambda: FederatedConfig(rounds=1, selection=SELECT, clip_norm=float("nan")),
        lambda: FederatedConfig(rounds=1, selection=SELECT, server_learning_rate=-1.0),
        lambda: FederatedConfig(rounds=1, selection=SELECT, min_clients=0),
        lambda: FederatedConfig(
            rounds=1,
            selection=SELECT,
            weighting=Weighting.EXAMPLES,
            privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5),
        ),
        lambda: PrivacyConfig(mode=DPMode.CENTRAL, delta=1e-5),
        lambda: PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0),  # no delta
        lambda: PrivacyConfig(noise_multiplier=1.0, delta=1e-5),  # noise without a mode
        lambda: PrivacyConfig(noise_multiplier=-1.0),
        lambda: PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=0.0),
        lambda: PrivacyConfig(
            mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5, target_epsilon=0.0
        ),
        lambda: PrivacyConfig(accountant="guess"),
        lambda: MaskingSettings(threshold_fraction=0.5),
        lambda: MaskingSettings(neighbours=3),
        lambda: MaskingSettings(modulus_bits=8),
        lambda: PaillierSettings(key_bits=1024),
        lambda: PaillierSettings(key_holders=2, decryption_threshold=3),
        lambda: DropoutSimulation(rates={Stage.UNMASK: 1.5}),
        lambda: DropoutSimulation(rates={"unmask": 0.1}),  # type: ignore[dict-item]
        lambda: DropoutSimulation(schedule={1: {0: "unmask"}}),  # type: ignore[dict-item]
    ],
)
def test_bad_configuration_is_refused_with_a_typed_error(build) -> None:
    with pytest.raises(InvalidArgument):
        build()


def test_defaults_are_the_secure_ones() -> None:
    config = FederatedConfig(rounds=1, selection=SELECT)
    assert config.aggregation is Aggregation.MASKING
    assert config.paillier.key_bits >= 2048
    assert not config.paillier.allow_insecure_key


def test_survivor_threshold_is_a_majority_and_at_least_min_clients() -> None:
    config = FederatedConfig(rounds=1, selection=SELECT, min_clients=3)
    assert config.survivor_threshold(10) == 6
    assert config.survivor_threshold(2) == 3
    assert MaskingSettings(threshold_fraction=0.51).threshold(100) == 51
