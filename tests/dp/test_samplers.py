"""Distribution tests of the exact integer samplers against their exact pmfs."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dp import _rng
from dp.errors import InvalidArgument
from dp.mechanisms import _bernoulli, _exp, _geometric, samplers
from dp.mechanisms.samplers import (
    sample_discrete_gaussian,
    sample_discrete_gaussian_sq,
    sample_discrete_laplace,
    sample_poisson,
    sample_skellam,
)
from tests.dp.test_samplers_helpers import (
    ALPHA,
    chi_square_pvalue,
    discrete_gaussian_pmf,
    discrete_laplace_pmf,
    poisson_pmf,
    skellam_pmf,
    symmetric_support,
)

N = 60_000


@pytest.mark.parametrize("sigma", [0.4, 1.0, 3.0, 17.3, 250.0])
def test_discrete_gaussian_matches_exact_pmf(sigma: float) -> None:
    x = sample_discrete_gaussian(sigma, N)
    assert x.dtype == np.int64
    assert x.shape == (N,)
    p = chi_square_pvalue(x, symmetric_support(12 * sigma), discrete_gaussian_pmf(sigma**2))
    assert p > ALPHA


@settings(max_examples=5)
@given(st.floats(min_value=0.3, max_value=300.0))
def test_discrete_gaussian_pmf_agreement_property(sigma: float) -> None:
    x = sample_discrete_gaussian(sigma, 20_000)
    p = chi_square_pvalue(x, symmetric_support(12 * sigma), discrete_gaussian_pmf(sigma**2))
    assert p > ALPHA


def test_discrete_gaussian_beyond_its_acceptance_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates past the tabulated magnitudes get their acceptance computed directly."""
    monkeypatch.setattr(samplers, "_TABLE_MAX", 4)
    samplers._gaussian_plan.cache_clear()
    try:
        x = sample_discrete_gaussian(3.0, N)
    finally:
        samplers._gaussian_plan.cache_clear()
    assert chi_square_pvalue(x, symmetric_support(36), discrete_gaussian_pmf(9.0)) > ALPHA


def test_discrete_gaussian_rational_parameter() -> None:
    sigma_sq = Fraction(22, 7)
    x = sample_discrete_gaussian_sq(sigma_sq, N)
    p = chi_square_pvalue(x, symmetric_support(25), discrete_gaussian_pmf(float(sigma_sq)))
    assert p > ALPHA


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5, Fraction(7, 2), 40.0])
def test_discrete_laplace_matches_exact_pmf(scale: float | Fraction) -> None:
    x = sample_discrete_laplace(scale, N)
    p = chi_square_pvalue(
        x, symmetric_support(30 * float(scale)), discrete_laplace_pmf(float(scale))
    )
    assert p > ALPHA


@pytest.mark.parametrize("mean", [0.05, 0.3, 1.0, 4.5, Fraction(1001, 4), 1e6])
def test_poisson_matches_exact_pmf(mean: float | Fraction) -> None:
    x = sample_poisson(mean, N)
    m = float(mean)
    support = np.arange(max(0, int(m - 12 * math.sqrt(m)) - 5), int(m + 12 * math.sqrt(m)) + 10)
    assert chi_square_pvalue(x, support, poisson_pmf(m)) > ALPHA
    assert x.min() >= 0


@pytest.mark.parametrize("mu", [0.2, 3.0, 500.0])
def test_skellam_matches_exact_pmf(mu: float) -> None:
    x = sample_skellam(mu, N)
    p = chi_square_pvalue(x, symmetric_support(12 * math.sqrt(2 * mu)), skellam_pmf(mu))
    assert p > ALPHA


@settings(max_examples=4)
@given(
    st.floats(min_value=0.1, max_value=50.0),
    st.floats(min_value=0.1, max_value=50.0),
)
def test_sum_of_skellams_is_skellam(mu1: float, mu2: float) -> None:
    x = sample_skellam(mu1, 20_000) + sample_skellam(mu2, 20_000)
    total = mu1 + mu2
    p = chi_square_pvalue(x, symmetric_support(12 * math.sqrt(2 * total)), skellam_pmf(total))
    assert p > ALPHA


@settings(max_examples=10)
@given(
    st.sampled_from(["gaussian", "laplace", "skellam"]),
    st.floats(min_value=0.2, max_value=200.0),
)
def test_samplers_are_symmetric(kind: str, param: float) -> None:
    n = 20_000
    if kind == "gaussian":
        x = sample_discrete_gaussian(param, n)
    elif kind == "laplace":
        x = sample_discrete_laplace(param, n)
    else:
        x = sample_skellam(param, n)
    positive, negative = int((x > 0).sum()), int((x < 0).sum())
    if positive + negative:
        assert stats.binomtest(positive, positive + negative).pvalue > ALPHA
    # Also symmetric in magnitude: |X| given X > 0 and given X < 0 have the same law.
    if positive > 50 and negative > 50:
        assert stats.ks_2samp(x[x > 0], -x[x < 0]).pvalue > ALPHA


@pytest.mark.parametrize("prefix_bits", [1, 3])
def test_exact_slow_path_gives_the_same_law(
    monkeypatch: pytest.MonkeyPatch, prefix_bits: int
) -> None:
    """With 1-3 revealed bits most decisions go to the exact (rational or decimal) path."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", prefix_bits)
    monkeypatch.setattr(_geometric, "GEOMETRIC_BITS", prefix_bits)
    n = 6_000
    x = sample_discrete_gaussian(2.5, n)
    assert chi_square_pvalue(x, symmetric_support(30), discrete_gaussian_pmf(6.25)) > ALPHA
    y = sample_discrete_laplace(1.5, n)
    assert chi_square_pvalue(y, symmetric_support(40), discrete_laplace_pmf(1.5)) > ALPHA
    z = sample_poisson(7.25, n)
    assert chi_square_pvalue(z, np.arange(0, 60), poisson_pmf(7.25)) > ALPHA
    # A mean with a left tail too (mode 30 > window 13): every region takes the exact path.
    w = sample_poisson(30.5, n)
    assert chi_square_pvalue(w, np.arange(0, 120), poisson_pmf(30.5)) > ALPHA


@pytest.mark.parametrize("p", [Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(1)])
def test_bernoulli_is_exact_for_rationals(monkeypatch: pytest.MonkeyPatch, p: Fraction) -> None:
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", 1)
    n = 20_000
    out = _bernoulli.bernoulli(np.full(n, float(p)), 0.0, lambda _: p)
    hits = int(out.sum())
    if p in (0, 1):
        assert hits == int(p) * n
    else:
        assert stats.binomtest(hits, n, float(p)).pvalue > ALPHA


def test_bernoulli_blocks_keep_each_element_with_its_probability(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Across block boundaries the slow path asks for the right element's probability."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", 1)
    n = 3 * _bernoulli.BLOCK + 17
    certain = (np.arange(n) * 7919) % 3 == 0  # p = 1 there, 0 elsewhere
    p = np.where(certain, 1.0, 0.0)
    out = _bernoulli.bernoulli(p, 0.25, lambda i: Fraction(int(certain[i])))
    np.testing.assert_array_equal(out, certain)


def test_bernoulli_exp_neg_matches_exp() -> None:
    n = 40_000
    for gamma in (Fraction(0), Fraction(1, 7), Fraction(1), Fraction(5, 2), Fraction(9)):
        out = _bernoulli.bernoulli_exp_neg(
            np.full(n, float(gamma)), np.zeros(n), lambda _, g=gamma: g
        )
        hits = int(out.sum())
        if gamma == 0:
            assert hits == n
        else:
            assert stats.binomtest(hits, n, math.exp(-float(gamma))).pvalue > ALPHA


@given(
    st.integers(min_value=0, max_value=2**20 - 1),
    st.fractions(min_value=0, max_value=1, max_denominator=10**6),
)
def test_exact_resolution_respects_the_revealed_prefix(prefix: int, p: Fraction) -> None:
    bits = 20
    result = _bernoulli.LazyUniform(prefix, bits).below(p)
    low, high = Fraction(prefix, 2**bits), Fraction(prefix + 1, 2**bits)
    if high <= p:
        assert result is True
    if low >= p:
        assert result is False


@given(
    st.integers(min_value=0, max_value=2**20 - 1),
    st.fractions(min_value=0, max_value=60, max_denominator=10**6),
)
def test_exact_exp_resolution_respects_the_revealed_prefix(prefix: int, gamma: Fraction) -> None:
    """The slow path decides V < exp(-gamma) on the side the revealed bits already show."""
    bits = 20
    result = _bernoulli.LazyUniform(prefix, bits).below(_bernoulli.ExpNeg(gamma))
    lo, hi = _exp.exp_neg_bounds(gamma, 40)
    if Fraction(prefix + 1, 2**bits) <= lo:
        assert result is True
    if Fraction(prefix, 2**bits) >= hi:
        assert result is False


@given(
    st.integers(min_value=0, max_value=7),
    st.fractions(min_value=0, max_value=5, max_denominator=1000),
    st.fractions(min_value=0, max_value=5, max_denominator=1000),
)
def test_one_lazy_uniform_answers_consistently(prefix: int, g1: Fraction, g2: Fraction) -> None:
    """Comparisons of one uniform with two thresholds agree with their order."""
    uniform = _bernoulli.LazyUniform(prefix, 3)
    small, large = sorted((g1, g2))  # exp(-large) <= exp(-small)
    below_low = uniform.below(_bernoulli.ExpNeg(large))
    below_high = uniform.below(_bernoulli.ExpNeg(small))
    assert below_high or not below_low
    assert uniform.below(Fraction(1)) is True
    assert uniform.below(Fraction(0)) is False


@given(st.floats(min_value=0.0, max_value=699.0))
def test_float_exp_is_within_its_proven_bound(g: float) -> None:
    value = float(_exp.exp_neg(np.array([g]))[0])
    lo, hi = _exp.exp_neg_bounds(Fraction(g), 40)
    slack = Fraction(_exp.EXP_REL_ERR) * hi + Fraction(_exp.EXP_ABS_ERR)
    assert lo - slack <= Fraction(value) <= hi + slack


def test_float_exp_underflows_to_the_absolute_floor() -> None:
    values = _exp.exp_neg(np.array([700.0, 1e4, 1e300]))
    assert np.all(values == 0.0)
    assert math.exp(-700) < _exp.EXP_ABS_ERR


@given(
    st.fractions(min_value=0, max_value=10**6, max_denominator=10**9),
    st.integers(min_value=12, max_value=80),
)
def test_decimal_exp_bounds_enclose_and_tighten(gamma: Fraction, digits: int) -> None:
    lo, hi = _exp.exp_neg_bounds(gamma, digits)
    lo2, hi2 = _exp.exp_neg_bounds(gamma, 2 * digits)
    assert 0 <= lo <= hi <= 1
    # Both enclose the same number, so they intersect; the finer one is narrower.
    assert lo2 <= hi
    assert lo <= hi2
    assert hi2 - lo2 <= hi - lo
    reference = Fraction(math.exp(-float(gamma)))
    if gamma < 700:
        assert lo * (1 - Fraction(1, 10**12)) <= reference <= hi * (1 + Fraction(1, 10**12))


@pytest.mark.parametrize("rate", [Fraction(1, 3), Fraction(5, 2), Fraction(1, 40), Fraction(7)])
def test_geometric_matches_exact_pmf(rate: Fraction) -> None:
    x = _geometric.geometric(rate).sample(N)
    q = math.exp(-float(rate))
    support = np.arange(0, int(40 / float(rate)) + 2)
    assert chi_square_pvalue(x, support, lambda k: (1 - q) * q**k) > ALPHA


def test_geometric_of_tiny_rate_splits_into_blocks() -> None:
    """Below 2**-20 the draw is block * A + B; its law is still geometric."""
    rate = Fraction(1, 2**23)
    x = _geometric.geometric(rate).sample(N)
    scale = float(1 / rate)
    # G / scale is exponential(1) to within 2**-23; test the continuous law and the
    # residues modulo the block, which must be spread evenly (no block artefacts).
    assert stats.kstest(x / scale, "expon").pvalue > ALPHA
    block = _geometric.geometric(rate).block
    residues = np.bincount(x % block * 8 // block, minlength=8)
    assert stats.chisquare(residues).pvalue > ALPHA


@pytest.mark.parametrize("bits", [1, 2, 5])
def test_geometric_slow_path_matches_exact_pmf(monkeypatch: pytest.MonkeyPatch, bits: int) -> None:
    """With few revealed bits nearly every draw takes the exact decimal path."""
    monkeypatch.setattr(_geometric, "GEOMETRIC_BITS", bits)
    rate = Fraction(2, 3)
    x = _geometric.geometric(rate).sample(8_000)
    q = math.exp(-float(rate))
    assert chi_square_pvalue(x, np.arange(0, 70), lambda k: (1 - q) * q**k) > ALPHA


@pytest.mark.parametrize("offset", [1, 3, 9])
def test_geometric_corrects_wrong_float_candidates(
    monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    """Candidates off by up to ``offset`` either way are corrected: the law is unchanged."""
    geo = _geometric.Geometric(Fraction(1, 2))
    honest = geo._candidates

    def skewed(v: np.ndarray) -> np.ndarray:
        shift = _rng.random_below(2 * offset + 1, v.size) - offset
        return np.maximum(honest(v) + shift, 0)

    monkeypatch.setattr(geo, "_candidates", skewed)
    x = geo.sample(N)
    q = math.exp(-0.5)
    assert chi_square_pvalue(x, np.arange(0, 90), lambda k: (1 - q) * q**k) > ALPHA


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (sample_discrete_gaussian, -1.0),
        (sample_discrete_gaussian, 0),
        (sample_discrete_gaussian, float("nan")),
        (sample_discrete_gaussian, float("inf")),
        (sample_discrete_gaussian, True),
        (sample_discrete_gaussian, "1"),
        (sample_discrete_gaussian, 2.0**50),
        (sample_discrete_laplace, -2),
        (sample_discrete_laplace, 2.0**-50),
        (sample_poisson, 0),
        (sample_poisson, 2.0**40),
        (sample_skellam, -1),
    ],
)
def test_bad_parameters_are_refused(call: object, arg: object) -> None:
    with pytest.raises(InvalidArgument):
        call(arg, 10)  # type: ignore[operator]


@pytest.mark.parametrize("size", [-1, 1.5, True])
def test_bad_sizes_are_refused(size: object) -> None:
    with pytest.raises(InvalidArgument):
        sample_discrete_gaussian(1.0, size)  # type: ignore[arg-type]


def test_zero_size_gives_empty_arrays() -> None:
    for call in (sample_discrete_gaussian, sample_discrete_laplace, sample_poisson, sample_skellam):
        assert call(1.0, 0).shape == (0,)


def test_random_below_is_uniform() -> None:
    from dp._rng import random_below

    x = random_below(7, 70_000)
    assert x.min() >= 0
    assert x.max() < 7
    assert stats.chisquare(np.bincount(x, minlength=7)).pvalue > ALPHA


def test_poisson_tail_tables_grow_without_changing_their_products() -> None:
    """The kept tail tables serve every pass: their first g factors never change."""
    plan = samplers._PoissonPlan(Fraction(1_000_003, 10))
    m, w = plan.mode, plan.width
    small = plan._tail_table("right", 5)
    assert plan._tail_table("right", 3) is small  # reused, not rebuilt
    large = plan._tail_table("right", 500)
    assert len(large.numer) >= 500
    for g in (0, 1, 5, 64, 500):
        expected = math.prod(Fraction(m + w + 1, m + w + 1 + i) for i in range(1, g + 1))
        assert large.exact(g) == expected
        if g < len(small.numer):
            assert small.exact(g) == expected
        approx, err = large.approx(np.array([g]))
        assert abs(float(approx[0]) - float(expected)) <= float(err[0])
    base = m - w
    left = plan._tail_table("left", base + 10)
    assert len(left.numer) == base  # the factors reach 0 at g = base
    assert left.exact(base) == 0
    assert left.exact(3) == math.prod(Fraction(base - i, base) for i in range(1, 4))


@pytest.mark.parametrize("mean", [Fraction(1), Fraction(29, 2), Fraction(100)])
def test_poisson_tails_follow_the_exact_conditional_law(mean: Fraction) -> None:
    """Within each tail the accepted draws have the Poisson law conditioned on that tail.

    The tails hold a few percent of the mass, too little for the whole-law chi-square
    tests to see an error there; this regression test caught an off-by-one in the right
    tail's acceptance products (P(G = 1) 0.110 against the exact 0.123 at mean 1).
    """
    plan = samplers._PoissonPlan(mean)
    m, w = plan.mode, plan.width
    tails = [("right", plan._right_tail, m + w + 1, 1)]
    if plan.geo_l is not None:
        tails.append(("left", plan._left_tail, m - w - 1, -1))
    for _, draw, start, direction in tails:
        values, keep = draw(200_000)
        g = (values[keep] - start) * direction
        assert g.min() >= 0
        support = np.arange(0, 40)
        log_pmf = poisson_pmf(float(mean))  # unnormalised within the tail is enough
        weights = log_pmf(start + direction * support)
        weights = weights / weights.sum()
        assert chi_square_pvalue(g, support, lambda k, p=weights: p[k]) > ALPHA
