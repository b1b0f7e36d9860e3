"""Non-interactive proofs that a decryption share used the holder's real key share (hazmat).

The proof is the equality-of-discrete-logs protocol of Shoup (2000, section 3, after Chaum
and Pedersen 1992) as used by Damgard and Jurik (2001, section 4.1): for u = c^4,
u_i = c_i^2, v and v_i it shows log_u(u_i) = log_v(v_i) = Delta s_i. The prover picks a
random r of |n^2| + |Delta| + 256 + 128 bits, sends a = u^r, b = v^r, e = H(...) and
z = r + e Delta s_i over the integers (statistically hiding by 128 bits); the verifier checks
u^z = a u_i^e and v^z = b v_i^e. Fiat-Shamir with SHA-256 makes it non-interactive; the hash
input starts with a domain label and a caller context that binds the key fingerprint, the
key-holder id and the ciphertext(s), so a proof cannot be replayed for another statement.

For many ciphertexts under one key share, :func:`batch_statement` folds the n shares into
one statement with 128-bit weights derived by hashing everything (the small-exponent batch
test of Bellare, Garay and Rabin 1998, section 3.3): C = prod c_j^(rho_j), C_i =
prod c_(i,j)^(rho_j). In the group of squares of Z*_{n^2} every prime factor of the order is
larger than 2^128, so a wrong share survives the folding with probability at most 2^-128.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2  # type: ignore[import-untyped]

from secagg.paillier._parallel import map_chunks

__all__ = [
    "CHALLENGE_BYTES",
    "EqualityProof",
    "batch_statement",
    "nonce_bits",
    "prove_share",
    "verify_share",
]

_PROOF_LABEL = b"fedcrypt/secagg/paillier/threshold/dleq/v1"
_BATCH_LABEL = b"fedcrypt/secagg/paillier/threshold/batch/v1"
CHALLENGE_BYTES = 32
_STATISTICAL_BITS = 128
_BATCH_WEIGHT_BYTES = 16


@dataclass(frozen=True, slots=True)
class EqualityProof:
    """A Fiat-Shamir proof (challenge e, response z) of log_{c^4}(c_i^2) = log_v(v_i)."""

    challenge: int
    response: int


def nonce_bits(n: int, delta: int) -> int:
    """Return the bit length of the prover's nonce r: |n^2| + |Delta| + 256 + 128."""
    return 2 * n.bit_length() + delta.bit_length() + 8 * CHALLENGE_BYTES + _STATISTICAL_BITS


def _encode(value: int, width: int) -> bytes:
    return int(value).to_bytes(width, "big")


def _challenge(context: bytes, width: int, elements: Sequence[int]) -> int:
    digest = hashlib.sha256(_PROOF_LABEL)
    digest.update(len(context).to_bytes(4, "big"))
    digest.update(context)
    for element in elements:
        digest.update(_encode(element, width))
    return int.from_bytes(digest.digest(), "big")


def prove_share(
    context: bytes,
    ciphertext: int,
    share: int,
    base: int,
    verification_key: int,
    witness: int,
    n: int,
    delta: int,
    *,
    constant_time: bool = False,
) -> EqualityProof:
    """Prove that ``share = ciphertext^(2 witness)`` and ``verification_key = base^witness``.

    ``witness`` is Delta s_i; the statement is about the squares u = c^4 and u_i = c_i^2, so
    a share multiplied by an element of order two is also accepted, which the combination
    (exponents 2 lambda_i) absorbs. ``constant_time`` computes the powers of the secret nonce
    with ``gmpy2.powmod_sec``.
    """
    nsquare = n * n
    width = (nsquare.bit_length() + 7) // 8
    u = gmpy2.powmod(ciphertext, 4, nsquare)
    u_i = gmpy2.powmod(share, 2, nsquare)
    r = secrets.randbits(nonce_bits(n, delta))
    power = gmpy2.powmod_sec if constant_time else gmpy2.powmod
    a = power(u, r, nsquare)
    b = power(base, r, nsquare)
    e = _challenge(context, width, (u, u_i, base, verification_key, a, b))
    return EqualityProof(e, r + e * witness)


def verify_share(
    context: bytes,
    ciphertext: int,
    share: int,
    base: int,
    verification_key: int,
    proof: EqualityProof,
    n: int,
) -> bool:
    """Return whether ``proof`` shows log_{c^4}(share^2) = log_v(verification_key).

    All of ``ciphertext``, ``share``, ``base`` and ``verification_key`` must already be known
    to be units modulo n^2, so the inverses below exist.
    """
    nsquare = n * n
    width = (nsquare.bit_length() + 7) // 8
    u = gmpy2.powmod(ciphertext, 4, nsquare)
    u_i = gmpy2.powmod(share, 2, nsquare)
    e, z = proof.challenge, proof.response
    a = gmpy2.powmod(u, z, nsquare) * gmpy2.powmod(u_i, -e, nsquare) % nsquare
    b = gmpy2.powmod(base, z, nsquare) * gmpy2.powmod(verification_key, -e, nsquare) % nsquare
    return _challenge(context, width, (u, u_i, base, verification_key, a, b)) == e


def _digest_list(values: Sequence[int], width: int) -> bytes:
    digest = hashlib.sha256(len(values).to_bytes(8, "big"))
    for value in values:
        digest.update(_encode(value, width))
    return digest.digest()


def _weighted_product(
    values: Sequence[int], weights: Sequence[int], nsquare: int, workers: int
) -> int:
    modulus = gmpy2.mpz(nsquare)

    def chunk(pairs: Sequence[tuple[int, int]]) -> list[int]:
        product = gmpy2.mpz(1)
        for value, weight in pairs:
            product = product * gmpy2.powmod(value, weight, modulus) % modulus
        return [int(product)]

    product = 1
    for part in map_chunks(chunk, list(zip(values, weights, strict=True)), workers):
        product = product * part % nsquare
    return product


def batch_statement(
    context: bytes, ciphertexts: Sequence[int], shares: Sequence[int], n: int, workers: int
) -> tuple[bytes, int, int]:
    """Fold many (ciphertext, share) pairs of one holder into one pair (C, C_i).

    Returns the folded context (which commits to every ciphertext and share) and the pair.
    The 128-bit weights are SHA-256(seed || j) with the seed hashing the whole batch, so the
    prover cannot choose shares after seeing the weights (Bellare, Garay, Rabin 1998).
    """
    nsquare = n * n
    width = (nsquare.bit_length() + 7) // 8
    seed = hashlib.sha256(
        _BATCH_LABEL
        + len(context).to_bytes(4, "big")
        + context
        + _digest_list(ciphertexts, width)
        + _digest_list(shares, width)
    ).digest()
    weights = [
        int.from_bytes(hashlib.sha256(seed + j.to_bytes(8, "big")).digest()[:16], "big") | 1
        for j in range(len(ciphertexts))
    ]
    folded_c = _weighted_product(ciphertexts, weights, nsquare, workers)
    folded_share = _weighted_product(shares, weights, nsquare, workers)
    return context + seed, folded_c, folded_share
