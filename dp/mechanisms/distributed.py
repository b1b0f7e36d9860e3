"""Distributed DP for secure aggregation: every client adds a share of integer noise.

The pipeline of Kairouz, Liu and Steinke, "The Distributed Discrete Gaussian Mechanism for
Federated Learning with Secure Aggregation" (ICML 2021, Algorithm 1 and section 4), and of
Agarwal, Kairouz and Liu, "The Skellam Mechanism for Differentially Private Federated
Learning" (NeurIPS 2021, section 4) for Skellam noise. Each client:

1. clips its update to L2 norm ``c``;
2. rotates it with the public randomised orthonormal DCT (random signs, then DCT-II;
   padded to ``d_pad``, the smallest 5-smooth length ``>= d``: :mod:`dp.mechanisms._rotation`);
3. divides by the grid step ``gamma`` and rounds stochastically, retrying until the rounded
   vector's L2 norm is at most ``Delta_2`` (conditional rounding, Kairouz et al. 2021,
   section 4.1), so the integer sum has a hard sensitivity bound;
4. adds an integer noise share: discrete Gaussian ``N_Z(0, s^2)`` or Skellam of variance
   ``s^2``, with ``s^2 = (z c / gamma)^2 / n_min`` so that any ``n_min`` honest surviving
   shares sum to at least the target variance ``(z c / gamma)^2``;
5. wraps the integers into ``Z_{2^B}`` as unsigned 64-bit words, ready for
   :mod:`secagg.masking`.

The server sums modulo ``2^B`` (secure aggregation), and :func:`decode_aggregate` maps the
sum back to signed integers, multiplies by ``gamma`` and inverts the rotation. It returns
the accountant event for the number of clients that actually survived.

Accuracy (no modular wrap): the decoded sum differs from the sum of the clipped updates by
``gamma`` times the rotated sum of rounding errors and noise shares; each rounding error is
below one grid unit per coordinate, so
``||decoded - sum clipped||_2 <= gamma * (n * sqrt(d_pad) + ||noise||_2)`` with
``E ||noise||_2^2 = d_pad * n * s^2``. :meth:`DistributedConfig.calibrate` picks ``gamma``
so that each coordinate of the aggregate stays within ``k`` standard deviations of the
modular range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp._arrays import refuse_tensor
from dp.errors import CalibrationError, DPError, InvalidArgument
from dp.events import DistributedDiscreteGaussian, DpEvent, Skellam
from dp.mechanisms import _bernoulli
from dp.mechanisms._bernoulli import SLACK, LazyUniform, bernoulli, uniform_prefixes
from dp.mechanisms._compiled import kernels
from dp.mechanisms._rotation import (
    FLATTENING,
    rotate_into,
    rotation_length,
    shared_signs,
    unrotate,
)
from dp.mechanisms._workspace import scratch_bytes, scratch_floats, scratch_ints
from dp.mechanisms.clipping import as_finite_vector, clip_l2_unchecked, positive_real
from dp.mechanisms.samplers import sample_discrete_gaussian_sq, sample_skellam

__all__ = [
    "NoiseKind",
    "DistributedConfig",
    "DecodedAggregate",
    "encode_update",
    "decode_aggregate",
    "conditional_round",
]

NoiseKind = Literal["discrete_gaussian", "skellam"]
_EXACT = 2.0**52
_MAX_SKELLAM_MU = 2**34


def _positive_int(name: str, value: object, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise InvalidArgument(f"{name} must be {bounds}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class DistributedConfig:
    """Public parameters of one distributed-DP aggregation, shared by clients and server.

    Args:
        dimension: length ``d`` of each update.
        l2_clip: clipping norm ``c`` of each update.
        noise_multiplier: target aggregate noise standard deviation over ``c`` when ``n_min``
            shares survive (the ``z`` of the Gaussian mechanism); ``0`` disables noise
            (for testing the encoding only: :meth:`event` then refuses).
        n_min: the fewest surviving honest clients whose noise must reach the target.
        modulus_bits: ``B``, the secure aggregation ring is ``Z_{2^B}``; at most 62.
        scale: grid step ``gamma``: one integer unit is worth ``gamma``.
        noise: ``"discrete_gaussian"`` or ``"skellam"``.
        beta: conditional rounding parameter of Kairouz et al. 2021 (section 4.1).
        max_rounding_attempts: retries of the conditional rounding before giving up.
    """

    dimension: int
    l2_clip: float
    noise_multiplier: float
    n_min: int
    modulus_bits: int
    scale: float
    noise: NoiseKind = "discrete_gaussian"
    beta: float = math.exp(-0.5)
    max_rounding_attempts: int = 1000
    _padded: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive_int("dimension", self.dimension, 1, 2**26)
        positive_real("l2_clip", self.l2_clip)
        if isinstance(self.noise_multiplier, bool) or not isinstance(
            self.noise_multiplier, int | float
        ):
            raise InvalidArgument("noise_multiplier must be a real number")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise InvalidArgument("noise_multiplier must be finite and >= 0")
        _positive_int("n_min", self.n_min)
        _positive_int("modulus_bits", self.modulus_bits, 8, 62)
        positive_real("scale", self.scale)
        if self.noise not in ("discrete_gaussian", "skellam"):
            raise InvalidArgument(
                f"noise must be 'discrete_gaussian' or 'skellam', not {self.noise!r}"
            )
        if not 0 < self.beta < 1:
            raise InvalidArgument("beta must be in (0, 1)")
        _positive_int("max_rounding_attempts", self.max_rounding_attempts)
        object.__setattr__(self, "_padded", rotation_length(self.dimension))
        if self.noise_multiplier > 0 and self.client_variance < Fraction(1, 4):
            raise InvalidArgument(
                "per-client noise is below half a grid unit; use a smaller scale "
                "(more modulus bits) or a smaller n_min"
            )
        if self.noise == "skellam" and self.client_variance / 2 > _MAX_SKELLAM_MU:
            raise InvalidArgument("per-client Skellam noise exceeds 2**34; use a coarser scale")
        if self.l2_clip / self.scale + math.sqrt(self._padded) >= _EXACT / 4:
            raise InvalidArgument("scale is too fine for exact float arithmetic")

    @classmethod
    def calibrate(
        cls,
        *,
        dimension: int,
        l2_clip: float,
        noise_multiplier: float,
        n_min: int,
        num_clients: int,
        modulus_bits: int,
        noise: NoiseKind = "discrete_gaussian",
        k_stddevs: float = 4.0,
        max_client_sigma: float = 2.0**12,
    ) -> DistributedConfig:
        """Choose the finest grid step for which the aggregate fits ``B`` bits.

        Each aggregate coordinate (grid units) has variance at most
        ``A / gamma^2 + n / 4`` with ``A = 2 (n c)^2 / d_pad + n (z c)^2 / n_min`` (signal
        spread by the rotation, whose flattening constant is 2, rounding, noise;
        ``n = num_clients``); ``gamma`` is the smallest value with
        ``2 k sqrt(A / gamma^2 + n / 4) <= 2^B`` (Kairouz et al. 2021,
        section 5, with ``k`` standard deviations of head-room). The grid is never made
        finer than needed for a per-client noise of ``max_client_sigma`` grid units: beyond
        that, rounding is already ``2**-26`` of the noise variance and finer grids only cost
        sampling time.

        Raises:
            CalibrationError: if ``B`` bits cannot hold ``k`` standard deviations.
        """
        _positive_int("num_clients", num_clients)
        n = num_clients
        d_pad = rotation_length(_positive_int("dimension", dimension, 1, 2**26))
        c = positive_real("l2_clip", l2_clip)
        k = positive_real("k_stddevs", k_stddevs)
        _positive_int("n_min", n_min)
        _positive_int("modulus_bits", modulus_bits, 8, 62)
        spread = FLATTENING * (n * c) ** 2 / d_pad + n * (noise_multiplier * c) ** 2 / n_min
        room = (2.0 ** (modulus_bits - 1) / k) ** 2 - n / 4
        if room <= 0:
            raise CalibrationError(f"{modulus_bits} bits cannot hold the sum of {n} clients")
        gamma = math.sqrt(spread / room)
        if noise_multiplier > 0:
            floor = (
                noise_multiplier
                * c
                / (math.sqrt(n_min) * positive_real("max_client_sigma", max_client_sigma))
            )
            gamma = max(gamma, floor)
        try:
            return cls(
                dimension=dimension,
                l2_clip=c,
                noise_multiplier=noise_multiplier,
                n_min=n_min,
                modulus_bits=modulus_bits,
                scale=gamma,
                noise=noise,
            )
        except InvalidArgument as exc:
            raise CalibrationError(f"no workable grid for {modulus_bits} bits: {exc}") from exc

    @property
    def padded_dimension(self) -> int:
        """``d_pad``: the rotation's length, the smallest 5-smooth integer ``>= dimension``."""
        return self._padded

    @property
    def sensitivity_l2(self) -> float:
        """``Delta_2``: the hard L2 bound of each client's rounded vector (grid units).

        ``min(sqrt(c'^2 + d/4 + sqrt(2 ln(1/beta)) (c' + sqrt(d)/2)), c' + sqrt(d))`` with
        ``c' = c / gamma`` and ``d = d_pad`` (Kairouz et al. 2021, Theorem 2 / eq. (5)).
        """
        c = self.l2_clip / self.scale
        d = self._padded
        conditional = math.sqrt(
            c * c + d / 4 + math.sqrt(2 * math.log(1 / self.beta)) * (c + math.sqrt(d) / 2)
        )
        return min(conditional, c + math.sqrt(d))

    @property
    def sensitivity_l1(self) -> float:
        """``Delta_1 <= min(Delta_2^2, sqrt(d_pad) Delta_2)`` for an integer vector."""
        d2 = self.sensitivity_l2
        return min(d2 * d2, math.sqrt(self._padded) * d2)

    @property
    def client_variance(self) -> Fraction:
        """``s^2``: each client's noise variance in grid units (exact rational)."""
        target = Fraction(self.noise_multiplier) * Fraction(self.l2_clip) / Fraction(self.scale)
        return target * target / self.n_min

    def event(self, survivors: int) -> DpEvent:
        """The accountant event for a sum of ``survivors`` honest noise shares.

        Raises:
            InvalidArgument: if noise is disabled or ``survivors < 1``.
        """
        count = _positive_int("survivors", survivors)
        if self.noise_multiplier == 0:
            raise InvalidArgument("noise is disabled: the aggregate is not differentially private")
        if self.noise == "skellam":
            return Skellam(
                mu=float(self.client_variance / 2 * count),
                sensitivity_l1=self.sensitivity_l1,
                sensitivity_l2=self.sensitivity_l2,
            )
        return DistributedDiscreteGaussian(
            sigma=math.sqrt(self.client_variance),
            n_min=count,
            dimension=self._padded,
            sensitivity_l1=self.sensitivity_l1,
            sensitivity_l2=self.sensitivity_l2,
        )


_FRACTION_ERROR = 2.0**-53
"""Bound on the float rounding of ``y - floor(y)``: the exact value lies in ``[0, 1)``, so
rounding it to float64 moves it by at most half a unit in the last place of 1. (It is exact
except for ``-1/2 < y < 0``, where ``1 + y`` may need more than 53 bits.)"""


class _ExactFraction:
    """The exact fractional part ``y_i - floor(y_i)`` as a rational."""

    __slots__ = ("floors", "values")

    def __init__(self, values: NDArray[np.float64], floors: NDArray[np.int64]) -> None:
        self.values = values
        self.floors = floors

    def __call__(self, i: int) -> Fraction:
        return Fraction(float(self.values[i])) - int(self.floors[i])


def conditional_round(
    y: NDArray[np.float64], bound: float, max_attempts: int = 1000
) -> NDArray[np.int64]:
    """Round stochastically, retrying until the L2 norm is at most ``bound``.

    Each coordinate goes up with probability exactly its fractional part (an exact
    Bernoulli trial), so one attempt is unbiased (Kairouz et al. 2021, section 4.1).

    Raises:
        DPError: if no attempt met the bound.
    """
    high, low = (float(y.max()), float(y.min())) if y.size else (0.0, 0.0)
    if math.isnan(high) or math.isnan(low):
        raise InvalidArgument("cannot round NaN")
    if max(high, -low) >= _EXACT:
        raise InvalidArgument("values of magnitude 2^52 or more cannot be rounded exactly")
    floor = np.floor(y, out=scratch_floats("round-fraction", y.size))
    base = scratch_ints("round-base", y.size)
    np.copyto(base, floor, casting="unsafe")  # exact: integers below 2^52
    frac = np.subtract(y, floor, out=floor)  # within _FRACTION_ERROR of the exact value
    # The norm test is exact: integer sum of squares against the exact square of the float
    # bound (int64 when it cannot overflow, Python integers otherwise).
    limit = Fraction(bound) ** 2
    # floor is monotonic, so the extreme floors are the floors of the extremes.
    top = max(math.floor(high), -math.floor(low)) + 1 if base.size else 0
    fits = (top * top + 1) * max(1, base.size) < 2**62
    rounded = np.empty_like(base)
    exact = _ExactFraction(y, base)
    for _ in range(max_attempts):
        _round_once(base, frac, exact, rounded)
        sum_sq = int(np.dot(rounded, rounded)) if fits else sum(v * v for v in rounded.tolist())
        if sum_sq <= limit:
            return rounded
    raise DPError(f"conditional rounding failed {max_attempts} times; raise beta or the bound")


def _round_once(
    base: NDArray[np.int64],
    frac: NDArray[np.float64],
    exact: _ExactFraction,
    rounded: NDArray[np.int64],
) -> None:
    """``rounded = base + Bernoulli(frac)``, elementwise and exactly (compiled when possible)."""
    compiled = kernels()
    if compiled is None:
        np.add(base, bernoulli(frac, _FRACTION_ERROR, exact), out=rounded)
        return
    bits = _bernoulli.PREFIX_BITS
    prefixes = uniform_prefixes(base.size, bits)
    undecided = scratch_bytes("round-undecided", base.size)
    band = _FRACTION_ERROR + SLACK
    if compiled.round_stochastically(base, frac, prefixes, bits, band, rounded, undecided):
        for i in np.flatnonzero(undecided).tolist():
            up = LazyUniform(int(prefixes[i]), bits).below(exact(i))
            rounded[i] = base[i] + int(up)


def _wrap(values: NDArray[np.int64], bits: int) -> NDArray[np.uint64]:
    """Two's complement words of ``values`` modulo ``2^bits``, in place."""
    words = values.view(np.uint64)
    np.bitwise_and(words, np.uint64((1 << bits) - 1), out=words)
    return words


def encode_update(update: ArrayLike, config: DistributedConfig, seed: bytes) -> NDArray[np.uint64]:
    """Client side: clip, rotate, scale, round, add a noise share and wrap into ``Z_{2^B}``.

    Args:
        update: the client's update, a 1-D vector of length ``config.dimension``.
        config: the round's public parameters.
        seed: the round's public 32-byte rotation seed.

    Returns:
        ``config.padded_dimension`` unsigned words in ``[0, 2^B)``, the secure aggregation
        input.
    """
    x = as_finite_vector(update, "update")
    if x.size != config.dimension:
        raise InvalidArgument(f"expected an update of length {config.dimension}, got {x.size}")
    signs = shared_signs(seed, config.padded_dimension)
    clipped = clip_l2_unchecked(x, config.l2_clip, scratch_floats("encode-clipped", x.size))
    rotated = rotate_into(clipped, signs, scratch_floats("encode-rotated", signs.size))
    rotated /= config.scale
    rounded = conditional_round(rotated, config.sensitivity_l2, config.max_rounding_attempts)
    if config.noise_multiplier > 0:
        variance = config.client_variance
        if config.noise == "skellam":
            rounded += sample_skellam(variance / 2, rounded.size)
        else:
            rounded += sample_discrete_gaussian_sq(variance, rounded.size)
    return _wrap(rounded, config.modulus_bits)


@dataclass(frozen=True, slots=True)
class DecodedAggregate:
    """The server's decoded sum, with what the accountant needs.

    Attributes:
        values: the estimated sum of the clipped updates, length ``dimension``.
        survivors: number of clients whose shares are in the sum.
        event: the accountant event for those survivors (``None`` if noise is disabled).
        below_target: ``True`` when fewer than ``n_min`` shares survived, so the noise is
            below the configured target (the event accounts for it honestly).
    """

    values: NDArray[np.float64]
    survivors: int
    event: DpEvent | None
    below_target: bool


def decode_aggregate(
    aggregate: ArrayLike, config: DistributedConfig, seed: bytes, survivors: int
) -> DecodedAggregate:
    """Server side: unwrap the modular sum, unscale and invert the rotation.

    Args:
        aggregate: the sum modulo ``2^B`` of the surviving clients' encodings.
        config: the round's public parameters.
        seed: the round's public rotation seed.
        survivors: how many clients' encodings are in the sum.

    Returns:
        The decoded sum and the accountant event for ``survivors`` noise shares.
    """
    count = _positive_int("survivors", survivors)
    refuse_tensor(aggregate, "aggregate")
    arr = np.asarray(aggregate)
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"the aggregate must hold integers, got dtype {arr.dtype}")
    if arr.shape != (config.padded_dimension,):
        raise InvalidArgument(f"expected an aggregate of shape ({config.padded_dimension},)")
    bits = config.modulus_bits
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= 1 << bits):
        raise InvalidArgument(f"aggregate entries must lie in [0, 2^{bits})")
    # Centred lift: sign-extend bit B-1 (two's complement), then unscale and unrotate.
    shift = 64 - bits
    signed = (arr.astype(np.uint64) << np.uint64(shift)).view(np.int64) >> np.int64(shift)
    scaled = signed.astype(np.float64)
    scaled *= config.scale
    values = unrotate(scaled, shared_signs(seed, config.padded_dimension), config.dimension)
    event = config.event(count) if config.noise_multiplier > 0 else None
    return DecodedAggregate(
        values=values, survivors=count, event=event, below_target=count < config.n_min
    )
