"""The mask PRG: AES-256-CTR keystream read as little-endian unsigned words.

Bonawitz et al. (CCS 2017, section 4) expand a seed into a mask with a PRG; for a power-of-two
modulus ``2^B`` the raw keystream bits are already uniform, so the words are used as they are
(no rejection sampling). Every key is used for exactly one stream (one derived key per pair,
round and purpose, see :mod:`secagg.masking._kdf`), so the all-zero counter block is safe.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secagg.errors import InvalidArgument

__all__ = ["word_dtype", "keystream", "prg_words", "add_prg", "add_prgs", "PRG_KEY_BYTES"]

PRG_KEY_BYTES = 32
_ZERO_NONCE = bytes(16)

Words = npt.NDArray[np.unsignedinteger]


def word_dtype(modulus_bits: int) -> np.dtype[np.unsignedinteger]:
    """The smallest little-endian unsigned numpy word holding ``modulus_bits`` bits."""
    if modulus_bits <= 16:
        return np.dtype("<u2")
    if modulus_bits <= 32:
        return np.dtype("<u4")
    return np.dtype("<u8")


def keystream(key: bytes, nbytes: int, *, counter: bytes = _ZERO_NONCE) -> bytes:
    """``nbytes`` of AES-256-CTR keystream under ``key`` from the initial ``counter`` block."""
    if not isinstance(key, bytes) or len(key) != PRG_KEY_BYTES:
        raise InvalidArgument("a PRG key is 32 bytes")
    if not isinstance(counter, bytes) or len(counter) != 16:
        raise InvalidArgument("the initial counter block is 16 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    return encryptor.update(bytes(nbytes))


def prg_words(key: bytes, count: int, dtype: npt.DTypeLike) -> Words:
    """Expand ``key`` into ``count`` uniform words of ``dtype`` (uint16, uint32 or uint64).

    The words are the AES-256-CTR keystream (counter block starting at zero) read in
    little-endian order; callers reduce mod ``2^B`` by masking the low bits.
    """
    dt = np.dtype(dtype).newbyteorder("<")
    if dt.kind != "u":
        raise InvalidArgument("the PRG yields unsigned words only")
    buf = keystream(key, count * dt.itemsize)
    return np.frombuffer(buf, dtype=dt)


def add_prg(accumulator: Words, key: bytes, sign: int) -> None:
    """Add (``sign = 1``) or subtract (``sign = -1``) the PRG stream of ``key`` in place.

    Arithmetic wraps modulo the word size, a multiple of the protocol modulus.
    """
    add_prgs(accumulator, [(key, sign)])


def add_prgs(accumulator: Words, streams: Iterable[tuple[bytes, int]]) -> None:
    """Add or subtract the PRG stream of each ``(key, sign)`` into ``accumulator`` in place.

    One keystream buffer is reused for every stream (``update_into``), which avoids the
    page faults of a fresh allocation per key: this runs at the speed of AES-CTR itself.
    """
    if accumulator.ndim != 1 or accumulator.dtype.kind != "u":
        raise InvalidArgument("the accumulator must be a 1-D unsigned array")
    acc = accumulator
    native = acc.dtype.newbyteorder("<")
    count = acc.shape[0]
    nbytes = count * acc.dtype.itemsize
    zeros = bytes(nbytes)
    out = bytearray(nbytes + 15)
    stream = np.frombuffer(out, dtype=native, count=count)
    for key, sign in streams:
        if not isinstance(key, bytes) or len(key) != PRG_KEY_BYTES:
            raise InvalidArgument("a PRG key is 32 bytes")
        encryptor = Cipher(algorithms.AES(key), modes.CTR(_ZERO_NONCE)).encryptor()
        encryptor.update_into(zeros, out)
        if sign > 0:
            np.add(acc, stream, out=acc)
        else:
            np.subtract(acc, stream, out=acc)
