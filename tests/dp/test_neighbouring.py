"""Neighbouring relations: every accountant's answer is an upper bound for the relation it names.

The fixed-size (displacement) cases come from an audit of the first release, which
accounted fixed-size cohorts under add/remove with the replace-one bound of Wang et al.
at the add/remove sensitivity: 1.78 for the first row below, where adding one client at
``+C e1`` to a population at ``-C e1`` gives the Poisson(m/(N+1)) Gaussian(z/2) pair.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import dp
from dp.accountants import _rdp_math as rm

DELTA = 1e-5

# (N, m, z, rounds, the audit's lower bound on the true epsilon at delta = 1e-5)
DISPLACEMENT_CASES = [
    (5000, 100, 1.0, 30, 7.03),
    (60000, 600, 1.0, 1000, 13.31),
    (200, 20, 1.5, 50, 9.19),
]


def displacement_lower_bound(population: int, size: int, z: float, rounds: int) -> float:
    """Certified lower bound of the displacement pair: Poisson(m/(N+1)) Gaussian(z/2)."""
    pair = dp.PoissonSampled(size / (population + 1), dp.Gaussian(z / 2))
    return dp.PldAccountant().compose(pair, rounds).get_epsilon(DELTA, bound="lower")


@pytest.mark.parametrize(("population", "size", "z", "rounds", "audit"), DISPLACEMENT_CASES)
def test_fixed_size_under_add_remove_is_never_below_the_displacement_pair(
    population: int, size: int, z: float, rounds: int, audit: float
) -> None:
    event = dp.SampledWithoutReplacement(population, size, dp.Gaussian(z))
    lower = displacement_lower_bound(population, size, z, rounds)
    assert lower >= audit - 0.01
    pld = dp.PldAccountant().compose(event, rounds).get_epsilon(DELTA)
    rdp = dp.RdpAccountant().compose(event, rounds).get_epsilon(DELTA)
    assert lower <= pld <= lower * 1.01  # tight: the rate m/N instead of m/(N+1)
    assert rdp >= pld


@settings(max_examples=15, deadline=None)
@given(
    population=st.integers(10, 10**6),
    fraction=st.floats(0.001, 1.0),
    z=st.floats(0.5, 5.0),
    rounds=st.integers(1, 200),
)
def test_fixed_size_dominates_the_displacement_pair_everywhere(
    population: int, fraction: float, z: float, rounds: int
) -> None:
    size = max(1, min(population, round(fraction * population)))
    event = dp.SampledWithoutReplacement(population, size, dp.Gaussian(z))
    lower = displacement_lower_bound(population, size, z, rounds)
    assert dp.RdpAccountant().compose(event, rounds).get_epsilon(DELTA) >= lower
    assert dp.PldAccountant().compose(event, rounds).get_epsilon(DELTA) >= lower


def _mixture_hockey_stick(
    p_centres: np.ndarray, q_centres: np.ndarray, sigma: float, epsilon: float
) -> float:
    """H_{e^eps}(P || Q) for equal-weight mixtures of 1-D N(c, sigma^2), by quadrature."""
    grid = np.linspace(-12 * sigma - 3, 12 * sigma + 3, 400_001)
    p = stats.norm.pdf(grid[:, None], p_centres[None, :], sigma).mean(axis=1)
    q = stats.norm.pdf(grid[:, None], q_centres[None, :], sigma).mean(axis=1)
    return float(np.trapezoid(np.maximum(p - math.exp(epsilon) * q, 0.0), grid))


def test_one_round_of_a_real_fixed_size_cohort_is_within_the_accounted_delta() -> None:
    # Population of 3 clients at -1, one more at +1, a cohort of 1, noise z = 1 on the sum:
    # enumerate both datasets' cohorts and compare the true hockey stick with the bound.
    z = 1.0
    small = np.array([-1.0, -1.0, -1.0])  # N = 3: every cohort sums to -1
    large = np.array([-1.0, -1.0, -1.0, 1.0])  # N + 1 = 4: the added client shows 1/4
    accounted = dp.PldAccountant().compose(dp.SampledWithoutReplacement(3, 1, dp.Gaussian(z)))
    # What the add/remove sensitivity alone would claim (no displacement).
    undisplaced = dp.PldAccountant().compose(dp.PoissonSampled(1 / 3, dp.Gaussian(z)))
    for epsilon in (0.0, 0.1, 0.3):
        truth = max(
            _mixture_hockey_stick(large, small, z, epsilon),
            _mixture_hockey_stick(small, large, z, epsilon),
        )
        assert truth <= accounted.get_delta(epsilon) + 1e-6
        assert truth > undisplaced.get_delta(epsilon) + 0.02


def test_replace_one_doubles_the_sensitivity() -> None:
    for accountant in (dp.PldAccountant, dp.RdpAccountant):
        replaced = accountant(neighbouring="replace_one").compose(dp.Gaussian(2.0), 3)
        doubled = accountant().compose(dp.Gaussian(1.0), 3)
        assert replaced.get_epsilon(DELTA) == pytest.approx(doubled.get_epsilon(DELTA), rel=1e-9)
    np.testing.assert_allclose(
        dp.RdpAccountant(neighbouring="replace_one").event_rdp(dp.Laplace(4.0)),
        dp.RdpAccountant().event_rdp(dp.Laplace(2.0)),
    )
    event = dp.DistributedDiscreteGaussian(4.0, 10, 100, 30.0, 5.0)
    twice = dp.DistributedDiscreteGaussian(4.0, 10, 100, 60.0, 10.0)
    np.testing.assert_allclose(
        dp.RdpAccountant(neighbouring="replace_one").event_rdp(event),
        dp.RdpAccountant(neighbouring="zero_out").event_rdp(twice),
    )
    np.testing.assert_allclose(
        dp.RdpAccountant(neighbouring="replace_one").event_rdp(dp.ZCDP(0.1)),
        dp.RdpAccountant().event_rdp(dp.ZCDP(0.4)),
    )


@pytest.mark.parametrize("accountant", [dp.PldAccountant, dp.RdpAccountant])
def test_poisson_sampling_is_refused_under_replace_one(accountant: type) -> None:
    acc = accountant(neighbouring="replace_one")
    event = dp.PoissonSampled(0.1, dp.Gaussian(1.0))
    assert not acc.supports(event)
    assert not acc.supports(dp.Composed((dp.Gaussian(1.0), event)))
    with pytest.raises(dp.UnsupportedEvent, match="replace_one"):
        acc.compose(event)
    assert acc.rounds == 0


@pytest.mark.parametrize(
    "event",
    [
        dp.Gaussian(1.3),
        dp.PoissonSampled(0.02, dp.Gaussian(0.9)),
        dp.SelfComposed(dp.PoissonSampled(0.1, dp.Laplace(3.0)), 4),
    ],
)
def test_zero_out_equals_add_remove_without_fixed_size_sampling(event: dp.DpEvent) -> None:
    for accountant in (dp.PldAccountant, dp.RdpAccountant):
        zero_out = accountant(neighbouring="zero_out").compose(event, 5).get_epsilon(DELTA)
        add_remove = accountant().compose(event, 5).get_epsilon(DELTA)
        assert zero_out == add_remove


@pytest.mark.parametrize("relation", ["zero_out", "replace_one"])
def test_fixed_size_under_zero_out_and_replace_one_is_rdp_only(relation: dp.Neighbouring) -> None:
    event = dp.SampledWithoutReplacement(1000, 50, dp.Gaussian(1.0))
    assert not dp.PldAccountant(neighbouring=relation).supports(event)
    rdp = dp.RdpAccountant(neighbouring=relation).compose(event, 20)
    # Wang, Balle, Kasiviswanathan 2019 on the base at twice the sensitivity.
    expected = rm.rdp_sampled_without_replacement(
        rm.DEFAULT_ORDERS,
        0.05,
        rm.rdp_gaussian(np.arange(4097, dtype=np.float64).clip(2.0), 0.5),
        math.inf,
    )
    np.testing.assert_allclose(rdp.rdp, 20 * expected, rtol=1e-12)


def test_unknown_relation_is_refused() -> None:
    with pytest.raises(dp.InvalidArgument):
        dp.PldAccountant(neighbouring="substitution")  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        dp.check_neighbouring(1)
    assert dp.NEIGHBOURING_RELATIONS[0] == "add_remove"


def test_ledger_records_its_relation() -> None:
    event = dp.SampledWithoutReplacement(100, 10, dp.Gaussian(2.0))
    acc = dp.RdpAccountant(neighbouring="zero_out").compose(event, 3)
    data = acc.ledger_to_dict()
    assert data["version"] == 2
    assert data["neighbouring"] == "zero_out"
    assert dp.ledger_neighbouring(data) == "zero_out"
    again = dp.RdpAccountant.from_ledger_dict(data)
    assert again.neighbouring == "zero_out"
    assert again.get_epsilon(DELTA) == acc.get_epsilon(DELTA)
    with pytest.raises(dp.InvalidArgument, match="zero_out"):
        dp.RdpAccountant.from_ledger_dict(data, neighbouring="add_remove")
    # A version 1 ledger (no relation field) was written under add/remove.
    old = {"type": "ledger", "version": 1, "entries": data["entries"]}
    assert dp.ledger_neighbouring(old) == "add_remove"
    assert dp.ledger_from_dict(old) == [(event, 3)]
    for bad in (
        {**data, "neighbouring": "both"},
        {**old, "neighbouring": "add_remove"},
        {k: v for k, v in data.items() if k != "neighbouring"},
        {**data, "version": 3},
        {**data, "version": 2.0},
    ):
        with pytest.raises(dp.SerializationError):
            dp.ledger_from_dict(bad)


# ----------------------------------------------------------------- the discrete Laplace


def _discrete_laplace_pmf(scale: float, support: np.ndarray) -> np.ndarray:
    a = math.exp(-1.0 / scale)
    pmf: np.ndarray = (1 - a) / (1 + a) * np.power(a, np.abs(support))
    return pmf


def _exact_loss(
    scale: float, sensitivity: int, rate: float, remove: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The exact privacy loss distribution (values, P-masses) of one sampled step."""
    support = np.arange(-40 * int(scale) - 200, 40 * int(scale) + 200 + sensitivity)
    mu0 = _discrete_laplace_pmf(scale, support)
    mu1 = _discrete_laplace_pmf(scale, support - sensitivity)
    mixed = (1 - rate) * mu0 + rate * mu1
    p, q = (mixed, mu0) if remove else (mu0, mixed)
    keep = (p > 0) & (q > 0)
    return np.log(p[keep]) - np.log(q[keep]), p[keep]


def _delta_of(losses: np.ndarray, masses: np.ndarray, epsilon: float) -> float:
    return float(np.sum(masses * np.maximum(0.0, 1.0 - np.exp(epsilon - losses))))


def _compose_exact(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    losses = (first[0][:, None] + second[0][None, :]).ravel()
    masses = (first[1][:, None] * second[1][None, :]).ravel()
    order = np.argsort(losses)
    rounded = np.round(losses[order], 12)
    values, starts = np.unique(rounded, return_index=True)
    return values, np.add.reduceat(masses[order], starts)


@pytest.mark.parametrize(
    ("scale", "sensitivity", "rate", "steps"),
    [(2.0, 1, 1.0, 1), (5.0, 3, 1.0, 2), (16.0, 18, 1.0, 1), (3.0, 2, 0.1, 1), (4.0, 1, 0.3, 3)],
)
def test_discrete_laplace_pld_brackets_the_exact_delta(
    scale: float, sensitivity: int, rate: float, steps: int
) -> None:
    base = dp.DiscreteLaplace(scale, sensitivity)
    event: dp.DpEvent = base if rate >= 1.0 else dp.PoissonSampled(rate, base)
    acc = dp.PldAccountant().compose(event, steps)
    for epsilon in (0.0, 0.05, 0.2, 0.5 * sensitivity / scale):
        exact = 0.0
        for remove in (True, False):
            pld = _exact_loss(scale, sensitivity, rate, remove)
            total = pld
            for _ in range(steps - 1):
                total = _compose_exact(total, pld)
            exact = max(exact, _delta_of(*total, epsilon))
        assert acc.get_delta(epsilon, bound="lower") <= exact + 1e-12
        assert exact <= acc.get_delta(epsilon) + 1e-12
        assert acc.get_delta(epsilon) <= exact + 2e-3


@pytest.mark.parametrize(("scale", "sensitivity"), [(1.0, 1), (3.0, 1), (2.5, 4), (10.0, 18)])
def test_discrete_laplace_rdp_is_the_exact_renyi_divergence(scale: float, sensitivity: int) -> None:
    orders = np.array([1.5, 2.0, 3.0, 8.0, 32.0])
    support = np.arange(-400 * int(scale) - 400, 400 * int(scale) + 400)
    log_norm = math.log(math.tanh(0.5 / scale))  # (1 - a) / (1 + a), a = exp(-1/t)
    log_p = log_norm - np.abs(support) / scale
    log_q = log_norm - np.abs(support - sensitivity) / scale
    exact = [float(special.logsumexp(a * log_p + (1 - a) * log_q)) / (a - 1) for a in orders]
    ours = rm.rdp_discrete_laplace(orders, scale, sensitivity)
    np.testing.assert_allclose(ours, np.minimum(exact, sensitivity / scale), rtol=1e-9)
    assert np.all(ours >= np.minimum(exact, sensitivity / scale))


def test_laplace_mechanism_emits_the_exact_discrete_event() -> None:
    # grid_bits = 4, L1 bound 1.1: the step is 1/16 and rounding lets the integer query move
    # by floor(17.6) + 1 = 18 grid units (0.51 -> 1, -17.09 -> -17).
    from dp.mechanisms import LaplaceMechanism

    mech = LaplaceMechanism(scale=1.0, l1_sensitivity=1.1, dimension=1, grid_bits=4)
    event = mech.event
    assert event == dp.DiscreteLaplace(float(mech.grid_scale), 18)
    assert np.rint(0.51 / 1) - np.rint(-17.09 / 1) == 18
    acc = dp.PldAccountant().compose(event)
    losses, masses = _exact_loss(event.scale, 18, 1.0, True)
    assert _delta_of(losses, masses, 0.9) <= acc.get_delta(0.9) + 1e-15


def test_ddg_tau_is_constant_memory_and_an_upper_bound() -> None:
    exact = 10.0 * float(
        np.sum(np.exp(-2 * math.pi**2 * 0.5**2 * (k := np.arange(1, 300_000.0)) / (k + 1)))
    )
    assert exact <= rm.ddg_tau(0.5, 300_000) <= exact * (1 + 1e-3)
    huge = rm.ddg_tau(0.5, 10**12)  # would be an 8 TB arange
    assert math.isfinite(huge)
    assert huge > rm.ddg_tau(0.5, 10**9)
