"""Validation of integer input vectors in ``Z_{2^B}``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from secagg._arrays import refuse_tensor
from secagg.errors import InvalidArgument
from secagg.masking._prg import word_dtype

__all__ = ["as_ring_vector"]


def as_ring_vector(
    vector: object, length: int, modulus_bits: int
) -> npt.NDArray[np.unsignedinteger]:
    """Check that ``vector`` is 1-D, of ``length`` integers in ``[0, 2^B)``; copy to words.

    Floats (including NaN and Inf), booleans, objects, other shapes and out-of-range values
    raise :class:`~secagg.errors.InvalidArgument`; nothing is rounded or wrapped silently.
    """
    refuse_tensor(vector, "vector")
    if not isinstance(vector, np.ndarray):
        raise InvalidArgument("the input must be a numpy array")
    if vector.ndim != 1 or vector.shape[0] != length:
        raise InvalidArgument(f"the input must have shape ({length},), got {vector.shape}")
    if vector.dtype.kind not in "ui":
        raise InvalidArgument(
            f"the input must hold integers in [0, 2^{modulus_bits}), got dtype {vector.dtype}"
            " (encode floats with secagg.encoding first)"
        )
    if length and vector.dtype.kind == "i" and int(vector.min()) < 0:
        raise InvalidArgument("the input holds negative values; map them with to_ring first")
    if length and modulus_bits < 64 and int(vector.max()) >= 1 << modulus_bits:
        raise InvalidArgument(f"the input holds values >= 2^{modulus_bits}")
    return vector.astype(word_dtype(modulus_bits), copy=True)
