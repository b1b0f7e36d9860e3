"""Exact Bernoulli trials for vectors of rational (or rationally bounded) probabilities.

The samplers of :mod:`dp.mechanisms` reduce every random decision to "is ``V < p``?" for a
uniform real ``V`` in ``[0, 1)`` and a probability ``p`` known exactly as a
:class:`fractions.Fraction`. Comparing ``V`` with ``p`` exactly is what makes the samplers
exact; doing it for a million elements at a time is what makes them fast.

**Why the fast path is exact.** ``V`` is revealed lazily: first its leading ``PREFIX_BITS``
bits ``k``, so ``V`` lies in ``[k, k + 1) / 2**PREFIX_BITS``. The caller supplies a
floating-point approximation ``p_approx`` and a rigorous absolute bound ``p_err`` with
``|p - p_approx| <= p_err``. If the whole interval lies below ``p_approx - p_err - s`` the
answer is "yes" for every possible completion of ``V``; if it lies above
``p_approx + p_err + s`` it is "no"; ``s = 2**-50`` absorbs the rounding of these two float
comparisons (each at most ``2**-53`` on numbers at most ``2``). Only when the interval
straddles that band (probability about ``2**-PREFIX_BITS``) is the element *ambiguous*, and
then the slow path computes ``p`` exactly as a fraction and reveals 64 further bits of ``V``
at a time, comparing with Python integers, until the interval lies on one side of ``p``.
The outcome is therefore exactly the event ``V < p`` for a uniform ``V``: a
Bernoulli(``p``) trial with no floating-point error, the property whose absence enables the
attack of Mironov (2012) on textbook floating-point Laplace noise.

Bernoulli(exp(-gamma)) follows Canonne, Kamath and Steinke (2020), Algorithm 1: for
``gamma`` in ``[0, 1]`` draw Bernoulli(``gamma / k``) for ``k = 1, 2, ...`` until the first
failure and return whether that ``k`` is odd; a larger ``gamma`` is split into ``m`` equal
parts with ``m >= gamma`` and the ``m`` trials are and-ed.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from dp._rng import randbits, random_uint32, random_uint64

__all__ = ["PREFIX_BITS", "bernoulli", "bernoulli_exp_neg"]

#: Leading bits of the uniform revealed on the fast path (tests lower it to exercise the
#: exact slow path; any value in 1..53 gives the same distribution).
PREFIX_BITS = 32

_SLACK = 2.0**-50
_UNIT_ROUNDOFF = 2.0**-53

ExactProbability = Callable[[int], Fraction]
"""Maps an element's position in the input arrays to its exact probability."""


def _uniform_prefixes(count: int, bits: int) -> NDArray[np.uint32] | NDArray[np.uint64]:
    if bits <= 32:
        return random_uint32(count) >> np.uint32(32 - bits)
    return random_uint64(count) >> np.uint64(64 - bits)


def _resolve_exactly(prefix: int, bits: int, probability: Fraction) -> bool:
    """Decide ``V < probability`` for ``V`` uniform with the known leading ``bits`` bits."""
    num, den = probability.numerator, probability.denominator
    while True:
        if (prefix + 1) * den <= num << bits:
            return True
        if prefix * den >= num << bits:
            return False
        prefix = (prefix << 64) | randbits(64)
        bits += 64


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
    bits = PREFIX_BITS
    prefixes = _uniform_prefixes(count, bits)
    step = 2.0**-bits
    low = prefixes.astype(np.float64) * step  # exact: prefixes < 2**53, step a power of two
    high = low + step  # exact for the same reason
    band = p_err + _SLACK
    yes = high <= p_approx - band
    no = low >= p_approx + band
    out = yes
    for i in np.flatnonzero(~(yes | no)).tolist():
        out[i] = _resolve_exactly(int(prefixes[i]), bits, exact(i))
    return out


def _bernoulli_exp_neg_unit(
    g_approx: NDArray[np.float64],
    g_err: NDArray[np.float64],
    exact: ExactProbability,
) -> NDArray[np.bool_]:
    """Bernoulli(exp(-gamma_i)) for gamma_i in [0, 1] (Canonne et al. 2020, Algorithm 1)."""
    result = np.zeros(g_approx.size, dtype=np.bool_)
    active = np.arange(g_approx.size)
    k = 1
    while active.size:
        approx = g_approx[active] / k
        err = g_err[active] / k + 2 * _UNIT_ROUNDOFF
        success = bernoulli(approx, err, _ScaledExact(exact, active, k))
        stopped = active[~success]
        result[stopped] = k % 2 == 1
        active = active[success]
        k += 1
    return result


class _ScaledExact:
    """Exact probability ``exact(index[i]) / divisor`` (a picklable-free closure)."""

    __slots__ = ("divisor", "exact", "index")

    def __init__(self, exact: ExactProbability, index: NDArray[np.int64], divisor: int) -> None:
        self.exact = exact
        self.index = index
        self.divisor = divisor

    def __call__(self, i: int) -> Fraction:
        return self.exact(int(self.index[i])) / self.divisor


class _PieceExact:
    """Exact ``gamma / m`` of the element a piece belongs to."""

    __slots__ = ("exact", "owner", "parts")

    def __init__(
        self, exact: ExactProbability, owner: NDArray[np.int64], parts: NDArray[np.float64]
    ) -> None:
        self.exact = exact
        self.owner = owner
        self.parts = parts

    def __call__(self, i: int) -> Fraction:
        j = int(self.owner[i])
        return self.exact(j) / int(self.parts[j])


def bernoulli_exp_neg(
    g_approx: NDArray[np.float64],
    g_err: NDArray[np.float64],
    exact: ExactProbability,
) -> NDArray[np.bool_]:
    """Draw Bernoulli(exp(-gamma_i)) for any gamma_i >= 0, exactly.

    ``gamma_i`` is split into ``m_i >= gamma_i`` equal parts, each at most one, and the
    element succeeds when all ``m_i`` independent Bernoulli(exp(-gamma_i / m_i)) trials do
    (Canonne et al. 2020, Algorithm 1 and its remark on ``gamma > 1``).

    Args:
        g_approx: float approximations of ``gamma_i >= 0``.
        g_err: rigorous absolute bounds on ``|gamma_i - g_approx_i|``.
        exact: the exact ``gamma_i`` as a fraction.

    Returns:
        A boolean array, ``True`` with probability exactly ``exp(-gamma_i)``.
    """
    if g_approx.size == 0:
        return np.zeros(0, dtype=np.bool_)
    upper = (g_approx + g_err) * (1 + 2.0**-40) + 2.0**-40
    # Integer-valued floats (no int64 overflow for huge gamma): m_i >= upper_i > gamma_i.
    parts = np.floor(upper) + 1
    piece_approx = g_approx / parts
    piece_err = g_err / parts + 2 * _UNIT_ROUNDOFF
    exact_piece = _PieceExact(exact, np.arange(g_approx.size), parts)
    # Round j draws the j-th part of every element still alive; an element fails at its
    # first failed part, so most large-gamma elements cost one or two rounds, not m_i.
    result = np.zeros(g_approx.size, dtype=np.bool_)
    alive = np.arange(g_approx.size)
    done = 0
    while alive.size:
        ok = _bernoulli_exp_neg_unit(
            piece_approx[alive], piece_err[alive], _Subset(exact_piece, alive)
        )
        alive = alive[ok]
        done += 1
        finished = parts[alive] <= done
        result[alive[finished]] = True
        alive = alive[~finished]
    return result


class _Subset:
    """Exact probability of element ``index[i]`` of a larger array."""

    __slots__ = ("exact", "index")

    def __init__(self, exact: ExactProbability, index: NDArray[np.int64]) -> None:
        self.exact = exact
        self.index = index

    def __call__(self, i: int) -> Fraction:
        return self.exact(int(self.index[i]))
