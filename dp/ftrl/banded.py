"""Banded matrix factorisation (BandMF) for DP-FTRL under a participation schema.

Choquette-Choo, Ganesh, McKenna, McMahan, Rush, Thakurta and Xu 2023, "(Amplified) banded
matrix factorization: a unified approach to private training": when the encoder ``C`` is
lower-triangular with ``p <= b`` non-zero diagonals (``b`` the minimum separation), the
columns a client can touch have disjoint supports, so the sensitivity is the largest sum of
squared column norms over participation patterns, computed exactly here.
The per-round noise ``w = C^{-1} z`` obeys the recursion
``w_t = (z_t - sum_{m=1}^{p-1} c_m w_(t-m)) / c_0``, so the stream keeps the last ``p - 1``
noise vectors.

This class holds the banded *Toeplitz* members of that family (one coefficient per
diagonal), as McMahan, Xu and Zhang 2024 and Kalinin and Lampert 2024 use: ``p``
parameters instead of ``n p``, which lets :meth:`BandedStrategy.optimise` minimise
``sens^2 * ||S C^{-1}||_F^2 / n`` for ``n = 2000`` in seconds with an analytic gradient.
Choquette-Choo et al.'s general (non-Toeplitz) banded optimum differs from it by a few
percent at most in their and McMahan et al.'s comparisons; see ``docs/dp/ftrl.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.signal import fftconvolve

from dp.errors import InvalidArgument
from dp.ftrl import _cache
from dp.ftrl._gaussian import ByteSource
from dp.ftrl._sensitivity import best_pattern_sum
from dp.ftrl._toeplitz import (
    inverse_coefs,
    lower_toeplitz,
    pad,
    single_threaded_blas,
    sqrt_coefs,
    toeplitz_sensitivity_bounds,
)
from dp.ftrl._workload import REDUCTIONS, apply_workload, toeplitz_row_sq_norms
from dp.ftrl.schema import ParticipationSchema
from dp.ftrl.strategy import NoiseStream, Strategy, float_vector

__all__ = ["BandedNoiseStream", "BandedStrategy"]


class BandedNoiseStream(NoiseStream):
    """``w_t = (z_t - sum_m c_m w_(t-m)) / c_0`` with a ring of the last ``p - 1`` outputs."""

    def __init__(
        self,
        strategy: BandedStrategy,
        dimension: object,
        noise_std: object,
        seed_source: ByteSource | None,
    ) -> None:
        super().__init__(strategy.rounds, dimension, noise_std, seed_source)
        self._coefs = strategy.coefs
        self._history = np.zeros((max(strategy.bands - 1, 0), self.dimension))

    @property
    def state_floats(self) -> int:
        """``(p - 1) * dimension``: the previous ``p - 1`` noise vectors."""
        return int(self._history.size)

    def _step(self) -> NDArray[np.float64]:
        w = self._gaussian()
        t, lags = self.round, self._history.shape[0]
        for m in range(1, min(lags, t) + 1):
            w -= self._coefs[m] * self._history[(t - m) % lags]
        if self._coefs[0] != 1.0:
            w /= self._coefs[0]
        if lags:
            self._history[t % lags] = w
        return w


class BandedStrategy(Strategy):
    """A lower-triangular banded Toeplitz encoder: ``C[i, j] = coefs[i - j]`` for ``i - j < p``.

    Raises:
        InvalidArgument: ``rounds`` out of range, ``coefs`` empty, longer than ``rounds``,
            not finite, or with ``coefs[0] <= 0``.
    """

    mechanism = "banded"

    def __init__(self, rounds: object, coefs: object) -> None:
        super().__init__(rounds)
        c = float_vector("coefs", coefs)
        if not 1 <= c.size <= self.rounds:
            raise InvalidArgument(f"coefs must have between 1 and {self.rounds} entries")
        if c[0] <= 0.0:
            raise InvalidArgument("coefs[0] (the diagonal) must be > 0")
        self._coefs = c
        self._coefs.setflags(write=False)

    def __repr__(self) -> str:
        return f"BandedStrategy(rounds={self.rounds}, bands={self.bands})"

    @property
    def coefs(self) -> NDArray[np.float64]:
        """The diagonal values ``c_0, ..., c_(p-1)`` (read-only)."""
        return self._coefs

    @property
    def bands(self) -> int:
        """The number ``p`` of non-zero diagonals."""
        return int(self._coefs.size)

    def encoder_matrix(self) -> NDArray[np.float64]:
        """The ``n x n`` banded Toeplitz ``C``."""
        return lower_toeplitz(self._coefs, self.rounds)

    def noise_coefs(self) -> NDArray[np.float64]:
        """The first column of ``C^{-1}`` (Toeplitz, generally dense)."""
        return inverse_coefs(self._coefs, self.rounds)

    def noise_matrix(self) -> NDArray[np.float64]:
        """``C^{-1}``."""
        return lower_toeplitz(self.noise_coefs(), self.rounds)

    def _row_errors(self, beta: float) -> NDArray[np.float64]:
        return toeplitz_row_sq_norms(apply_workload(self.noise_coefs(), beta))

    def sensitivity_squared_bounds(self, schema: ParticipationSchema) -> tuple[float, float]:
        """Exact when ``p <= b`` (disjoint columns) or for single participation.

        Column ``i`` has squared norm ``sum_{m < min(p, n - i)} c_m^2``; with ``p <= b`` the
        columns of a pattern are orthogonal and the largest sum over patterns is a dynamic
        programme (Choquette-Choo et al. 2023). Otherwise the Toeplitz bounds of
        :func:`~dp.ftrl._toeplitz.toeplitz_sensitivity_bounds` apply.
        """
        schema = self._check_schema(schema)
        k, b = schema.effective_participations, schema.min_separation
        if k == 1 or self.bands <= b:
            squares = pad(self._coefs, self.rounds) ** 2
            norms = np.cumsum(squares)[::-1][: schema.rounds]  # column i: first n - i terms
            value, _ = best_pattern_sum(norms.copy(), k, b)
            return value, value
        return toeplitz_sensitivity_bounds(self._coefs, self.rounds, schema)

    def noise_stream(
        self, dimension: int, noise_std: float, seed_source: ByteSource | None = None
    ) -> BandedNoiseStream:
        """The banded recursion as a stream (see :meth:`Strategy.noise_stream`)."""
        return BandedNoiseStream(self, dimension, noise_std, seed_source)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the diagonal values."""
        return {**self._header(), "coefs": [float(v) for v in self._coefs]}

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> BandedStrategy:
        return cls(data["rounds"], data["coefs"])

    # --- optimisation -------------------------------------------------------------------

    @classmethod
    def optimise(
        cls,
        schema: ParticipationSchema,
        bands: int | None = None,
        *,
        objective: str = "mean",
        cache_dir: str | os.PathLike[str] | None = None,
        max_iterations: int = 3000,
    ) -> BandedStrategy:
        """The banded Toeplitz ``C`` minimising the prefix-sum error under ``schema``.

        Minimises ``sens^2(C) * err(C^{-1})`` with ``err`` the mean (``objective="mean"``,
        RMSE^2) or worst-round (``"max"``) squared prefix-sum error, over the ``p - 1``
        off-diagonal values (the diagonal is fixed at 1: the loss is scale-free), by L-BFGS-B
        with an analytic gradient, from the square-root factorisation. ``bands`` defaults to
        ``b`` under multiple participation (the most with exact sensitivity) and to ``n`` (the
        optimal Toeplitz factorisation) for single participation, both capped at 2048 to bound
        the cost of an evaluation (``O(n p)``). With ``cache_dir`` the result is cached on disk
        by schema, bands and objective.

        Raises:
            InvalidArgument: ``bands`` not in ``[1, n]``, ``bands > b`` under multiple
                participation, or an unknown objective.
        """
        if not isinstance(schema, ParticipationSchema):
            raise InvalidArgument("schema must be a ParticipationSchema")
        if objective not in REDUCTIONS:
            raise InvalidArgument(f"objective must be one of {REDUCTIONS}, got {objective!r}")
        n, k, b = schema.rounds, schema.effective_participations, schema.min_separation
        if bands is None:
            bands = min(b if k > 1 else n, n, 2048)
        if (
            isinstance(bands, bool)
            or not isinstance(bands, (int, np.integer))
            or not 1 <= bands <= n
        ):
            raise InvalidArgument(f"bands must be an int in [1, {n}], got {bands!r}")
        if k > 1 and bands > b:
            raise InvalidArgument(
                f"bands ({bands}) must be <= the minimum separation ({b}) for exact sensitivity"
            )
        key = f"banded-{schema.cache_key()}-p{bands}-{objective}"
        cached = _cache.load(cache_dir, key)
        if cached is not None:
            try:
                strategy = cls.from_dict(cached)
                if isinstance(strategy, cls) and strategy.rounds == n and strategy.bands == bands:
                    return strategy
            except InvalidArgument:
                pass
        with single_threaded_blas():
            coefs = _optimise_banded(n, k, b, int(bands), objective, max_iterations)
        strategy = cls(n, coefs)
        _cache.store(cache_dir, key, strategy.to_dict())
        return strategy


def _optimise_banded(
    n: int, k: int, b: int, p: int, objective: str, max_iterations: int
) -> NDArray[np.float64]:
    """L-BFGS-B on ``c_1..c_(p-1)`` of ``sens^2 * err`` (see :meth:`BandedStrategy.optimise`)."""
    if p == 1:
        return np.ones(1)
    # Column j b has its first min(p, n - j b) diagonals: count_m of the strided columns
    # contain diagonal m.
    starts = np.arange(k) * b
    count = np.array([np.sum(starts + m < n) for m in range(p)], dtype=np.float64)
    weights = (n - np.arange(n)) / n if objective == "mean" else np.ones(n)

    def loss(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        c = np.concatenate([[1.0], x])
        inv = inverse_coefs(c, n)
        prefix = np.cumsum(inv)
        err = float(np.sum(weights * prefix * prefix))
        g_prefix = 2.0 * weights * prefix
        g_inv = np.cumsum(g_prefix[::-1])[::-1]
        h = fftconvolve(inv, g_inv[::-1])[:n][::-1]
        corr = fftconvolve(inv, h[::-1])[:n][::-1]
        g_err = -corr[1:p]
        sens = float(np.sum(count * c * c))
        grad = 2.0 * count[1:] * x * err + sens * g_err
        return sens * err, grad

    x0 = sqrt_coefs(p)[1:]
    scale = loss(x0)[0]

    def scaled(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        value, grad = loss(x)
        return value / scale, grad / scale

    result = minimize(
        scaled,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-10},
    )
    best = result.x if math.isfinite(result.fun) and result.fun <= 1.0 else x0
    return np.concatenate([[1.0], best])
