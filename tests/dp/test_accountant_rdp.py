"""RdpAccountant: exact sampled-Gaussian RDP, the other mechanisms, conversion, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

import dp
from dp.accountants import _rdp_math as rm

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "accountant_peers.json").read_text()
)


def _numerical_rdp(alpha: float, q: float, sigma: float) -> float:
    """RDP of the sampled Gaussian by direct integration of E_mu0[(mu/mu0)^alpha]."""

    def integrand(z: float) -> float:
        ratio = 1.0 - q + q * math.exp((2.0 * z - 1.0) / (2.0 * sigma**2))
        return float(stats.norm.pdf(z, scale=sigma)) * ratio**alpha

    value, _ = integrate.quad(integrand, -40 * sigma, 40 * sigma, limit=400, epsabs=0)
    return math.log(value) / (alpha - 1.0)


@pytest.mark.parametrize(
    ("alpha", "q", "sigma"),
    [(1.5, 0.01, 1.0), (2.0, 0.01, 1.0), (3.7, 0.05, 2.0), (1.1, 0.2, 0.8), (12.0, 0.004, 1.1)],
)
def test_sampled_gaussian_matches_numerical_integration(
    alpha: float, q: float, sigma: float
) -> None:
    ours = float(rm.rdp_sampled_gaussian(np.array([alpha]), q, sigma)[0])
    assert ours == pytest.approx(_numerical_rdp(alpha, q, sigma), rel=1e-6)
    assert ours >= _numerical_rdp(alpha, q, sigma) * (1 - 1e-9)


def test_laplace_rdp_matches_numerical_integration() -> None:
    b, alpha = 1.5, 2.5

    def integrand(z: float) -> float:
        p = stats.laplace.pdf(z, loc=1.0, scale=b)
        q = stats.laplace.pdf(z, scale=b)
        return float(p**alpha * q ** (1 - alpha))

    value, _ = integrate.quad(integrand, -60, 60, points=[0.0, 1.0], limit=200)
    expected = math.log(value) / (alpha - 1)
    assert float(rm.rdp_laplace(np.array([alpha]), b)[0]) == pytest.approx(expected, rel=1e-8)


def test_unsampled_gaussian_rdp_and_rate_one() -> None:
    acc = dp.RdpAccountant().compose(dp.Gaussian(2.0))
    assert np.allclose(acc.rdp, acc.orders / 8.0)
    same = dp.RdpAccountant().compose(dp.PoissonSampled(1.0, dp.Gaussian(2.0)))
    assert np.allclose(same.rdp, acc.rdp)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"q{c['q']}-s{c['sigma']}")
def test_at_least_as_tight_as_dp_accounting_and_opacus(case: dict[str, float]) -> None:
    event = dp.Gaussian(case["sigma"])
    if case["q"] < 1:
        event = dp.PoissonSampled(case["q"], event)
    ours = dp.RdpAccountant().compose(event, int(case["steps"])).get_epsilon(case["delta"])
    assert ours <= min(case["dpa_rdp"], case["opacus_rdp"]) * (1 + 1e-8)
    # An upper bound: never below the (nearly exact) PLD value.
    assert ours >= case["dpa_pld"] * (1 - 0.005)


def test_opacus_mnist_readme_with_the_2017_conversion() -> None:
    """Opacus' README: q = 1/250 (batch 240 of 60,000), sigma = 1.1, 60 epochs, eps 2.91."""
    acc = dp.RdpAccountant(rm.DEFAULT_ORDERS[rm.DEFAULT_ORDERS < 64]).compose(
        dp.PoissonSampled(1 / 250, dp.Gaussian(1.1)), 15_000
    )
    mironov_2017 = np.min(acc.rdp + math.log(1 / 1e-5) / (acc.orders - 1))
    assert mironov_2017 == pytest.approx(2.91, abs=0.01)
    assert acc.get_epsilon(1e-5) < mironov_2017  # the improved conversion is tighter


def test_balle_wang_gaussian_is_below_rdp() -> None:
    exact = dp.accountants.pld.gaussian_epsilon(1.0, 1e-5)
    rdp = dp.RdpAccountant().compose(dp.Gaussian(1.0)).get_epsilon(1e-5)
    assert exact <= rdp <= exact * 1.2


def test_discrete_gaussian_and_zcdp() -> None:
    dg = dp.RdpAccountant().compose(dp.DiscreteGaussian(sigma=4.0, sensitivity_l2=2.0))
    zc = dp.RdpAccountant().compose(dp.ZCDP(rho=4.0 / 32.0))
    assert np.allclose(dg.rdp, zc.rdp)


def test_distributed_discrete_gaussian_reduces_to_discrete_gaussian() -> None:
    ddg = dp.DistributedDiscreteGaussian(
        sigma=3.0, n_min=1, dimension=100, sensitivity_l1=10.0, sensitivity_l2=2.0
    )
    single = dp.RdpAccountant(neighbouring="zero_out").compose(ddg)
    assert np.allclose(single.rdp, dp.RdpAccountant().compose(dp.DiscreteGaussian(3.0, 2.0)).rdp)


def test_distributed_discrete_gaussian_tau_and_aggregate_noise() -> None:
    # n clients with sigma each: close to a Gaussian with sigma * sqrt(n), plus a tau term.
    ddg = dp.DistributedDiscreteGaussian(2.0, 16, 1000, 50.0, 5.0)
    rdp = dp.RdpAccountant(neighbouring="zero_out").compose(ddg).rdp
    orders = rm.DEFAULT_ORDERS
    baseline = orders * 25.0 / (2 * 16 * 4.0)
    tau = rm.ddg_tau(2.0, 16)
    assert 0 < tau < 1e-15
    assert np.all(rdp >= baseline - 1e-12)
    assert np.allclose(rdp, baseline, rtol=1e-9)
    # Small sigma: the correction is large and must show up.
    rough = dp.RdpAccountant(neighbouring="zero_out").compose(
        dp.DistributedDiscreteGaussian(0.5, 16, 1000, 50.0, 5.0)
    )
    assert np.all(rough.rdp > orders * 25.0 / (2 * 16 * 0.25))


def test_skellam_is_at_least_the_gaussian_of_equal_variance() -> None:
    mu, l1, l2 = 50.0, 20.0, 4.0
    skellam = dp.RdpAccountant().compose(dp.Skellam(mu, l1, l2)).rdp
    gaussian = rm.DEFAULT_ORDERS * l2**2 / (2 * 2 * mu)
    assert np.all(skellam >= gaussian)
    assert np.all(skellam[rm.DEFAULT_ORDERS < 16] <= 1.2 * gaussian[rm.DEFAULT_ORDERS < 16] + 0.1)


def test_sampling_without_replacement_amplifies_but_never_exceeds_base() -> None:
    # Replace-one: Wang et al.'s bound on the base at twice the sensitivity.
    base = dp.RdpAccountant().compose(dp.Gaussian(0.5)).rdp
    wor = dp.RdpAccountant(neighbouring="replace_one").compose(
        dp.SampledWithoutReplacement(1000, 10, dp.Gaussian(1.0))
    )
    assert np.all(wor.rdp <= base + 1e-12)
    assert wor.get_epsilon(1e-5) < dp.RdpAccountant().compose(dp.Gaussian(0.5)).get_epsilon(1e-5)
    # Fixed-size sampling is not Poisson: at order 2 the WOR bound is the larger one here.
    poisson = dp.RdpAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(0.5))).rdp
    index = int(np.argmin(np.abs(rm.DEFAULT_ORDERS - 2.0)))
    assert wor.rdp[index] > poisson[index]


def test_wor_with_laplace_uses_the_pure_dp_term() -> None:
    with_pure = dp.RdpAccountant(neighbouring="replace_one").compose(
        dp.SampledWithoutReplacement(100, 10, dp.Laplace(10.0))
    )
    base = dp.RdpAccountant().compose(dp.Laplace(5.0))
    assert np.all(with_pure.rdp <= base.rdp + 1e-12)
    assert with_pure.get_epsilon(1e-6) < base.get_epsilon(1e-6)


@pytest.mark.parametrize(
    "event",
    [
        dp.PoissonSampled(0.1, dp.PoissonSampled(0.1, dp.Gaussian(1.0))),
        dp.SampledWithoutReplacement(10, 2, dp.PoissonSampled(0.5, dp.Gaussian(1.0))),
        dp.Composed((dp.Gaussian(1.0), dp.PoissonSampled(0.5, dp.PoissonSampled(0.5, dp.ZCDP(1))))),
    ],
)
def test_refuses_what_it_cannot_bound(event: dp.DpEvent) -> None:
    acc = dp.RdpAccountant().compose(dp.Gaussian(3.0))
    before = acc.rdp
    assert not acc.supports(event)
    with pytest.raises(dp.UnsupportedEvent):
        acc.compose(event)
    assert np.array_equal(acc.rdp, before)
    assert acc.rounds == 1


def test_argument_errors() -> None:
    acc = dp.RdpAccountant().compose(dp.Gaussian(1.0))
    for bad in (0.0, 1.0, -1e-5, math.nan):
        with pytest.raises(dp.InvalidArgument):
            acc.get_epsilon(bad)
    with pytest.raises(dp.InvalidArgument):
        acc.get_delta(-1.0)
    with pytest.raises(dp.InvalidArgument):
        acc.get_epsilon(1e-5, bound="lower")
    with pytest.raises(dp.InvalidArgument):
        acc.compose(dp.Gaussian(1.0), 0)
    with pytest.raises(dp.InvalidArgument):
        acc.compose("gaussian")  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        dp.RdpAccountant(orders=[0.5, 2.0])


def test_empty_accountant_spent_nothing() -> None:
    acc = dp.RdpAccountant()
    assert acc.get_epsilon(1e-5) == 0.0
    assert acc.get_delta(1.0) == 0.0
    assert acc.epsilon_curve(1e-5).shape == (0,)


def test_delta_and_epsilon_are_consistent() -> None:
    acc = dp.RdpAccountant().compose(dp.PoissonSampled(0.02, dp.Gaussian(1.2)), 2000)
    eps = acc.get_epsilon(1e-6)
    assert acc.get_delta(eps) <= 1e-6 * (1 + 1e-9)
    assert acc.get_delta(eps * 0.99) > 1e-6


def test_curve_has_one_value_per_round_and_ends_at_get_epsilon() -> None:
    acc = dp.RdpAccountant()
    for count in (1, 5, 10):
        acc.compose(dp.PoissonSampled(0.05, dp.Gaussian(1.0)), count)
    curve = acc.epsilon_curve(1e-5)
    assert curve.shape == (3,)
    assert np.all(np.diff(curve) > 0)
    assert curve[-1] == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)


def test_general_poisson_bound_is_above_the_exact_sampled_gaussian() -> None:
    orders = rm.DEFAULT_ORDERS
    integers = np.arange(int(orders.max()) + 1, dtype=np.float64)
    integers[:2] = 2.0
    general = rm.rdp_poisson_general(orders, 0.01, rm.rdp_gaussian(integers, 1.5))
    exact = rm.rdp_sampled_gaussian(np.maximum(np.ceil(orders), 2.0), 0.01, 1.5)
    assert np.all(general >= exact * (1 - 1e-9))
    assert np.all(general <= rm.rdp_gaussian(np.maximum(np.ceil(orders), 2.0), 1.5) + 1e-12)
    assert general[orders == 2.0][0] <= 3 * exact[orders == 2.0][0]


def test_fixed_size_cohorts_amplify_the_distributed_discrete_gaussian() -> None:
    ddg = dp.DistributedDiscreteGaussian(3.0, 10, 1000, 100.0, 10.0)
    alone = dp.RdpAccountant(neighbouring="zero_out").compose(ddg, 100).get_epsilon(1e-5)
    cohort = dp.SampledWithoutReplacement(200, 10, ddg)
    for relation in ("add_remove", "zero_out", "replace_one"):
        sampled = dp.RdpAccountant(neighbouring=relation).compose(cohort, 100)
        assert sampled.get_epsilon(1e-5) < alone
    assert dp.RdpAccountant().supports(dp.PoissonSampled(0.05, dp.Skellam(100.0, 10.0, 5.0)))


def test_client_added_noise_whose_share_count_varies_is_refused() -> None:
    # The sum of n clients' shares has variance n s^2: a neighbour that changes how many
    # clients add noise changes the variance, which no shift pair bounds.
    ddg = dp.DistributedDiscreteGaussian(3.0, 10, 1000, 100.0, 10.0)
    for accountant in (dp.RdpAccountant(), dp.PldAccountant()):
        assert not accountant.supports(ddg)  # add_remove: the target's share on one side only
        with pytest.raises(dp.UnsupportedEvent, match="variance"):
            accountant.compose(ddg)
    for relation in ("add_remove", "zero_out"):
        rdp = dp.RdpAccountant(neighbouring=relation)
        for event in (
            dp.PoissonSampled(0.05, ddg),
            dp.SelfComposed(dp.PoissonSampled(0.05, ddg), 3),
            dp.PoissonSampled(0.05, dp.Composed((dp.Gaussian(1.0), ddg))),
        ):
            assert not rdp.supports(event)
            with pytest.raises(dp.UnsupportedEvent, match="fixed-size"):
                rdp.compose(event)
        assert len(rdp.ledger) == 0
    assert dp.RdpAccountant(neighbouring="zero_out").supports(ddg)
    assert dp.RdpAccountant(neighbouring="replace_one").supports(ddg)
