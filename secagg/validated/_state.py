"""Sealing an aggregator's saved state, so a corrupted or altered one is refused.

An aggregator's state holds its aggregate share and the output shares of pending reports; a
flipped bit there would end the round with a wrong sum that no check notices (the same
defect the masking client's saved state had). The state is therefore sealed with AES-256-GCM
(NIST SP 800-38D) under a key derived by HKDF-SHA256 (RFC 5869) from the VDAF verification
key, the secret both aggregators already keep and pass to ``load_state``; the header (magic,
version, kind) is associated data, so a state of the other aggregator or under another
verification key is refused too (the state itself names its configuration and round, which
``load_state`` checks after opening it: ``WrongSession``). The sealed state is also
encrypted, which it needs: an aggregate share is a secret.

Not covered: replaying an older authentic state of the same round (a rollback); only the
caller can prevent that, by erasing old states.

Format: ``FCVA | version 1 | kind | nonce (12) | AES-GCM(state) with 16-byte tag``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secagg.errors import DeserializationError
from secagg.validated._wire import MAGIC, VERSION

__all__ = ["seal_state", "open_state"]

_INFO = b"fedcrypt/secagg-validated/aggregator-state/v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


def _key(verify_key: bytes, kind: int) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + bytes([kind]))
    return AESGCM(hkdf.derive(verify_key))


def seal_state(state: bytes, verify_key: bytes, kind: int) -> bytes:
    """Encrypt and authenticate ``state`` (``kind`` names the aggregator) for saving."""
    header = MAGIC + bytes([VERSION, kind])
    nonce = os.urandom(_NONCE_BYTES)
    return header + nonce + _key(verify_key, kind).encrypt(nonce, state, header)


def open_state(data: object, verify_key: bytes, kind: int) -> bytes:
    """Inverse of :func:`seal_state`.

    Raises:
        DeserializationError: not a sealed state of this kind, or one that was altered or
            sealed under another verification key.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DeserializationError("a saved state is bytes")
    raw = bytes(data)
    header = MAGIC + bytes([VERSION, kind])
    if len(raw) < len(header) + _NONCE_BYTES + _TAG_BYTES or raw[: len(header)] != header:
        raise DeserializationError("not a saved state of this aggregator and version")
    nonce = raw[len(header) : len(header) + _NONCE_BYTES]
    try:
        return _key(verify_key, kind).decrypt(nonce, raw[len(header) + _NONCE_BYTES :], header)
    except InvalidTag:
        raise DeserializationError(
            "the saved state was altered, or sealed under another verification key"
        ) from None
