"""Exact geometric variables ``P(G >= g) = exp(-g * rate)`` by inversion of one uniform.

``G = max{g : V < exp(-g * rate)}`` for a uniform ``V``, so one uniform decides ``G`` once
``V`` is compared with the two thresholds ``exp(-g * rate)`` and ``exp(-(g + 1) * rate)``
around a candidate ``g``. The candidate comes from floating-point ``-log(V) / rate``; it
may be off by one, and is corrected or confirmed by exact comparisons, so floats only
steer the search and never decide the outcome. Thresholds are products of two table
entries, ``exp(-(g >> 10) * 1024 * rate) * exp(-(g & 1023) * rate)``, each computed once
per rate with a proven error (:mod:`dp.mechanisms._exp`). Comparisons whose float bound
cannot decide them go to :class:`~dp.mechanisms._bernoulli.LazyUniform`, which reveals
further bits of the same ``V``, so the law is exactly geometric.

With a fair sign (and "minus zero" rejected) it gives the discrete Laplace law
``P(y) ∝ exp(-|y| rate)``, the proposal of the discrete Gaussian sampler of Canonne, Kamath
and Steinke (2020, Algorithms 2 and 3); their Algorithm 2 builds the same geometric from
``1 + 1/(1 - e^-1)`` Bernoulli trials on average where this takes one uniform.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from dp._rng import random_below
from dp.mechanisms._bernoulli import (
    SLACK,
    ExpNeg,
    LazyUniform,
    bernoulli_exp_neg,
    uniform_prefixes,
)
from dp.mechanisms._exp import EXP_ABS_ERR, EXP_REL_ERR, exp_neg

__all__ = ["ATTEMPTS", "GEOMETRIC_BITS", "LOW_BITS", "Geometric", "geometric"]

#: Leading bits of each uniform revealed on the fast path (tests lower it to exercise the
#: exact slow path; any value in 1..53 gives the same law).
GEOMETRIC_BITS = 53

_U = 2.0**-53
#: Thresholds are ``high[g >> LOW_BITS] * low[g & (2**LOW_BITS - 1)]``.
LOW_BITS = 10
_LOW_MASK = (1 << LOW_BITS) - 1
_MAX_HIGH = 1 << 16
_MAX_GAMMA = 700.0
#: Candidates checked on the fast path before the exact walk takes over.
ATTEMPTS = 4
_MIN_RATE = Fraction(1, 2**20)


class Geometric:
    """Threshold tables for one rational ``rate > 0``."""

    def __init__(self, rate: Fraction) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.rate_f = float(rate)
        # Below 2**-20 consecutive thresholds are too close for the float bound to separate
        # them: G = block * A + B instead, A geometric of rate block * rate, B on
        # [0, block) with P(B = b) ∝ exp(-b rate), drawn by rejection from the uniform.
        self.block = 1
        self.outer: Geometric | None = None
        if rate < _MIN_RATE:
            self.block = math.ceil(_MIN_RATE / rate)
            self.outer = geometric(rate * self.block)
            return
        # j * rate_f has error <= 2.01 u (j rate): the float rate and the product's rounding.
        low_args = np.arange(1 << LOW_BITS, dtype=np.float64) * self.rate_f
        high_count = math.ceil(_MAX_GAMMA / ((1 << LOW_BITS) * self.rate_f)) + 2
        self.direct = high_count > _MAX_HIGH
        high_count = min(high_count, _MAX_HIGH)
        high_args = np.arange(high_count, dtype=np.float64) * float(1 << LOW_BITS) * self.rate_f
        self.low = exp_neg(low_args)
        self.high = exp_neg(high_args)
        low_rel = EXP_REL_ERR + 2.02 * _U * float(low_args[-1])
        high_rel = EXP_REL_ERR + 2.02 * _U * float(min(high_args[-1], _MAX_GAMMA))
        # The product adds one rounding; 1% covers the second-order terms.
        self.rel = (low_rel + high_rel + _U) * 1.01
        # exp(-(g + 1) rate) = exp(-g rate) * step: one product instead of two look-ups.
        self.step = float(exp_neg(np.array([self.rate_f]))[0])
        self.step_rel = EXP_REL_ERR + 2.02 * _U * self.rate_f

    @property
    def tabulated(self) -> bool:
        """Whether thresholds come from the two tables (what the compiled kernel reads)."""
        return self.outer is None and not self.direct

    def threshold(self, g: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``exp(-g * rate)`` for ``g >= 0`` and a rigorous absolute error bound."""
        if self.direct:
            args = g.astype(np.float64) * self.rate_f
            value = exp_neg(args)
            rel = EXP_REL_ERR + 2.02 * _U * np.minimum(args, _MAX_GAMMA) * 1.0001
            return value, value * rel + 2 * EXP_ABS_ERR
        high = np.minimum(g >> LOW_BITS, self.high.size - 1)
        # Beyond the table the true value is below exp(-700) < 2**-1000: the last entry,
        # 0, is within EXP_ABS_ERR of it.
        value = self.high[high] * self.low[g & _LOW_MASK]
        return value, value * self.rel + 2 * EXP_ABS_ERR

    def sample(self, count: int) -> NDArray[np.int64]:
        """``count`` independent draws, exactly geometric."""
        if self.outer is not None:
            return self.block * self.outer.sample(count) + self._remainder(count)
        bits = GEOMETRIC_BITS
        prefixes = uniform_prefixes(count, bits)
        step = 2.0**-bits
        low = prefixes.astype(np.float64) * step  # exact: prefixes < 2**53
        high = low + step
        g = self._candidates(low + 0.5 * step)
        # First pass over the whole block: nearly every candidate is confirmed here.
        confirmed, _, _ = self._check(g, low, high)
        if confirmed.all():
            return g
        out = g
        todo = np.flatnonzero(~confirmed)
        g = g[todo]
        starts: dict[int, int] = {}  # element -> candidate, for the exact slow path
        for _ in range(ATTEMPTS):
            if not todo.size:
                break
            done, down, up = self._check(g, low[todo], high[todo])
            out[todo[done]] = g[done]
            moving = (down | up) & ~done
            undecided = ~done & ~moving
            starts.update(zip(todo[undecided].tolist(), g[undecided].tolist(), strict=True))
            g = g[moving] + up[moving].astype(np.int64) - down[moving].astype(np.int64)
            todo = todo[moving]
        starts.update(zip(todo.tolist(), g.tolist(), strict=True))
        for i, start in starts.items():
            out[i] = self.walk(LazyUniform(int(prefixes[i]), bits), max(start, 0))
        return out

    def _candidates(self, v: NDArray[np.float64]) -> NDArray[np.int64]:
        """Float guesses ``floor(-log(v) / rate)``: usually right, checked exactly anyway."""
        guess = np.floor(-np.log(v) / self.rate_f)
        return np.minimum(guess, 2.0**62).astype(np.int64)

    def _check(
        self, g: NDArray[np.int64], low: NDArray[np.float64], high: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
        """Is ``g`` the draw for ``V`` in ``[low, high)``: (surely, too high, too low)?

        ``G = g`` exactly when ``exp(-(g + 1) rate) <= V < exp(-g rate)``.
        """
        t1, e1 = self.threshold(g)
        t2 = t1 * self.step
        # |t2 - exact| <= (e1 (1 + r) + t1 r) step + u t2, r the step's relative error.
        e2 = ((e1 * (1 + self.step_rel) + t1 * self.step_rel) * self.step + _U * t2) * 1.01
        e2 += 2 * EXP_ABS_ERR
        band1 = e1 + SLACK
        band2 = e2 + SLACK
        done = (high <= t1 - band1) & (low >= t2 + band2)
        if done.all():
            return done, ~done, ~done
        down = low >= t1 + band1  # V >= exp(-g rate): G < g
        up = high <= t2 - band2  # V < exp(-(g + 1) rate): G > g
        return done, down, up

    def _remainder(self, count: int) -> NDArray[np.int64]:
        """``count`` draws of ``B`` on ``[0, block)``, ``P(B = b) ∝ exp(-b rate)``."""
        out = np.empty(count, dtype=np.int64)
        todo = np.arange(count)
        while todo.size:
            b = random_below(self.block, todo.size)
            gamma = b.astype(np.float64) * self.rate_f
            keep = bernoulli_exp_neg(gamma, gamma * (2.02 * _U), _Multiple(b, self.rate))
            out[todo[keep]] = b[keep]
            todo = todo[~keep]
        return out

    def walk(self, uniform: LazyUniform, g: int) -> int:
        """The exact ``G`` for this uniform: walk from ``g`` with exact comparisons."""
        while True:
            if g > 0 and not uniform.below(ExpNeg(g * self.rate)):
                g -= 1
            elif uniform.below(ExpNeg((g + 1) * self.rate)):
                g += 1
            else:
                return g


class _Multiple:
    """Exact ``b_i * rate``."""

    __slots__ = ("b", "rate")

    def __init__(self, b: NDArray[np.int64], rate: Fraction) -> None:
        self.b = b
        self.rate = rate

    def __call__(self, i: int) -> Fraction:
        return int(self.b[i]) * self.rate


@functools.lru_cache(maxsize=32)
def geometric(rate: Fraction) -> Geometric:
    """The (cached) tables for ``rate``: they hold no randomness, only rate-derived values."""
    return Geometric(rate)
