"""The distributed-DP codec: clients add integer noise shares before masking.

A thin adapter from :mod:`dp.mechanisms.distributed` (Kairouz, Liu, Steinke 2021, the
distributed discrete Gaussian; Agarwal, Kairouz, Liu 2021 for Skellam) to the
:class:`federated._codecs.IntegerCodec` interface of the masking backend: clip, rotate
with a fresh public seed per round, scale, round conditionally, add the client's noise
share, wrap into ``Z_{2^B}``. The server decodes only the masked sum, which already carries
the noise of every survivor, so it never sees an un-noised sum.
"""

from __future__ import annotations

import secrets

import numpy as np
from numpy.typing import NDArray

from dp.mechanisms.distributed import DistributedConfig, decode_aggregate, encode_update

__all__ = ["DistributedCodec"]

_SEED_BYTES = 32


class DistributedCodec:
    """One round's distributed-DP encoding, with its public rotation seed.

    Args:
        config: the public parameters (dimension, clip, noise, ``n_min``, ring, grid).
    """

    def __init__(self, config: DistributedConfig) -> None:
        self.config = config
        self.modulus_bits = config.modulus_bits
        self.length = config.padded_dimension
        self.seed = secrets.token_bytes(_SEED_BYTES)

    def encode(self, vector: NDArray[np.float64]) -> NDArray[np.uint64]:
        """Client side: the noised, rotated, rounded update in ``Z_{2^B}``."""
        return encode_update(vector, self.config, self.seed)

    def decode(self, total: NDArray[np.uint64], count: int) -> NDArray[np.float64]:
        """Server side: the (noised) sum of ``count`` clients' clipped updates."""
        return decode_aggregate(total, self.config, self.seed, count).values
