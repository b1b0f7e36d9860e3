"""Bulk cryptographic randomness for the noise samplers.

Every random bit used by :mod:`dp.mechanisms` comes from :func:`os.urandom` (the kernel
CSPRNG) through the helpers below; numpy's generators and :mod:`random` are never used, as
noise drawn from a predictable generator gives no privacy (Mironov 2012, section 1).
"""

from __future__ import annotations

import os
import secrets

import numpy as np
from numpy.typing import NDArray

__all__ = ["random_below", "random_bits", "random_uint32", "random_uint64", "randbits"]


def random_uint64(count: int) -> NDArray[np.uint64]:
    """Return ``count`` independent uniform 64-bit unsigned integers."""
    return np.frombuffer(os.urandom(8 * count), dtype=np.uint64).copy()


def random_uint32(count: int) -> NDArray[np.uint32]:
    """Return ``count`` independent uniform 32-bit unsigned integers."""
    return np.frombuffer(os.urandom(4 * count), dtype=np.uint32).copy()


def random_bits(count: int) -> NDArray[np.bool_]:
    """Return ``count`` independent fair coin flips."""
    raw = np.frombuffer(os.urandom((count + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:count].astype(np.bool_)


def random_below(bound: int, count: int) -> NDArray[np.int64]:
    """Return ``count`` uniform integers in ``[0, bound)`` by exact rejection sampling.

    Each candidate keeps the low ``bit_length(bound - 1)`` bits of a uniform 64-bit word and
    is rejected when it is ``>= bound``, so every value has probability exactly ``1/bound``.
    """
    if not 1 <= bound <= 2**62:
        raise ValueError(f"bound must be in [1, 2**62], got {bound}")
    out = np.empty(count, dtype=np.int64)
    if bound == 1:
        out[:] = 0
        return out
    mask = np.uint64((1 << (bound - 1).bit_length()) - 1)
    todo = np.arange(count)
    while todo.size:
        cand = (random_uint64(todo.size) & mask).astype(np.int64)
        ok = cand < bound
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return out


def randbits(bits: int) -> int:
    """Return a uniform Python integer of ``bits`` bits (for the exact slow path)."""
    return secrets.randbits(bits)
