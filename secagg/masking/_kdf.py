"""Key derivation: session id, and one HKDF-SHA256 key per (pair, round, purpose).

The session id is SHA-256 over the configuration digest (which holds the round number), the
roster size and the Merkle root of every advertisement (RFC 9162), so it binds every
advertised key as in Bonawitz et al. (CCS 2017, section 6.2); every HKDF call uses it as
salt, so keys of one round never serve in another.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "session_id",
    "derive_key",
    "pair_mask_key",
    "self_mask_key",
    "share_encryption_key",
    "commit_self_mask_seed",
]

_SESSION_DOMAIN = b"fedcrypt/secagg-masking/session/v2"


def session_id(config_digest: bytes, size: int, root: bytes) -> bytes:
    """SHA-256 binding the configuration and the committed roster (``n`` adverts, root).

    ``root`` is the RFC 9162 Merkle Tree Hash of the ``size`` serialized adverts in id
    order, so the session id binds every advertised key (Bonawitz et al. 2017, section 6.2)
    while a client needs only its own slice of the roster to derive it.
    """
    h = hashlib.sha256(_SESSION_DOMAIN)
    h.update(config_digest)
    h.update(struct.pack(">Q", size))
    h.update(root)
    return h.digest()


def derive_key(secret: bytes, session: bytes, purpose: bytes, *ids: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) of ``secret``, salt = session id, info = purpose and ids."""
    info = b"fedcrypt/secagg-masking/" + purpose + b"".join(struct.pack(">I", i) for i in ids)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=session, info=info).derive(secret)


def pair_mask_key(shared: bytes, session: bytes, a: int, b: int) -> bytes:
    """PRG key of the pairwise mask between clients ``a`` and ``b`` (order-independent)."""
    return derive_key(shared, session, b"pair-mask/v1", min(a, b), max(a, b))


def self_mask_key(seed: bytes, session: bytes, owner: int) -> bytes:
    """PRG key of the self mask of ``owner`` from its seed ``b``."""
    return derive_key(seed, session, b"self-mask/v1", owner)


def share_encryption_key(shared: bytes, session: bytes, sender: int, receiver: int) -> bytes:
    """AEAD key for the shares ``sender`` encrypts to ``receiver`` (one key per direction)."""
    return derive_key(shared, session, b"share-encryption/v1", sender, receiver)


def commit_self_mask_seed(seed: bytes, session: bytes, owner: int) -> bytes:
    """Hash commitment to the self-mask seed, so the server can check a rebuilt seed."""
    return hashlib.sha256(
        b"fedcrypt/secagg-masking/seed-commitment/v1" + session + struct.pack(">I", owner) + seed
    ).digest()
