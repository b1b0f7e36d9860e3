"""PldAccountant: exactness where known, closeness to dp_accounting, bounds and refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

import dp
from dp.accountants import _pld_math as pm
from dp.accountants.pld import gaussian_delta, gaussian_epsilon

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "accountant_peers.json").read_text()
)


def _balle_wang_epsilon(sigma: float, delta: float) -> float:
    """Independent Balle-Wang 2018 (Thm 8) solve with scipy.stats, for sensitivity 1."""

    def excess(eps: float) -> float:
        return float(
            stats.norm.cdf(0.5 / sigma - eps * sigma)
            - math.exp(eps) * stats.norm.cdf(-0.5 / sigma - eps * sigma)
            - delta
        )

    return float(optimize.brentq(excess, 0.0, 500.0, xtol=1e-14))


@pytest.mark.parametrize(("sigma", "delta"), [(1.0, 1e-5), (0.7, 1e-6), (5.0, 1e-3), (20.0, 1e-9)])
def test_exact_gaussian_formula(sigma: float, delta: float) -> None:
    expected = _balle_wang_epsilon(sigma, delta)
    assert gaussian_epsilon(sigma, delta) == pytest.approx(expected, rel=1e-9)
    assert gaussian_epsilon(sigma, delta) >= expected * (1 - 1e-12)
    assert gaussian_delta(sigma, gaussian_epsilon(sigma, delta)) <= delta


def test_composed_gaussians_use_the_exact_formula() -> None:
    acc = dp.PldAccountant().compose(dp.Gaussian(2.0), 3).compose(dp.Gaussian(4.0), 4)
    effective = 1.0 / math.sqrt(3 / 4.0 + 4 / 16.0)
    assert acc.get_epsilon(1e-5) == pytest.approx(_balle_wang_epsilon(effective, 1e-5), rel=1e-9)
    assert acc.get_epsilon_bounds(1e-5)[0] == acc.get_epsilon(1e-5)


@pytest.mark.parametrize(("sigma", "count"), [(1.0, 1), (2.0, 50), (0.8, 10)])
def test_discretised_gaussian_brackets_the_exact_value(sigma: float, count: int) -> None:
    acc = dp.PldAccountant()
    exact = _balle_wang_epsilon(sigma / math.sqrt(count), 1e-5)
    values = {}
    for side in ("upper", "lower"):
        values[side] = max(
            pm.epsilon_for_delta(acc._round_pld(dp.Gaussian(sigma), count, d, side), 1e-5)
            for d in ("add", "remove")
        )
    assert values["lower"] <= exact <= values["upper"]
    assert values["upper"] <= exact + max(0.005 * exact, 0.002)
    assert values["lower"] >= exact - max(0.01 * exact, 0.004)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"q{c['q']}-s{c['sigma']}")
def test_within_half_a_percent_of_dp_accounting(case: dict[str, float]) -> None:
    event = dp.Gaussian(case["sigma"])
    if case["q"] < 1:
        event = dp.PoissonSampled(case["q"], event)
    acc = dp.PldAccountant().compose(event, int(case["steps"]))
    ours = acc.get_epsilon(case["delta"])
    reference = case["dpa_pld"]  # itself a pessimistic estimate with interval 1e-4
    assert abs(ours - reference) <= max(0.005 * reference, 0.002)
    assert ours <= case["dpa_rdp"]


def test_lower_bound_below_upper_bound_and_reference() -> None:
    case = VECTORS["cases"][0]
    acc = dp.PldAccountant().compose(
        dp.PoissonSampled(case["q"], dp.Gaussian(case["sigma"])), int(case["steps"])
    )
    lower, upper = acc.get_epsilon_bounds(case["delta"])
    assert lower <= case["dpa_pld"] <= upper * (1 + 1e-3)
    assert upper - lower < 0.05 * upper
    assert acc.get_delta(2.0, bound="lower") <= acc.get_delta(2.0)


def test_laplace_pure_dp_and_below_rdp() -> None:
    acc = dp.PldAccountant().compose(dp.Laplace(2.0))
    assert acc.get_epsilon(1e-12) <= 0.5 + 1e-9
    assert acc.get_epsilon(1e-12) >= 0.5 - 2e-3
    assert acc.get_delta(0.5 + 1e-6) <= 1e-15
    many = dp.PldAccountant().compose(dp.PoissonSampled(0.1, dp.Laplace(1.0)), 200)
    lower, upper = many.get_epsilon_bounds(1e-6)
    assert lower <= upper <= 200 * math.log(1 + 0.1 * (math.e - 1))


def test_delta_and_epsilon_are_consistent() -> None:
    acc = dp.PldAccountant().compose(dp.PoissonSampled(0.02, dp.Gaussian(1.2)), 500)
    eps = acc.get_epsilon(1e-6)
    assert acc.get_delta(eps) <= 1e-6 * (1 + 1e-9)
    assert acc.get_delta(eps * 0.99) > 1e-6


def test_per_round_equals_one_shot_and_curve() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.0))
    rounds = dp.PldAccountant()
    seen = []
    for _ in range(30):
        rounds.compose(event)
        seen.append(rounds.get_epsilon(1e-5))
    one_shot = dp.PldAccountant().compose(event, 30).get_epsilon(1e-5)
    assert seen[-1] == pytest.approx(one_shot, rel=1e-3)
    assert np.all(np.diff(seen) >= 0)
    assert np.allclose(rounds.epsilon_curve(1e-5), seen, rtol=1e-9)


@pytest.mark.parametrize(
    "event",
    [
        dp.DiscreteGaussian(2.0, 1.0),
        dp.ZCDP(0.1),
        dp.Skellam(10.0, 2.0, 1.0),
        dp.SampledWithoutReplacement(100, 10, dp.PoissonSampled(0.5, dp.Gaussian(1.0))),
        dp.PoissonSampled(0.5, dp.PoissonSampled(0.5, dp.Gaussian(1.0))),
        dp.Composed((dp.Gaussian(1.0), dp.ZCDP(0.1))),
    ],
)
def test_refuses_events_without_a_tight_pld(event: dp.DpEvent) -> None:
    acc = dp.PldAccountant().compose(dp.PoissonSampled(0.1, dp.Gaussian(2.0)))
    before = acc.get_epsilon(1e-5)
    assert not acc.supports(event)
    with pytest.raises(dp.UnsupportedEvent):
        acc.compose(event)
    assert acc.rounds == 1
    assert acc.get_epsilon(1e-5) == before


def test_ledger_round_trip_reproduces_epsilon() -> None:
    acc = dp.PldAccountant()
    acc.compose(dp.PoissonSampled(0.05, dp.Gaussian(1.0)), 10)
    acc.compose(dp.SelfComposed(dp.PoissonSampled(0.05, dp.Laplace(2.0)), 3))
    saved = json.loads(json.dumps(acc.ledger_to_dict()))
    again = dp.PldAccountant.from_ledger_dict(saved)
    assert again.ledger == acc.ledger
    assert again.get_epsilon(1e-5) == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)
    rdp = dp.RdpAccountant().compose_ledger(dp.ledger_from_dict(saved))
    assert rdp.get_epsilon(1e-5) >= acc.get_epsilon(1e-5)
    fresh = dp.PldAccountant()
    with pytest.raises(dp.UnsupportedEvent):
        fresh.compose_ledger([(dp.Gaussian(1.0), 1), (dp.ZCDP(0.1), 1)])
    assert fresh.rounds == 0


@pytest.mark.parametrize(
    "data",
    [
        {"type": "ledger", "version": 2, "entries": []},
        {"type": "ledger", "version": 1, "entries": {}},
        {"type": "ledger", "version": 1, "entries": [{"event": {}, "count": 1}]},
        {
            "type": "ledger",
            "version": 1,
            "entries": [{"event": dp.Gaussian(1.0).to_dict(), "count": 0}],
        },
        {"type": "nope", "version": 1, "entries": []},
    ],
)
def test_bad_ledgers_raise(data: object) -> None:
    with pytest.raises(dp.SerializationError):
        dp.ledger_from_dict(data)


def test_argument_errors() -> None:
    with pytest.raises(dp.InvalidArgument):
        dp.PldAccountant(value_discretization_interval=0.0)
    with pytest.raises(dp.InvalidArgument):
        dp.PldAccountant(tail_mass=0.5)
    acc = dp.PldAccountant().compose(dp.PoissonSampled(0.1, dp.Gaussian(1.0)))
    with pytest.raises(dp.InvalidArgument):
        acc.get_epsilon(1e-5, bound="middle")  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        acc.get_delta(math.inf)


def test_too_little_noise_for_the_grid_is_refused() -> None:
    with pytest.raises(dp.UnsupportedEvent):
        dp.PldAccountant().compose(dp.Gaussian(1e-3), 1).compose(dp.Laplace(1.0))


def test_gaussian_only_ledgers_need_no_grid() -> None:
    acc = dp.PldAccountant().compose(dp.Gaussian(0.2), 2)
    assert acc.get_epsilon(1e-5) == pytest.approx(_balle_wang_epsilon(0.2 / math.sqrt(2), 1e-5))
    # Mixing in another mechanism later brings the Gaussians into the PLD as well.
    mixed = dp.PldAccountant().compose(dp.Gaussian(2.0), 3).compose(dp.Laplace(4.0))
    alone = dp.PldAccountant().compose(dp.Gaussian(2.0), 3).get_epsilon(1e-5)
    assert mixed.get_epsilon(1e-5) > alone
    lower, upper = mixed.get_epsilon_bounds(1e-5)
    assert lower <= upper <= alone + 0.25 + 1e-3


@pytest.mark.parametrize(
    ("event", "steps", "gap"),
    [
        (dp.PoissonSampled(0.001, dp.Laplace(0.5)), 10_000, 0.01),
        (dp.PoissonSampled(0.01, dp.Laplace(2.0)), 1000, 0.01),
        (dp.DiscreteLaplace(20.0, 2), 100, 0.01),
        (dp.PoissonSampled(0.01, dp.DiscreteLaplace(4.0, 2)), 1000, 0.015),
        (dp.PoissonSampled(0.001, dp.Gaussian(0.8)), 10_000, 0.01),
    ],
)
def test_lower_bound_is_below_and_close_to_the_upper_bound(
    event: dp.DpEvent, steps: int, gap: float
) -> None:
    # The discrete Laplace case had lower = 9.975 > upper = 4.242: its atom at the lowest
    # loss fell out of the window and the composed lower PLD's positive offset was read as
    # epsilon. The Laplace case had an 11.8% gap (its atoms lose a shift at every step).
    lower, upper = dp.PldAccountant().compose(event, steps).get_epsilon_bounds(1e-5)
    assert lower <= upper <= lower * (1 + gap)


def test_epsilon_for_delta_when_every_loss_is_positive() -> None:
    # All mass at losses >= 1 (a truncated low end): delta(0) = sum m (1 - e^{-l}).
    masses = np.zeros(5)
    masses[[0, 4]] = [1e-6, 1e-6]
    pld = pm.DiscretePld(0.25, 4, masses, 0.0, "upper")  # losses 1.0 ... 2.0
    assert pm.epsilon_for_delta(pld, 1e-5) == 0.0
    half = pm.DiscretePld(0.25, 4, np.array([0.5, 0.0, 0.0, 0.0, 0.5]), 0.0, "upper")
    eps = pm.epsilon_for_delta(half, 0.6)  # on [0, l_0]: 1 - e^eps (e^-1 + e^-2) / 2 = 0.6
    assert pm.delta_for_epsilon(half, eps) == pytest.approx(0.6, abs=1e-12)
    assert eps == pytest.approx(math.log(0.8 / (math.exp(-1) + math.exp(-2))), abs=1e-12)
