"""Privacy loss survival functions of the (Poisson-sampled) Gaussian and Laplace mechanisms.

For a base pair ``mu0`` (noise centred at 0) and ``mu1`` (centred at the sensitivity 1), the
likelihood ratio ``r(z) = mu1(z)/mu0(z)`` is non-decreasing in the output ``z``. Poisson
sampling with rate ``q`` gives two dominating pairs (Zhu, Dong, Wang 2022, Theorem 11):

* ``remove``: ``P = (1-q) mu0 + q mu1``, ``Q = mu0``, loss ``log(1 - q + q r(z))``;
* ``add``: ``P = mu0``, ``Q = (1-q) mu0 + q mu1``, loss ``-log(1 - q + q r(z))``.

Both are computed and the accountant reports the worse of the two compositions. At ``q = 1``
both are the plain mechanism. The survival functions are exact (closed forms of the normal
and Laplace distributions), which is what the discretisation needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

from dp.accountants import _pld_math as pm

__all__ = ["Direction", "SampledNoise", "discretise_mechanism"]

FloatArray = NDArray[np.float64]
Direction = Literal["add", "remove"]


@dataclass(frozen=True, slots=True)
class SampledNoise:
    """A sensitivity-1 Gaussian or Laplace mechanism, Poisson-sampled with ``rate``.

    ``scale`` is sigma for ``kind="gaussian"`` and b for ``kind="laplace"``; ``rate = 1``
    means no sampling.
    """

    kind: Literal["gaussian", "laplace"]
    scale: float
    rate: float

    def _above(self, log_t: FloatArray, shift: float) -> FloatArray:
        """``mu_shift(log r(z) > log_t)``."""
        s = self.scale
        if self.kind == "gaussian":
            z = s * s * log_t + 0.5
            return np.asarray(special.ndtr((shift - z) / s), dtype=np.float64)
        z = np.clip((1.0 + s * log_t) / 2.0, 0.0, 1.0)
        tail = _laplace_sf(z - shift, s)
        tail = np.where(log_t >= 1.0 / s, 0.0, tail)
        return np.asarray(np.where(log_t < -1.0 / s, 1.0, tail), dtype=np.float64)

    def _below(self, log_t: FloatArray, shift: float) -> FloatArray:
        """``mu_shift(log r(z) < log_t)``."""
        s = self.scale
        if self.kind == "gaussian":
            z = s * s * log_t + 0.5
            return np.asarray(special.ndtr((z - shift) / s), dtype=np.float64)
        z = np.clip((1.0 + s * log_t) / 2.0, 0.0, 1.0)
        head = _laplace_sf(shift - z, s)
        head = np.where(log_t <= -1.0 / s, 0.0, head)
        return np.asarray(np.where(log_t > 1.0 / s, 1.0, head), dtype=np.float64)

    def survival(self, direction: Direction) -> pm.SurvivalFunction:
        """``l -> (P(L > l), Q(L > l))`` for the chosen dominating pair."""
        q = self.rate

        def remove(losses: FloatArray) -> tuple[FloatArray, FloatArray]:
            # L > l  <=>  r(z) > t with t = (e^l - (1 - q)) / q.
            with np.errstate(over="ignore"):
                numerator = np.expm1(losses) + q
            valid = numerator > 0.0
            log_t = np.where(valid, np.log(np.where(valid, numerator, 1.0)) - math.log(q), 0.0)
            s_q = self._above(log_t, 0.0)
            s_p = (1.0 - q) * s_q + q * self._above(log_t, 1.0)
            return np.where(valid, s_p, 1.0), np.where(valid, s_q, 1.0)

        def add(losses: FloatArray) -> tuple[FloatArray, FloatArray]:
            # L > l  <=>  r(z) < t with t = (e^{-l} - (1 - q)) / q.
            with np.errstate(over="ignore"):
                numerator = np.expm1(-losses) + q
            valid = numerator > 0.0
            log_t = np.where(valid, np.log(np.where(valid, numerator, 1.0)) - math.log(q), 0.0)
            s_p = self._below(log_t, 0.0)
            s_q = (1.0 - q) * s_p + q * self._below(log_t, 1.0)
            return np.where(valid, s_p, 0.0), np.where(valid, s_q, 0.0)

        return remove if direction == "remove" else add


def _laplace_sf(x: FloatArray, b: float) -> FloatArray:
    """Survival function of Lap(0, b) at ``x``."""
    return np.asarray(
        np.where(x >= 0, 0.5 * np.exp(-np.abs(x) / b), 1.0 - 0.5 * np.exp(-np.abs(x) / b)),
        dtype=np.float64,
    )


def _find_window(survival: pm.SurvivalFunction, tail: float, interval: float) -> tuple[int, int]:
    """Grid indices ``(lo, hi)`` with P(L <= l_lo) <= tail and P(L > l_hi) <= tail."""

    def s_p(value: float) -> float:
        return float(survival(np.array([value], dtype=np.float64))[0][0])

    hi = 1.0
    while s_p(hi) > tail:
        hi *= 2.0
        if hi > pm.MAX_GRID_POINTS * interval:
            raise OverflowError("privacy loss too large for the grid")
    lo_bracket = hi / 2.0 if hi > 1.0 else -1.0
    for _ in range(60):
        mid = (lo_bracket + hi) / 2.0
        if s_p(mid) > tail:
            lo_bracket = mid
        else:
            hi = mid
    tail = max(tail, pm.CHEAP_TAIL)  # the low end is only ever pushed up (or dropped)
    lo = -1.0
    while 1.0 - s_p(lo) > tail:
        lo *= 2.0
        if -lo > pm.MAX_GRID_POINTS * interval:
            raise OverflowError("privacy loss too large for the grid")
    hi_bracket = lo / 2.0 if lo < -1.0 else 1.0
    for _ in range(60):
        mid = (lo + hi_bracket) / 2.0
        if 1.0 - s_p(mid) > tail:
            hi_bracket = mid
        else:
            lo = mid
    return math.floor(lo / interval), math.ceil(hi / interval) + 1


def discretise_mechanism(
    noise: SampledNoise, direction: Direction, interval: float, side: pm.Side, tail: float
) -> pm.DiscretePld:
    """The pessimistic (``"upper"``) or optimistic (``"lower"``) PLD of one direction."""
    survival = noise.survival(direction)
    lo, hi = _find_window(survival, tail, interval)
    if hi - lo + 1 > pm.MAX_GRID_POINTS:
        raise OverflowError("privacy loss grid too large")
    return pm.discretise(survival, interval, lo, hi, side)
