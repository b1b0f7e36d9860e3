"""Canary audits of whole runs (``federated.run(..., audit=...)``, issue 19).

The clients are a numpy "linear model" in 1,000 dimensions (each pulls the model halfway to
its own small target), so 100 canary directions are nearly orthogonal and the runs take
well under a second. A correct pipeline's bound stays under its claim; with the central
noise switched off (a planted bug) the same claim is refuted.
"""

from __future__ import annotations

import inspect
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

import federated.audit
from dp.audit import AuditResult
from federated import (
    Aggregation,
    AuditConfig,
    DPMode,
    FederatedConfig,
    InvalidArgument,
    PoissonSelection,
    PrivacyConfig,
    UniformSelection,
    run,
)
from federated._privacy import PrivacyTracker
from federated.client import ClientUpdate
from federated.history import History
from secagg.paillier.threshold import ThresholdKeys
from tests.federated.conftest import TEST_PAILLIER

DIMENSION = 1000
CANARIES = 100
DELTA = 1e-5


@dataclass
class PullClient:
    """Moves the model halfway to its own target: a linear model's one exact step."""

    target: NDArray[np.float64]
    num_examples: int = 10

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        return ClientUpdate(0.5 * (self.target - parameters), self.num_examples)


def _clients(count: int = 20) -> list[PullClient]:
    rng = np.random.default_rng(0)  # test data only, never a canary or noise
    return [PullClient(0.01 * rng.standard_normal(DIMENSION)) for _ in range(count)]


def _private(aggregation: Aggregation, mode: DPMode, noise: float, **kwargs: object) -> History:
    config = FederatedConfig(
        rounds=2,
        selection=UniformSelection(20),
        aggregation=aggregation,
        privacy=PrivacyConfig(mode=mode, noise_multiplier=noise, delta=DELTA),
        **kwargs,  # type: ignore[arg-type]
    )
    return run(config, _clients(), np.zeros(DIMENSION), audit=AuditConfig(canaries=CANARIES))


@pytest.mark.parametrize(
    ("aggregation", "mode"),
    [
        (Aggregation.PLAIN_INSECURE, DPMode.CENTRAL),
        (Aggregation.MASKING, DPMode.CENTRAL),
        (Aggregation.MASKING, DPMode.DISTRIBUTED),
    ],
)
def test_a_correct_pipeline_stays_under_its_claim(aggregation: Aggregation, mode: DPMode) -> None:
    history = _private(aggregation, mode, 1.0)
    audit = history.audit
    assert audit is not None
    assert audit.method == "one_run_gdp"
    assert audit.canaries == CANARIES
    assert audit.delta == DELTA
    assert audit.confidence == 0.95
    assert audit.claimed_epsilon is not None
    assert audit.claimed_epsilon == history.final_epsilon
    assert audit.epsilon_lower_bound is not None
    assert audit.epsilon_lower_bound <= audit.claimed_epsilon
    assert not audit.violation


def test_noise_switched_off_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted bug: the accountant charges noise multiplier 20, the server adds none."""
    monkeypatch.setattr(PrivacyTracker, "add_central_noise", lambda self, total: total)
    config = FederatedConfig(
        rounds=1,
        selection=PoissonSelection(1.0, expected_cohort=float(len(_clients()))),
        aggregation=Aggregation.PLAIN_INSECURE,
        privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=20.0, delta=DELTA),
    )
    history = run(config, _clients(), np.zeros(DIMENSION), audit=AuditConfig(canaries=CANARIES))
    audit = history.audit
    assert audit is not None
    assert audit.claimed_epsilon is not None
    assert audit.claimed_epsilon < 0.5
    assert audit.epsilon_lower_bound is not None
    assert audit.epsilon_lower_bound > 2.0 > audit.claimed_epsilon  # measured 4.2-4.5
    assert audit.violation
    assert "CLAIM REFUTED" in audit.describe()


def test_canaries_are_clients_but_not_evaluated() -> None:
    """Included canaries join the sampled population; evaluation sees only the model."""
    clients = _clients()
    seen: list[NDArray[np.float64]] = []

    def evaluate(parameters: NDArray[np.float64]) -> Mapping[str, float]:
        seen.append(parameters)
        return {"norm": float(np.linalg.norm(parameters))}

    config = FederatedConfig(
        rounds=2, selection=UniformSelection(10), aggregation=Aggregation.PLAIN_INSECURE
    )
    history = run(
        config,
        clients,
        np.zeros(DIMENSION),
        evaluate=evaluate,
        audit=AuditConfig(canaries=CANARIES, delta=DELTA),
    )
    assert len(clients) == 20  # the caller's population is not touched
    assert len(seen) == history.completed_rounds == 2  # once per round, model only
    audit = history.audit
    assert audit is not None
    assert audit.claimed_epsilon is None  # no DP: nothing claimed, a bound all the same
    assert 20 < history.privacy.population < 20 + CANARIES


def test_a_canary_submits_its_direction_at_the_clip_norm() -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(2), clip_norm=0.5)
    settings = AuditConfig(canaries=64, delta=DELTA)
    plan = federated.audit.CanaryPlan.draw(settings, config, DIMENSION)
    assert len(plan.clients) == int(plan.included.sum())
    assert np.allclose(np.linalg.norm(plan.directions, axis=1), 1.0)
    for client, row in zip(plan.clients, np.flatnonzero(plan.included), strict=True):
        update = client.fit(np.ones(DIMENSION))
        assert np.array_equal(update.delta, 0.5 * plan.directions[row])
        assert update.num_examples == config.example_weight_cap


def test_history_to_dict_carries_the_audit() -> None:
    history = _private(Aggregation.PLAIN_INSECURE, DPMode.CENTRAL, 1.0)
    record = json.loads(json.dumps(history.to_dict()))
    assert history.audit is not None
    assert AuditResult.from_dict(record["audit"]) == history.audit
    report = history.privacy_report()
    assert report.audits == (history.audit,)
    assert "one_run_gdp" in report.to_markdown()
    plain = run(
        FederatedConfig(rounds=1, selection=UniformSelection(2)), _clients(2), np.zeros(DIMENSION)
    )
    assert plain.audit is None
    assert plain.to_dict()["audit"] is None


def test_canaries_come_from_the_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """Directions and coins never touch numpy's or Python's generators."""
    clients = _clients()

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a canary was drawn from a predictable generator")

    for name in ("default_rng", "random", "rand", "randn", "standard_normal", "randint"):
        monkeypatch.setattr(np.random, name, forbidden)
    for name in ("random", "getrandbits", "randint", "gauss"):
        monkeypatch.setattr(random, name, forbidden)
    config = FederatedConfig(rounds=1, selection=UniformSelection(5))
    history = run(config, clients, np.zeros(DIMENSION), audit=AuditConfig(32, delta=DELTA))
    assert history.audit is not None
    source = inspect.getsource(federated.audit)
    assert not re.search(r"np\.random|numpy\.random|^import random$|^from random ", source, re.M)
    assert "from dp._rng import random_bits" in source


@pytest.mark.parametrize(
    ("config", "settings", "message"),
    [
        (
            FederatedConfig(rounds=1, selection=UniformSelection(2)),
            AuditConfig(4),
            "no delta",
        ),
        (
            FederatedConfig(
                rounds=1,
                selection=UniformSelection(2),
                privacy=PrivacyConfig(DPMode.CENTRAL, 1.0, delta=DELTA),
            ),
            AuditConfig(4, delta=DELTA),
            "own delta",
        ),
        (
            FederatedConfig(
                rounds=1,
                selection=PoissonSelection(0.5),
                privacy=PrivacyConfig(DPMode.CENTRAL, 1.0, delta=DELTA, neighbouring="zero_out"),
            ),
            AuditConfig(4),
            "zero_out",
        ),
    ],
)
def test_audits_that_would_mean_nothing_are_refused(
    config: FederatedConfig, settings: AuditConfig, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        run(config, _clients(4), np.zeros(DIMENSION), audit=settings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"canaries": 1},
        {"canaries": True},
        {"canaries": 8, "confidence": 1.0},
        {"canaries": 8, "delta": 0.0},
    ],
)
def test_bad_audit_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        AuditConfig(**kwargs)  # type: ignore[arg-type]


def test_canaries_are_ordinary_clients_under_paillier(committee_keys: ThresholdKeys) -> None:
    """Under Paillier the canaries encrypt their updates like everyone else."""
    config = FederatedConfig(
        rounds=1,
        selection=UniformSelection(4),  # never more than the population, canaries or not
        aggregation=Aggregation.PAILLIER,
        paillier=TEST_PAILLIER,
        privacy=PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=DELTA),
    )
    clients = [PullClient(np.full(16, 0.01)) for _ in range(4)]
    history = run(
        config,
        clients,
        np.zeros(16),
        paillier_keys=committee_keys,
        audit=AuditConfig(canaries=8),
    )
    audit = history.audit
    assert audit is not None
    assert audit.canaries == 8
    assert history.completed_rounds == 1
    assert audit.epsilon_lower_bound is not None
    assert audit.claimed_epsilon is not None
    assert audit.epsilon_lower_bound <= audit.claimed_epsilon
