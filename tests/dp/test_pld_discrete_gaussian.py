"""The PLD of the (distributed) discrete Gaussian: the lemmas, exact lattice checks, the accountant.

The lemmas of :mod:`dp.accountants._pld_discrete_gaussian` are checked against exact
computations: the law of a sum of discrete Gaussians by convolution, the rounding lemma by
quadrature, and hockey-stick divergences of small lattices by enumeration (each extra
coordinate of a shift is also one more round of composition of the one-coordinate pair, so
``d <= 4`` covers composition too). The accountant is then checked end to end against exact
lattice values, against the RDP accountant, and against the continuous Gaussian PLD at
practical sizes (``docs/dp/accountant.md`` holds the proofs).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate

import dp
from dp.accountants import _pld_discrete_gaussian as pdg
from dp.accountants._pld_mechanisms import SampledNoise
from dp.accountants.pld import gaussian_delta
from dp.mechanisms.central import GaussianMechanism
from dp.report import PrivacyReport, ThreatModel

FloatArray = NDArray[np.float64]
TWO_PI_SQ = 2.0 * math.pi**2


def eta(v: float) -> float:
    """``2 sum_{m>=1} exp(-2 pi^2 v m^2)`` summed directly (terms beyond 60 are below 1e-300)."""
    return 2.0 * sum(math.exp(-TWO_PI_SQ * v * m * m) for m in range(1, 60))


def discrete_gaussian_pmf(variance: float, radius: int) -> FloatArray:
    """``N_Z(0, variance)`` on ``-radius..radius`` (normalised over a far wider range)."""
    wide = np.arange(-radius - 400, radius + 401, dtype=np.float64)
    weights = np.exp(-(wide**2) / (2.0 * variance))
    inner = weights[400:-400]
    return np.asarray(inner / weights.sum(), dtype=np.float64)


def share_sum_pmf(s2: float, n: int, radius: int) -> FloatArray:
    """The law of the sum of ``n`` shares ``N_Z(0, s2)`` on ``-radius..radius``.

    Shares are cut at ``radius + 200``, where their mass is below 1e-300 at these sizes.
    """
    return share_sum_and_tail(s2, n, radius)[0]


def share_sum_and_tail(s2: float, n: int, radius: int) -> tuple[FloatArray, float]:
    """:func:`share_sum_pmf` and the mass beyond ``radius`` (summed, not ``1 - sum``)."""
    share = discrete_gaussian_pmf(s2, radius + 200)
    total = share
    for _ in range(n - 1):
        total = np.convolve(total, share)
    middle = (total.size - 1) // 2
    core = total[middle - radius : middle + radius + 1]
    tail = float(total[: middle - radius].sum() + total[middle + radius + 1 :].sum())
    return np.asarray(core, dtype=np.float64), tail


# ------------------------------------------------------------------------------ the series


@pytest.mark.parametrize("v", [0.05, 0.125, 0.3, 1.0, 2.5, 10.0, 30.0])
def test_log_eta_upper_bounds_the_theta_series_tightly(v: float) -> None:
    exact = math.log(eta(v))
    bound = float(pdg.log_eta_upper(v)[0])
    assert exact <= bound <= exact + 1e-9


def test_log_eta_upper_stays_finite_far_below_the_smallest_float() -> None:
    # s = 4096 grid units: exp(-2 pi^2 s^2) is e^{-3.3e8}, yet the log is exact to 1e-9.
    v = 4096.0**2
    bound = float(pdg.log_eta_upper(v)[0])
    assert bound == pytest.approx(math.log(2.0) - TWO_PI_SQ * v, rel=1e-12)
    assert bound >= math.log(2.0) - TWO_PI_SQ * v


# ------------------------------------------------------------------------ sum closeness


@pytest.mark.parametrize("s", [0.5, 0.75, 1.0])
@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_observed_sum_closeness_is_within_the_bound(s: float, n: int) -> None:
    radius = 40
    s2 = s * s
    inner = slice(radius - 25, radius + 26)  # every mass here is above 1e-60
    sums = share_sum_pmf(s2, n, radius)[inner]
    core = np.log(sums / discrete_gaussian_pmf(n * s2, radius)[inner])
    low, high = pdg.sum_log_ratio_bounds(s2, n)
    assert low <= float(core.min())
    assert float(core.max()) <= high
    # The observed closeness is often far better: single steps' errors partly cancel.
    assert high < 2.0 * (n - 1) * eta(s2 / 2.0)


def test_a_single_share_is_exactly_a_discrete_gaussian() -> None:
    assert pdg.sum_log_ratio_bounds(0.3, 1) == (0.0, 0.0)


# ------------------------------------------------------------------------- rounding lemma


def rounded_gaussian_pmf(variance: float, w: float, k: int) -> float:
    """``P[R_w(Y) = k]`` with ``Y ~ N(0, variance - w)``, by adaptive quadrature."""
    spread = math.sqrt(variance - w)
    shifts = np.arange(-60, 61, dtype=np.float64)

    def integrand(y: float) -> float:
        normaliser = float(np.sum(np.exp(-((shifts + math.floor(y) - y) ** 2) / (2.0 * w))))
        density = math.exp(-(y * y) / (2.0 * spread * spread)) / (spread * math.sqrt(2 * math.pi))
        return density * math.exp(-((k - y) ** 2) / (2.0 * w)) / normaliser

    reach = 12.0 * spread + 12.0 * math.sqrt(w) + abs(k)
    value, error = integrate.quad(
        integrand, -reach, reach, points=[float(k)], epsabs=0.0, epsrel=1e-12, limit=400
    )
    assert error <= 1e-10 * value
    return float(value)


@pytest.mark.parametrize(("variance", "w"), [(0.6, 0.1), (1.0, 0.2), (1.0, 0.35), (2.0, 0.5)])
def test_rounding_lemma_by_quadrature(variance: float, w: float) -> None:
    radius = 6
    exact = discrete_gaussian_pmf(variance, radius)
    low, high = pdg.rounding_ratio_bounds(variance, w)
    ratios = [rounded_gaussian_pmf(variance, w, k) / exact[k + radius] for k in range(radius + 1)]
    assert low * (1 - 1e-9) <= min(ratios)
    assert max(ratios) <= high * (1 + 1e-9)
    assert sum(ratios[1:]) * 2 + ratios[0] > 0  # all positive


@pytest.mark.parametrize(("s", "n", "w"), [(0.8, 2, 0.3), (1.0, 3, 0.4), (1.0, 1, 0.3)])
def test_coordinate_slack_covers_sum_and_rounding_together(s: float, n: int, w: float) -> None:
    radius = 5
    s2 = s * s
    shares = share_sum_pmf(s2, n, radius)
    rounded = np.array([rounded_gaussian_pmf(n * s2, w, k) for k in range(-radius, radius + 1)])
    observed = np.log(shares / rounded)
    log_hi, log_lo = pdg.coordinate_slack(s2, n, w)
    assert float(observed.max()) <= math.exp(log_hi) * (1 + 1e-9)
    assert float(-observed.min()) <= math.exp(log_lo) * (1 + 1e-9)


# -------------------------------------------------------------------- exact lattice checks


def lattice_delta(p: FloatArray, q: FloatArray, epsilon: float) -> float:
    return float(np.sum(np.maximum(p - math.exp(epsilon) * q, 0.0)))


def product(pmf: FloatArray, d: int) -> FloatArray:
    total = pmf
    for _ in range(d - 1):
        total = np.multiply.outer(total, pmf)
    return total


def shifted(pmf: FloatArray, shift: tuple[int, ...]) -> FloatArray:
    """``pmf`` moved by ``shift`` (mass moved out of the box is dropped, none wraps)."""
    out = pmf
    for axis, k in enumerate(shift):
        out = np.roll(out, k, axis=axis)
        index = [slice(None)] * out.ndim
        index[axis] = slice(0, k)
        out[tuple(index)] = 0.0
    return out


def theorem_bound(
    s2: float, n: int, w: float, coordinates: int, norm: float, epsilon: float, rate: float
) -> tuple[float, float]:
    """``(remove, add)`` bounds ``e^H delta_G(eps - H - Lo)`` of the module docstring, step 3."""
    log_hi, log_lo = pdg.coordinate_slack(s2, n, w)
    big_h, big_lo = coordinates * math.exp(log_hi), coordinates * math.exp(log_lo)
    shifted_eps = epsilon - big_h - big_lo
    assert shifted_eps >= 0.0
    scale = math.sqrt(n * s2 - w) / norm
    if rate == 1.0:
        value = gaussian_delta(scale, shifted_eps)
        return math.exp(big_h) * value, math.exp(big_h) * value
    bounds = []
    for direction in ("remove", "add"):
        survival = SampledNoise("gaussian", scale, rate).survival(direction)  # type: ignore[arg-type]
        s_p, s_q = survival(np.array([shifted_eps]))
        bounds.append(math.exp(big_h) * float(s_p[0] - math.exp(shifted_eps) * s_q[0]))
    return bounds[0], bounds[1]


LATTICE_CASES = [
    # (s, n, w, shift): d = len(shift) <= 4
    (1.0, 1, 0.4, (1,)),
    (1.0, 2, 0.5, (2,)),
    (1.5, 3, 0.5, (1, 1)),
    (1.0, 2, 0.45, (1, 1, 1)),
    (1.2, 2, 0.5, (2, 1, 0)),
    (1.0, 1, 0.35, (1, 1, 1, 1)),
]


@pytest.mark.parametrize(("s", "n", "w", "shift"), LATTICE_CASES)
@pytest.mark.parametrize("rate", [1.0, 0.3])
def test_exact_lattice_delta_is_within_the_bound(
    s: float, n: int, w: float, shift: tuple[int, ...], rate: float
) -> None:
    d = len(shift)
    radius = math.ceil((12.0 if d <= 3 else 9.0) * s * math.sqrt(n)) + max(shift)
    one, tail = share_sum_and_tail(s * s, n, radius)
    q = product(one, d)
    moved = shifted(q, shift)
    # The box misses at most this P-mass, so its deltas are the exact ones to 1e-15.
    assert d * tail + abs(float(q.sum()) - float(moved.sum())) <= 1e-15
    p_remove = (1.0 - rate) * q + rate * moved
    norm = math.sqrt(sum(k * k for k in shift))
    for epsilon in (0.05, 0.5, 1.0, 2.0):
        remove, add = theorem_bound(s * s, n, w, d, norm, epsilon, rate)
        assert lattice_delta(p_remove, q, epsilon) <= remove
        assert lattice_delta(q, p_remove, epsilon) <= add
        # The bound is informative, not vacuous.
        assert remove < 1.0


@settings(max_examples=12)
@given(
    s=st.floats(0.8, 2.0),
    n=st.integers(1, 3),
    fraction=st.floats(0.25, 0.6),
    shift=st.integers(1, 3),
    rate=st.sampled_from([1.0, 0.5, 0.1]),
    epsilon=st.floats(0.05, 3.0),
)
def test_two_sampled_rounds_on_the_exact_lattice_are_within_the_bound(
    s: float, n: int, fraction: float, shift: int, rate: float, epsilon: float
) -> None:
    # Two Poisson-sampled rounds compose as a product of mixtures (not one coin for a 2-D
    # shift); the bound's Gaussian part is the PLD accountant's (an upper bound itself).
    variance = n * s * s
    w = fraction * variance
    log_hi, log_lo = pdg.coordinate_slack(s * s, n, w)
    big_h, big_lo = 2.0 * math.exp(log_hi), 2.0 * math.exp(log_lo)
    assume(epsilon - big_h - big_lo >= 0.0)
    radius = math.ceil(12.0 * s * math.sqrt(n)) + shift
    one = share_sum_pmf(s * s, n, radius)
    mixture = (1.0 - rate) * one + rate * shifted(one.copy(), (shift,))
    p, q = np.multiply.outer(mixture, mixture), np.multiply.outer(one, one)
    base: dp.DpEvent = dp.Gaussian(math.sqrt(variance - w) / shift)
    if rate < 1.0:
        base = dp.PoissonSampled(rate, base)
    gaussian = dp.PldAccountant().compose(base, 2)
    bound = math.exp(big_h) * gaussian.get_delta(epsilon - big_h - big_lo)
    exact = max(lattice_delta(p, q, epsilon), lattice_delta(q, p, epsilon))
    assert exact <= bound


def test_the_continuous_gaussian_alone_is_not_a_bound() -> None:
    # Why the rounding lemma's correction is needed (issue 21): deep in the tails the
    # discrete pair's delta exceeds the continuous Gaussian's with the same variance.
    for s, epsilon, factor in ((1.0, 7.25, 2.0), (2.0, 3.0, 1.15)):
        p = discrete_gaussian_pmf(s * s, 60)
        discrete = lattice_delta(shifted(p, (1,)), p, epsilon)
        assert discrete > factor * gaussian_delta(s, epsilon)


# ------------------------------------------------------------------------ the accountant


def lattice_pair(
    event: dp.DistributedDiscreteGaussian, shift: tuple[int, ...], radius: int
) -> tuple[FloatArray, FloatArray]:
    one = share_sum_pmf(event.sigma**2, event.n_min, radius)
    q = product(one, len(shift))
    return shifted(q, shift), q


@pytest.mark.parametrize("shift", [(3,), (2, 2)])
def test_accountant_bounds_an_exact_lattice_pair_from_both_sides(shift: tuple[int, ...]) -> None:
    # s = 20, n = 2: small enough to enumerate, large enough for the accountant.
    event = dp.DistributedDiscreteGaussian(20.0, 2, len(shift), 9.0, 3.0)
    acc = dp.PldAccountant(neighbouring="zero_out").compose(event)
    radius = 300
    p, q = lattice_pair(event, shift, radius)
    outside = 1.0 - float(p.sum())
    for epsilon in (0.0, 0.02, 0.1, 0.3):
        exact = max(lattice_delta(p, q, epsilon), lattice_delta(q, p, epsilon))
        assert exact + outside <= acc.get_delta(epsilon)
    # The lower bound's own pair (a shift of norm 3 on one coordinate) is a real pair.
    assert pdg.lower_shift(event) == (3,)
    p, q = lattice_pair(event, (3,), radius)
    for epsilon in (0.0, 0.02, 0.1):
        exact = max(lattice_delta(p, q, epsilon), lattice_delta(q, p, epsilon))
        assert acc.get_delta(epsilon, bound="lower") <= exact


def test_accountant_tracks_sampled_composition_of_a_lattice_pair() -> None:
    # Two Poisson-sampled rounds (the accounting form of a fixed-size cohort under
    # add/remove), composed exactly on the 2-D lattice of both rounds' outputs.
    rate = 0.25
    inner = dp.DistributedDiscreteGaussian(20.0, 2, 1, 4.0, 2.0)
    event = dp.SampledWithoutReplacement(400, 100, inner)  # Poisson(1/4) at twice: shift 4
    acc = dp.PldAccountant().compose(event, 2)
    radius = 300
    one = share_sum_pmf(400.0, 2, radius)
    mixture = (1.0 - rate) * one + rate * shifted(one.copy(), (4,))
    p, q = np.multiply.outer(mixture, mixture), np.multiply.outer(one, one)
    for epsilon in (0.0, 0.1, 0.5):
        exact = max(lattice_delta(p, q, epsilon), lattice_delta(q, p, epsilon))
        assert exact <= acc.get_delta(epsilon)
        assert acc.get_delta(epsilon) <= 1.05 * exact + 1e-9  # and tight


def practical(
    z: float, n: int = 10, s: float = 4096.0, d: int = 10**7
) -> dp.DistributedDiscreteGaussian:
    l2 = math.sqrt(n) * s / z
    return dp.DistributedDiscreteGaussian(s, n, d, l2 * l2, l2)


def test_at_4096_grid_units_the_corrected_epsilon_is_the_gaussian_pld() -> None:
    event = dp.SampledWithoutReplacement(100_000, 1_000, practical(1.0))
    acc = dp.PldAccountant().compose(event, 2_000)
    surrogate, slack = pdg.surrogate(acc._forms[0][0], "upper")
    assert slack.log_total + math.log(2_000) < math.log(1e-30)
    gaussian = dp.PldAccountant().compose(surrogate, 2_000)
    for delta in (1e-5, 1e-10):
        assert acc.get_epsilon(delta) == pytest.approx(gaussian.get_epsilon(delta), abs=1e-9)
        assert acc.get_epsilon(delta) >= gaussian.get_epsilon(delta)
    # Against the matching continuous Gaussian (variance n s^2, not n s^2 - w): the
    # rounding lemma gives up w = 6.6 grid units squared of 1.7e8.
    matching = dp.PldAccountant().compose(
        dp.SampledWithoutReplacement(100_000, 1_000, dp.Gaussian(1.0)), 2_000
    )
    assert acc.get_epsilon(1e-5) == pytest.approx(matching.get_epsilon(1e-5), rel=1e-6)
    lower, upper = acc.get_epsilon_bounds(1e-5)
    assert lower <= matching.get_epsilon(1e-5, bound="lower") <= upper


@pytest.mark.parametrize(
    ("event", "relation", "count"),
    [
        (dp.SampledWithoutReplacement(100_000, 1_000, practical(0.5)), "add_remove", 300),
        (dp.SampledWithoutReplacement(100_000, 1_000, practical(2.0)), "add_remove", 300),
        (
            dp.SampledWithoutReplacement(10_000, 100, practical(1.0, n=1, s=40.0, d=1000)),
            "add_remove",
            300,
        ),
        (practical(2.0, n=3, s=30.0, d=10**5), "zero_out", 50),
        (practical(8.0), "replace_one", 200),
        (dp.DiscreteGaussian(400.0, 100.0), "add_remove", 10),
    ],
)
def test_pld_epsilon_is_at_most_the_rdp_epsilon(
    event: dp.DpEvent, relation: dp.Neighbouring, count: int
) -> None:
    pld = dp.PldAccountant(neighbouring=relation).compose(event, count)
    rdp = dp.RdpAccountant(neighbouring=relation).compose(event, count)
    for delta in (1e-5, 1e-10):
        lower, upper = pld.get_epsilon_bounds(delta)
        assert 0.0 < lower <= upper <= rdp.get_epsilon(delta)


@pytest.mark.parametrize(
    "event",
    [
        dp.DistributedDiscreteGaussian(3.0, 10, 10**7, 100.0, 10.0),  # slack 1e-31 per round
        dp.DistributedDiscreteGaussian(20.0, 1, 10, 100.0, 10.0),  # w is 1.5% of n s^2
        dp.DiscreteGaussian(2.0, 1.0),
        dp.Skellam(1e6, 10.0, 10.0),  # Skellam stays on the RDP
    ],
)
def test_too_little_noise_is_refused_and_left_to_the_rdp(event: dp.DpEvent) -> None:
    assert not dp.PldAccountant(neighbouring="zero_out").supports(event)
    assert dp.RdpAccountant(neighbouring="zero_out").supports(event)
    with pytest.raises(dp.UnsupportedEvent):
        dp.PldAccountant(neighbouring="zero_out").compose(event)


def test_fixed_size_cohorts_under_zero_out_stay_refused() -> None:
    event = dp.SampledWithoutReplacement(1000, 50, practical(1.0))
    assert not dp.PldAccountant(neighbouring="zero_out").supports(event)
    assert dp.RdpAccountant(neighbouring="zero_out").supports(event)


def test_mixed_ledger_queries_are_consistent() -> None:
    acc = dp.PldAccountant(neighbouring="zero_out")
    acc.compose(dp.PoissonSampled(0.05, dp.Gaussian(1.2)), 40)
    acc.compose(practical(6.0, n=5, s=512.0, d=1000), 3)
    acc.compose(dp.DiscreteGaussian(1000.0, 300.0), 2)
    for delta in (1e-5, 1e-9):
        epsilon = acc.get_epsilon(delta)
        assert acc.get_delta(epsilon) <= delta * (1.0 + 1e-12)
        lower, upper = acc.get_epsilon_bounds(delta)
        assert lower <= upper
    curve = acc.epsilon_curve(1e-5)
    assert curve[-1] == acc.get_epsilon(1e-5)
    assert np.all(np.diff(curve) >= 0.0)


def test_unsampled_rounds_use_the_exact_gaussian_formula() -> None:
    event = practical(20.0, n=4, s=1024.0, d=100)
    acc = dp.PldAccountant(neighbouring="zero_out").compose(event, 30)
    surrogate, _ = pdg.surrogate(event, "upper")
    assert isinstance(surrogate, dp.Gaussian)
    sigma = surrogate.noise_multiplier / math.sqrt(30)
    assert acc.get_delta(1.0) == pytest.approx(gaussian_delta(sigma, 1.0), rel=1e-12)
    assert acc.get_delta(1.0) >= gaussian_delta(sigma, 1.0)
    assert acc.get_delta(1.0, bound="lower") <= acc.get_delta(1.0)


@settings(max_examples=20)
@given(
    s=st.floats(4.0, 5000.0),
    n=st.integers(1, 10**6),
    d=st.integers(1, 10**8),
    l2=st.floats(1.0, 1e4),
)
def test_surrogates_bracket_the_variance(s: float, n: int, d: int, l2: float) -> None:
    event = dp.DistributedDiscreteGaussian(s, n, d, l2 * l2, l2)
    try:
        upper, slack = pdg.surrogate(event, "upper")
    except dp.UnsupportedEvent:
        assert pdg.rounding_variance(d) > pdg.MAX_VARIANCE_LOSS * n * s * s
        return
    lower, _ = pdg.surrogate(event, "lower")
    assert isinstance(upper, dp.Gaussian)
    assert isinstance(lower, dp.Gaussian)
    variance = n * s * s
    assert (upper.noise_multiplier * l2) ** 2 <= variance
    assert (upper.noise_multiplier * l2) ** 2 >= (1.0 - pdg.MAX_VARIANCE_LOSS) * variance * (
        1 - 1e-12
    )
    norm = math.sqrt(sum(k * k for k in pdg.lower_shift(event)))
    assert norm <= l2
    assert (lower.noise_multiplier * norm) ** 2 >= variance
    if n == 1:
        assert slack.log_hi <= math.log(pdg.ROUNDING_TARGET) + 1e-6


@pytest.mark.parametrize("coordinates", [1, 7, 10**7])
def test_lattice_shift_of_the_lower_bound_is_admissible(coordinates: int) -> None:
    event = dp.DistributedDiscreteGaussian(50.0, 3, coordinates, 30.0, 17.3)
    shift = pdg.lower_shift(event)
    assert len(shift) <= min(4, coordinates)
    assert sum(k * k for k in shift) <= 17.3**2
    assert sum(shift) <= 30.0
    if coordinates >= 4:
        assert sum(k * k for k in shift) == math.floor(17.3**2)  # 299 = 17^2 + 3^2 + 1 + ...
    assert list(itertools.accumulate(shift)) == sorted(itertools.accumulate(shift))


# ---------------------------------------------------------------------------- the report


def _distributed_report(event: dp.DpEvent) -> PrivacyReport:
    return PrivacyReport.from_ledger(
        [(event, 1)] * 5,
        delta=1e-6,
        privacy_unit="client",
        threat_model=ThreatModel("distributed", n_min=8, min_survivors=8, colluders=2),
        neighbouring="zero_out",
        created="2026-01-01T00:00:00Z",
        library_version="0.1.0",
    )


def test_reports_show_the_tight_epsilon_for_distributed_dp() -> None:
    report = _distributed_report(practical(30.0, n=8, s=512.0, d=64))
    assert report.epsilon_pld is not None
    assert report.epsilon_pld_lower is not None
    assert report.epsilon_pld_lower <= report.epsilon_pld < report.epsilon_rdp
    assert report.epsilon == report.epsilon_pld
    assert not any("No tight (PLD) bound" in w for w in report.warnings)


def test_reports_say_why_a_small_share_has_no_tight_epsilon() -> None:
    report = _distributed_report(dp.DistributedDiscreteGaussian(3.0, 8, 64, 100.0, 10.0))
    assert report.epsilon_pld is None
    assert any("3.8 grid units of noise per share" in w for w in report.warnings)


def test_a_ledger_never_carries_more_than_the_slack_budget() -> None:
    event = dp.DistributedDiscreteGaussian(3.9, 100, 10**7, 100.0, 10.0)
    _, slack = pdg.surrogate(event, "upper")
    per_round = math.exp(slack.log_total)
    assert per_round <= pdg.PER_ROUND_SLACK
    acc = dp.PldAccountant(neighbouring="zero_out")
    # One self-composed block that alone would exceed 1e-30 is refused, state unchanged.
    big = dp.SelfComposed(event, 2**62)
    with pytest.raises(dp.UnsupportedEvent):
        acc.compose(big, 2**62)
    assert acc.rounds == 0
    acc.compose(event, 3)
    assert acc.get_epsilon(1e-5) > 0.0


@pytest.mark.parametrize(("sigma", "sensitivity", "rounds"), [(30.0, 3, 10), (40.0, 4, 8)])
def test_composed_one_dimensional_discrete_gaussian_is_bracketed_exactly(
    sigma: float, sensitivity: int, rounds: int
) -> None:
    # The loss of a 1-D integer shift is linear in the output, so the composed loss is
    # linear in the sum of the rounds' noises, whose law is a convolution: exact delta.
    total = share_sum_pmf(sigma * sigma, rounds, math.ceil(12.0 * sigma * math.sqrt(rounds)))
    j = np.arange(total.size) - (total.size - 1) // 2
    loss = (rounds * sensitivity**2 + 2.0 * sensitivity * j) / (2.0 * sigma * sigma)
    acc = dp.PldAccountant().compose(dp.DiscreteGaussian(sigma, float(sensitivity)), rounds)
    for epsilon in (0.3, 1.0, 1.5):
        exact = float(np.sum(total * np.maximum(1.0 - np.exp(epsilon - loss), 0.0)))
        assert acc.get_delta(epsilon, bound="lower") <= exact <= acc.get_delta(epsilon)
        if exact > 1e-12:  # deeper, the PLD's tail truncation dominates its answer
            assert acc.get_delta(epsilon) <= 1.1 * exact


def test_discrete_gaussian_agrees_with_dp_accounting() -> None:
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    theirs = pld.from_discrete_gaussian_mechanism(
        30.0, sensitivity=3, value_discretization_interval=1e-4
    ).self_compose(10)
    their_epsilon = theirs.get_epsilon_for_delta(1e-6)
    lower, upper = (
        dp.PldAccountant().compose(dp.DiscreteGaussian(30.0, 3.0), 10).get_epsilon_bounds(1e-6)
    )
    assert lower <= their_epsilon  # a certified lower bound is below every upper bound
    assert upper == pytest.approx(their_epsilon, rel=5e-3)  # 0.38% at this sigma


@pytest.mark.parametrize(
    ("sigma", "sensitivity"), [(1e300, 1e300), (1e300, 1e150), (1.7e308, 1.0), (1e-300, 1e300)]
)
def test_float_extremes_answer_or_refuse_typed(sigma: float, sensitivity: float) -> None:
    event = dp.DiscreteGaussian(sigma, sensitivity)
    acc = dp.PldAccountant()
    if not acc.supports(event):
        assert sigma < sensitivity
        return
    lower, upper = acc.compose(event, 3).get_epsilon_bounds(1e-5)
    gaussian = dp.PldAccountant().compose(dp.Gaussian(sigma / sensitivity), 3).get_epsilon(1e-5)
    assert lower <= upper
    assert upper == pytest.approx(gaussian, abs=1e-9)  # s^2 overflows; the ratio does not


@settings(max_examples=30)
@given(
    l2=st.floats(1e-3, 1e3),
    dimension=st.integers(1, 10**6),
    bits=st.integers(4, 30),
)
def test_gaussian_mechanism_events_count_every_coordinate(
    l2: float, dimension: int, bits: int
) -> None:
    # The PLD counts floor(Delta^2) coordinates of a DiscreteGaussian; the federated
    # central mechanism's input is random (stochastically rounded updates), so that count
    # must cover every coordinate: Delta = l2/step + sqrt(d) > sqrt(d).
    try:
        mechanism = GaussianMechanism(1.0, l2_sensitivity=l2, dimension=dimension, grid_bits=bits)
    except dp.InvalidArgument:
        return
    event = mechanism.event
    assert math.floor(event.sensitivity_l2**2) >= dimension
