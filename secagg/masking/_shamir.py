"""Shamir secret sharing over the prime field GF(2^521 - 1).

Shamir (CACM 1979): a secret ``s`` is the constant term of a random polynomial of degree
``t - 1``; party ``x`` receives ``f(x)``; any ``t`` shares rebuild ``s`` by Lagrange
interpolation at zero and ``t - 1`` shares are independent of ``s``. The Mersenne prime
``2^521 - 1`` holds a 32-byte secret in one field element; Python ints do the arithmetic.
Random coefficients come from :func:`secrets.randbelow`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from secagg.errors import InsufficientShares, InvalidArgument, InvalidShare

__all__ = [
    "PRIME",
    "SHARE_BYTES",
    "split",
    "combine",
    "lagrange_weights",
    "encode_element",
    "decode_element",
]

PRIME = 2**521 - 1
"""The field modulus, a Mersenne prime."""

SHARE_BYTES = 66
"""Bytes of one field element, big-endian (521 bits)."""


def split(secret: int, xs: Sequence[int], threshold: int) -> list[int]:
    """Shares ``f(x)`` for every evaluation point in ``xs`` of a random degree-``t-1`` ``f``.

    Args:
        secret: the field element to share, ``0 <= secret < PRIME``.
        xs: distinct nonzero evaluation points in the field.
        threshold: ``t``, the number of shares that rebuild the secret (``1 <= t <= len(xs)``).

    Returns:
        One share per point, in the order of ``xs``.
    """
    if not 0 <= secret < PRIME:
        raise InvalidArgument("the secret is not a field element")
    if not 1 <= threshold <= len(xs):
        raise InvalidArgument("the threshold must lie between 1 and the number of shares")
    _check_points(xs)
    coefficients = [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    coefficients.reverse()
    # Horner's rule without reducing inside the loop: the points are small, so the
    # accumulator grows by ~32 bits a step and one reduction at the end is much cheaper.
    shares = []
    for x in xs:
        acc = 0
        for c in coefficients:
            acc = acc * x + c
        shares.append((acc * x + secret) % PRIME)
    return shares


def lagrange_weights(xs: Sequence[int]) -> list[int]:
    """The weights ``l_i(0)`` with ``f(0) = sum l_i(0) f(x_i)`` for the points ``xs``."""
    _check_points(xs)
    p = PRIME
    numerator = 1
    for x in xs:
        numerator *= x
    numerator %= p
    # l_i(0) = prod_j x_j / (x_i * prod_{j != i} (x_j - x_i)); the denominators are exact
    # small-integer products, inverted together with one modular inversion (Montgomery).
    denominators = []
    for i, xi in enumerate(xs):
        d = xi
        for j, xj in enumerate(xs):
            if j != i:
                d *= xj - xi
        denominators.append(d % p)
    inverses = _batch_inverse(denominators)
    return [numerator * inv % p for inv in inverses]


def _batch_inverse(values: Sequence[int]) -> list[int]:
    """Modular inverses of nonzero field elements with a single exponentiation."""
    p = PRIME
    prefix = [1]
    for v in values:
        prefix.append(prefix[-1] * v % p)
    inv = pow(prefix[-1], -1, p)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inv * prefix[i] % p
        inv = inv * values[i] % p
    return out


def combine(
    points: Sequence[tuple[int, int]],
    threshold: int,
    *,
    weights: Sequence[int] | None = None,
) -> int:
    """Rebuild the secret from exactly ``threshold`` shares ``(x, f(x))``.

    Args:
        points: the shares; exactly ``threshold`` of them (a protocol choice: extra shares
            would let a cheating holder steer which polynomial is rebuilt).
        threshold: ``t``.
        weights: precomputed :func:`lagrange_weights` of the same points, to reuse them
            across many secrets shared at the same points.
    """
    if len(points) < threshold:
        raise InsufficientShares(f"{len(points)} shares, {threshold} needed")
    if len(points) != threshold:
        raise InvalidArgument("combine takes exactly `threshold` shares")
    for _, y in points:
        if not 0 <= y < PRIME:
            raise InvalidShare("a share is not a field element")
    if weights is None:
        weights = lagrange_weights([x for x, _ in points])
    return sum(w * y for w, (_, y) in zip(weights, points, strict=True)) % PRIME


def encode_element(value: int) -> bytes:
    """A field element as 66 big-endian bytes."""
    return value.to_bytes(SHARE_BYTES, "big")


def decode_element(data: bytes) -> int:
    """Parse 66 big-endian bytes, refusing values outside the field."""
    if len(data) != SHARE_BYTES:
        raise InvalidShare("a share is not 66 bytes")
    value = int.from_bytes(data, "big")
    if value >= PRIME:
        raise InvalidShare("a share is not a field element")
    return value


def _check_points(xs: Sequence[int]) -> None:
    if len(set(xs)) != len(xs):
        raise InvalidArgument("evaluation points must be distinct")
    for x in xs:
        if not 0 < x < PRIME:
            raise InvalidArgument("evaluation points must be nonzero field elements")
