"""Fixed-point encoding of float vectors for secure aggregation in ``Z_{2^B}``.

Masking (:mod:`secagg.masking`) and Paillier add integers modulo ``2^B``. This module turns
float updates into such integers and back: clip (L2 or L-infinity), scale, round
stochastically without bias (so the aggregate's rounding error has mean zero; Gupta et al.
2015, "Deep learning with limited numerical precision"; Kairouz et al. 2021, "The
distributed discrete Gaussian mechanism", section 4), map signed integers to ``Z_{2^B}`` in
two's complement, and back after summing. :func:`check_no_wrap` refuses any number of
clients, bound, weight and ``B`` whose sum could wrap around.

The rounding coins come from an AES-256-CTR keystream keyed with :func:`os.urandom`, never
from numpy's generators.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secagg._arrays import as_numpy
from secagg.errors import InvalidArgument, PlaintextOverflow

__all__ = [
    "FixedPointEncoding",
    "check_no_wrap",
    "clip_l2",
    "clip_linf",
    "stochastic_round",
    "to_ring",
    "from_ring",
]

_MAX_SCALED = 2**62
"""Scaled magnitudes stay below this so the rounded integers fit in int64 with room to spare.

From ``2^52`` on every float64 is an integer, so rounding is exact and deterministic there:
the quantisation step is then the float64 spacing rather than ``1 / scale``."""


def _as_finite_floats(x: object) -> npt.NDArray[np.float64]:
    arr = as_numpy(x, "x")
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"expected real numbers, got dtype {arr.dtype}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument("the input holds NaN or infinity")
    return out


def _check_bits(modulus_bits: int) -> None:
    if isinstance(modulus_bits, bool) or not isinstance(modulus_bits, int):
        raise InvalidArgument("modulus_bits must be an int")
    if not 2 <= modulus_bits <= 64:
        raise InvalidArgument("modulus_bits must lie in [2, 64]")


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be a number")
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise InvalidArgument(f"{name} must be positive and finite")
    return out


def clip_l2(x: npt.ArrayLike, bound: float) -> npt.NDArray[np.float64]:
    """Scale ``x`` down so its L2 norm is at most ``bound`` (unchanged if already inside)."""
    b = _positive_float("bound", bound)
    arr = _as_finite_floats(x)
    norm = float(np.linalg.norm(arr.ravel()))
    if norm <= b:
        return arr
    out: npt.NDArray[np.float64] = arr * (b / norm)
    # Rounding of the division may leave the norm a hair above the bound.
    np.clip(out, -b, b, out=out)
    return out


def clip_linf(x: npt.ArrayLike, bound: float) -> npt.NDArray[np.float64]:
    """Clamp every entry of ``x`` to ``[-bound, bound]``."""
    b = _positive_float("bound", bound)
    return np.clip(_as_finite_floats(x), -b, b)


def _uniform(count: int) -> npt.NDArray[np.float64]:
    """``count`` uniform floats in ``[0, 1)`` with 53 random bits each, from AES-CTR."""
    encryptor = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(bytes(16))).encryptor()
    words = np.frombuffer(encryptor.update(bytes(8 * count)), dtype="<u8")
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


def stochastic_round(x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Round each entry to ``floor(v)`` or ``floor(v) + 1``, up with probability ``v - floor(v)``.

    Unbiased: ``E[round(v)] = v`` up to ``2^-53``. Entries must be finite with magnitude
    below ``2^62`` (from ``2^52`` on, float64 values are integers and stay as they are).
    """
    arr = _as_finite_floats(x)
    if arr.size and float(np.max(np.abs(arr))) >= _MAX_SCALED:
        raise PlaintextOverflow("values of magnitude 2^62 or more do not fit the integers")
    floor = np.floor(arr)
    up = _uniform(arr.size).reshape(arr.shape) < (arr - floor)
    return (floor + up).astype(np.int64)


def to_ring(values: npt.ArrayLike, modulus_bits: int) -> npt.NDArray[np.uint64]:
    """Map signed integers in ``[-2^(B-1), 2^(B-1))`` to ``Z_{2^B}`` (two's complement)."""
    _check_bits(modulus_bits)
    arr = as_numpy(values, "values")
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"to_ring takes integers, got dtype {arr.dtype}")
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        half = 1 << (modulus_bits - 1)
        if low < -half or high >= half:
            raise PlaintextOverflow(f"values outside [-2^{modulus_bits - 1}, 2^{modulus_bits - 1})")
    out = arr.astype(np.int64).view(np.uint64) if arr.dtype.kind == "i" else arr.astype(np.uint64)
    if modulus_bits < 64:
        out = out & np.uint64((1 << modulus_bits) - 1)
    return np.ascontiguousarray(out)


def from_ring(values: npt.ArrayLike, modulus_bits: int) -> npt.NDArray[np.int64]:
    """Inverse of :func:`to_ring`: lift ``Z_{2^B}`` to the centred range ``[-2^(B-1), 2^(B-1))``."""
    _check_bits(modulus_bits)
    arr = as_numpy(values, "values")
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"from_ring takes integers, got dtype {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >> modulus_bits):
        raise InvalidArgument(f"values outside Z_(2^{modulus_bits})")
    words = arr.astype(np.uint64)
    if modulus_bits < 64:
        # Sign-extend bit B-1 into the upper bits, then reinterpret as int64.
        shift = np.uint64(64 - modulus_bits)
        return (words << shift).view(np.int64) >> np.int64(64 - modulus_bits)
    return words.view(np.int64).copy()


def check_no_wrap(n_clients: int, bound: int, weight: int, modulus_bits: int) -> None:
    """Refuse parameters whose sum could wrap modulo ``2^B``.

    The sum of ``n_clients`` vectors whose entries are integers of magnitude at most
    ``bound``, each multiplied by a weight of at most ``weight``, lies in
    ``[-n*weight*bound, n*weight*bound]``; it decodes exactly iff that interval fits in
    ``[-2^(B-1), 2^(B-1))``.

    Raises:
        PlaintextOverflow: ``n_clients * weight * bound >= 2^(B-1)``.
        InvalidArgument: a parameter is not a positive int (``bound`` may be 0).
    """
    _check_bits(modulus_bits)
    for name, value, low in (
        ("n_clients", n_clients, 1),
        ("bound", bound, 0),
        ("weight", weight, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidArgument(f"{name} must be an int >= {low}, got {value!r}")
    worst = n_clients * weight * bound
    if worst >= 1 << (modulus_bits - 1):
        raise PlaintextOverflow(
            f"{n_clients} clients x weight {weight} x bound {bound} = {worst} can wrap mod "
            f"2^{modulus_bits}; raise modulus_bits to at least {worst.bit_length() + 1}"
        )


@dataclass(frozen=True, slots=True)
class FixedPointEncoding:
    """Clip, scale and stochastically round floats into ``Z_{2^B}``, refusing wrap-around.

    Attributes:
        modulus_bits: ``B`` of the ring the sum lives in.
        n_clients: the largest number of clients whose vectors are summed.
        clip: the clipping bound (L2 norm or per-entry magnitude, see ``norm``).
        scale: integer units per 1.0; the rounding error per entry is below ``1 / scale``
            while ``clip * scale < 2^52``; beyond, float64 spacing (relative ``2^-52``)
            dominates. ``clip * scale`` must stay below ``2^62``.
        norm: ``"l2"`` or ``"linf"`` clipping.
        max_weight: the largest integer weight a client's vector is multiplied by.
        margin: extra magnitude per entry and client the integers may carry on top of the
            rounded values (e.g. a bound on distributed-DP noise), included in the wrap check.

    Raises:
        PlaintextOverflow: the configured sum could wrap modulo ``2^B``.
    """

    modulus_bits: int
    n_clients: int
    clip: float
    scale: float
    norm: Literal["l2", "linf"] = "l2"
    max_weight: int = 1
    margin: int = 0

    def __post_init__(self) -> None:
        clip = _positive_float("clip", self.clip)
        scale = _positive_float("scale", self.scale)
        if self.norm not in ("l2", "linf"):
            raise InvalidArgument("norm must be 'l2' or 'linf'")
        if isinstance(self.margin, bool) or not isinstance(self.margin, int) or self.margin < 0:
            raise InvalidArgument("margin must be an int >= 0")
        if clip * scale >= _MAX_SCALED:
            raise PlaintextOverflow("clip * scale must stay below 2^62")
        check_no_wrap(self.n_clients, self.bound, self.max_weight, self.modulus_bits)

    @property
    def bound(self) -> int:
        """The largest magnitude of one encoded entry of one client, before weighting."""
        return math.ceil(self.clip * self.scale) + self.margin

    def quantize(self, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Clip and scale ``x``, then round stochastically to signed integers."""
        clipped = clip_l2(x, self.clip) if self.norm == "l2" else clip_linf(x, self.clip)
        return stochastic_round(clipped * self.scale)

    def encode(self, x: npt.ArrayLike, *, weight: int = 1) -> npt.NDArray[np.uint64]:
        """``weight * quantize(x)`` in ``Z_{2^B}``, ready for masking or encryption."""
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise InvalidArgument("weight must be an int >= 0")
        if weight > self.max_weight:
            raise PlaintextOverflow(f"weight {weight} exceeds max_weight {self.max_weight}")
        return to_ring(self.quantize(x) * weight, self.modulus_bits)

    def decode(self, total: npt.ArrayLike, *, total_weight: float = 1.0) -> npt.NDArray[np.float64]:
        """Floats from a sum in ``Z_{2^B}``: centred lift, divided by scale and total weight."""
        w = _positive_float("total_weight", total_weight)
        ints: npt.NDArray[Any] = from_ring(total, self.modulus_bits)
        return ints.astype(np.float64) / (self.scale * w)
