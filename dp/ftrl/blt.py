"""Buffered linear Toeplitz (BLT) factorisations: near-optimal noise from a few buffers.

Dvijotham, McMahan, Pillutla, Steinke and Thakurta 2024, "Efficient and near-optimal noise
generation for streaming differential privacy", section 5: a BLT with ``k`` buffers, decays
``theta_j in (0, 1)`` and output scales ``omega_j > 0`` is the lower-triangular Toeplitz
matrix with

    c_0 = 1,   c_m = sum_j omega_j theta_j^(m-1)   (m >= 1),

the impulse response of the linear system ``s_(t+1) = diag(theta) s_t + 1 x_t``,
``y_t = x_t + omega^T s_t``. Its inverse is the system ``x_t = y_t - omega^T s_t``,
``s_(t+1) = (diag(theta) - 1 omega^T) s_t + 1 y_t``, again a BLT: with ``u = sqrt(omega)``
the state matrix is similar to the symmetric ``diag(theta) - u u^T``, so its eigenvalues
``lambda_j`` are real and ``C^{-1}`` has decays ``lambda_j`` and scales
``hat omega_j = -(Q^T u)_j^2`` (``Q`` its eigenvectors). The noise
``w_t = (C^{-1} z)_t`` then needs one buffer of ``d`` floats per decay:

    w_t = z_t + sum_j hat omega_j S_j,    S_j <- lambda_j S_j + z_t.

McMahan, Xu and Zhang 2024 ("A hassle-free algorithm for private learning in practice:
don't use tree aggregation, use BLTs") optimise the BLT parameters for multiple
participation with ``b``-min-separation; with ``theta in (0, 1)``, ``omega > 0`` and
``sum omega <= 1`` the coefficients are positive and non-increasing, so the sensitivity is
exactly the strided one (:func:`~dp.ftrl._toeplitz.toeplitz_sensitivity_bounds`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.signal import fftconvolve

from dp.errors import InvalidArgument
from dp.ftrl import _cache
from dp.ftrl._gaussian import ByteSource
from dp.ftrl._toeplitz import lower_toeplitz, single_threaded_blas, toeplitz_sensitivity_bounds
from dp.ftrl._workload import REDUCTIONS, apply_workload, toeplitz_row_sq_norms
from dp.ftrl.schema import ParticipationSchema
from dp.ftrl.strategy import NoiseStream, Strategy, float_vector

__all__ = ["BLTNoiseStream", "BLTStrategy"]

#: The most buffers accepted (the noise state is buffers * d floats).
MAX_BUFFERS = 16


def _blt_coefs(
    theta: NDArray[np.float64], omega: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """``[1, sum_j omega_j theta_j^(m-1) for m in 1..n-1]``."""
    out = np.ones(n)
    if n > 1 and theta.size:
        powers = np.power.outer(np.arange(n - 1, dtype=np.float64), np.ones_like(theta))
        out[1:] = (np.power(theta[None, :], powers)) @ omega
    return out


def _inverse_parameters(
    theta: NDArray[np.float64], omega: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Decays and scales of ``C^{-1}`` (real: the state matrix is similar to a symmetric one)."""
    u = np.sqrt(omega)
    lam, q = np.linalg.eigh(np.diag(theta) - np.outer(u, u))
    scales = -((q.T @ u) ** 2)
    return lam, scales


class BLTNoiseStream(NoiseStream):
    """``w_t = z_t + sum_j hat omega_j S_j``, then ``S_j <- lambda_j S_j + z_t``."""

    def __init__(
        self,
        strategy: BLTStrategy,
        dimension: object,
        noise_std: object,
        seed_source: ByteSource | None,
    ) -> None:
        super().__init__(strategy.rounds, dimension, noise_std, seed_source)
        self._decays, self._scales = strategy.inverse_parameters()
        self._buffers = np.zeros((strategy.buffers, self.dimension))

    @property
    def state_floats(self) -> int:
        """``buffers * dimension``."""
        return int(self._buffers.size)

    def _step(self) -> NDArray[np.float64]:
        z = self._gaussian()
        w = z.copy()
        for j in range(self._buffers.shape[0]):
            buffer = self._buffers[j]
            w += self._scales[j] * buffer
            buffer *= self._decays[j]
            buffer += z
        return w


class BLTStrategy(Strategy):
    """A BLT encoder over ``rounds`` rounds with decays ``theta`` and output scales ``omega``.

    Raises:
        InvalidArgument: ``rounds`` out of range; ``theta`` and ``omega`` of different or
            zero lengths (or more than 16), ``theta`` outside ``(0, 1)``, ``omega <= 0``.
    """

    mechanism = "blt"

    def __init__(self, rounds: object, theta: object, omega: object) -> None:
        super().__init__(rounds)
        th = float_vector("theta", theta)
        om = float_vector("omega", omega, length=th.size)
        if not 1 <= th.size <= MAX_BUFFERS:
            raise InvalidArgument(f"a BLT needs between 1 and {MAX_BUFFERS} buffers, got {th.size}")
        if not np.all((th > 0.0) & (th < 1.0)):
            raise InvalidArgument("theta (buffer decays) must lie in (0, 1)")
        if not np.all(om > 0.0):
            raise InvalidArgument("omega (output scales) must be > 0")
        self._theta, self._omega = th, om
        th.setflags(write=False)
        om.setflags(write=False)

    def __repr__(self) -> str:
        return f"BLTStrategy(rounds={self.rounds}, buffers={self.buffers})"

    @property
    def buffers(self) -> int:
        """The number of buffers (noise state is ``buffers * d`` floats)."""
        return int(self._theta.size)

    @property
    def theta(self) -> NDArray[np.float64]:
        """Buffer decays of ``C`` (read-only)."""
        return self._theta

    @property
    def omega(self) -> NDArray[np.float64]:
        """Output scales of ``C`` (read-only)."""
        return self._omega

    def inverse_parameters(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(decays, scales)`` of the BLT ``C^{-1}`` that generates the noise."""
        return _inverse_parameters(self._theta, self._omega)

    def strategy_coefs(self) -> NDArray[np.float64]:
        """The first column of ``C``."""
        return _blt_coefs(self._theta, self._omega, self.rounds)

    def noise_coefs(self) -> NDArray[np.float64]:
        """The first column of ``C^{-1}``."""
        lam, scales = self.inverse_parameters()
        return _blt_coefs(lam, scales, self.rounds)

    def encoder_matrix(self) -> NDArray[np.float64]:
        """The ``n x n`` Toeplitz ``C``."""
        return lower_toeplitz(self.strategy_coefs(), self.rounds)

    def noise_matrix(self) -> NDArray[np.float64]:
        """The ``n x n`` Toeplitz ``C^{-1}``."""
        return lower_toeplitz(self.noise_coefs(), self.rounds)

    def _row_errors(self, beta: float) -> NDArray[np.float64]:
        return toeplitz_row_sq_norms(apply_workload(self.noise_coefs(), beta))

    def sensitivity_squared_bounds(self, schema: ParticipationSchema) -> tuple[float, float]:
        """Exact (the strided pattern) when the coefficients are non-increasing."""
        schema = self._check_schema(schema)
        # theta in (0, 1) and omega > 0 make c_1 > c_2 > ... > 0; sum omega <= 1 adds c_0 >= c_1.
        known = float(np.sum(self._omega)) <= 1.0
        return toeplitz_sensitivity_bounds(
            self.strategy_coefs(), self.rounds, schema, known_monotone=known
        )

    def noise_stream(
        self, dimension: int, noise_std: float, seed_source: ByteSource | None = None
    ) -> BLTNoiseStream:
        """The BLT noise generator with ``buffers`` buffers (see :meth:`Strategy.noise_stream`)."""
        return BLTNoiseStream(self, dimension, noise_std, seed_source)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the decays and scales."""
        return {
            **self._header(),
            "theta": [float(v) for v in self._theta],
            "omega": [float(v) for v in self._omega],
        }

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> BLTStrategy:
        return cls(data["rounds"], data["theta"], data["omega"])

    # --- optimisation -------------------------------------------------------------------

    @classmethod
    def optimise(
        cls,
        schema: ParticipationSchema,
        buffers: int = 4,
        *,
        objective: str = "mean",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> BLTStrategy:
        """The BLT minimising ``sens^2 * err`` of the prefix sums under ``schema`` (Opt-BLT).

        Dvijotham et al. 2024 section 5.3 and McMahan, Xu and Zhang 2024: the loss is the
        squared sensitivity under ``schema`` times the mean (``objective="mean"``) or
        worst-round (``"max"``) squared prefix-sum error of ``C^{-1}``, both in closed form
        in ``O(n k)``; it is minimised by L-BFGS-B over ``logit(theta)`` and ``log(omega)``
        from several geometric starts, with ``sum omega <= 1`` enforced so that the
        sensitivity formula is exact. With ``cache_dir`` the result is cached on disk.

        Raises:
            InvalidArgument: ``buffers`` not in ``[1, 16]`` or an unknown objective.
        """
        if not isinstance(schema, ParticipationSchema):
            raise InvalidArgument("schema must be a ParticipationSchema")
        if objective not in REDUCTIONS:
            raise InvalidArgument(f"objective must be one of {REDUCTIONS}, got {objective!r}")
        if (
            isinstance(buffers, bool)
            or not isinstance(buffers, (int, np.integer))
            or not 1 <= buffers <= MAX_BUFFERS
        ):
            raise InvalidArgument(f"buffers must be an int in [1, {MAX_BUFFERS}], got {buffers!r}")
        key = f"blt-{schema.cache_key()}-k{buffers}-{objective}"
        cached = _cache.load(cache_dir, key)
        if cached is not None:
            try:
                strategy = cls.from_dict(cached)
                if (
                    isinstance(strategy, cls)
                    and strategy.rounds == schema.rounds
                    and strategy.buffers == buffers
                ):
                    return strategy
            except InvalidArgument:
                pass
        with single_threaded_blas():
            theta, omega = _optimise_blt(schema, int(buffers), objective)
        strategy = cls(schema.rounds, theta, omega)
        _cache.store(cache_dir, key, strategy.to_dict())
        return strategy


def _blt_loss_factory(
    schema: ParticipationSchema, buffers: int, objective: str
) -> tuple[
    Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]],
    Callable[[NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]],
]:
    """The Opt-BLT loss over ``(logit theta, log omega)`` with its analytic gradient.

    ``sens^2`` is differentiated directly in the coefficients ``c``; the error, a function
    of ``C^{-1}``'s coefficients, through the Toeplitz adjoint ``d c_hat = -N dC c_hat``.
    """
    n, k, b = schema.rounds, schema.effective_participations, schema.min_separation
    m = np.arange(n - 1, dtype=np.float64)
    weights = (n - np.arange(n)) / n if objective == "mean" else np.ones(n)
    comb = np.zeros(n)
    comb[: k * b : b] = 1.0

    def unpack(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        theta = 1.0 / (1.0 + np.exp(-x[:buffers]))
        omega = np.exp(x[buffers:])
        return theta, omega

    def reverse_corr(a: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        """``r_s = sum_u a_u v_(s+u)`` for ``s < n``."""
        out: NDArray[np.float64] = fftconvolve(a, v[::-1])[:n][::-1]
        return out

    def loss(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        theta, omega = unpack(x)
        powers = np.power(theta[None, :], m[:, None])  # theta^(m-1) for m = 1..n-1
        c = np.ones(n)
        c[1:] = np.einsum("mk,k->m", powers, omega)
        if k == 1:
            sens, d_sens = float(np.einsum("m,m->", c, c)), 2.0 * c
        else:
            column = fftconvolve(c, comb)[:n]
            sens = float(np.einsum("m,m->", column, column))
            d_sens = 2.0 * reverse_corr(comb, column)
        lam, scales = _inverse_parameters(theta, omega)
        inv = np.ones(n)
        inv[1:] = np.einsum("mk,k->m", np.power(lam[None, :], m[:, None]), scales)
        prefix = np.cumsum(inv)
        err = float(np.sum(weights * prefix * prefix))
        g_inv = np.cumsum((2.0 * weights * prefix)[::-1])[::-1]
        d_err = -reverse_corr(inv, reverse_corr(inv, g_inv))
        excess = max(0.0, float(omega.sum()) - 1.0)  # keeps the coefficients non-increasing
        penalty = 1.0 + 1e3 * excess * excess
        d_c = (d_sens * err + sens * d_err)[1:] * penalty
        d_omega = np.einsum("mk,m->k", powers, d_c) + sens * err * 2e3 * excess
        safe = np.maximum(theta, 1e-300)
        d_theta = omega * np.einsum("mk,m->k", powers * (m[:, None] / safe[None, :]), d_c)
        grad = np.concatenate([d_theta * theta * (1.0 - theta), d_omega * omega])
        value = sens * err * penalty
        if not math.isfinite(value) or not np.all(np.isfinite(grad)):
            return math.inf, np.zeros_like(x)
        return value, grad

    return loss, unpack


def _optimise_blt(
    schema: ParticipationSchema, buffers: int, objective: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Opt-BLT: L-BFGS-B from several geometric starts; the best result wins."""
    n = schema.rounds
    loss, unpack = _blt_loss_factory(schema, buffers, objective)
    best_x: NDArray[np.float64] | None = None
    best = math.inf
    top = math.log10(max(n, 2))
    for low, high in ((0.3, top), (0.5, top + 0.5), (0.1, top - 0.3), (0.8, top + 1.0)):
        # Decays 1 - 10^-a for a spread over [low, high]: from fast to slower than n rounds.
        gaps = np.power(10.0, -np.linspace(low, high, buffers))
        theta0 = np.clip(1.0 - gaps, 1e-3, 1.0 - 1e-9)
        omega0 = np.full(buffers, 0.5 / buffers)
        x0 = np.concatenate([np.log(theta0 / (1.0 - theta0)), np.log(omega0)])
        scale = loss(x0)[0]
        if not math.isfinite(scale):
            continue

        def scaled(x: NDArray[np.float64], s: float = scale) -> tuple[float, NDArray[np.float64]]:
            value, grad = loss(x)
            return value / s, grad / s

        result = minimize(
            scaled,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-11},
        )
        value = loss(result.x)[0]
        if value < best:
            best, best_x = value, result.x
    if best_x is None:
        raise InvalidArgument("the BLT optimisation found no finite loss")
    theta, omega = unpack(best_x)
    if omega.sum() > 1.0:
        omega = omega * ((1.0 - 1e-12) / float(omega.sum()))
    return theta, omega
