"""Sealing the helper's input share so that the leader, which relays it, cannot read it.

The helper's share is two 16-byte seeds; whoever holds them and the leader's share holds the
measurement. Clients therefore encrypt it to the helper's X25519 public key, in the manner of
HPKE base mode (RFC 9180; DAP does the same, draft-ietf-ppm-dap section 4.5.2) but not
interoperable with it: an ephemeral X25519 exchange, HKDF-SHA256 bound to both public keys,
and AES-128-GCM with the configuration digest and report nonce as associated data, so a
sealed share cannot be moved to another report or round.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secagg.errors import DecryptionFailure, InvalidArgument

__all__ = ["KEY_BYTES", "TAG_BYTES", "HelperKeyPair", "seal", "open_sealed"]

KEY_BYTES = 32
TAG_BYTES = 16
_INFO = b"fedcrypt/secagg-validated/helper-share/v1"
_NONCE = bytes(12)  # every key encrypts exactly one message


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key(shared: bytes, enc: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=_INFO + enc + recipient)
    return hkdf.derive(shared)


class HelperKeyPair:
    """The helper's long-term X25519 key pair (``public`` goes into the configuration)."""

    __slots__ = ("_private", "public")

    def __init__(self, private: bytes | None = None) -> None:
        if private is None:
            self._private = X25519PrivateKey.generate()
        else:
            if not isinstance(private, bytes) or len(private) != KEY_BYTES:
                raise InvalidArgument("an X25519 private key is 32 bytes")
            self._private = X25519PrivateKey.from_private_bytes(private)
        self.public = _raw(self._private.public_key())

    def private_bytes(self) -> bytes:
        """The raw private key, for the helper's own storage."""
        return self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def open(self, enc: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Decrypt a sealed share; raises DecryptionFailure on any mismatch."""
        return open_sealed(self, enc, ciphertext, aad)


def seal(recipient: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext`` to the X25519 public key ``recipient``: ``(enc, ciphertext)``."""
    if not isinstance(recipient, bytes) or len(recipient) != KEY_BYTES:
        raise InvalidArgument("an X25519 public key is 32 bytes")
    ephemeral = X25519PrivateKey.generate()
    enc = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    key = _key(shared, enc, recipient)
    return enc, AESGCM(key).encrypt(_NONCE, plaintext, aad)


def open_sealed(keys: HelperKeyPair, enc: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`seal` for the holder of the private key."""
    try:
        shared = keys._private.exchange(X25519PublicKey.from_public_bytes(enc))
        key = _key(shared, enc, keys.public)
        return AESGCM(key).decrypt(_NONCE, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailure("the helper's share does not decrypt") from exc
