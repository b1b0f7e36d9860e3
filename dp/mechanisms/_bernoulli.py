"""Exact Bernoulli trials for vectors of probabilities known exactly or as ``exp(-gamma)``.

The samplers of :mod:`dp.mechanisms` reduce every random decision to "is ``V < p``?" for a
uniform real ``V`` in ``[0, 1)`` and a probability ``p`` known exactly: a rational
(:class:`fractions.Fraction`) or ``exp(-gamma)`` for a rational ``gamma`` (:class:`ExpNeg`).
Comparing ``V`` with ``p`` exactly is what makes the samplers exact; doing it for a whole
block of elements at a time is what makes them fast.

**Why the fast path is exact.** ``V`` is revealed lazily: first its leading ``PREFIX_BITS``
bits ``k``, so ``V`` lies in ``[k, k + 1) / 2**PREFIX_BITS``. The caller supplies a
floating-point approximation ``p_approx`` and a rigorous absolute bound ``p_err`` with
``|p - p_approx| <= p_err``. If the whole interval lies below ``p_approx - p_err - s`` the
answer is "yes" for every possible completion of ``V``; if it lies above
``p_approx + p_err + s`` it is "no"; ``s = 2**-50`` absorbs the rounding of these two float
comparisons (each at most ``2**-53`` on numbers at most ``2``). Only when the interval
straddles that band (probability about ``2**-PREFIX_BITS``) is the element *ambiguous*, and
then the slow path (:class:`LazyUniform`) encloses ``p`` between two rationals, reveals 64
further bits of ``V`` at a time, and tightens the enclosure when it is the wider of the
two, comparing Python integers, until ``V``'s interval lies on one side of ``p``; this ends
with probability one. The outcome is therefore exactly the event ``V < p`` for a uniform
``V``: a Bernoulli(``p``) trial with no floating-point error, the property whose absence
enables the attack of Mironov (2012) on textbook floating-point Laplace noise.

Bernoulli(exp(-gamma)) compares ``V`` with ``exp(-gamma)`` directly: the float value comes
from :func:`dp.mechanisms._exp.exp_neg` (proven relative error) and the enclosures of the
slow path from correctly rounded decimal arithmetic (:func:`~dp.mechanisms._exp.exp_neg_bounds`).
One uniform per trial, where the series of Canonne, Kamath and Steinke (2020, Algorithm 1)
needs about ``1 + gamma`` of them, and the same exact law.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from dp._rng import randbits, random_uint32, random_uint64
from dp.mechanisms._exp import EXP_ABS_ERR, EXP_REL_ERR, exp_neg, exp_neg_bounds

__all__ = [
    "BLOCK",
    "PREFIX_BITS",
    "SLACK",
    "ExpNeg",
    "ExpNegOf",
    "LazyUniform",
    "Probability",
    "bernoulli",
    "bernoulli_exp_neg",
    "decide",
    "exp_neg_with_error",
    "prefix_word_bytes",
    "uniform_prefixes",
]

#: Leading bits of the uniform revealed on the fast path (tests lower it to exercise the
#: exact slow path; any value in 1..53 gives the same distribution).
PREFIX_BITS = 32

#: Elements per vectorised pass: float64 temporaries stay just under 128 KiB, glibc's
#: default mmap threshold, so they are recycled instead of mapped and faulted in each time.
BLOCK = 16_000

#: Absorbs the rounding of the fast path's float comparisons (see the module docstring).
SLACK = 2.0**-50

#: Largest ``gamma`` error :func:`exp_neg_with_error` bounds linearly; beyond it the
#: element is sent to the exact slow path.
_MAX_GAMMA_ERR = 2.0**-20

#: From this ``gamma`` on (with the float bound's margin), ``exp(-gamma)`` is below
#: ``EXP_ABS_ERR``: :func:`exp_neg_with_error` answers 0 within ``EXP_ABS_ERR``.
_NEGLIGIBLE_GAMMA = 701.0

#: :meth:`ExpNeg.bounds` encloses a larger ``gamma`` by ``[0, 2**-_BOUNDS_CAP]`` first.
_BOUNDS_CAP = 64


@dataclass(frozen=True, slots=True)
class ExpNeg:
    """The probability ``exp(-gamma)`` for a rational ``gamma >= 0``."""

    gamma: Fraction

    def bounds(self, level: int) -> tuple[Fraction, Fraction]:
        """Rational enclosure whose width shrinks without limit as ``level`` grows.

        A ``gamma`` above ``cap = 64 * 2**level`` is enclosed by ``[0, 2**-cap]``
        (``exp(-gamma) < e**-cap < 2**-cap``) until the cap reaches it: decimal bounds of
        ``exp(-gamma)`` have about ``1.44 gamma`` bits (minutes of work at ``gamma = 10**8``,
        which a discrete Gaussian of ``sigma = 10**-4`` proposes), and beyond
        ``gamma = 2.3e9`` the decimal exponential underflowed to an upper bound of 0.
        """
        cap = _BOUNDS_CAP << level
        if self.gamma > cap:
            return Fraction(0), Fraction(1, 1 << cap)
        return exp_neg_bounds(self.gamma, 30 << level)


Probability = Fraction | ExpNeg
"""An exactly known probability: a rational, or ``exp(-gamma)`` for a rational ``gamma``."""

ExactProbability = Callable[[int], Probability]
"""Maps an element's position in the input arrays to its exact probability."""


class LazyUniform:
    """A uniform real ``V`` in ``[0, 1)`` of which only the leading ``bits`` bits are known.

    Further bits are drawn from the CSPRNG only when a comparison needs them, and kept, so
    several comparisons of the same ``V`` (e.g. against two thresholds) stay consistent.
    """

    __slots__ = ("bits", "prefix")

    def __init__(self, prefix: int, bits: int) -> None:
        self.prefix = prefix
        self.bits = bits

    def below(self, probability: Probability) -> bool:
        """Decide ``V < probability`` exactly."""
        level = 0
        if isinstance(probability, Fraction):
            lo = hi = probability
        else:
            lo, hi = probability.bounds(level)
        while True:
            if (self.prefix + 1) * lo.denominator <= lo.numerator << self.bits:
                return True
            if self.prefix * hi.denominator >= hi.numerator << self.bits:
                return False
            if lo == hi or (hi - lo) * (1 << self.bits) < 1:
                self.prefix = (self.prefix << 64) | randbits(64)
                self.bits += 64
            else:
                assert isinstance(probability, ExpNeg)
                level += 1
                lo, hi = probability.bounds(level)


def prefix_word_bytes(bits: int) -> int:
    """Bytes of the random word a ``bits``-bit prefix is the leading part of."""
    return 4 if bits <= 32 else 8


def uniform_prefixes(count: int, bits: int) -> NDArray[np.uint32] | NDArray[np.uint64]:
    """``count`` uniform integers of ``bits`` bits (``bits <= 53``, so floats hold them).

    Each is the leading ``bits`` bits of a word of :func:`prefix_word_bytes` bytes.
    """
    if prefix_word_bytes(bits) == 4:
        return random_uint32(count) >> np.uint32(32 - bits)
    return random_uint64(count) >> np.uint64(64 - bits)


def bernoulli(
    p_approx: NDArray[np.float64],
    p_err: NDArray[np.float64] | float,
    exact: ExactProbability,
) -> NDArray[np.bool_]:
    """Draw independent Bernoulli(``p_i``) trials, exactly.

    Args:
        p_approx: float approximations of the probabilities (each within ``[0, 1]`` up to
            ``p_err``).
        p_err: rigorous absolute bounds on ``|p_i - p_approx_i|``.
        exact: returns the exact probability of element ``i``; called only for the rare
            elements the fast path cannot decide.

    Returns:
        A boolean array, ``True`` with probability exactly ``p_i``.
    """
    count = p_approx.size
    if count <= BLOCK:
        return _bernoulli_block(p_approx, p_err, exact, 0)
    out = np.empty(count, dtype=np.bool_)
    errors = np.broadcast_to(np.asarray(p_err, dtype=np.float64), (count,))
    for start in range(0, count, BLOCK):
        stop = min(start + BLOCK, count)
        out[start:stop] = _bernoulli_block(p_approx[start:stop], errors[start:stop], exact, start)
    return out


def _bernoulli_block(
    p_approx: NDArray[np.float64],
    p_err: NDArray[np.float64] | float,
    exact: ExactProbability,
    offset: int,
) -> NDArray[np.bool_]:
    """:func:`bernoulli` on one block; element ``i`` is ``offset + i`` for ``exact``."""
    prefixes = uniform_prefixes(p_approx.size, PREFIX_BITS)
    return decide(prefixes, PREFIX_BITS, p_approx, p_err, exact, offset)


def decide(
    prefixes: NDArray[np.uint32] | NDArray[np.uint64],
    bits: int,
    p_approx: NDArray[np.float64],
    p_err: NDArray[np.float64] | float,
    exact: ExactProbability,
    offset: int = 0,
) -> NDArray[np.bool_]:
    """Decide ``V_i < p_i`` for uniforms ``V_i`` whose leading ``bits`` bits are ``prefixes``.

    The fast comparison of the module docstring, then :class:`LazyUniform` for the
    ambiguous elements; element ``i`` is ``offset + i`` for ``exact``.
    """
    step = 2.0**-bits
    low = prefixes.astype(np.float64) * step  # exact: prefixes < 2**53, step a power of two
    high = low + step  # exact for the same reason
    band = p_err + SLACK
    yes = high <= p_approx - band
    no = low >= p_approx + band
    out = yes
    for i in np.flatnonzero(~(yes | no)).tolist():
        out[i] = LazyUniform(int(prefixes[i]), bits).below(exact(offset + i))
    return out


def exp_neg_with_error(
    g_approx: NDArray[np.float64], g_err: NDArray[np.float64] | float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Float ``exp(-gamma_i)`` and a rigorous absolute error bound.

    With ``|gamma - g| <= e``, ``|exp(-gamma) - exp(-g)| <= exp(-g) e e**e``; adding the
    evaluation error of :func:`~dp.mechanisms._exp.exp_neg` gives the bound. Elements whose
    ``e`` exceeds ``2**-20`` get an error bound of 2: the slow path decides them, unless
    ``g - e >= 701``: then ``exp(-gamma) < e**-700 < EXP_ABS_ERR``, so 0 is within
    ``EXP_ABS_ERR`` of it however large ``e`` is (a tiny ``sigma`` makes ``e`` large
    relative to ``g`` without making ``g - e`` small).
    """
    g = np.maximum(g_approx, 0.0)  # gamma >= 0, so clipping only shrinks the error
    p = exp_neg(g)
    err = p * (EXP_REL_ERR + 1.0001 * np.asarray(g_err)) + 2 * EXP_ABS_ERR
    err = np.where(np.asarray(g_err) > _MAX_GAMMA_ERR, 2.0, err)
    negligible = np.asarray(g_approx - g_err) >= _NEGLIGIBLE_GAMMA
    if negligible.any():
        p = np.where(negligible, 0.0, p)
        err = np.where(negligible, EXP_ABS_ERR, err)
    return p, err


class ExpNegOf:
    """The exact probability ``exp(-gamma_i)`` given the exact ``gamma_i``."""

    __slots__ = ("gamma",)

    def __init__(self, gamma: Callable[[int], Fraction]) -> None:
        self.gamma = gamma

    def __call__(self, i: int) -> Probability:
        return ExpNeg(self.gamma(i))


def bernoulli_exp_neg(
    g_approx: NDArray[np.float64],
    g_err: NDArray[np.float64] | float,
    exact: Callable[[int], Fraction],
) -> NDArray[np.bool_]:
    """Draw Bernoulli(exp(-gamma_i)) for any ``gamma_i >= 0``, exactly, one uniform each.

    Args:
        g_approx: float approximations of ``gamma_i >= 0``.
        g_err: rigorous absolute bounds on ``|gamma_i - g_approx_i|``.
        exact: the exact ``gamma_i`` as a fraction.

    Returns:
        A boolean array, ``True`` with probability exactly ``exp(-gamma_i)``.
    """
    if g_approx.size == 0:
        return np.zeros(0, dtype=np.bool_)
    p, err = exp_neg_with_error(g_approx, g_err)
    return bernoulli(p, err, ExpNegOf(exact))
