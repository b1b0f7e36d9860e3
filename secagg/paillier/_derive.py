"""Deterministic public parameters derived from the modulus alone.

Every Paillier public key in fedcrypt is defined by its modulus ``n`` only, so keys coming
from a threshold dealer or from ``phe`` get the same fast-encryption base and fingerprint as
keys generated here.

The Damgard-Jurik-Nielsen base is ``h_s = h^n mod n^2`` with ``h = -(x^2) mod n`` (Damgard,
Jurik and Nielsen 2010, "A generalization of Paillier's public-key system with applications
to electronic voting", Int. J. Inf. Secur. 9(6), the short-exponent variant). Security
needs ``h`` to generate (a large subgroup of) the Jacobi-symbol-1 subgroup, which ``-(x^2)``
does for ``n = pq`` with ``p = q = 3 (mod 4)``. ``x`` is expanded from SHA-256 of ``n``
under a domain-separation label; publishing how ``x`` was chosen gives no decryption
ability, because ``h_s`` is public anyway and decrypting still requires the factorisation
of ``n``.
"""

from __future__ import annotations

import hashlib
import math

__all__ = ["derive_djn_seed", "fingerprint_of"]

_DJN_LABEL = b"fedcrypt/paillier/djn-base/v1"
_FINGERPRINT_LABEL = b"fedcrypt/paillier/fingerprint/v1"
FINGERPRINT_BYTES = 8


def _modulus_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def fingerprint_of(n: int) -> bytes:
    """Return the 8-byte key fingerprint: ``SHA-256(label || n)[:8]``."""
    return hashlib.sha256(_FINGERPRINT_LABEL + _modulus_bytes(n)).digest()[:FINGERPRINT_BYTES]


def derive_djn_seed(n: int) -> int:
    """Return ``x`` in ``[2, n - 2]`` with ``gcd(x, n) = 1``, expanded from SHA-256 of ``n``.

    The expansion is ``SHA-256(label || len(n) || n || attempt || counter)`` for counters
    ``0, 1, ...`` concatenated until it holds 128 bits more than ``n``, then reduced modulo
    ``n``; a rare unusable value moves to the next ``attempt``.
    """
    n_bytes = _modulus_bytes(n)
    prefix = _DJN_LABEL + len(n_bytes).to_bytes(4, "big") + n_bytes
    need = len(n_bytes) + 16
    attempt = 0
    while True:
        stream = b"".join(
            hashlib.sha256(
                prefix + attempt.to_bytes(4, "big") + counter.to_bytes(4, "big")
            ).digest()
            for counter in range((need + 31) // 32)
        )
        x = int.from_bytes(stream[:need], "big") % n
        if 2 <= x <= n - 2 and math.gcd(x, n) == 1:
            return x
        attempt += 1
