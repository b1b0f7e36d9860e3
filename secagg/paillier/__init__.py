"""Fast, vectorised, packed Paillier encryption, interoperable with ``phe``.

Paillier 1999 with ``g = n + 1``; encryption in the Damgard-Jurik-Nielsen form with a
fixed-base table; CRT decryption; BatchCrypt-style packing of numpy arrays. See
``docs/secagg/paillier.md``.

Example:
    >>> from secagg.paillier import generate_keypair
    >>> pk, sk = generate_keypair(1024, allow_insecure=True)
    >>> sk.decrypt(pk.encrypt(20) + pk.encrypt(22))
    42
"""

from __future__ import annotations

from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._encoding import PackingLayout
from secagg.paillier._keys import (
    DEFAULT_BITS,
    SECURE_MIN_BITS,
    PrivateKey,
    PublicKey,
    export_private_key,
    generate_keypair,
    import_private_key,
)
from secagg.paillier._vector import EncryptedVector

__all__ = [
    "generate_keypair",
    "PublicKey",
    "PrivateKey",
    "Ciphertext",
    "EncryptedVector",
    "PackingLayout",
    "export_private_key",
    "import_private_key",
    "SECURE_MIN_BITS",
    "DEFAULT_BITS",
]
