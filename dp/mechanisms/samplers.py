"""Exact integer noise samplers: discrete Gaussian, discrete Laplace, Poisson and Skellam.

Every sampler returns ``int64`` numpy arrays drawn *exactly* from the named distribution:
all randomness comes from the kernel CSPRNG (:mod:`dp._rng`) and every random decision is
an exact comparison of a uniform with a probability known exactly, a rational or
``exp(-gamma)`` for a rational ``gamma`` (see :mod:`dp.mechanisms._bernoulli` for why the
vectorised fast path is exact). Floats only propose candidates and bound errors; they never
decide an outcome, so the samplers are immune to the attack of Mironov (2012) on
floating-point noise.

* Discrete Laplace: Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
  Privacy", NeurIPS 2020, Algorithm 2, with the geometric magnitude drawn by inverting one
  uniform with exact comparisons (:mod:`dp.mechanisms._geometric`).
* Discrete Gaussian: their Algorithm 3, a discrete Laplace proposal of scale
  ``floor(sigma) + 1`` accepted with probability ``exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))``,
  decided by one exact comparison.
* Poisson: rejection sampling from a uniform window around the mode with geometric tails,
  where every acceptance probability is a ratio of Poisson masses, hence a rational
  number for a rational mean (Devroye, "Non-Uniform Random Variate Generation", 1986,
  chapter II.3 on rejection and chapter X.3 on the Poisson distribution); geometric tails
  are drawn as ``L * V + R`` as in Canonne et al. Algorithm 2.
* Skellam: the difference of two independent Poisson variables of equal mean (Skellam
  1946; Agarwal, Kairouz and Liu, "The Skellam Mechanism for Differentially Private
  Federated Learning", NeurIPS 2021).

Parameters are rationals: ``int``, :class:`fractions.Fraction`, or ``float`` (a float is
read exactly as the dyadic rational it stores).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from fractions import Fraction
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

from dp._rng import random_below, random_bits, random_bytes
from dp.errors import InvalidArgument
from dp.mechanisms import _bernoulli, _geometric
from dp.mechanisms._bernoulli import (
    BLOCK,
    SLACK,
    ExpNegOf,
    LazyUniform,
    bernoulli,
    decide,
    exp_neg_with_error,
    prefix_word_bytes,
    uniform_prefixes,
)
from dp.mechanisms._compiled import kernels
from dp.mechanisms._exp import EXP_ABS_ERR
from dp.mechanisms._geometric import Geometric, geometric

__all__ = [
    "RationalLike",
    "as_fraction",
    "sample_discrete_gaussian",
    "sample_discrete_gaussian_sq",
    "sample_discrete_laplace",
    "sample_poisson",
    "sample_skellam",
]

RationalLike = int | float | Fraction
"""A rational parameter; floats are taken exactly as the binary fraction they store."""

_U = 2.0**-53  # unit roundoff of float64
_MAX_SCALE = Fraction(2**40)
_MIN_SCALE = Fraction(1, 2**40)


def as_fraction(value: RationalLike, name: str) -> Fraction:
    """Convert a finite positive rational parameter to a :class:`Fraction`.

    Raises:
        InvalidArgument: if the value is not a finite number > 0.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise InvalidArgument(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"{name} must be finite, got {value}")
    frac = Fraction(value)
    if frac <= 0:
        raise InvalidArgument(f"{name} must be > 0, got {value}")
    return frac


def _check_range(value: Fraction, name: str, low: Fraction, high: Fraction) -> None:
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be in [{float(low):g}, {float(high):g}]")


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise InvalidArgument(f"size must be a non-negative integer, got {size!r}")
    return int(size)


# Candidates per vectorised pass (see _bernoulli.BLOCK: at 65,536 a request for 131k draws
# ran 2x slower, its temporaries being mapped, faulted in and unmapped again each time).
_BLOCK = BLOCK


def _fill(count: int, draw_batch: Callable[[int], NDArray[np.int64]]) -> NDArray[np.int64]:
    """Concatenate accepted draws, in blocks that stay in the CPU cache."""
    out = np.empty(count, dtype=np.int64)
    filled = 0
    while filled < count:
        need = count - filled
        batch = draw_batch(min(need + need // 4 + 16, _BLOCK))
        take = min(need, batch.size)
        out[filled : filled + take] = batch[:take]
        filled += take
    return out


def _laplace(rate: Fraction, count: int) -> NDArray[np.int64]:
    """Up to ``count`` discrete Laplace draws, ``P(y) ∝ exp(-|y| rate)`` (fewer returned).

    A geometric magnitude and a fair sign, rejecting "minus zero" so that zero is not
    counted twice: Canonne, Kamath and Steinke (2020), the last steps of Algorithm 2.
    """
    magnitude = geometric(rate).sample(count)
    negative = random_bits(count)
    keep = ~(negative & (magnitude == 0))
    signed: NDArray[np.int64] = np.where(negative, -magnitude, magnitude)[keep]
    return signed


def sample_discrete_laplace(scale: RationalLike, size: int) -> NDArray[np.int64]:
    """Draw from the discrete Laplace distribution, ``P(x) ∝ exp(-|x| / scale)`` on Z.

    Canonne, Kamath and Steinke (2020), Algorithm 2: a geometric magnitude of ratio
    ``exp(-1 / scale)``, drawn by inverting one uniform with exact comparisons
    (:mod:`dp.mechanisms._geometric`), and a fair sign, rejecting "minus zero".

    Args:
        scale: the rational scale, in ``[2**-40, 2**40]``.
        size: number of independent draws.

    Returns:
        An ``int64`` array of shape ``(size,)``.

    Raises:
        InvalidArgument: for a scale outside the supported range or a bad size.
    """
    frac = as_fraction(scale, "scale")
    _check_range(frac, "scale", _MIN_SCALE, _MAX_SCALE)
    count = _check_size(size)
    if frac.numerator > 2**56 or frac.denominator > 2**62:
        raise InvalidArgument("scale has too large a numerator or denominator")
    rate = 1 / frac
    return _fill(count, lambda n: _laplace(rate, n))


class _GaussianGamma:
    """Exact ``(|y| - sigma^2/t)^2 / (2 sigma^2)`` for candidate ``y``."""

    __slots__ = ("center", "sigma_sq", "y")

    def __init__(self, y: NDArray[np.int64], center: Fraction, sigma_sq: Fraction) -> None:
        self.y = y
        self.center = center
        self.sigma_sq = sigma_sq

    def __call__(self, i: int) -> Fraction:
        return (abs(int(self.y[i])) - self.center) ** 2 / (2 * self.sigma_sq)


_TABLE_MAX = 1 << 18


class _GaussianPlan:
    """Proposal scale and a table of acceptance probabilities for one ``sigma^2``.

    The acceptance probability of Algorithm 3 depends on the candidate only through
    ``|y|``, so its float value and error bound are tabulated for ``|y|`` up to about
    ``center + 48 t`` (beyond, reached with probability below ``e^-48``, they are computed
    directly): a look-up instead of evaluating the exponential for every candidate.
    """

    def __init__(self, sigma_sq: Fraction) -> None:
        self.sigma_sq = sigma_sq
        self.t = math.isqrt(math.floor(sigma_sq)) + 1
        self.rate = Fraction(1, self.t)
        self.center = sigma_sq / self.t
        self.center_f = float(self.center)
        self.sigma_sq_f = float(sigma_sq)
        size = min(_TABLE_MAX, math.ceil(self.center_f + 48 * self.t) + 1)
        self.p, self.err = self._acceptance(np.arange(size, dtype=np.float64))

    def _acceptance(
        self, magnitude: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Float ``exp(-(|y| - c)^2 / (2 sigma^2))`` and a rigorous error bound."""
        x = magnitude - self.center_f
        gamma = x * x / (2 * self.sigma_sq_f)
        # c and sigma^2 are correctly rounded to floats and the magnitudes are exact, so
        # |x - x~| <= u (c + |x|) (1 + u); squaring and the division's roundings give
        # |gamma - gamma~| <= 2.52 u (|x| + c)^2 / sigma^2; 8 u (...) is safe. (Without
        # a constant term: with one, a tiny sigma sent every candidate to the slow path.)
        g_err = 8 * _U * (np.abs(x) + self.center_f) ** 2 / self.sigma_sq_f
        return exp_neg_with_error(gamma, g_err)

    def _acceptance_of(
        self, magnitude: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Acceptance probabilities of these magnitudes, from the table when it covers them."""
        if magnitude.size and int(magnitude.max()) < self.p.size:
            return self.p[magnitude], self.err[magnitude]
        return self._acceptance(magnitude.astype(np.float64))

    def candidates(self, count: int) -> NDArray[np.int64]:
        """One pass of Canonne et al. (2020) Algorithm 3; returns the accepted draws.

        Slot ``i`` of the pass uses the ``i``-th geometric uniform, sign bit and acceptance
        uniform, whichever path (compiled or numpy) runs it.
        """
        geo = geometric(self.rate)
        compiled = kernels()
        if compiled is not None and geo.tabulated:
            return self._compiled_candidates(compiled, geo, count)
        magnitude = geo.sample(count)
        prefixes = uniform_prefixes(count, _bernoulli.PREFIX_BITS)
        negative = random_bits(count)
        keep = ~(negative & (magnitude == 0))  # "minus zero" is rejected
        y: NDArray[np.int64] = np.where(negative, -magnitude, magnitude)[keep]
        p, err = self._acceptance_of(np.abs(y))
        exact = ExpNegOf(_GaussianGamma(y, self.center, self.sigma_sq))
        accepted = decide(prefixes[keep], _bernoulli.PREFIX_BITS, p, err, exact)
        return y[accepted]

    def _compiled_candidates(
        self, compiled: ModuleType, geo: Geometric, count: int
    ) -> NDArray[np.int64]:
        """:meth:`candidates` by the numba kernel, with the same exact slow paths."""
        geo_bits, bern_bits = _geometric.GEOMETRIC_BITS, _bernoulli.PREFIX_BITS
        # One request for the three streams, in the numpy path's order: geometric words,
        # acceptance words, sign bytes (words as ``uniform_prefixes`` draws them).
        geo_size, bern_size = prefix_word_bytes(geo_bits), prefix_word_bytes(bern_bits)
        raw = random_bytes((geo_size + bern_size) * count + (count + 7) // 8)
        geo_words = raw[: geo_size * count].view(f"u{geo_size}")
        bern_words = raw[geo_size * count : (geo_size + bern_size) * count].view(f"u{bern_size}")
        sign_bytes = raw[(geo_size + bern_size) * count :]
        y = np.empty(count, dtype=np.int64)
        status = np.empty(count, dtype=np.uint8)
        compiled.discrete_gaussian(
            geo_words, geo_bits, sign_bytes, bern_words, bern_bits,
            geo.rate_f, geo.high, geo.low, geo.rel, geo.step, geo.step_rel,
            self.p, self.err, EXP_ABS_ERR, SLACK, _geometric.ATTEMPTS, y, status,
        )  # fmt: skip
        geo_shift, bern_shift = 8 * geo_size - geo_bits, 8 * bern_size - bern_bits
        for i in np.flatnonzero(status == compiled.GEOMETRIC_UNDECIDED).tolist():
            prefix = int(geo_words[i]) >> geo_shift
            g = geo.walk(LazyUniform(prefix, geo_bits), max(int(y[i]), 0))
            negative = (int(sign_bytes[i >> 3]) >> (7 - (i & 7))) & 1
            if negative and g == 0:
                status[i] = compiled.REJECTED
                continue
            y[i] = -g if negative else g
            status[i] = compiled.BERNOULLI_UNDECIDED
        undecided = np.flatnonzero(status == compiled.BERNOULLI_UNDECIDED)
        if undecided.size:
            candidates = y[undecided]
            p, err = self._acceptance_of(np.abs(candidates))
            exact = ExpNegOf(_GaussianGamma(candidates, self.center, self.sigma_sq))
            prefixes = bern_words[undecided] >> np.uint8(bern_shift)
            accepted = decide(prefixes, bern_bits, p, err, exact)
            status[undecided] = np.where(accepted, compiled.ACCEPTED, compiled.REJECTED)
        drawn: NDArray[np.int64] = y[status == compiled.ACCEPTED]
        return drawn


@functools.lru_cache(maxsize=4)
def _gaussian_plan(sigma_sq: Fraction) -> _GaussianPlan:
    """Plans hold no randomness, only tables derived from ``sigma^2``, so they are reused."""
    return _GaussianPlan(sigma_sq)


def sample_discrete_gaussian_sq(sigma_squared: RationalLike, size: int) -> NDArray[np.int64]:
    """Draw from the discrete Gaussian ``N_Z(0, sigma^2)``, given ``sigma^2`` exactly.

    ``P(x) ∝ exp(-x^2 / (2 sigma^2))`` on the integers, by Canonne, Kamath and Steinke
    (2020), Algorithm 3: a discrete Laplace proposal of scale ``t = floor(sigma) + 1``
    accepted with probability ``exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))``.

    Args:
        sigma_squared: the rational parameter ``sigma^2``, in ``[2**-80, 2**80]``.
        size: number of independent draws.

    Returns:
        An ``int64`` array of shape ``(size,)``.

    Raises:
        InvalidArgument: for a parameter outside the supported range or a bad size.
    """
    sigma_sq = as_fraction(sigma_squared, "sigma_squared")
    _check_range(sigma_sq, "sigma_squared", _MIN_SCALE**2, _MAX_SCALE**2)
    count = _check_size(size)
    return _fill(count, _gaussian_plan(sigma_sq).candidates)


def sample_discrete_gaussian(sigma: RationalLike, size: int) -> NDArray[np.int64]:
    """Draw from the discrete Gaussian ``N_Z(0, sigma^2)`` (``sigma^2`` taken exactly).

    See :func:`sample_discrete_gaussian_sq`; ``sigma`` is squared as an exact rational.

    Args:
        sigma: the rational scale ``sigma`` in ``[2**-40, 2**40]``.
        size: number of independent draws.

    Returns:
        An ``int64`` array of shape ``(size,)``.
    """
    frac = as_fraction(sigma, "sigma")
    return sample_discrete_gaussian_sq(frac * frac, size)


# ----------------------------------------------------------------------------- Poisson


class _ProductTable:
    """Float prefix products ``T[g] = prod_{i < g} ratio(i)`` with exact fallbacks."""

    def __init__(self, numer: list[int] | NDArray[np.int64], denom: list[int] | NDArray[np.int64]):
        num = np.asarray(numer, dtype=np.float64)
        den = np.asarray(denom, dtype=np.float64)
        self.numer = [int(v) for v in numer]
        self.denom = [int(v) for v in denom]
        self.values = np.concatenate(([1.0], np.cumprod(num / den)))

    def approx(self, g: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Approximate ``T[g]`` and a rigorous absolute error bound (``4 (g + 1) u T``).

        Each factor is a ratio of two integers converted to float (at most ``3 u`` relative
        error) and the prefix product adds ``u`` per factor.
        """
        value = self.values[g]
        return value, value * (4.0 * (g + 1)) * _U * 1.01

    def exact(self, g: int) -> Fraction:
        """The exact product of the first ``g`` factors."""
        num = math.prod(self.numer[:g])
        den = math.prod(self.denom[:g])
        return Fraction(num, den)


class _TableExact:
    __slots__ = ("index", "table")

    def __init__(self, table: _ProductTable, index: NDArray[np.int64]) -> None:
        self.table = table
        self.index = index

    def __call__(self, i: int) -> Fraction:
        return self.table.exact(int(self.index[i]))


class _LazyConstant:
    """Exact probability shared by all elements, computed on first use and cached."""

    __slots__ = ("compute", "value")

    def __init__(self, compute: Callable[[], Fraction]) -> None:
        self.compute = compute
        self.value: Fraction | None = None

    def __call__(self, _: int) -> Fraction:
        if self.value is None:
            self.value = self.compute()
        return self.value


def _bernoulli_constant(
    approx: float, rel_err: float, exact: _LazyConstant, count: int
) -> NDArray[np.bool_]:
    return bernoulli(np.full(count, approx), approx * rel_err, exact)


class _Geometric:
    """Exact geometric law ``P(G = g) = (1 - rho) rho^g`` for a rational ``0 < rho < 1``.

    ``G = L V + R`` with ``V`` geometric of ratio ``rho^L`` and ``R`` on ``[0, L)`` with
    ``P(R = r) ∝ rho^r`` (drawn by rejection), as in Canonne et al. (2020), Algorithm 2.
    """

    def __init__(self, rho: Fraction) -> None:
        self.rho = rho
        a, b = rho.numerator, rho.denominator
        self.block = max(1, b // (b - a))
        self.powers = _ProductTable([a] * self.block, [b] * self.block)
        self.rho_block = float(self.powers.values[self.block])
        self.rho_block_err = 4.04 * (self.block + 1) * _U
        self.rho_block_exact = _LazyConstant(lambda: rho**self.block)

    def sample(self, count: int) -> NDArray[np.int64]:
        v = np.zeros(count, dtype=np.int64)
        active = np.arange(count)
        while active.size:
            success = _bernoulli_constant(
                self.rho_block, self.rho_block_err, self.rho_block_exact, active.size
            )
            active = active[success]
            v[active] += 1
        r = np.empty(count, dtype=np.int64)
        todo = np.arange(count)
        while todo.size:
            cand = random_below(self.block, todo.size)
            approx, err = self.powers.approx(cand)
            ok = bernoulli(approx, err, _TableExact(self.powers, cand))
            r[todo[ok]] = cand[ok]
            todo = todo[~ok]
        return self.block * v + r


def _tail_mass(table: _ProductTable, length: int, rho: Fraction) -> tuple[float, float]:
    """Approximate ``F * rho / (1 - rho)`` (``F`` the table's product) and its relative error."""
    approx = float(table.values[length]) * float(rho) / float(1 - rho)
    return approx, (4.04 * (length + 1) + 4) * _U


class _PoissonPlan:
    """Window, tails and region weights for one rational mean (exact values computed lazily)."""

    def __init__(self, mean: Fraction) -> None:
        self.mean = mean
        m = math.floor(mean)
        w = math.isqrt(math.ceil(4 * mean)) + 2
        left = min(m, w)
        self.mode, self.width, self.left = m, w, left
        p, q = mean.numerator, mean.denominator
        # F(d) = P(m + d) / P(m): right factors mean/(m+j), left factors (m-j)/mean.
        self.right = _ProductTable([p] * w, [q * (m + j) for j in range(1, w + 1)])
        self.left_table = _ProductTable([q * (m - j) for j in range(left)], [p] * left)
        window = w + left + 1
        # Right tail: d = w + 1 + G, G ~ Geometric(rho), rho = mean / (m + w + 1);
        # P(m + w + 1 + G) / P(m + w + 1) = prod_{i=1}^{G} mean / (m+w+1+i), so the
        # acceptance is prod_{i=1}^{G} (m+w+1)/(m+w+1+i).
        rho_r = mean / (m + w + 1)
        tail_r, err_r = _tail_mass(self.right, w, rho_r)
        self.geo_r = _Geometric(rho_r)
        self.acc_r_base = m + w + 1
        self.tail_tables: dict[str, _ProductTable] = {}
        # Left tail exists when m > w: d = -(w + 1 + G), rho = (m - w) / mean;
        # acceptance prod_{i=1}^{G} (m-w-i)/(m-w), zero once m - w - G <= 0.
        rho_l = Fraction(m - w) / mean if m > w else None
        tail_l, err_l = _tail_mass(self.left_table, left, rho_l) if rho_l else (0.0, 0.0)
        self.geo_l = _Geometric(rho_l) if rho_l else None

        def exact_masses() -> tuple[Fraction, Fraction]:
            right = self.right.exact(w) * rho_r / (1 - rho_r)
            if rho_l is None:
                return right, Fraction(0)
            return right, self.left_table.exact(left) * rho_l / (1 - rho_l)

        def exact_window() -> Fraction:
            right, left_mass = exact_masses()
            return window / (window + right + left_mass)

        def exact_right() -> Fraction:
            right, left_mass = exact_masses()
            return right / (right + left_mass)

        worst = 2.2 * max(err_r, err_l) + 8 * _U
        self.p_window = (window / (window + tail_r + tail_l), worst, _LazyConstant(exact_window))
        self.p_right = (tail_r / (tail_r + tail_l), worst, _LazyConstant(exact_right))

    def _window(self, count: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        d = random_below(self.width + self.left + 1, count) - self.left
        pos = np.maximum(d, 0)
        neg = np.maximum(-d, 0)
        a_r, e_r = self.right.approx(pos)
        a_l, e_l = self.left_table.approx(neg)
        approx = np.where(d >= 0, a_r, a_l)
        err = np.where(d >= 0, e_r, e_l)
        keep = bernoulli(approx, err, _WindowExact(self, d))
        return self.mode + d, keep

    def _tail_table(self, side: str, top: int) -> _ProductTable:
        """The acceptance products of one tail for ``G <= top``, kept and grown geometrically.

        Right: ``prod_{i=1}^{g} (m+w+1)/(m+w+1+i)``; left: ``prod_{i=1}^{g} (m-w-i)/(m-w)``.
        A table's first ``g`` factors do not depend on its length, so one table serves
        every pass (rebuilding it per pass cost more than the sampling itself).
        """
        table = self.tail_tables.get(side)
        if table is not None and len(table.numer) >= top:
            return table
        size = max(top, 2 * len(table.numer) if table is not None else 64)
        if side == "right":
            base = self.acc_r_base
            table = _ProductTable([base] * size, [base + i for i in range(1, size + 1)])
        else:
            base = self.mode - self.width
            size = min(size, base)  # the factors reach 0 at g = base
            table = _ProductTable([base - i for i in range(1, size + 1)], [base] * size)
        self.tail_tables[side] = table
        return table

    def _right_tail(self, count: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        g = self.geo_r.sample(count)
        table = self._tail_table("right", int(g.max(initial=0)))
        approx, err = table.approx(g)
        keep = bernoulli(approx, err, _TableExact(table, g))
        return self.mode + self.width + 1 + g, keep

    def _left_tail(self, count: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        assert self.geo_l is not None
        base = self.mode - self.width
        g = np.minimum(self.geo_l.sample(count), base)  # acceptance is exactly 0 at g = base
        table = self._tail_table("left", int(g.max(initial=0)))
        approx, err = table.approx(g)
        keep = bernoulli(approx, err, _TableExact(table, g))
        return self.mode - self.width - 1 - g, keep

    def candidates(self, count: int) -> NDArray[np.int64]:
        """One rejection pass over ``count`` independent slots; returns accepted draws.

        Each slot picks its region with the exact region probabilities, so the accepted
        slots, read in slot order, are independent draws from the Poisson law.
        """
        values = np.zeros(count, dtype=np.int64)
        keep = np.zeros(count, dtype=np.bool_)
        in_window = _bernoulli_constant(*self.p_window, count)
        tail = np.flatnonzero(~in_window)
        right = _bernoulli_constant(*self.p_right, tail.size)
        for slots, draw in (
            (np.flatnonzero(in_window), self._window),
            (tail[right], self._right_tail),
            (tail[~right], self._left_tail),
        ):
            if slots.size:
                values[slots], keep[slots] = draw(slots.size)
        return values[keep]


class _WindowExact:
    __slots__ = ("d", "plan")

    def __init__(self, plan: _PoissonPlan, d: NDArray[np.int64]) -> None:
        self.plan = plan
        self.d = d

    def __call__(self, i: int) -> Fraction:
        d = int(self.d[i])
        if d >= 0:
            return self.plan.right.exact(d)
        return self.plan.left_table.exact(-d)


_MAX_MEAN = Fraction(2**34)


@functools.lru_cache(maxsize=32)
def _poisson_plan(mean: Fraction) -> _PoissonPlan:
    """Plans hold no randomness, only tables derived from the mean, so they are reused."""
    return _PoissonPlan(mean)


def sample_poisson(mean: RationalLike, size: int) -> NDArray[np.int64]:
    """Draw from the Poisson distribution of a rational mean, exactly.

    Rejection sampling with a proposal that is uniform on a window of width about
    ``4 sqrt(mean)`` around the mode and geometric beyond it; every acceptance probability
    is a product of ratios of Poisson masses, ``mean / k`` or ``k / mean``, so it is an
    exact rational (Devroye 1986, section II.3). Cost is constant per draw in expectation.

    Args:
        mean: the rational mean, in ``(0, 2**34]``.
        size: number of independent draws.

    Returns:
        An ``int64`` array of shape ``(size,)``.

    Raises:
        InvalidArgument: for a mean outside the supported range or a bad size.
    """
    frac = as_fraction(mean, "mean")
    _check_range(frac, "mean", Fraction(1, 2**40), _MAX_MEAN)
    count = _check_size(size)
    return _fill(count, _poisson_plan(frac).candidates)


def sample_skellam(mu: RationalLike, size: int) -> NDArray[np.int64]:
    """Draw from the symmetric Skellam distribution: the difference of two Poisson(``mu``).

    Its variance is ``2 mu``; sums of independent Skellam variables are Skellam with the
    means added, which is why it suits distributed noise (Agarwal et al. 2021, section 3).

    Args:
        mu: the rational mean of each Poisson term, in ``(0, 2**34]``.
        size: number of independent draws.

    Returns:
        An ``int64`` array of shape ``(size,)``.
    """
    count = _check_size(size)
    return sample_poisson(mu, count) - sample_poisson(mu, count)
