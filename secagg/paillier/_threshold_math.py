"""Raw threshold-Paillier arithmetic on integers (hazmat: no validation, internal use only).

This is the algebra of Shoup (2000, "Practical Threshold Signatures", sections 2-3) carried
over to Paillier by Damgard and Jurik (2001, "A Generalisation, a Simplification and Some
Applications of Paillier's Probabilistic Public-Key System", section 4.1, with s = 1) and
Fouque, Poupard and Stern (2000, "Sharing Decryption in the Context of Voting or Lotteries"):

* n = pq with safe primes p = 2p' + 1, q = 2q' + 1, m = p'q', Delta = l! for l key holders;
* the secret d = 0 (mod m), d = 1 (mod n) is shared by a random polynomial f of degree t - 1
  over Z_{nm}, s_i = f(i);
* v is a random square generating the squares of Z*_{n^2}, and v_i = v^(Delta s_i);
* a decryption share is c_i = c^(2 Delta s_i) mod n^2; any t of them combine as
  c' = prod c_i^(2 lambda_i) = c^(4 Delta^2 d), lambda_i = Delta prod_{j != i} j / (j - i),
  and the plaintext is L(c') (4 Delta^2)^(-1) mod n with L(u) = (u - 1) / n.

The callers in :mod:`secagg.paillier.threshold` validate every input before it gets here.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import gmpy2  # type: ignore[import-untyped]

from secagg.paillier._parallel import map_chunks
from secagg.paillier._threshold_primes import random_safe_prime

__all__ = [
    "DealtKey",
    "deal_from_primes",
    "generate_safe_modulus",
    "holder_delta",
    "lagrange_at_zero",
    "partial_decrypt",
    "partial_decrypt_many",
    "combine",
    "combine_many",
]


@dataclass(frozen=True, slots=True)
class DealtKey:
    """Everything the dealer hands out (integers only); the factorisation is not part of it."""

    n: int
    threshold: int
    n_parties: int
    base: int
    secrets: tuple[int, ...]
    verification_keys: tuple[int, ...]


def holder_delta(n_parties: int) -> int:
    """Return Delta = l!, the factor that keeps Lagrange coefficients integral (Shoup, s. 2)."""
    return math.factorial(n_parties)


def generate_safe_modulus(bits: int) -> tuple[int, int]:
    """Return two distinct safe primes of ``bits // 2`` bits whose product has ``bits`` bits."""
    half = bits // 2
    p = random_safe_prime(half)
    while True:
        q = random_safe_prime(bits - half)
        # Equal primes would make n a square; close primes would allow Fermat factoring.
        if q != p and abs(p - q).bit_length() > half - 100:
            return p, q


def _random_unit(modulus: int, n: int) -> int:
    """Return a uniform element of [2, modulus) prime to ``n``, from the CSPRNG."""
    while True:
        x = secrets.randbelow(modulus)
        if x > 1 and math.gcd(x, n) == 1:
            return x


def _verification_base(n: int, p: int, q: int) -> int:
    """Return a random square v of Z*_{n^2} of full order n p' q' (Shoup, section 2).

    The dealer knows the factorisation, so it checks the order instead of relying on luck:
    the group of squares is cyclic of order n m with distinct large prime factors p, q, p', q'.
    """
    nsquare = n * n
    order = n * ((p - 1) // 2) * ((q - 1) // 2)
    factors = (p, q, (p - 1) // 2, (q - 1) // 2)
    while True:
        v = int(gmpy2.powmod(_random_unit(nsquare, n), 2, nsquare))
        if all(gmpy2.powmod(v, order // f, nsquare) != 1 for f in factors):
            return v


def deal_from_primes(p: int, q: int, n_parties: int, threshold: int) -> DealtKey:
    """Share the Paillier decryption exponent of n = pq among ``n_parties`` holders.

    Implements the dealer of Damgard and Jurik (2001, section 4.1): d = 0 (mod m) and
    d = 1 (mod n) by the Chinese remainder theorem, f(X) = d + a_1 X + ... + a_{t-1} X^{t-1}
    with a_k uniform in Z_{nm}, share s_i = f(i) mod nm, and v_i = v^(Delta s_i) mod n^2.
    ``p`` and ``q`` must be distinct safe primes; nothing derived from them but n is returned.
    """
    n = p * q
    m = ((p - 1) // 2) * ((q - 1) // 2)
    nm = n * m
    d = m * int(gmpy2.invert(m, n))
    coefficients = [d] + [secrets.randbelow(nm) for _ in range(threshold - 1)]
    shares = []
    for holder in range(1, n_parties + 1):
        value = 0
        for coefficient in reversed(coefficients):
            value = (value * holder + coefficient) % nm
        shares.append(value)
    base = _verification_base(n, p, q)
    delta = holder_delta(n_parties)
    nsquare = n * n
    keys = tuple(int(gmpy2.powmod(base, delta * s, nsquare)) for s in shares)
    return DealtKey(n, threshold, n_parties, base, tuple(shares), keys)


def lagrange_at_zero(holders: Sequence[int], holder: int, delta: int) -> int:
    """Return the integer Delta * prod_{j != i} j / (j - i) over the holder set (Shoup, s. 2)."""
    numerator = delta
    denominator = 1
    for other in holders:
        if other != holder:
            numerator *= other
            denominator *= other - holder
    coefficient, remainder = divmod(numerator, denominator)
    assert remainder == 0, "Delta = l! makes every Lagrange coefficient integral"
    return coefficient


def partial_decrypt(
    ciphertext: int, secret: int, delta: int, nsquare: int, *, constant_time: bool = False
) -> int:
    """Return the decryption share c^(2 Delta s_i) mod n^2 (``gmpy2.powmod_sec`` if asked)."""
    power = gmpy2.powmod_sec if constant_time else gmpy2.powmod
    return int(power(ciphertext, 2 * delta * secret, nsquare))


def partial_decrypt_many(
    ciphertexts: Sequence[int],
    secret: int,
    delta: int,
    nsquare: int,
    workers: int,
    *,
    constant_time: bool = False,
) -> list[int]:
    """Return c_j^(2 Delta s_i) mod n^2 for every c_j, using every core."""
    exponent = gmpy2.mpz(2 * delta * secret)
    modulus = gmpy2.mpz(nsquare)

    def chunk(values: Sequence[int]) -> list[int]:
        if constant_time:
            return [int(gmpy2.powmod_sec(x, exponent, modulus)) for x in values]
        return [int(x) for x in gmpy2.powmod_base_list(list(values), exponent, modulus)]

    return map_chunks(chunk, ciphertexts, workers)


def _decode(combined: int, n: int, delta: int) -> int:
    """Return L(c') * (4 Delta^2)^(-1) mod n, or raise ArithmeticError if c' != 1 (mod n)."""
    quotient, remainder = divmod(combined - 1, n)
    if remainder:
        raise ArithmeticError("the combined shares are not of the form 1 + x n")
    return int(quotient * gmpy2.invert(4 * delta * delta, n) % n)


def combine(shares: Mapping[int, int], n: int, delta: int) -> int:
    """Combine exactly t verified decryption shares {holder: c_i} into the plaintext."""
    nsquare = n * n
    holders = sorted(shares)
    combined = gmpy2.mpz(1)
    for holder in holders:
        weight = 2 * lagrange_at_zero(holders, holder, delta)
        combined = combined * gmpy2.powmod(shares[holder], weight, nsquare) % nsquare
    return _decode(int(combined), n, delta)


def combine_many(
    shares: Mapping[int, Sequence[int]], n: int, delta: int, workers: int
) -> list[int]:
    """Combine t verified share vectors {holder: [c_i,j]} into the plaintexts, on all cores.

    Positive and negative Lagrange weights are accumulated apart, so the whole combination
    costs t short exponentiations per ciphertext and a single inversion.
    """
    nsquare = gmpy2.mpz(n * n)
    holders = sorted(shares)
    count = len(shares[holders[0]])
    weights = {h: 2 * lagrange_at_zero(holders, h, delta) for h in holders}

    def chunk(indices: Sequence[int]) -> list[int]:
        start, stop = indices[0], indices[-1] + 1
        positive = [gmpy2.mpz(1)] * (stop - start)
        negative = [gmpy2.mpz(1)] * (stop - start)
        for holder in holders:
            weight = weights[holder]
            target = positive if weight > 0 else negative
            powers = gmpy2.powmod_base_list(
                [gmpy2.mpz(x) for x in shares[holder][start:stop]], abs(weight), nsquare
            )
            for k, power in enumerate(powers):
                target[k] = target[k] * power % nsquare
        return [
            _decode(int(pos * gmpy2.invert(neg, nsquare) % nsquare), n, delta)
            for pos, neg in zip(positive, negative, strict=True)
        ]

    return map_chunks(chunk, range(count), workers)
