"""Framing shared by every binary format: payload followed by a SHA-256 checksum.

The 8-byte trailer ``SHA-256(label || payload)[:8]`` catches truncation and accidental
corruption (a flipped bit) before any field is parsed. It is not authentication: a party
that can change the bytes can recompute it, so transport integrity (TLS, signatures) still
applies, as the threat model says.
"""

from __future__ import annotations

import hashlib

from secagg.errors import DeserializationError

__all__ = ["seal", "unseal", "CHECKSUM_BYTES"]

CHECKSUM_BYTES = 8
_LABEL = b"fedcrypt/paillier/wire/v1"


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(_LABEL + payload).digest()[:CHECKSUM_BYTES]


def seal(payload: bytes) -> bytes:
    """Append the checksum trailer to ``payload``."""
    return payload + _checksum(payload)


def unseal(data: object) -> bytes:
    """Return the payload of sealed ``data``.

    Raises:
        DeserializationError: ``data`` is not bytes, too short, or its checksum is wrong.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DeserializationError(f"expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) <= CHECKSUM_BYTES:
        raise DeserializationError("data too short")
    payload, trailer = raw[:-CHECKSUM_BYTES], raw[-CHECKSUM_BYTES:]
    if _checksum(payload) != trailer:
        raise DeserializationError("checksum mismatch: truncated or corrupted data")
    return payload
