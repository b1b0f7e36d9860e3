"""Privacy loss survival functions of the (Poisson-sampled) Gaussian and Laplace mechanisms.

The Laplace mechanisms are the continuous one and the discrete one on the integers.

For a base pair ``mu0`` (noise centred at 0) and ``mu1`` (centred at the sensitivity), the
likelihood ratio ``r(z) = mu1(z)/mu0(z)`` is non-decreasing in the output ``z``. Poisson
sampling with rate ``q`` gives two dominating pairs (Zhu, Dong, Wang 2022, Theorem 11):

* ``remove``: ``P = (1-q) mu0 + q mu1``, ``Q = mu0``, loss ``log(1 - q + q r(z))``;
* ``add``: ``P = mu0``, ``Q = (1-q) mu0 + q mu1``, loss ``-log(1 - q + q r(z))``.

Both are computed and the accountant reports the worse of the two compositions. At ``q = 1``
both are the plain mechanism. The survival functions are exact (closed forms of the normal
and Laplace distributions, geometric series of the discrete Laplace), which is what the
discretisation needs. The discrete Laplace loss takes finitely many values; the survival
functions of both measures are computed from one integer threshold, so even a threshold
misplaced by float rounding describes a partition of the outputs (a post-processing, sound
for the lower bound) and moves the pessimistic discretisation continuously.
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
    """A Gaussian, Laplace or discrete Laplace mechanism, Poisson-sampled with ``rate``.

    ``scale`` is sigma for ``kind="gaussian"`` and b for ``kind="laplace"`` (both at
    sensitivity 1), and the discrete scale t for ``kind="discrete_laplace"``, whose integer
    sensitivity is ``sensitivity``; ``rate = 1`` means no sampling.
    """

    kind: Literal["gaussian", "laplace", "discrete_laplace"]
    scale: float
    rate: float
    sensitivity: int = 1

    def _above(self, log_t: FloatArray, shift: float) -> FloatArray:
        """``mu_shift(log r(z) > log_t)`` (``shift`` is 0 or 1, the sensitivity's units)."""
        s = self.scale
        if self.kind == "discrete_laplace":
            return self._discrete_above(log_t, shift)
        if self.kind == "gaussian":
            # (shift - z) / s with z = s^2 log_t + 1/2, without forming s^2 (overflow).
            return np.asarray(special.ndtr((shift - 0.5) / s - s * log_t), dtype=np.float64)
        z = np.clip((1.0 + s * log_t) / 2.0, 0.0, 1.0)
        tail = _laplace_sf(z - shift, s)
        tail = np.where(log_t >= 1.0 / s, 0.0, tail)
        return np.asarray(np.where(log_t < -1.0 / s, 1.0, tail), dtype=np.float64)

    def _below(self, log_t: FloatArray, shift: float) -> FloatArray:
        """``mu_shift(log r(z) < log_t)``."""
        s = self.scale
        if self.kind == "discrete_laplace":
            return self._discrete_below(log_t, shift)
        if self.kind == "gaussian":
            return np.asarray(special.ndtr(s * log_t - (shift - 0.5) / s), dtype=np.float64)
        z = np.clip((1.0 + s * log_t) / 2.0, 0.0, 1.0)
        head = _laplace_sf(shift - z, s)
        head = np.where(log_t <= -1.0 / s, 0.0, head)
        return np.asarray(np.where(log_t > 1.0 / s, 1.0, head), dtype=np.float64)

    def _discrete_above(self, log_t: FloatArray, shift: float) -> FloatArray:
        """Discrete Laplace: ``log r(z) = (|z| - |z - D|)/t`` is ``(2z - D)/t`` on [0, D]."""
        d, t = self.sensitivity, self.scale
        with np.errstate(invalid="ignore", over="ignore"):
            first = np.floor(np.clip((d + t * log_t) / 2.0, -1.0, float(d))) + 1.0
        tail = _discrete_laplace_at_least(first - shift * d, t)
        tail = np.where(log_t >= d / t, 0.0, tail)
        return np.asarray(np.where(log_t < -d / t, 1.0, tail), dtype=np.float64)

    def _discrete_below(self, log_t: FloatArray, shift: float) -> FloatArray:
        d, t = self.sensitivity, self.scale
        with np.errstate(invalid="ignore", over="ignore"):
            last = np.ceil(np.clip((d + t * log_t) / 2.0, 0.0, d + 1.0)) - 1.0
        # P(X <= last - shift D) = P(X >= shift D - last) by symmetry.
        head = _discrete_laplace_at_least(shift * d - last, t)
        head = np.where(log_t <= -d / t, 0.0, head)
        return np.asarray(np.where(log_t > d / t, 1.0, head), dtype=np.float64)

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

        chosen = remove if direction == "remove" else add

        def quiet(losses: FloatArray) -> tuple[FloatArray, FloatArray]:
            # At extreme scales inf and nan arise and are resolved by the np.where guards
            # above (and by the grid search's refusal); numpy's warnings would be noise.
            with np.errstate(all="ignore"):
                return chosen(losses)

        return quiet


def _laplace_sf(x: FloatArray, b: float) -> FloatArray:
    """Survival function of Lap(0, b) at ``x``."""
    return np.asarray(
        np.where(x >= 0, 0.5 * np.exp(-np.abs(x) / b), 1.0 - 0.5 * np.exp(-np.abs(x) / b)),
        dtype=np.float64,
    )


def _discrete_laplace_at_least(j: FloatArray, t: float) -> FloatArray:
    """``P(X >= j)`` for integer-valued ``j`` and ``X`` discrete Laplace of scale ``t``.

    ``a^j / (1 + a)`` for ``j >= 1`` and ``1 - a^{1-j} / (1 + a)`` otherwise, ``a = e^{-1/t}``.
    """
    log_den = math.log1p(math.exp(-1.0 / t))
    with np.errstate(over="ignore", under="ignore"):
        upper = np.exp(-np.maximum(j, 1.0) / t - log_den)
        lower = -np.expm1(-np.maximum(1.0 - j, 1.0) / t - log_den)
    return np.asarray(np.where(j >= 1.0, upper, lower), dtype=np.float64)


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
    # One grid point of margin below: the lower bound rounds a cell just above a grid point
    # down one step, which must not push an atom at the lowest loss out of the window.
    return math.floor(lo / interval) - 1, math.ceil(hi / interval) + 1


def discretise_mechanism(
    noise: SampledNoise, direction: Direction, interval: float, side: pm.Side, tail: float
) -> pm.DiscretePld:
    """The pessimistic (``"upper"``) or optimistic (``"lower"``) PLD of one direction."""
    survival = noise.survival(direction)
    lo, hi = _find_window(survival, tail, interval)
    if hi - lo + 1 > pm.MAX_GRID_POINTS:
        raise OverflowError("privacy loss grid too large")
    return pm.discretise(survival, interval, lo, hi, side)
