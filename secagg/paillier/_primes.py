"""Prime generation for Paillier keys from the OS CSPRNG.

Primes are ``p = q = 3 (mod 4)`` of exactly ``k/2`` bits with the two top bits set (so that
``n = pq`` has exactly ``k`` bits), ``gcd(p - 1, q - 1) = 2`` and ``|p - q| > 2^(k/2 - 100)``.
``p = q = 3 (mod 4)`` makes ``-1`` a non-square modulo both primes, which the
Damgard-Jurik-Nielsen base ``h = -(x^2)`` needs (Damgard, Jurik, Nielsen 2010).

Search: a random start from :mod:`secrets`, then the candidates ``start + 4j`` of a window
(the usual incremental search), sieved by the odd primes below 2^15; survivors get
``gmpy2.is_prime(c, 32)``, GMP's Baillie-PSW test plus 8 Miller-Rabin rounds with random
bases (for random candidates of this size a few rounds already give an error far below
2^-100: Damgard, Landrock and Pomerance 1993, "Average case error estimates for the strong
probable prime test"). A fresh random start is drawn for every window.
"""

from __future__ import annotations

import functools
import math
import secrets

import gmpy2  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import NDArray

__all__ = ["random_prime_3_mod_4", "random_paillier_primes"]

_PRIMALITY_REPS = 32
_MIN_GAP_SLACK_BITS = 100
_SIEVE_BOUND = 1 << 15
_WINDOW = 2048
_STEP = 4
_LIMB_BITS = 16


@functools.cache
def _sieve_primes() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Odd primes ``3 <= r < 2^15`` and ``4^-1 mod r`` for each."""
    flags = np.ones(_SIEVE_BOUND, dtype=bool)
    flags[:2] = False
    for r in range(2, math.isqrt(_SIEVE_BOUND) + 1):
        if flags[r]:
            flags[r * r :: r] = False
    primes = np.flatnonzero(flags)[1:].astype(np.int64)  # drop 2
    inverses = np.array([pow(_STEP, -1, int(r)) for r in primes], dtype=np.int64)
    return primes, inverses


@functools.cache
def _limb_weights(limbs: int) -> NDArray[np.int64]:
    """``2^(16 i) mod r`` for every limb position ``i`` and sieving prime ``r``."""
    primes, _ = _sieve_primes()
    weights = np.empty((limbs, primes.size), dtype=np.int64)
    weights[0] = 1
    for i in range(1, limbs):
        weights[i] = (weights[i - 1] << _LIMB_BITS) % primes
    return weights


def _residues(value: int) -> NDArray[np.int64]:
    """``value mod r`` for every sieving prime, from 16-bit limbs (sums stay below 2^63)."""
    primes, _ = _sieve_primes()
    limbs = -(-value.bit_length() // _LIMB_BITS)
    digits = np.frombuffer(value.to_bytes(2 * limbs, "little"), dtype="<u2").astype(np.int64)
    return (digits @ _limb_weights(limbs)) % primes


def _survivors(start: int) -> NDArray[np.int64]:
    """Offsets ``j < _WINDOW`` with ``start + 4j`` free of odd prime factors below 2^15."""
    primes, inverses = _sieve_primes()
    first = (-_residues(start) * inverses) % primes  # start + 4j = 0 (mod r) iff j = first
    alive = np.ones(_WINDOW, dtype=bool)
    small = primes < _WINDOW
    for r, j in zip(primes[small].tolist(), first[small].tolist(), strict=True):
        alive[j::r] = False
    hits = first[~small]  # primes above the window strike at most once
    alive[hits[hits < _WINDOW]] = False
    return np.flatnonzero(alive)


def random_prime_3_mod_4(bits: int) -> int:
    """Return a random prime of exactly ``bits`` bits, ``= 3 (mod 4)``, top two bits set."""
    top = (1 << (bits - 1)) | (1 << (bits - 2))
    limit = 1 << bits
    while True:
        start = secrets.randbits(bits) | top
        start = start - (start % 4) + 3
        for offset in _survivors(start).tolist():
            candidate = start + _STEP * offset
            if candidate >= limit:
                break
            if gmpy2.is_prime(candidate, _PRIMALITY_REPS):
                return int(candidate)


def random_paillier_primes(modulus_bits: int) -> tuple[int, int]:
    """Return primes ``(p, q)`` for a ``modulus_bits``-bit Paillier modulus (see module doc)."""
    half = modulus_bits // 2
    min_gap = 1 << max(half - _MIN_GAP_SLACK_BITS, 1)
    p = random_prime_3_mod_4(modulus_bits - half)
    while True:
        q = random_prime_3_mod_4(half)
        if abs(p - q) > min_gap and math.gcd(p - 1, q - 1) == 2:
            n = p * q
            if n.bit_length() == modulus_bits:
                return p, q
