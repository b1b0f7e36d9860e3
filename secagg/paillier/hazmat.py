"""Raw Paillier primitives on integers (hazardous materials: no encoding, few checks).

These functions work on plaintexts already reduced to ``[0, n)`` and on raw ciphertext
integers in ``Z*_{n^2}``. The safe API (:class:`~secagg.paillier.PublicKey`,
:class:`~secagg.paillier.Ciphertext`, :class:`~secagg.paillier.EncryptedVector`) validates
its inputs and then calls these. Threshold decryption reuses them.

Scheme: Paillier 1999 ("Public-key cryptosystems based on composite degree residuosity
classes", EUROCRYPT) with ``g = n + 1``, so ``g^m = 1 + m n (mod n^2)``. Encryption uses the
Damgard-Jurik-Nielsen randomiser ``h_s^a`` with ``a`` of at least ``k/2`` random bits
(Damgard, Jurik, Nielsen 2010, short-exponent variant) computed from a fixed-base table.
Decryption uses the Chinese remainder theorem over ``p^2`` and ``q^2`` (Paillier 1999, section 7).
Nonces always come from :func:`os.urandom`; no function accepts a caller-chosen nonce.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import gmpy2  # type: ignore[import-untyped]

from secagg.paillier._parallel import map_chunks

if TYPE_CHECKING:
    from secagg.paillier._keys import PrivateKey, PublicKey

#: A raw big integer: ``int`` or ``gmpy2.mpz`` (gmpy2 ships no type stubs).
RawInt: TypeAlias = Any

__all__ = [
    "RawInt",
    "raw_encrypt",
    "raw_encrypt_many",
    "raw_obfuscator",
    "raw_rerandomize",
    "raw_rerandomize_many",
    "raw_add",
    "raw_add_many",
    "raw_add_plain",
    "raw_scalar_mul",
    "raw_scalar_mul_many",
    "raw_negate",
    "raw_decrypt",
    "raw_decrypt_many",
    "encode_signed",
    "decode_signed",
]


def raw_obfuscator(public_key: PublicKey) -> RawInt:
    """Return a fresh randomiser ``h_s^a mod n^2`` with ``a`` from :func:`os.urandom`."""
    table = public_key._djn_table()
    return table.power_from_digits(os.urandom(table.exponent_bytes))


def _randomisers(public_key: PublicKey, count: int, workers: int) -> list[int]:
    table = public_key._djn_table()
    width = table.exponent_bytes
    block = os.urandom(width * count)
    slices = [block[i * width : (i + 1) * width] for i in range(count)]

    def work(chunk: Sequence[bytes]) -> list[int]:
        return [table.power_from_digits(digits) for digits in chunk]

    return map_chunks(work, slices, workers)


def _attach(n: int, nsquare: int, plaintext: int, obfuscator: int) -> RawInt:
    # (1 + m n) r = r + n (m r mod n)  (mod n^2): cheaper than a full product modulo n^2.
    return (obfuscator + n * (plaintext * obfuscator % n)) % nsquare


def raw_encrypt(public_key: PublicKey, plaintext: int) -> RawInt:
    """Encrypt ``0 <= plaintext < n``: ``(1 + m n) h_s^a mod n^2``."""
    return _attach(
        public_key._n, public_key._nsquare, gmpy2.mpz(plaintext), raw_obfuscator(public_key)
    )


def raw_encrypt_many(public_key: PublicKey, plaintexts: Sequence[int], workers: int) -> list[int]:
    """Encrypt many plaintexts in ``[0, n)`` on ``workers`` threads."""
    table = public_key._djn_table()
    width = table.exponent_bytes
    n, nsquare = public_key._n, public_key._nsquare
    block = os.urandom(width * len(plaintexts))
    jobs = [(gmpy2.mpz(m), block[i * width : (i + 1) * width]) for i, m in enumerate(plaintexts)]

    def work(chunk: Sequence[tuple[int, bytes]]) -> list[int]:
        return [_attach(n, nsquare, m, table.power_from_digits(d)) for m, d in chunk]

    return map_chunks(work, jobs, workers)


def raw_rerandomize(public_key: PublicKey, ciphertext: int) -> RawInt:
    """Multiply by a fresh randomiser: same plaintext, unlinkable ciphertext."""
    return ciphertext * raw_obfuscator(public_key) % public_key._nsquare


def raw_rerandomize_many(
    public_key: PublicKey, ciphertexts: Sequence[int], workers: int
) -> list[int]:
    """Re-randomise many ciphertexts on ``workers`` threads."""
    nsquare = public_key._nsquare
    randomisers = _randomisers(public_key, len(ciphertexts), workers)
    return [c * r % nsquare for c, r in zip(ciphertexts, randomisers, strict=True)]


def raw_add(public_key: PublicKey, left: int, right: int) -> RawInt:
    """Homomorphic addition: ``E(a) E(b) = E(a + b mod n)``."""
    return left * right % public_key._nsquare


def raw_add_many(
    public_key: PublicKey, left: Sequence[int], right: Sequence[int], workers: int
) -> list[int]:
    """Element-wise homomorphic addition of two equally long ciphertext lists."""
    nsquare = public_key._nsquare
    pairs = list(zip(left, right, strict=True))

    def work(chunk: Sequence[tuple[int, int]]) -> list[int]:
        return [a * b % nsquare for a, b in chunk]

    return map_chunks(work, pairs, workers)


def raw_add_plain(public_key: PublicKey, ciphertext: int, plaintext: int) -> RawInt:
    """Add a plaintext in ``[0, n)``: ``E(a) (1 + b n) = E(a + b mod n)``."""
    n, nsquare = public_key._n, public_key._nsquare
    return (ciphertext + n * (plaintext * ciphertext % n)) % nsquare


def raw_scalar_mul(public_key: PublicKey, ciphertext: int, scalar: int) -> RawInt:
    """Homomorphic multiplication by a non-negative integer: ``E(a)^k = E(k a mod n)``."""
    return gmpy2.powmod(ciphertext, scalar, public_key._nsquare)


def raw_scalar_mul_many(
    public_key: PublicKey, ciphertexts: Sequence[int], scalar: int, workers: int
) -> list[int]:
    """Multiply many ciphertexts by the same non-negative integer (GIL released)."""
    nsquare = public_key._nsquare

    def work(chunk: Sequence[int]) -> list[int]:
        return list(gmpy2.powmod_base_list(list(chunk), scalar, nsquare))

    return map_chunks(work, ciphertexts, workers)


def raw_negate(public_key: PublicKey, ciphertext: int) -> RawInt:
    """Homomorphic negation: the inverse modulo ``n^2`` encrypts ``-a mod n``."""
    return gmpy2.invert(ciphertext, public_key._nsquare)


def _half(
    ciphertexts: Sequence[int], prime: int, prime_square: int, h: int, constant_time: bool
) -> list[int]:
    exponent = prime - 1
    reduced = [c % prime_square for c in ciphertexts]
    if constant_time:
        powers = [gmpy2.powmod_sec(c, exponent, prime_square) for c in reduced]
    else:
        powers = gmpy2.powmod_base_list(reduced, exponent, prime_square)
    return [(x - 1) // prime * h % prime for x in powers]


def _combine(private_key: PrivateKey, mp: int, mq: int) -> RawInt:
    p = private_key._p
    return mp + p * ((mq - mp) * private_key._p_inverse_mod_q % private_key._q)


def raw_decrypt(
    private_key: PrivateKey, ciphertext: int, *, constant_time: bool = False, workers: int = 1
) -> int:
    """Decrypt to ``[0, n)`` by CRT over ``p^2`` and ``q^2`` (Paillier 1999, section 7).

    With ``workers >= 2`` the two halves run on two threads (gmpy2 releases the GIL).
    """
    mps, mqs = _decrypt_halves(private_key, [ciphertext], constant_time, workers)
    return int(_combine(private_key, mps[0], mqs[0]))


def raw_decrypt_many(
    private_key: PrivateKey,
    ciphertexts: Sequence[int],
    workers: int,
    *,
    constant_time: bool = False,
) -> list[int]:
    """Decrypt many ciphertexts; the ``p`` and ``q`` halves run on separate threads."""
    mps, mqs = _decrypt_halves(private_key, ciphertexts, constant_time, workers)
    return [int(_combine(private_key, mp, mq)) for mp, mq in zip(mps, mqs, strict=True)]


def _decrypt_halves(
    sk: PrivateKey, ciphertexts: Sequence[int], constant_time: bool, workers: int
) -> tuple[list[int], list[int]]:
    halves = [(sk._p, sk._psquare, sk._hp), (sk._q, sk._qsquare, sk._hq)]

    def half(params: Sequence[tuple[int, int, int]]) -> list[list[int]]:
        return [_half(ciphertexts, prime, square, h, constant_time) for prime, square, h in params]

    if workers >= 2:
        mps, mqs = map_chunks(half, halves, 2, min_items_per_worker=1)
    else:
        mps, mqs = half(halves)
    return mps, mqs


def encode_signed(public_key: PublicKey, value: int) -> int:
    """Map a signed integer with ``|value| <= max_int`` to ``[0, n)`` (negatives as ``n + v``).

    Callers check the range; this is the same convention as ``phe`` (``max_int = n // 3 - 1``).
    """
    return int(value % public_key._n)


def max_signed_int(n: int) -> int:
    """Largest ``|value|`` of a signed plaintext mod ``n``: ``n // 3 - 1``, as in ``phe``.

    The residues between ``max_int`` and ``n - max_int`` form the overflow gap, so a sum that
    wrapped is detected instead of decoded as a wrong value.
    """
    return n // 3 - 1


def decode_signed_residue(n: int, plaintext: int) -> int | None:
    """Map a residue in ``[0, n)`` back to a signed integer, or ``None`` inside the overflow gap."""
    max_int = max_signed_int(n)
    if plaintext <= max_int:
        return int(plaintext)
    if plaintext >= n - max_int:
        return int(plaintext - n)
    return None


def decode_signed(public_key: PublicKey, plaintext: int) -> int | None:
    """Map ``[0, n)`` back to a signed integer, or ``None`` inside the overflow gap."""
    return decode_signed_residue(public_key._n, plaintext)
