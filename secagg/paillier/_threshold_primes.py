"""Safe-prime generation for the threshold Paillier dealer (hazmat: internal use only).

A safe prime is p = 2p' + 1 with p' prime. Shoup (2000, section 2) and Damgard and Jurik
(2001, section 4) need n = pq with p and q safe so that the group of squares modulo n is
cyclic of order m = p'q' with no small factors; that is what makes the decryption shares
verifiable. Candidates come from :mod:`secrets`; a sieve over a window of candidates discards
every p' for which p' or 2p' + 1 has a small factor, a base-2 Fermat test filters the rest
cheaply, then p' gets full Miller-Rabin rounds and p is proved prime by Pocklington's
criterion (p - 1 = 2p' with p' prime and 2^(p-1) = 1 mod p, gcd(2^2 - 1, p) = 1).
"""

from __future__ import annotations

import functools
import secrets

import gmpy2  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import NDArray

from secagg.errors import InvalidArgument

__all__ = ["random_safe_prime", "is_safe_prime"]

_SIEVE_BOUND = 1 << 18
_WINDOW = 1 << 15
# Candidates p' = 5 (mod 6): p' and 2p' + 1 are then both prime to 2 and 3, and p = 3 (mod 4).
_STEP = 6
_MILLER_RABIN_ROUNDS = 40


@functools.cache
def _small_odd_primes() -> NDArray[np.int64]:
    """Primes 5 <= r < _SIEVE_BOUND (Eratosthenes; deterministic, no randomness)."""
    is_prime = np.ones(_SIEVE_BOUND, dtype=bool)
    is_prime[:2] = False
    for r in range(2, int(_SIEVE_BOUND**0.5) + 1):
        if is_prime[r]:
            is_prime[r * r :: r] = False
    primes = np.flatnonzero(is_prime).astype(np.int64)
    return primes[primes >= 5]


@functools.cache
def _step_inverses() -> NDArray[np.int64]:
    """6^-1 modulo every sieving prime, so the sieve can jump straight to the bad offsets."""
    primes = _small_odd_primes()
    return np.array([pow(_STEP, -1, int(r)) for r in primes], dtype=np.int64)


def _sieve_window(start: int) -> NDArray[np.int64]:
    """Offsets k < _WINDOW for which neither p' = start + 6k nor 2p' + 1 has a small factor.

    Only primes below ``start`` sieve, so a small candidate is never struck out for being
    one of the sieving primes itself.
    """
    usable = int(np.searchsorted(_small_odd_primes(), start))
    primes = _small_odd_primes()[:usable]
    inverses = _step_inverses()[:usable]
    residues = np.array([start % r for r in primes.tolist()], dtype=np.int64)
    # p' = 0 (mod r)  <=>  k = -start * 6^-1;   2p' + 1 = 0 (mod r)  <=>  p' = (r - 1) / 2.
    keep = np.ones(_WINDOW, dtype=bool)
    for target in (np.zeros_like(residues), (primes - 1) // 2):
        offsets = ((target - residues) * inverses) % primes
        inside = offsets < _WINDOW
        for r, k in zip(primes[inside].tolist(), offsets[inside].tolist(), strict=True):
            keep[k::r] = False
    return np.flatnonzero(keep).astype(np.int64)


def is_safe_prime(p: int) -> bool:
    """Return whether ``p`` is a (probable) safe prime: p and (p - 1) / 2 both prime."""
    if p < 7 or p % 4 != 3:
        return p in (5, 7)
    half = (p - 1) // 2
    return bool(gmpy2.is_prime(half, _MILLER_RABIN_ROUNDS)) and bool(
        gmpy2.is_prime(p, _MILLER_RABIN_ROUNDS)
    )


def random_safe_prime(bits: int) -> int:
    """Return a random safe prime of exactly ``bits`` bits with its top two bits set.

    The two top bits make the product of two such primes exactly ``2 * bits`` bits long.

    Args:
        bits: Bit length of p (at least 16).

    Returns:
        A safe prime p = 2p' + 1 with p = 3 (mod 4).

    Raises:
        InvalidArgument: ``bits`` is below 16.
    """
    if bits < 16:
        raise InvalidArgument("safe primes shorter than 16 bits are not supported")
    half_bits = bits - 1
    top = (1 << (half_bits - 1)) | (1 << (half_bits - 2))
    while True:
        start = secrets.randbits(half_bits) | top
        start += (5 - start) % _STEP
        for k in _sieve_window(start).tolist():
            p_half = gmpy2.mpz(start + _STEP * k)
            if p_half.bit_length() != half_bits:
                break
            p = 2 * p_half + 1
            # Cheap base-2 Fermat filters on both, then a proof for p from the primality of p'.
            if gmpy2.powmod(2, p_half - 1, p_half) != 1 or gmpy2.powmod(2, p - 1, p) != 1:
                continue
            if not gmpy2.is_prime(p_half, _MILLER_RABIN_ROUNDS):
                continue
            # Pocklington with the single prime factor p' > sqrt(p) of p - 1.
            if gmpy2.gcd(3, p) == 1:
                return int(p)
