"""Prefix sensitivities of DP-FTRL strategies and the ledger they give (dp.ftrl_accounting)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import dp
from dp.accountants.pld import gaussian_epsilon
from dp.ftrl import BandedStrategy, BLTStrategy, ParticipationSchema, Strategy, TreeAggregation
from dp.ftrl_accounting import (
    prefix_sensitivities,
    prefix_strategy,
    round_events,
    run_event,
    zcdp_rho,
)
from dp.report._ftrl import compare_ftrl


def _strategies(n: int) -> list[Strategy]:
    return [
        TreeAggregation(n),
        BandedStrategy(n, [1.0, 0.6, 0.3]),
        BLTStrategy(n, [0.9, 0.5], [0.3, 0.2]),
    ]


def _released_prefix(strategy: Strategy, t: int) -> np.ndarray:
    """The rows of C released by round t (last non-zero column < t), on the first t columns."""
    c = strategy.encoder_matrix()
    rows = [r for r in range(c.shape[0]) if np.flatnonzero(c[r])[-1] < t]
    return c[rows][:, :t]


def _brute_force(c: np.ndarray, k: int, b: int) -> float:
    """max over patterns of ||C 1_pi|| (the sensitivity when C^T C >= 0 entrywise)."""
    n = c.shape[1]
    gram = c.T @ c
    assert np.all(gram >= -1e-12)
    best = 0.0
    for size in range(1, k + 1):
        for pattern in itertools.combinations(range(n), size):
            if all(j - i >= b for i, j in itertools.pairwise(pattern)):
                idx = list(pattern)
                best = max(best, float(gram[np.ix_(idx, idx)].sum()))
    return math.sqrt(best)


@pytest.mark.parametrize("n", [5, 9])
def test_the_prefix_strategy_is_the_released_part(n: int) -> None:
    for strategy in _strategies(n):
        for t in range(1, n + 1):
            prefix = prefix_strategy(strategy, t)
            assert prefix is not None
            np.testing.assert_allclose(prefix.encoder_matrix(), _released_prefix(strategy, t))


@pytest.mark.parametrize(("k", "b"), [(1, 1), (2, 2), (3, 2)])
def test_prefix_sensitivities_against_brute_force(k: int, b: int) -> None:
    n = 9
    schema = ParticipationSchema(n, k, b)
    for strategy in _strategies(n):
        values = prefix_sensitivities(strategy, schema)
        assert values.shape == (n,)
        assert np.all(np.diff(values) >= 0)
        assert values[-1] == pytest.approx(strategy.sensitivity(schema))
        for t in range(1, n + 1):
            truth = _brute_force(_released_prefix(strategy, t), k, b)
            assert values[t - 1] >= truth * (1 - 1e-9)  # never an under-estimate
            assert values[t - 1] <= truth * (1 + 1e-6)  # exact for these strategies


def test_long_runs_use_checkpoints_that_stay_upper_bounds() -> None:
    n = 400
    schema = ParticipationSchema(n, 3, 100)
    strategy = BandedStrategy(n, [1.0, 0.5, 0.25])
    values = prefix_sensitivities(strategy, schema)
    for t in (1, 150, 199, 201, 333, 400):
        prefix = prefix_strategy(strategy, t)
        assert prefix is not None
        exact = prefix.sensitivity(ParticipationSchema(t, 3, 100))
        assert values[t - 1] >= exact * (1 - 1e-12)


def test_round_events_compose_to_the_run_event() -> None:
    n, z = 12, 1.3
    schema = ParticipationSchema(n, 2, 4)
    strategy = TreeAggregation(n)
    events = round_events(strategy, schema, z)
    whole = run_event(strategy, schema, z)
    assert whole.sensitivity == pytest.approx(strategy.sensitivity(schema))
    assert whole.strategy == "tree"
    acc = dp.PldAccountant(neighbouring="zero_out").compose_ledger((e, 1) for e in events)
    single = gaussian_epsilon(z / whole.sensitivity, 1e-7)
    assert acc.get_epsilon(1e-7) == pytest.approx(single, rel=1e-6)
    assert acc.get_epsilon(1e-7) >= single * (1 - 1e-12)
    rho = zcdp_rho(((e, 1) for e in events), "zero_out")
    assert rho == pytest.approx(whole.sensitivity**2 / (2 * z * z), rel=1e-6)
    assert zcdp_rho([(whole, 1)], "replace_one") == pytest.approx(4 * whole.rho())
    with pytest.raises(dp.UnsupportedEvent):
        zcdp_rho([(whole, 1)], "add_remove")
    with pytest.raises(dp.UnsupportedEvent):
        zcdp_rho([(dp.PoissonSampled(0.1, dp.Gaussian(1.0)), 1)], "zero_out")
    with pytest.raises(dp.InvalidArgument):
        prefix_sensitivities(strategy, ParticipationSchema(n + 1))


def test_comparison_with_dp_fedavg() -> None:
    n, z = 60, 2.0
    schema = ParticipationSchema(n, 3, 20)
    strategy = BandedStrategy(n, [1.0, 0.5])
    comparison = compare_ftrl(strategy, schema, z, delta=1e-6, sampling_rate=0.05, points=10)
    labels = [c.label for c in comparison.curves]
    assert labels[0] == "DP-FTRL, banded"
    assert "DP-FTRL, tree aggregation" in labels
    final = comparison.final()
    s = strategy.sensitivity(schema)
    assert final["DP-FTRL, banded"] == pytest.approx(gaussian_epsilon(z / s, 1e-6))
    # Independent noise without sampling: sensitivity sqrt(3).
    assert final["independent noise, no sampling"] == pytest.approx(
        gaussian_epsilon(z / math.sqrt(3), 1e-6)
    )
    sampled = dp.PldAccountant().compose(dp.PoissonSampled(0.05, dp.Gaussian(z)), n)
    assert final["DP-FedAvg, Poisson sampling q = 0.05"] == pytest.approx(sampled.get_epsilon(1e-6))
    for curve in comparison.curves:
        assert curve.rounds[-1] == n
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(curve.epsilon))
    text = comparison.to_markdown()
    assert "Participation schema" in text
    assert "Poisson sample" in text
    assert comparison.to_dict()["curves"][0]["rho"][-1] == pytest.approx(s * s / (2 * z * z))
    with pytest.raises(dp.InvalidArgument):
        compare_ftrl(strategy, schema, z, delta=1e-6, neighbouring="add_remove")


def test_cli_reports_a_saved_dp_ftrl_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dp.__main__ import main

    n, z = 10, 2.0
    schema = ParticipationSchema(n, 2, 5)
    strategy = TreeAggregation(n)
    events = round_events(strategy, schema, z)
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(dp.ledger_to_dict([(e, 1) for e in events], "zero_out")))
    assert main(["report", "--ledger", str(path), "--delta", "1e-6", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sampling"] == "participation_schema"
    assert report["neighbouring"] == "zero_out"
    s = strategy.sensitivity(schema)
    assert report["epsilon_pld"] == pytest.approx(gaussian_epsilon(z / s, 1e-6), rel=1e-6)
    assert any("participation schema" in w for w in report["warnings"])
    flags = ["report", "--noise-multiplier", "2", "--steps", "3", "--delta", "1e-6"]
    assert main([*flags, "--sampling", "participation_schema"]) == 2
    assert "saved ledger" in capsys.readouterr().err


def test_calibration_meets_the_target_round_by_round() -> None:
    from dp.ftrl_accounting import calibrate_noise_multiplier

    n = 30
    schema = ParticipationSchema(n, 6, 5)
    for strategy in (
        TreeAggregation(n),
        BandedStrategy(n, [1.0, 0.4]),
        BLTStrategy(n, [0.8], [0.3]),
    ):
        for relation in ("zero_out", "replace_one"):
            z = calibrate_noise_multiplier(strategy, schema, 6.7, 1e-4, relation)
            ledger = [(e, 1) for e in round_events(strategy, schema, z)]
            spent = dp.PldAccountant(neighbouring=relation).compose_ledger(ledger).get_epsilon(1e-4)
            assert 6.7 * (1 - 1e-6) <= spent <= 6.7
