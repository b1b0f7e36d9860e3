"""Integer codecs: how a clipped float update becomes words in ``Z_{2^B}`` and back.

:class:`FixedPointCodec` is the plain quantiser of :mod:`secagg.encoding` (unbiased
stochastic rounding onto a grid of step ``1 / scale``), with the largest scale for which the
sum of the cohort cannot wrap modulo ``2^B``. The distributed-DP codec lives in
:mod:`federated._distributed`.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from federated.errors import InvalidArgument
from secagg.encoding import FixedPointEncoding

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
        """Client side: clip (a no-op on clipped input), scale, round, map into the ring."""
        return self._encoding.encode(vector)

    def decode(self, total: NDArray[np.uint64], count: int) -> NDArray[np.float64]:
        """Server side: the centred lift of the sum, divided by the scale."""
        del count
        return self._encoding.decode(total)


def weighted_bound(clip_norm: float, weighted: bool) -> float:
    """The L2 bound of a contribution, including the appended weight coordinate if any.

    Weights lie in (0, 1], so a weighted contribution has norm at most ``sqrt(C^2 + 1)``.
    """
    return math.hypot(clip_norm, 1.0) if weighted else clip_norm
