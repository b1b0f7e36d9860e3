"""DP-FTRL runs end to end: every backend, the participation schema, the whole-run accounting."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import dp
from dp.accountants.pld import gaussian_epsilon
from dp.ftrl import BLTStrategy, ParticipationSchema, TreeAggregation
from federated import run
from federated.client import ClientUpdate
from federated.config import (
    Aggregation,
    BudgetPolicy,
    DPMode,
    FederatedConfig,
    FtrlSettings,
    ParticipationSelection,
    PrivacyConfig,
)
from federated.errors import BudgetExhausted
from secagg.paillier.threshold import ThresholdKeys
from tests.federated._linear import START, TRUE_WEIGHT, make_clients
from tests.federated.conftest import TEST_PAILLIER

Z = 0.5
DELTA = 1e-6
SELECTION = ParticipationSelection(cohort_size=5, max_participations=2, min_separation=3)


def _config(rounds: int = 6, **overrides: object) -> FederatedConfig:
    settings: dict[str, object] = {
        "rounds": rounds,
        "selection": SELECTION,
        "clip_norm": 0.5,
        "aggregation": Aggregation.PLAIN_INSECURE,
        "privacy": PrivacyConfig(DPMode.CENTRAL, Z, delta=DELTA, neighbouring="zero_out"),
        "ftrl": FtrlSettings(mechanism="tree"),
    }
    settings.update(overrides)
    return FederatedConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "aggregation", [Aggregation.PLAIN_INSECURE, Aggregation.MASKING, Aggregation.PAILLIER]
)
def test_every_backend_runs_dp_ftrl_and_accounts_one_gaussian(
    aggregation: Aggregation, committee_keys: ThresholdKeys
) -> None:
    config = _config(aggregation=aggregation, paillier=TEST_PAILLIER)
    history = run(config, make_clients(20), START, paillier_keys=committee_keys)
    assert [r.selected for r in history.records] == [5] * 6
    schema = ParticipationSchema(6, 2, 3)
    s = TreeAggregation(6).sensitivity(schema)
    # Closed form: the run is the Gaussian mechanism with sensitivity s and noise z.
    assert history.final_epsilon == pytest.approx(gaussian_epsilon(Z / s, DELTA), rel=1e-9)
    ledger = history.privacy.accountant.ledger
    assert len(ledger) == 6
    assert all(isinstance(e, dp.MatrixFactorizationGaussian) for e, _ in ledger)
    assert ledger[-1][0].sensitivity == pytest.approx(s)
    # Each round's epsilon is that of the prefix released so far: non-decreasing.
    epsilons = [r.epsilon for r in history.records]
    assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(epsilons))
    report = history.privacy_report()
    assert report.sampling == "participation_schema"
    assert report.neighbouring == "zero_out"
    assert any("participation schema" in w for w in report.warnings)
    assert report.zcdp_rho == pytest.approx(s * s / (2 * Z * Z), rel=1e-9)
    assert "zCDP rho" in report.to_markdown()


def test_blt_run_converges_with_correlated_noise() -> None:
    config = _config(
        rounds=20,
        selection=ParticipationSelection(10, max_participations=5, min_separation=4),
        privacy=PrivacyConfig(DPMode.CENTRAL, 0.3, delta=DELTA, neighbouring="zero_out"),
        ftrl=FtrlSettings(mechanism="blt", buffers=2),
    )
    history = run(config, make_clients(40), START)
    assert [r.selected for r in history.records] == [10] * 20
    assert abs(history.parameters[0] - TRUE_WEIGHT) < 0.3
    assert history.privacy.ftrl is not None
    strategy = history.privacy.ftrl.strategy
    assert isinstance(strategy, BLTStrategy)
    s = strategy.sensitivity(ParticipationSchema(20, 5, 4))
    assert history.final_epsilon == pytest.approx(gaussian_epsilon(0.3 / s, DELTA), rel=1e-9)


class _Silent:
    """A client whose update is always zero: only the server's noise moves the model."""

    num_examples = 1

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        return ClientUpdate(np.zeros_like(parameters), 1)


def test_the_server_adds_the_streams_noise() -> None:
    history = run(_config(rounds=3), [_Silent() for _ in range(10)], START)
    assert np.all(history.parameters != 0.0)
    quiet = _config(rounds=3, privacy=PrivacyConfig(), ftrl=None)
    assert np.all(run(quiet, [_Silent() for _ in range(10)], START).parameters == 0.0)


def test_replace_one_doubles_the_sensitivity() -> None:
    privacy = PrivacyConfig(DPMode.CENTRAL, Z, delta=DELTA, neighbouring="replace_one")
    history = run(_config(rounds=4, privacy=privacy), make_clients(20), START)
    s = TreeAggregation(4).sensitivity(ParticipationSchema(4, 2, 3))
    assert history.final_epsilon == pytest.approx(gaussian_epsilon(Z / (2 * s), DELTA), rel=1e-9)


def test_budget_refuses_or_stops_on_the_prefix_epsilon() -> None:
    schema = ParticipationSchema(8, 2, 3)
    whole = gaussian_epsilon(Z / TreeAggregation(8).sensitivity(schema), DELTA)
    refuse = PrivacyConfig(
        DPMode.CENTRAL, Z, delta=DELTA, neighbouring="zero_out", target_epsilon=whole * 0.9,
        budget_policy=BudgetPolicy.REFUSE,
    )  # fmt: skip
    with pytest.raises(BudgetExhausted):
        run(_config(rounds=8, privacy=refuse), make_clients(20), START)
    stop = PrivacyConfig(
        DPMode.CENTRAL, Z, delta=DELTA, neighbouring="zero_out", target_epsilon=whole * 0.9
    )
    history = run(_config(rounds=8, privacy=stop), make_clients(20), START)
    assert 1 <= len(history.records) < 8
    assert history.final_epsilon is not None
    assert history.final_epsilon <= whole * 0.9
    assert "exceed the target" in history.stop_reason


def test_written_report_includes_the_comparison(tmp_path: Path) -> None:
    history = run(_config(rounds=4), make_clients(20), START)
    written = {p.name for p in history.write_privacy_report(tmp_path)}
    assert "privacy-report-ftrl-comparison.md" in written
    text = (tmp_path / "privacy-report-ftrl-comparison.md").read_text()
    assert "DP-FTRL, tree" in text
    assert "Poisson sampling q = 0.25" in text  # cohort 5 of 20
