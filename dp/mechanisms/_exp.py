"""``exp(-gamma)`` with a proven error bound: in float64 for vectors, as rationals for one.

The exact samplers compare a uniform ``V`` with ``exp(-gamma)``. The fast path needs a float
approximation whose error is *proven*, not merely small, so this module evaluates the
exponential itself instead of trusting a libm whose accuracy is not specified; the slow
path needs rational bounds that tighten without limit, which Python's :mod:`decimal`
provides (its ``exp`` is correctly rounded, per the General Decimal Arithmetic
specification that the module implements).

**Float evaluation and its bound** (:func:`exp_neg`, for ``0 <= g <= 700``). With
``k = floor(g / ln2)`` and ``r = g - k ln2``, ``exp(-g) = 2**-k exp(-r)``; ``ldexp`` is exact
for these ``k``. Let ``u = 2**-53``. The reduction computes ``r`` from the float ``LN2``
(``|LN2 - ln 2| <= u/2 ln 2``), one product and one difference, so
``|r~ - r| <= k ln2 (u/2 + u (1 + u)) + u |r~| <= 1.5 u (g + 1) + u <= 1121 u < 1.3e-13``
for ``g <= 700``; ``r~`` lies in ``[-1e-13, ln 2 + 1e-13]`` whatever way the quotient
rounds. ``exp(-r)`` is the Taylor polynomial of degree 14 evaluated by Horner's rule:
truncation ``<= 0.7**15 / 15! e^(1e-13) < 3.7e-15`` absolute, rounding (Higham 2002,
eq. 5.3, with the coefficient roundings) ``<= gamma_29 e^0.7 < 6.5e-15``; relative to
``exp(-r) >= e^-0.7 > 0.49`` both stay below ``2.1e-14``. The total relative error is below
``1.3e-13 + 2.1e-14 < 1.6e-13``; :data:`EXP_REL_ERR` = ``2**-40`` (``9.1e-13``) is used,
over five times that. Above ``g = 700`` the value returned is ``0`` and the true one is
below ``e**-700 < 2**-1000``, the absolute floor :data:`EXP_ABS_ERR` every caller adds.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

__all__ = ["EXP_ABS_ERR", "EXP_REL_ERR", "exp_neg", "exp_neg_bounds"]

#: Proven relative error of :func:`exp_neg` (see the module docstring).
EXP_REL_ERR = 2.0**-40
#: Absolute error floor: covers ``g > 700`` (returned as 0) and subnormal products.
EXP_ABS_ERR = 2.0**-1000

_LN2 = math.log(2.0)
_MAX_G = 700.0
_DEGREE = 14
_COEFFS = tuple(1.0 / math.factorial(j) for j in range(_DEGREE + 1))


def exp_neg(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """``exp(-g)`` elementwise for ``g >= 0``, within ``EXP_REL_ERR`` relative (+ ``EXP_ABS_ERR``).

    Args:
        g: non-negative finite floats (values above 700 give 0).

    Returns:
        The approximations, same shape.
    """
    g = np.minimum(g, _MAX_G)
    k = np.floor(g / _LN2)
    r = g - k * _LN2
    neg_r = -r
    poly = np.full_like(r, _COEFFS[_DEGREE])
    for c in _COEFFS[_DEGREE - 1 :: -1]:
        poly *= neg_r
        poly += c
    out = np.ldexp(poly, -k.astype(np.int32))
    out[g >= _MAX_G] = 0.0
    return out


def exp_neg_bounds(gamma: Fraction, digits: int) -> tuple[Fraction, Fraction]:
    """Rational ``lo <= exp(-gamma) <= hi`` with ``hi - lo`` about ``10**-digits`` relative.

    ``gamma`` is enclosed by two decimals rounded down and up; ``exp`` of each is correctly
    rounded (half an ulp), so widening by one ulp of ``digits`` significant digits encloses
    the true value. Any ``digits >= 10`` works; more digits give tighter bounds.

    The bounds are exact rationals of about ``1.44 gamma`` bits, so this is for moderate
    ``gamma`` (and past about ``2.3e9`` the decimal exponential underflows to 0): callers
    decide larger ``gamma`` against a dyadic bound first, as
    :class:`~dp.mechanisms._bernoulli.ExpNeg` does, which makes reaching here with a huge
    ``gamma`` practically impossible.
    """
    if gamma == 0:
        return Fraction(1), Fraction(1)
    down = Context(prec=digits, rounding=ROUND_FLOOR, Emin=-(10**9), Emax=10**9)
    up = Context(prec=digits, rounding=ROUND_CEILING, Emin=-(10**9), Emax=10**9)
    num, den = Decimal(gamma.numerator), Decimal(gamma.denominator)
    gamma_lo = down.divide(num, den)
    gamma_hi = up.divide(num, den)
    ulp = Fraction(1, 10 ** (digits - 1))
    hi = Fraction(up.exp(gamma_lo.copy_negate())) * (1 + ulp)
    lo = Fraction(down.exp(gamma_hi.copy_negate())) * (1 - ulp)
    return lo, hi
