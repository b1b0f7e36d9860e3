"""The randomised Walsh-Hadamard rotation shared by all clients of a round.

``R x = H D x / sqrt(n)`` with ``D`` a diagonal of random signs and ``H`` the Sylvester
Hadamard matrix of order ``n`` (a power of two): an orthogonal map that spreads a vector's
mass evenly over coordinates, so that after rotation every coordinate has magnitude about
``||x|| / sqrt(n)`` and conditional rounding and modular wrapping lose little (Kairouz, Liu
and Steinke 2021, section 4; Suresh et al. 2017 for the randomised Hadamard transform).

The signs are public: they are expanded from a shared 32-byte seed with AES-256-CTR (key =
seed, zero nonce), so every client and the server derive the same rotation.

The fast transform runs the ``log2 n`` butterfly levels of the Sylvester construction
``H_2n = [[H_n, H_n], [H_n, -H_n]]`` in the constant-geometry form of Pease ("An
adaptation of the fast Fourier transform for parallel processing", J. ACM 1968): every
stage adds and subtracts adjacent pairs into the two halves of a second buffer, so each
numpy call streams one long run with no per-level reshaping. Each stage computes exactly
the sums and differences of one level of the textbook loop, in the same order, so results
are bit-for-bit identical to it.
"""

from __future__ import annotations

import functools

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

from dp.errors import InvalidArgument
from dp.mechanisms._workspace import scratch_floats

__all__ = [
    "SEED_BYTES",
    "hadamard_inplace",
    "padded_length",
    "rotate",
    "rotate_into",
    "rotation_signs",
    "shared_signs",
    "unrotate",
]

SEED_BYTES = 32


def padded_length(dimension: int) -> int:
    """The smallest power of two at least ``dimension``."""
    return 1 << max(0, (dimension - 1).bit_length())


def _check_seed(seed: object) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InvalidArgument(f"the rotation seed must be {SEED_BYTES} bytes")
    return seed


def _expand_signs(seed: bytes, length: int) -> NDArray[np.float64]:
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    stream = encryptor.update(bytes((length + 7) // 8)) + encryptor.finalize()
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:length]
    return 1.0 - 2.0 * bits.astype(np.float64)


def rotation_signs(seed: bytes, length: int) -> NDArray[np.float64]:
    """Expand a public seed into ``length`` signs in ``{-1, +1}`` with AES-256-CTR."""
    return _expand_signs(_check_seed(seed), length)


@functools.lru_cache(maxsize=4)
def _cached(seed: bytes, length: int) -> NDArray[np.float64]:
    signs = _expand_signs(seed, length)
    signs.setflags(write=False)
    return signs


def shared_signs(seed: bytes, length: int) -> NDArray[np.float64]:
    """:func:`rotation_signs`, cached: every client of a round shares one read-only copy.

    The seed is public, so keeping its expansion in memory reveals nothing.
    """
    return _cached(_check_seed(seed), length)


def hadamard_inplace(y: NDArray[np.float64]) -> None:
    """Unnormalised fast Walsh-Hadamard transform of a power-of-two-length vector, in place.

    Raises:
        InvalidArgument: if ``y`` is not a contiguous 1-D float64 array of power-of-two size.
    """
    n = y.size
    if y.ndim != 1 or y.dtype != np.float64 or not y.flags.c_contiguous or n & (n - 1):
        raise InvalidArgument("the transform needs a contiguous float64 vector of 2^k entries")
    half = n // 2
    source, target = y, scratch_floats("hadamard-other", n)
    for _ in range(n.bit_length() - 1):
        # Pease's constant-geometry stage: adjacent pairs in, sums to the first half and
        # differences to the second. Stage j performs exactly the butterflies of span 2^j
        # of the textbook loop, on values that sit at shuffled positions.
        np.add(source[0::2], source[1::2], out=target[:half])
        np.subtract(source[0::2], source[1::2], out=target[half:])
        source, target = target, source
    if source is not y:
        y[...] = source


def rotate_into(
    x: NDArray[np.float64], signs: NDArray[np.float64], out: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:func:`rotate` written into ``out`` (of ``signs.size`` elements); returns ``out``."""
    out[: x.size] = x
    out[x.size :] = 0.0
    out *= signs
    hadamard_inplace(out)
    out /= np.sqrt(signs.size)
    return out


def rotate(x: NDArray[np.float64], signs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pad ``x`` with zeros to ``signs.size`` and apply ``H D / sqrt(n)``."""
    return rotate_into(x, signs, np.empty(signs.size))


def unrotate(
    y: NDArray[np.float64], signs: NDArray[np.float64], dimension: int
) -> NDArray[np.float64]:
    """Invert :func:`rotate` (``D H / sqrt(n)``) and drop the padding."""
    work = np.array(y, dtype=np.float64)
    hadamard_inplace(work)
    out = work[:dimension]
    out /= np.sqrt(signs.size)
    out *= signs[:dimension]
    return out
