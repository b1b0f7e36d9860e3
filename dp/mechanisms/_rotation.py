"""The randomised Walsh-Hadamard rotation shared by all clients of a round.

``R x = H D x / sqrt(n)`` with ``D`` a diagonal of random signs and ``H`` the Sylvester
Hadamard matrix of order ``n`` (a power of two): an orthogonal map that spreads a vector's
mass evenly over coordinates, so that after rotation every coordinate has magnitude about
``||x|| / sqrt(n)`` and conditional rounding and modular wrapping lose little (Kairouz, Liu
and Steinke 2021, section 4; Suresh et al. 2017 for the randomised Hadamard transform).

The signs are public: they are expanded from a shared 32-byte seed with AES-256-CTR (key =
seed, zero nonce), so every client and the server derive the same rotation.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

from dp.errors import InvalidArgument

__all__ = ["SEED_BYTES", "padded_length", "rotate", "rotation_signs", "unrotate"]

SEED_BYTES = 32


def padded_length(dimension: int) -> int:
    """The smallest power of two at least ``dimension``."""
    return 1 << max(0, (dimension - 1).bit_length())


def rotation_signs(seed: bytes, length: int) -> NDArray[np.float64]:
    """Expand a public seed into ``length`` signs in ``{-1, +1}`` with AES-256-CTR."""
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InvalidArgument(f"the rotation seed must be {SEED_BYTES} bytes")
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    stream = encryptor.update(bytes((length + 7) // 8)) + encryptor.finalize()
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:length]
    return 1.0 - 2.0 * bits.astype(np.float64)


def _hadamard(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unnormalised fast Walsh-Hadamard transform of a power-of-two-length vector."""
    n = x.size
    y = x.copy()
    h = 1
    while h < n:
        blocks = y.reshape(-1, 2, h)
        top = blocks[:, 0, :] + blocks[:, 1, :]
        bottom = blocks[:, 0, :] - blocks[:, 1, :]
        y = np.stack((top, bottom), axis=1).reshape(n)
        h *= 2
    return y


def rotate(x: NDArray[np.float64], signs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pad ``x`` with zeros to ``signs.size`` and apply ``H D / sqrt(n)``."""
    padded = np.zeros(signs.size)
    padded[: x.size] = x
    out: NDArray[np.float64] = _hadamard(padded * signs) / np.sqrt(signs.size)
    return out


def unrotate(
    y: NDArray[np.float64], signs: NDArray[np.float64], dimension: int
) -> NDArray[np.float64]:
    """Invert :func:`rotate` (``D H / sqrt(n)``) and drop the padding."""
    out: NDArray[np.float64] = (_hadamard(y) / np.sqrt(signs.size) * signs)[:dimension]
    return out
