"""Small vector helpers of the Flower integration."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dp.mechanisms.clipping import clip_l2_unchecked
from federated.flower.errors import MalformedMessage

__all__ = ["clip_l2", "floats_from_bytes"]


def clip_l2(vector: NDArray[np.float64], bound: float) -> NDArray[np.float64]:
    """Scale ``vector`` down to L2 norm ``bound`` if it is longer (McMahan et al. 2018).

    :func:`dp.mechanisms.clipping.clip_l2_unchecked`: single-threaded, overflow-safe norm.
    """
    return clip_l2_unchecked(np.asarray(vector, dtype=np.float64), bound)


def floats_from_bytes(data: bytes, length: int) -> NDArray[np.float64]:
    """Parse exactly ``length`` finite little-endian float64 values.

    Raises:
        MalformedMessage: on a wrong byte count or a NaN/Inf value.
    """
    if len(data) != 8 * length:
        raise MalformedMessage(f"expected {8 * length} bytes of float64, got {len(data)}")
    values = np.frombuffer(data, dtype="<f8").astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise MalformedMessage("the vector holds NaN or Inf")
    return values
