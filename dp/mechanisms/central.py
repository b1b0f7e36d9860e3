"""Central DP mechanisms for a trusted aggregator: Gaussian and Laplace noise on a grid.

A textbook implementation adds floating-point noise ``x + sigma * N(0, 1)``; Mironov (2012,
"On Significance of the Least Significant Bits for Differential Privacy") showed that the
set of floats such a sum can take depends on ``x``, so the low bits of the output can
reveal the input exactly. Here the input is first rounded to the grid ``step * Z`` with a
power-of-two ``step``, and the noise is an *exactly* sampled discrete Gaussian or discrete
Laplace multiple of ``step`` (Canonne, Kamath and Steinke 2020). Every output is a grid
point ``step * k`` with ``|k| < 2**53``, represented exactly in float64, and its
distribution given the rounded input is exactly the shifted discrete distribution: no
float rounding ever depends on the secret.

Rounding the input moves each coordinate by at most ``step / 2``, so two neighbouring
inputs at L2 (L1) distance ``Delta`` are at most ``Delta / step + sqrt(d)`` (``+ d``) grid
units apart; the emitted accountant event uses that enlarged sensitivity, and the default
grid (``2**-20`` of the sensitivity divided by ``sqrt(d)`` or ``d``) makes the enlargement
negligible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp.errors import InvalidArgument
from dp.events import DiscreteGaussian, DiscreteLaplace
from dp.mechanisms.clipping import as_finite_vector, positive_real
from dp.mechanisms.samplers import sample_discrete_gaussian_sq, sample_discrete_laplace

__all__ = ["GaussianMechanism", "LaplaceMechanism", "grid_step"]

_EXACT = 2.0**52


def grid_step(sensitivity: float, dimension: int, *, l1: bool = False, bits: int = 20) -> float:
    """The default grid: the largest power of two at most ``sensitivity / (2**bits * r)``.

    ``r`` is ``sqrt(dimension)`` for L2 and ``dimension`` for L1 sensitivities, so the
    rounding slack is at most ``2**-bits`` of the sensitivity.
    """
    spread = dimension if l1 else math.sqrt(dimension)
    return 2.0 ** math.floor(math.log2(sensitivity / (2.0**bits * spread)))


def _check_dimension(dimension: object) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise InvalidArgument(f"dimension must be an int >= 1, got {dimension!r}")
    return dimension


def _to_grid(x: ArrayLike, dimension: int, step: float) -> NDArray[np.int64]:
    arr = as_finite_vector(x)
    if arr.size != dimension:
        raise InvalidArgument(f"expected a vector of length {dimension}, got {arr.size}")
    scaled = arr / step  # exact: step is a power of two
    if arr.size and float(np.max(np.abs(scaled))) >= _EXACT / 4:
        raise InvalidArgument("the input is too large for the noise grid; clip it first")
    return np.rint(scaled).astype(np.int64)


def _from_grid(k: NDArray[np.int64], step: float) -> NDArray[np.float64]:
    if k.size and int(np.max(np.abs(k))) >= 2**53:
        raise InvalidArgument("noised value left the exactly representable range")
    out: NDArray[np.float64] = k.astype(np.float64) * step
    return out


@dataclass(frozen=True, slots=True)
class GaussianMechanism:
    """Exact discrete Gaussian noise of standard deviation ``noise_multiplier * l2_sensitivity``.

    Args:
        noise_multiplier: noise scale over the L2 sensitivity, > 0.
        l2_sensitivity: L2 sensitivity of the query (e.g. the clipping norm), > 0.
        dimension: length of the vectors released.
        grid_bits: grid fineness, see :func:`grid_step`.

    Example:
        >>> mech = GaussianMechanism(1.0, l2_sensitivity=1.0, dimension=3)
        >>> mech.release([0.1, 0.2, 0.3]).shape
        (3,)
    """

    noise_multiplier: float
    l2_sensitivity: float
    dimension: int
    grid_bits: int = 20

    def __post_init__(self) -> None:
        positive_real("noise_multiplier", self.noise_multiplier)
        positive_real("l2_sensitivity", self.l2_sensitivity)
        _check_dimension(self.dimension)
        if not 4 <= self.grid_bits <= 30:
            raise InvalidArgument("grid_bits must be in [4, 30]")
        if not 2**-60 <= self.sigma_squared <= 2**80:
            raise InvalidArgument(
                "the noise in grid units is outside the sampler's range; change grid_bits"
            )

    @property
    def step(self) -> float:
        """The grid step (a power of two)."""
        return grid_step(self.l2_sensitivity, self.dimension, bits=self.grid_bits)

    @property
    def sigma_squared(self) -> Fraction:
        """The discrete Gaussian parameter ``sigma^2`` in grid units (exact)."""
        sigma = Fraction(self.noise_multiplier) * Fraction(self.l2_sensitivity)
        return (sigma / Fraction(self.step)) ** 2

    @property
    def event(self) -> DiscreteGaussian:
        """The accountant event, with the sensitivity enlarged by grid rounding."""
        sens = self.l2_sensitivity / self.step + math.sqrt(self.dimension)
        return DiscreteGaussian(sigma=math.sqrt(self.sigma_squared), sensitivity_l2=sens)

    def release(self, value: ArrayLike) -> NDArray[np.float64]:
        """Round ``value`` to the grid and add exact discrete Gaussian noise.

        Args:
            value: the (already clipped or aggregated) vector of length ``dimension``.

        Returns:
            The noised vector, every entry a multiple of :attr:`step`.
        """
        grid = _to_grid(value, self.dimension, self.step)
        noise = sample_discrete_gaussian_sq(self.sigma_squared, self.dimension)
        return _from_grid(grid + noise, self.step)


@dataclass(frozen=True, slots=True)
class LaplaceMechanism:
    """Exact discrete Laplace noise of scale ``scale * l1_sensitivity``: pure DP.

    With the grid rounding, the release is ``epsilon``-DP with
    ``epsilon = event.sensitivity / event.scale`` (Canonne, Kamath and Steinke 2020,
    section 2.2); :attr:`event` is the exact discrete Laplace event with the true integer
    sensitivity, so both accountants use the discrete mechanism's own privacy loss.

    Args:
        scale: Laplace scale over the L1 sensitivity, > 0 (epsilon about ``1 / scale``).
        l1_sensitivity: L1 sensitivity of the query, > 0.
        dimension: length of the vectors released.
        grid_bits: grid fineness, see :func:`grid_step`.
    """

    scale: float
    l1_sensitivity: float
    dimension: int
    grid_bits: int = 20

    def __post_init__(self) -> None:
        positive_real("scale", self.scale)
        positive_real("l1_sensitivity", self.l1_sensitivity)
        _check_dimension(self.dimension)
        if not 4 <= self.grid_bits <= 30:
            raise InvalidArgument("grid_bits must be in [4, 30]")
        if not 2**-30 <= self.grid_scale <= 2**40:
            raise InvalidArgument(
                "the noise in grid units is outside the sampler's range; lower grid_bits"
            )

    @property
    def step(self) -> float:
        """The grid step (a power of two)."""
        return grid_step(self.l1_sensitivity, self.dimension, l1=True, bits=self.grid_bits)

    @property
    def grid_scale(self) -> Fraction:
        """The discrete Laplace scale in grid units (rounded up to a multiple of ``2**-16``)."""
        exact = Fraction(self.scale) * Fraction(self.l1_sensitivity) / Fraction(self.step)
        # Round up to a multiple of 2**-16 (more noise, never less) so the numerator stays
        # within the sampler's range.
        return Fraction(math.ceil(exact * 2**16), 2**16)

    @property
    def integer_sensitivity(self) -> int:
        """How far (L1, in grid units) rounding lets neighbouring inputs' grid points move.

        Each coordinate's rounded difference is an integer of at most ``|a_i - b_i| + 1``
        grid units, so the total is at most ``floor(l1 / step) + dimension`` (``l1 / step``
        is exact: the step is a power of two).
        """
        return math.floor(self.l1_sensitivity / self.step) + self.dimension

    @property
    def event(self) -> DiscreteLaplace:
        """The exact accountant event: discrete Laplace noise at the integer sensitivity."""
        return DiscreteLaplace(scale=float(self.grid_scale), sensitivity=self.integer_sensitivity)

    def release(self, value: ArrayLike) -> NDArray[np.float64]:
        """Round ``value`` to the grid and add exact discrete Laplace noise.

        Args:
            value: the vector of length ``dimension``.

        Returns:
            The noised vector, every entry a multiple of :attr:`step`.
        """
        grid = _to_grid(value, self.dimension, self.step)
        noise = sample_discrete_laplace(self.grid_scale, self.dimension)
        return _from_grid(grid + noise, self.step)
