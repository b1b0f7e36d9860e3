"""Integer codecs: how a clipped float update becomes words in ``Z_{2^B}`` and back.

:class:`FixedPointCodec` is the plain quantiser of :mod:`secagg.encoding` (unbiased
stochastic rounding onto a grid of step ``1 / scale``), with the largest scale for which the
sum of the cohort cannot wrap modulo ``2^B``. The distributed-DP codec lives in
:mod:`federated._distributed`.

Encoding runs once per client per round on the whole model, so :meth:`FixedPointCodec.encode`
fuses the steps of :meth:`secagg.encoding.FixedPointEncoding.encode` (clip, scale, round,
wrap) into a few in-place passes over reused buffers: the same law (each entry rounds up
with probability its fractional part, decided by a 53-bit uniform from
:func:`dp._rng.random_uint64`, AES-CTR keyed by the OS CSPRNG), the same bounds, and one
fresh full-length array (the result) instead of about ten.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from dp._rng import random_uint64
from dp.errors import InvalidArgument as _NotFinite
from dp.mechanisms._workspace import scratch_floats
from dp.mechanisms.clipping import l2_norm
from federated.errors import InvalidArgument
from secagg.encoding import FixedPointEncoding
from secagg.errors import InvalidArgument as EncodingError

__all__ = ["IntegerCodec", "FixedPointCodec", "weighted_bound"]


class IntegerCodec(Protocol):
    """Turns float vectors into ``Z_{2^B}`` words on the client and sums back on the server."""

    modulus_bits: int
    length: int

    def encode(self, vector: NDArray[np.float64]) -> NDArray[np.uint64]:
        """Client side: a clipped float vector to words in ``[0, 2^B)``."""
        ...

    def decode(self, total: NDArray[np.uint64], count: int) -> NDArray[np.float64]:
        """Server side: the sum mod ``2^B`` of ``count`` encodings back to floats."""
        ...


class FixedPointCodec:
    """Stochastic fixed-point quantisation into ``Z_{2^B}`` (no noise).

    The scale is ``2^(B-2) / (cohort_size * bound)`` (at most ``2^50 / bound``): a cohort's
    worst-case sum uses at most a quarter of the ring, so it cannot wrap, and each client's
    rounding error per
    coordinate is below ``1 / scale`` (the quantisation bound of the aggregate is
    ``cohort_size / scale`` per coordinate).

    Args:
        modulus_bits: ``B``.
        length: the vector length.
        cohort_size: the most clients whose encodings are summed.
        bound: the L2 norm bound of every client's vector.
    """

    def __init__(self, modulus_bits: int, length: int, cohort_size: int, bound: float) -> None:
        if cohort_size < 1:
            raise InvalidArgument("cohort_size must be >= 1")
        self.modulus_bits = modulus_bits
        self.length = length
        # A quarter of the ring for the worst-case sum, and no finer than 2^-50 of the bound
        # so the scaled values stay exact in float64.
        scale = min(float(2 ** (modulus_bits - 2)) / (cohort_size * bound), 2.0**50 / bound)
        if scale * bound < 1:
            raise InvalidArgument(
                f"{modulus_bits} bits leave no precision for {cohort_size} clients"
            )
        self._encoding = FixedPointEncoding(
            modulus_bits=modulus_bits, n_clients=cohort_size, clip=bound, scale=scale
        )

    @property
    def step(self) -> float:
        """The grid step ``1 / scale``: a client's rounding error per coordinate is below it."""
        return 1.0 / self._encoding.scale

    def encode(self, vector: NDArray[np.float64]) -> NDArray[np.uint64]:
        """Client side: clip (a no-op on clipped input), scale, round, map into the ring.

        Raises:
            secagg.errors.InvalidArgument: if the vector holds NaN or infinity.
        """
        encoding = self._encoding
        arr = np.asarray(vector, dtype=np.float64).reshape(-1)
        try:
            norm = l2_norm(arr)
        except _NotFinite:
            raise EncodingError("the input holds NaN or infinity") from None
        # Clip and scale in one product; then clamp every entry to the clip bound, so each
        # rounded entry is at most ``ceil(clip * scale)`` in magnitude, the bound the wrap
        # check of FixedPointEncoding was made with.
        limit = encoding.clip * encoding.scale
        factor = encoding.scale if norm <= encoding.clip else limit / norm
        scaled = np.multiply(arr, factor, out=scratch_floats("fixed-point-scaled", arr.size))
        np.clip(scaled, -limit, limit, out=scaled)
        floor = np.floor(scaled, out=scratch_floats("fixed-point-floor", arr.size))
        fraction = np.subtract(scaled, floor, out=scaled)
        fraction *= 2.0**53  # exact: a power of two
        # Up with probability fraction (to 2^-53): a uniform 53-bit k is below 2^53 fraction.
        words = random_uint64(arr.size)
        words >>= np.uint64(11)
        up = words < fraction
        # The fresh random buffer becomes the result: floor + up, exact integers below 2^62.
        np.add(floor, up, out=words.view(np.int64), casting="unsafe")
        if self.modulus_bits < 64:
            np.bitwise_and(words, np.uint64((1 << self.modulus_bits) - 1), out=words)
        return words.reshape(np.shape(vector))

    def decode(self, total: NDArray[np.uint64], count: int) -> NDArray[np.float64]:
        """Server side: the centred lift of the sum, divided by the scale."""
        del count
        return self._encoding.decode(total)


def weighted_bound(clip_norm: float, weighted: bool) -> float:
    """The L2 bound of a contribution, including the appended weight coordinate if any.

    Weights lie in (0, 1], so a weighted contribution has norm at most ``sqrt(C^2 + 1)``.
    """
    return math.hypot(clip_norm, 1.0) if weighted else clip_norm
