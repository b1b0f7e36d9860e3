"""Branch-by-branch exactness audit of the integer noise samplers.

The whole-law tests of ``test_samplers.py`` barely see a branch that handles little mass.
Here every branch is isolated and held to the exact law it must produce, two ways:

* **Oracles** (deterministic): the uniforms are injected (their leading bits, and a constant
  64-bit word for every further bit the exact slow path reveals, so each uniform ``V`` is a
  known rational) and the sampler's output is compared with the answer computed
  independently from ``V`` in 60-digit decimal arithmetic or exact rationals.
* **Conditional laws** (chi-square, ~10**5 draws): draws from ONE branch, or uniforms
  restricted to one region, against the exact law conditioned on that branch or region.

Laws used (``q = exp(-rate)``): geometric ``P(G = g) = (1 - q) q^g``, i.e.
``G = max{g : V < q^g}``; discrete Laplace ``P(y) ∝ q^|y|``; discrete Gaussian tail
``P(|y| = g) ∝ exp(-g^2 / (2 sigma^2))`` (Canonne, Kamath and Steinke 2020, Algorithm 3:
``exp(-g/t) exp(-(g - sigma^2/t)^2 / (2 sigma^2)) ∝ exp(-g^2 / (2 sigma^2))``); Poisson
``P(k) = e^-mean mean^k / k!``; Skellam, the difference of two Poisson variables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from dp.mechanisms import _bernoulli, _compiled, _geometric, distributed, samplers
from dp.mechanisms.distributed import conditional_round
from tests.dp.test_samplers_helpers import ALPHA, chi_square_pvalue

N = 100_000
_TEST_RNG = np.random.default_rng()  # test data only (which uniforms to inject)
_C = 0x9E3779B97F4A7C15  # every further 64-bit word the slow path reveals, by default


def _law(probs: NDArray[np.float64]) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    """A pmf on ``0..len(probs) - 1`` given by its (unnormalised) table."""

    def pmf(k: NDArray[np.int64]) -> NDArray[np.float64]:
        return probs[k]

    return pmf


def _pvalue(samples: NDArray[np.int64], low: int, probs: NDArray[np.float64]) -> float:
    """Chi-square p-value of ``samples`` against ``probs`` on ``low .. low + len - 1``."""
    return chi_square_pvalue(samples - low, np.arange(probs.size), _law(probs))


def _constant_extra_bits(monkeypatch: pytest.MonkeyPatch, word: int = _C) -> None:
    """Every 64-bit word the exact slow path reveals is ``word``."""
    monkeypatch.setattr(_bernoulli, "randbits", lambda bits: word >> (64 - bits))


def _uniform(prefix: int, bits: int, word: int = _C) -> Fraction:
    """The exact uniform behind an injected prefix: ``prefix``, then ``word`` repeated."""
    return (prefix + Fraction(word, 2**64 - 1)) / (1 << bits)


def _dec(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _exact_geometric(v: Fraction, rate: Fraction) -> int:
    """``max{g : v < exp(-g rate)}``: the ``g`` with ``g < -ln(v) / rate <= g + 1``."""
    with localcontext() as ctx:
        ctx.prec = 60
        level = -_dec(v).ln() / _dec(rate)
        return math.ceil(level) - 1


def _exp_below(v: Fraction, gamma: Fraction) -> bool:
    """``v < exp(-gamma)``, in 60-digit decimals (ties are out of reach)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return bool(-_dec(v).ln() > _dec(gamma))


@contextmanager
def _path(compiled: bool) -> Iterator[None]:
    if compiled:
        if _compiled.kernels() is None:
            pytest.skip("numba is not installed")
        yield
    else:
        with _compiled.compiled_disabled():
            yield


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Tests patch module constants; cached tables built under a patch must not leak."""
    yield
    _geometric.geometric.cache_clear()
    samplers._gaussian_plan.cache_clear()
    samplers._poisson_plan.cache_clear()


# ----------------------------------------------------------------------------- geometric


#: Offsets from a probability ``p``, in units of ``2**-40 p`` (about the fast paths' error
#: bands): prefixes just inside and just outside the band, where a too-narrow bound or a
#: float that is off by more than its bound would decide wrongly.
_PROBES = (0.0, 0.5, -0.5, 1.5, -1.5, 3.0, -3.0, 8.0, -8.0, 64.0, -64.0)


def _probe_prefixes(p: float, bits: int) -> list[int]:
    """Prefixes whose interval holds ``p`` or lies a few error bands away from it."""
    out = []
    for j in _PROBES:
        k = math.floor(p * (1 + j * 2.0**-40) * 2**bits)
        out += [q for q in (k - 1, k, k + 1) if 0 < q < 2**bits]
    return out


def _threshold_prefixes(rate: Fraction, bits: int, gs: range) -> list[int]:
    """Prefixes at and around the thresholds ``exp(-g rate)`` (see :func:`_probe_prefixes`)."""
    return [k for g in gs for k in _probe_prefixes(math.exp(-g * float(rate)), bits)]


@pytest.mark.parametrize(
    ("rate", "bits"),
    [
        (Fraction(1, 3), 53),  # table mode
        (Fraction(7), 53),  # large rate: mostly g = 0
        (Fraction(1, 300), 53),  # g crosses the high-table index (g >> 10)
        (Fraction(1, 2**19), 53),  # direct mode
        (Fraction(2, 3), 6),  # few revealed bits: the exact walk decides most draws
    ],
)
def test_geometric_equals_the_exact_inversion_of_its_uniform(
    monkeypatch: pytest.MonkeyPatch, rate: Fraction, bits: int
) -> None:
    """Oracle: ``G = max{g : V < exp(-g rate)}`` for the injected uniform, every path."""
    geo = _geometric.Geometric(rate)
    assert geo.outer is None
    assert geo.direct == (rate == Fraction(1, 2**19))
    monkeypatch.setattr(_geometric, "GEOMETRIC_BITS", bits)
    _constant_extra_bits(monkeypatch)
    typical = 1.5 / float(rate)
    hard = _threshold_prefixes(rate, bits, range(0, min(int(4 * typical) + 2, 3000), 7))
    random = _TEST_RNG.integers(1, 2**bits, size=1500, dtype=np.uint64).tolist()
    prefixes = np.array(hard + random, dtype=np.uint64)
    monkeypatch.setattr(_geometric, "uniform_prefixes", lambda count, _bits: prefixes[:count])
    drawn = geo.sample(prefixes.size).tolist()
    expected = [_exact_geometric(_uniform(p, bits), rate) for p in prefixes.tolist()]
    assert drawn == expected


@pytest.mark.parametrize("rate", [Fraction(1, 256), Fraction(3, 1000)])
def test_geometric_table_digits_follow_their_exact_laws(rate: Fraction) -> None:
    """Table mode reads ``high[g >> 10] * low[g & 1023]``: test both digits' laws.

    ``G & 1023`` has ``P(r) ∝ q^r`` on ``[0, 1024)`` and ``G >> 10`` is geometric of ratio
    ``q^1024``, independent of it (memorylessness).
    """
    geo = _geometric.geometric(rate)
    assert geo.tabulated
    g = geo.sample(N)
    q = math.exp(-float(rate))
    low, high = g & 1023, g >> 10
    assert _pvalue(low, 0, q ** np.arange(1024.0)) > ALPHA
    big_q = q**1024
    assert _pvalue(high, 0, big_q ** np.arange(60.0)) > ALPHA
    table = np.array([[np.sum((high == h) & (low // 256 == b)) for b in range(4)] for h in (0, 1)])
    assert stats.chi2_contingency(table).pvalue > ALPHA


def test_geometric_direct_mode_matches_the_exact_cdf() -> None:
    """Direct mode (``high_count > _MAX_HIGH``): bins of equal exact mass ``q^a - q^b``."""
    rate = Fraction(1, 2**19)
    geo = _geometric.geometric(rate)
    assert geo.direct
    assert not geo.tabulated
    g = geo.sample(N)
    r = float(rate)
    edges = np.unique(np.floor(-np.log1p(-np.linspace(0, 1, 101)[:-1]) / r).astype(np.int64))
    bins = np.searchsorted(edges, g, side="right") - 1
    upper = np.append(np.exp(-edges[1:] * r), 0.0)
    mass = np.exp(-edges * r) - upper
    observed = np.bincount(bins, minlength=edges.size)
    assert stats.chisquare(observed, mass * N).pvalue > ALPHA


@pytest.mark.parametrize(("rate", "min_rate"), [(Fraction(1, 5), 1), (Fraction(2, 7), 1)])
def test_geometric_block_decomposition_is_geometric(
    monkeypatch: pytest.MonkeyPatch, rate: Fraction, min_rate: int
) -> None:
    """``G = block A + B`` (used below ``rate = 2**-20``), made testable with a raised switch.

    ``B`` alone: ``P(B = b) ∝ exp(-b rate)`` on ``[0, block)``; ``G``: geometric of ``rate``.
    """
    monkeypatch.setattr(_geometric, "_MIN_RATE", Fraction(min_rate))
    geo = _geometric.Geometric(rate)
    assert geo.outer is not None
    block = geo.block
    assert block == math.ceil(min_rate / rate)
    q = math.exp(-float(rate))
    remainder = geo._remainder(N)
    assert _pvalue(remainder, 0, q ** np.arange(float(block))) > ALPHA
    g = geo.sample(N)
    assert _pvalue(g, 0, q ** np.arange(200.0)) > ALPHA


@pytest.mark.parametrize("prefix", [0, 1])
def test_geometric_walk_given_its_first_bit(monkeypatch: pytest.MonkeyPatch, prefix: int) -> None:
    """One revealed bit: the walk's further bits give the law of ``G`` given ``V``'s half.

    ``P(G = g | V in I) = |[q^(g+1), q^g) ∩ I| / |I|`` with ``I = [prefix / 2, (prefix + 1) / 2)``.
    """
    rate = Fraction(1, 3)
    monkeypatch.setattr(_geometric, "GEOMETRIC_BITS", 1)
    fixed = np.full(8_000, prefix, dtype=np.uint32)
    monkeypatch.setattr(_geometric, "uniform_prefixes", lambda count, _bits: fixed[:count])
    g = _geometric.Geometric(rate).sample(fixed.size)
    q = math.exp(-1 / 3)
    top = q ** np.arange(80.0)
    lo, hi = prefix / 2, (prefix + 1) / 2
    probs = np.clip(np.minimum(top[:-1], hi) - np.maximum(top[1:], lo), 0, None)
    assert g.min() >= (0 if prefix else 2)
    assert g.max() <= (2 if prefix else 79)
    assert _pvalue(g, 0, probs) > ALPHA


@pytest.mark.parametrize("candidate", ["zero", "far_above"])
def test_geometric_recovers_from_far_off_candidates(
    monkeypatch: pytest.MonkeyPatch, candidate: str
) -> None:
    """Candidates 0 or 14 (true mean 1.5): beyond ``ATTEMPTS`` the exact walk finishes."""
    geo = _geometric.Geometric(Fraction(1, 2))

    def skewed(v: NDArray[np.float64]) -> NDArray[np.int64]:
        return np.full(v.size, 0 if candidate == "zero" else 14, dtype=np.int64)

    monkeypatch.setattr(geo, "_candidates", skewed)
    g = geo.sample(4_000)
    assert _pvalue(g, 0, math.exp(-0.5) ** np.arange(60.0)) > ALPHA


# ------------------------------------------------------------------------ discrete Laplace


@pytest.mark.parametrize("scale", [Fraction(1, 2), Fraction(5, 2)])
def test_laplace_minus_zero_rejection_magnitude_and_sign(scale: Fraction) -> None:
    """A slot survives with ``(1 + q) / 2`` (only "minus zero" is dropped); ``|y|`` has
    ``P(0) ∝ 1``, ``P(k) ∝ 2 q^k``; the sign is fair and independent of ``|y|``."""
    rate = 1 / scale
    y = samplers._laplace(rate, N)
    q = math.exp(-float(rate))
    assert stats.binomtest(y.size, N, (1 + q) / 2).pvalue > ALPHA
    probs = 2 * q ** np.arange(80.0)
    probs[0] = 1
    assert _pvalue(np.abs(y), 0, probs) > ALPHA
    nonzero = y[y != 0]
    assert stats.binomtest(int((nonzero > 0).sum()), nonzero.size).pvalue > ALPHA
    small = np.minimum(np.abs(nonzero), 3)
    table = np.array([[np.sum((small == k) & (nonzero > 0)) for k in (1, 2, 3)], [0, 0, 0]])
    table[1] = [np.sum((small == k) & (nonzero < 0)) for k in (1, 2, 3)]
    assert stats.chi2_contingency(table).pvalue > ALPHA


# ---------------------------------------------------------------------- discrete Gaussian


def _inject_gaussian_pass(
    monkeypatch: pytest.MonkeyPatch,
    geo: NDArray[np.uint64],
    bern: NDArray[np.integer[Any]],
    signs: NDArray[np.bool_],
) -> None:
    """Feed one Gaussian pass these uniforms, on the numpy and on the compiled path.

    ``geo``: 53-bit prefixes of the geometric uniforms; ``bern``: ``PREFIX_BITS``-bit
    prefixes of the acceptance uniforms (``uint32`` up to 32 bits, else ``uint64``);
    ``signs``: True for negative.
    """
    assert _geometric.GEOMETRIC_BITS == 53
    bits = _bernoulli.PREFIX_BITS
    assert bern.dtype == (np.uint32 if bits <= 32 else np.uint64)
    words = bern << bern.dtype.type(8 * bern.itemsize - bits)  # prefix = leading bits
    raw = np.concatenate(
        [(geo << np.uint64(11)).view(np.uint8), words.view(np.uint8), np.packbits(signs)]
    )

    def random_bytes(count: int) -> NDArray[np.uint8]:
        assert count == raw.size
        return raw.copy()

    monkeypatch.setattr(_geometric, "uniform_prefixes", lambda count, _bits: geo[:count])
    monkeypatch.setattr(samplers, "uniform_prefixes", lambda count, _bits: bern[:count])
    monkeypatch.setattr(samplers, "random_bits", lambda count: signs[:count])
    monkeypatch.setattr(samplers, "random_bytes", random_bytes)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("table_max", [1 << 18, 40], ids=["table", "past_table"])
@pytest.mark.parametrize("bits", [32, 53])
def test_gaussian_pass_equals_algorithm_3_on_its_uniforms(
    monkeypatch: pytest.MonkeyPatch, compiled: bool, table_max: int, bits: int
) -> None:
    """Oracle for one pass: slot ``i`` yields ``y = ±G(V_i)`` kept iff not "minus zero" and
    ``W_i < exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))``, for its injected uniforms ``V_i, W_i``.

    Half the acceptance uniforms sit at or a few error bands from the acceptance
    probability (with 53 revealed bits the bands are wider than a prefix's interval, so both
    the fast decisions just outside them and the exact ones inside are probed); the
    geometric uniforms likewise around its thresholds. ``past_table`` shrinks the table so
    magnitudes from 40 up take the direct computation.
    """
    monkeypatch.setattr(samplers, "_TABLE_MAX", table_max)
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", bits)
    sigma_sq = Fraction(300)
    plan = samplers._GaussianPlan(sigma_sq)
    t, center = plan.t, plan.center
    assert _geometric.geometric(plan.rate).tabulated
    _constant_extra_bits(monkeypatch)
    count = 3_000
    geo = _TEST_RNG.integers(1, 2**53, size=count, dtype=np.uint64)
    hard = _threshold_prefixes(Fraction(1, t), 53, range(0, 250, 15))
    geo[: len(hard)] = hard
    signs = _TEST_RNG.integers(0, 2, size=count).astype(np.bool_)
    magnitudes = [_exact_geometric(_uniform(int(p), 53), Fraction(1, t)) for p in geo.tolist()]
    gammas = [(m - center) ** 2 / (2 * sigma_sq) for m in magnitudes]
    dtype = np.uint32 if bits <= 32 else np.uint64
    bern = _TEST_RNG.integers(0, 2**bits, size=count, dtype=dtype)
    for i in range(1, count, 2):
        probes = _probe_prefixes(math.exp(-float(gammas[i])), bits)
        if probes:
            bern[i] = probes[(i // 2) % len(probes)]
    _inject_gaussian_pass(monkeypatch, geo, bern, signs)
    expected = []
    for i, (m, gamma) in enumerate(zip(magnitudes, gammas, strict=True)):
        if signs[i] and m == 0:
            continue
        if _exp_below(_uniform(int(bern[i]), bits), gamma):
            expected.append(-m if signs[i] else m)
    with _path(compiled):
        drawn = plan.candidates(count)
    assert drawn.tolist() == expected
    assert max(magnitudes) > 40  # past_table did reach the direct computation


def _region_uniforms(
    rate: float, low: int, high: int, count: int
) -> tuple[NDArray[np.uint64], NDArray[np.bool_]]:
    """Geometric prefixes whose ``G`` lies in ``[low, high]`` with the truncated geometric
    law (uniform ``V`` on a dyadic interval inside ``[q^(high+1), q^low)``; the two edge
    cells lose at most ``3 * 2**-53``), and fair signs."""
    k0 = math.ceil(math.exp(-(high + 1) * rate) * 2**53) + 2
    k1 = math.floor(math.exp(-low * rate) * 2**53) - 2
    geo = _TEST_RNG.integers(k0, k1, size=count, dtype=np.uint64)
    return geo, _TEST_RNG.integers(0, 2, size=count).astype(np.bool_)


@pytest.mark.parametrize(
    ("sigma_sq", "compiled"),
    [(Fraction(1000), True), (Fraction(1000), False), (Fraction(4 * 10**10 + 1), False)],
    ids=["compiled", "numpy", "direct_geometric"],
)
@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_gaussian_tail_shape_between_k_and_k_plus_1_sigma(
    monkeypatch: pytest.MonkeyPatch, sigma_sq: Fraction, compiled: bool, k: int
) -> None:
    """Accepted ``|y|`` in ``[k sigma, (k+1) sigma]`` follows ``exp(-g^2 / (2 sigma^2))``.

    The geometric uniforms are restricted to that region and the acceptance uniforms to
    ``[0, 2**-j)`` with ``2**-j`` above every acceptance probability there, so a pass keeps
    each candidate with probability ``2**j exp(-gamma)``: the region's conditional law with
    ~10**4 draws even at ``5 sigma``, where Algorithm 3 accepts one candidate in 3,000.
    ``sigma = 200,000`` runs the geometric in direct mode and every acceptance past the
    table (the numpy path: the kernel needs the tables).
    """
    plan = samplers._gaussian_plan(sigma_sq)
    assert _geometric.geometric(plan.rate).tabulated == (sigma_sq == 1000)
    two_var = 2 * float(sigma_sq)
    sigma = math.sqrt(float(sigma_sq))
    low, high = math.ceil(k * sigma), math.floor((k + 1) * sigma)
    top = math.exp(-((low - float(plan.center)) ** 2) / two_var)
    j = math.floor(-math.log2(top))
    count = 60_000
    geo, signs = _region_uniforms(1 / plan.t, low, high, count)
    bern = _TEST_RNG.integers(0, 2 ** (32 - j), size=count, dtype=np.uint32)
    _inject_gaussian_pass(monkeypatch, geo, bern, signs)
    with _path(compiled):
        y = plan.candidates(count)
    magnitude = np.abs(y)
    assert magnitude.min() >= low
    assert magnitude.max() <= high
    assert y.size > 5_000
    shape = np.exp(-(np.arange(low, high + 1.0) ** 2) / two_var)
    assert _pvalue(magnitude, low, shape) > ALPHA
    assert stats.binomtest(int((y > 0).sum()), y.size).pvalue > ALPHA


@pytest.mark.parametrize("band", [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 8.0)])
def test_gaussian_with_block_geometric_follows_the_normal_law(band: tuple[float, float]) -> None:
    """``sigma = 3 * 10**6``: proposal ``t > 2**20``, so the geometric is ``block A + B``.

    Conditional law of ``|y| / sigma`` within ``[a, b)`` in 20 bins, against the normal
    law (the discrete and continuous laws differ by ``O(sigma**-2)`` per bin at this scale).
    """
    sigma = 3 * 10**6
    plan = samplers._gaussian_plan(Fraction(sigma**2))
    assert _geometric.geometric(plan.rate).outer is not None
    z = np.abs(samplers.sample_discrete_gaussian(sigma, N)) / sigma
    a, b = band
    inside = z[(z >= a) & (z < b)]
    edges = np.linspace(a, b, 21)
    mass = np.diff(stats.norm.cdf(edges))
    expected = mass / mass.sum() * inside.size
    keep = expected > 5
    observed = np.histogram(inside, edges)[0]
    tail = observed[~keep].sum(), expected[~keep].sum()
    if tail[1] > 0:
        observed = np.append(observed[keep], tail[0])
        expected = np.append(expected[keep], tail[1])
    assert stats.chisquare(observed, expected).pvalue > ALPHA


@pytest.mark.parametrize(
    "sigma_sq",
    [
        Fraction(1, 2**80),
        Fraction(9, 10**10),
        Fraction(1, 7),
        Fraction(22, 7),
        Fraction(10**6 + 1, 3),
        Fraction(4096**2),
    ],
)
def test_gaussian_acceptance_floats_enclose_the_exact_values(sigma_sq: Fraction) -> None:
    """Table entries and the direct computation beyond it: ``|p - exp(-gamma)| <= err``."""
    plan = samplers._GaussianPlan(sigma_sq)
    size = plan.p.size
    inside = np.unique(np.linspace(0, size - 1, 60).astype(np.int64))
    beyond = np.array([size, size + 1, 2 * size, 10 * size], dtype=np.int64)
    for magnitudes, (p, err) in (
        (inside, (plan.p[inside], plan.err[inside])),
        (beyond, plan._acceptance(beyond.astype(np.float64))),
    ):
        for m, approx, bound in zip(magnitudes.tolist(), p.tolist(), err.tolist(), strict=True):
            gamma = (m - plan.center) ** 2 / (2 * sigma_sq)
            lo, hi = _bernoulli.ExpNeg(gamma).bounds(3)
            assert lo - Fraction(bound) <= Fraction(approx) <= hi + Fraction(bound)


@pytest.mark.parametrize("sigma", [Fraction(1, 10**4), Fraction(3, 10**5), Fraction(1, 2**40)])
def test_gaussian_of_tiny_sigma_is_zero_and_returns(sigma: Fraction) -> None:
    """Regression: candidates ``±1, ±2, ...`` have ``gamma`` of 10**8 and more; the exact
    path computed decimal bounds of ``exp(-gamma)`` with 1.44 gamma bits (minutes per
    candidate) or, past ``gamma = 2.3e9``, an upper bound of 0. Now enclosed by
    ``[0, 2**-64]`` first, so the draws end; ``P(x != 0) < exp(-5 * 10**7)``."""
    x = samplers.sample_discrete_gaussian(sigma, 5_000)
    assert not x.any()


@pytest.mark.parametrize("gamma", [Fraction(10**8), Fraction(3 * 10**9), Fraction(2**79)])
def test_exp_neg_bounds_of_huge_gamma_stay_small_and_enclose(gamma: Fraction) -> None:
    """The slow path's first enclosures of ``exp(-gamma)`` for huge ``gamma`` are tiny
    rationals, contain the value and shrink; an interval above them answers "no"."""
    expneg = _bernoulli.ExpNeg(gamma)
    previous = Fraction(1)
    for level in range(4):
        lo, hi = expneg.bounds(level)
        assert lo == 0 < hi < previous
        assert hi.denominator.bit_length() <= 64 * 2**level + 1
        previous = hi
    assert _bernoulli.LazyUniform(1, 32).below(expneg) is False


# -------------------------------------------------------------------------------- Poisson

_MEANS = [
    Fraction(1, 20),  # mean < 1
    Fraction(1, 2),
    Fraction(1),
    Fraction(6),  # m == w: no left tail, window reaches 0
    Fraction(8),  # m == w + 1: left tail of one value, 0
    Fraction(29, 2),
    Fraction(1001, 4),
    Fraction(10**6),
]


def _pmf_ratio(mean: Fraction, mode: int, k: int) -> Fraction:
    """``P(k) / P(mode)`` of the Poisson law, exactly."""
    p, q = mean.numerator, mean.denominator
    if k >= mode:
        d = k - mode
        return Fraction(p**d, q**d * math.prod(range(mode + 1, k + 1)))
    d = mode - k
    return Fraction(q**d * math.prod(range(k + 1, mode + 1)), p**d)


def _slot_probability(plan: samplers._PoissonPlan, k: int) -> Fraction:
    """Probability that one slot of ``candidates`` emits ``k``, from the plan's exact parts."""
    m, w, left = plan.mode, plan.width, plan.left
    p_window, p_right = plan.p_window[2](0), plan.p_right[2](0)
    d = k - m
    if -left <= d <= w:
        accept = plan.right.exact(d) if d >= 0 else plan.left_table.exact(-d)
        return p_window * Fraction(1, w + left + 1) * accept
    if d > w:
        g, rho, side, region = d - w - 1, plan.geo_r.rho, "right", p_right
    else:
        assert plan.geo_l is not None
        g, rho, side, region = -d - w - 1, plan.geo_l.rho, "left", 1 - p_right
    accept = plan._tail_table(side, g).exact(g)
    return (1 - p_window) * region * (1 - rho) * rho**g * accept


@pytest.mark.parametrize("mean", _MEANS, ids=str)
def test_poisson_slot_law_is_exactly_poisson(mean: Fraction) -> None:
    """Deterministic: window, right-tail and left-tail outputs of a slot are ∝ ``P(k)``.

    Region weights (``p_window``, ``p_right``), proposals (uniform, geometric ``rho^g``)
    and acceptance products compose, in exact rationals, to one constant times the Poisson
    mass (computed here from ``mean^k / k!``); an off-by-one anywhere breaks it.
    """
    plan = samplers._PoissonPlan(mean)
    m, w, left = plan.mode, plan.width, plan.left
    ks = {m - left, m - left + 1, m, m + 1, m + w // 2, m + w - 1, m + w}
    ks |= {m + w + 1 + g for g in (0, 1, 2, 3, 7, 30)}
    if plan.geo_l is not None:
        base = m - w
        deep = (base - 2, base - 1) if base < 10_000 else ()  # P(0) costs mean! beyond
        ks |= {m - w - 1 - g for g in (0, 1, 2, 5, *deep) if 0 <= g < base}
    else:
        assert m - left == 0
    ratios = {_slot_probability(plan, k) / _pmf_ratio(mean, m, k) for k in sorted(ks)}
    assert len(ratios) == 1


@pytest.mark.parametrize("mean", _MEANS, ids=str)
def test_poisson_region_weights_are_the_pmf_masses(mean: Fraction) -> None:
    """Accepted mass of window, right and left tail (slot law summed) equals the Poisson
    mass of those ranges, and the float weights are within their bounds of the exact ones."""
    plan = samplers._PoissonPlan(mean)
    m, w, left = plan.mode, plan.width, plan.left
    for approx, err, exact in (plan.p_window, plan.p_right):
        assert abs(Fraction(approx) - exact(0)) <= Fraction(approx) * Fraction(err)
    if mean > 1000:
        return  # the sums below take too long; the slot-law test covers these means
    accepted = {"window": Fraction(0), "right": Fraction(0), "left": Fraction(0)}
    for k in range(m + w + 200):
        region = "window" if m - left <= k <= m + w else ("right" if k > m + w else "left")
        accepted[region] += _slot_probability(plan, k)
    total = sum(accepted.values())
    fm = float(mean)
    masses = {
        "window": stats.poisson.cdf(m + w, fm) - stats.poisson.cdf(m - left - 1, fm),
        "right": stats.poisson.sf(m + w, fm),
        "left": stats.poisson.cdf(m - left - 1, fm),
    }
    for region, mass in masses.items():
        assert float(accepted[region] / total) == pytest.approx(mass, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("mean", _MEANS, ids=str)
def test_poisson_window_branch_follows_the_pmf_on_the_window(mean: Fraction) -> None:
    """``_window`` alone: accepted values have the Poisson law restricted to the window."""
    plan = samplers._PoissonPlan(mean)
    low, high = plan.mode - plan.left, plan.mode + plan.width
    values, keep = plan._window(N)
    kept = values[keep]
    assert kept.min() >= low
    assert kept.max() <= high
    probs = stats.poisson.pmf(np.arange(low, high + 1), float(mean))
    assert _pvalue(kept, low, probs) > ALPHA


@pytest.mark.parametrize("mean", [*_MEANS, Fraction(2**34)], ids=str)
def test_poisson_tails_at_the_switch_points(mean: Fraction) -> None:
    """Each tail branch alone, conditioned on its range, against the exact Poisson law.

    (The largest mean, 2**34, is left out of the exact tests: its exact region weights
    take minutes to compute, see the audit report.)"""
    plan = samplers._PoissonPlan(mean)
    m, w = plan.mode, plan.width
    draws: list[tuple[Callable[[int], tuple[NDArray[np.int64], NDArray[np.bool_]]], int, int]]
    draws = [(plan._right_tail, m + w + 1, 1)]
    if plan.geo_l is not None:
        draws.append((plan._left_tail, m - w - 1, -1))
    for draw, start, direction in draws:
        values, keep = draw(N)
        g = (values[keep] - start) * direction
        assert g.min() >= 0
        spread = 20 if mean < 10**8 else 8  # standard deviations of support to test
        span = int(spread * math.sqrt(float(mean))) + 40
        if direction < 0:
            span = min(span, start + 1)
            assert values[keep].min() >= 0
            if span == 1:  # a left tail of the single value 0
                assert not g.any()
                continue
        probs = stats.poisson.pmf(start + direction * np.arange(span), float(mean))
        assert _pvalue(g, 0, probs) > ALPHA


def test_poisson_switch_points_are_where_the_tests_say() -> None:
    assert samplers._PoissonPlan(Fraction(6)).mode == samplers._PoissonPlan(Fraction(6)).width
    plan = samplers._PoissonPlan(Fraction(8))
    assert plan.mode == plan.width + 1
    assert plan.geo_l is not None
    assert samplers._PoissonPlan(Fraction(1, 20)).mode == 0


@pytest.mark.parametrize(
    "rho", [Fraction(1, 3), Fraction(7, 9), Fraction(9, 10), Fraction(999, 1000)], ids=str
)
def test_poisson_tail_geometric_is_exact(rho: Fraction) -> None:
    """``_Geometric``: ``G = L V + R`` is geometric of ratio ``rho``; ``R = G mod L`` alone
    has ``P(r) ∝ rho^r`` on ``[0, L)`` and ``V = G // L`` is geometric of ratio ``rho^L``."""
    geo = samplers._Geometric(rho)
    block = geo.block
    assert block == max(1, rho.denominator // (rho.denominator - rho.numerator))
    g = geo.sample(N)
    r = float(rho)
    if block > 1:
        assert _pvalue(g % block, 0, r ** np.arange(float(block))) > ALPHA
    assert _pvalue(g // block, 0, (r**block) ** np.arange(200.0)) > ALPHA
    if block < 50:
        assert _pvalue(g, 0, r ** np.arange(600.0)) > ALPHA


@pytest.mark.parametrize("mean", [Fraction(1, 20), Fraction(8), Fraction(1001, 4), 2**34])
def test_poisson_sampler_region_frequencies(mean: Fraction | int) -> None:
    """The whole sampler: how often it lands left of, in and right of the window."""
    plan = samplers._poisson_plan(Fraction(mean))
    m, w, left = plan.mode, plan.width, plan.left
    x = samplers.sample_poisson(mean, N)
    region = np.where(x < m - left, 0, np.where(x > m + w, 2, 1))
    fm = float(mean)
    masses = np.array(
        [
            stats.poisson.cdf(m - left - 1, fm),
            stats.poisson.cdf(m + w, fm) - stats.poisson.cdf(m - left - 1, fm),
            stats.poisson.sf(m + w, fm),
        ]
    )
    observed = np.bincount(region, minlength=3)
    present = masses > 0
    assert observed[~present].sum() == 0
    # Exact binomial tests per region: a chi-square is invalid for expected counts far
    # below 1 (mean 1/20 has a right-tail mass of 2.5e-7, 0.025 draws expected: one draw
    # there, which happens 2.5% of the time, gave a chi-square p-value of 7e-10).
    for count, mass in zip(observed[present].tolist(), masses[present].tolist(), strict=True):
        assert stats.binomtest(count, N, mass).pvalue > ALPHA


@pytest.mark.parametrize("mu", [Fraction(8), Fraction(50)])
def test_skellam_tails_are_the_difference_of_poissons(mu: Fraction) -> None:
    """Conditional law of ``|X|`` beyond 2.5 standard deviations (about 1.2% of the mass)."""
    x = samplers.sample_skellam(mu, 4 * N)
    start = math.ceil(2.5 * math.sqrt(2 * float(mu)))
    tail = np.abs(x[np.abs(x) >= start])
    assert tail.size > 1_000
    probs = stats.skellam.pmf(np.arange(start, start + 100), float(mu), float(mu))
    assert _pvalue(tail, start, probs) > ALPHA
    assert stats.binomtest(int((x >= start).sum()), tail.size).pvalue > ALPHA


# ------------------------------------------------------------------ conditional rounding


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize(("bits", "word"), [(32, _C), (32, 2**64 - 2), (3, _C), (3, 1)])
def test_rounding_goes_up_exactly_when_the_uniform_is_below_the_fraction(
    monkeypatch: pytest.MonkeyPatch, compiled: bool, bits: int, word: int
) -> None:
    """Oracle: ``round(y) = floor(y) + [V < y - floor(y)]`` with the exact fraction, for
    injected uniforms, including ``-1/2 < y < 0`` whose float fraction ``1 + y`` is rounded
    and uniforms placed at the float fraction (decided by the exact path). With the extra
    words all ones but the last bit, ``V`` is within ``2**-95`` of its interval's top: a
    decision taken on the float fraction ``1.0`` of ``y = -2**-60`` would go up wrongly."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", bits)
    _constant_extra_bits(monkeypatch, word)
    values = np.concatenate(
        [
            -(2.0 ** -np.arange(54, 70)),  # 1 + y is 1.0 in floats
            -0.5 + 2.0 ** -np.arange(54, 60),
            _TEST_RNG.uniform(-0.5, 0.0, 300),
            _TEST_RNG.uniform(-50, 50, 300),
            np.arange(-3.0, 4.0),  # fraction 0: never up
        ]
    )
    exact = [Fraction(v) - math.floor(v) for v in values.tolist()]
    count = values.size
    prefixes = _TEST_RNG.integers(0, 2**bits, size=count, dtype=np.uint64)
    for i in range(0, count, 2):  # at the fraction: the float band cannot decide
        prefixes[i] = min(math.floor(exact[i] * 2**bits), 2**bits - 1)
    words = prefixes.astype(np.uint32)
    monkeypatch.setattr(distributed, "uniform_prefixes", lambda n, _bits: words[:n])
    monkeypatch.setattr(_bernoulli, "uniform_prefixes", lambda n, _bits: words[:n])
    with _path(compiled):
        rounded = conditional_round(values, bound=1e9)
    expected = [
        math.floor(v) + int(_uniform(int(p), bits, word) < f)
        for v, p, f in zip(values.tolist(), prefixes.tolist(), exact, strict=True)
    ]
    assert rounded.tolist() == expected


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("bits", [32, 2])
def test_rounding_up_probability_is_the_exact_fraction(
    monkeypatch: pytest.MonkeyPatch, compiled: bool, bits: int
) -> None:
    """``P(up) = y - floor(y)`` (binomial), on the fast path and with 2 bits on the slow one."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", bits)
    count = 40_000 if bits == 32 else 15_000
    for value in (-0.3, 0.7 + 2**-30, 12.125, -7.9):
        y = np.full(count, value)
        with _path(compiled):
            ups = int((conditional_round(y, bound=1e12) - math.floor(value)).sum())
        fraction = float(Fraction(value) - math.floor(value))
        assert stats.binomtest(ups, count, fraction).pvalue > ALPHA
