"""Fixed-base exponentiation table for the public DJN base ``h_s`` (window of 8 bits).

Encryption in the Damgard-Jurik-Nielsen form needs ``h_s^a mod n^2`` for a fresh random ``a``
of at least ``k/2`` bits. With a precomputed table ``T[i][d] = h_s^(d * 256^i)`` this costs one
modular multiplication per non-zero byte of ``a`` (Brickell, Gordon, McCurley and Wilson 1992,
"Fast exponentiation with precomputation", the simple one-row-per-digit variant) instead of a
full square-and-multiply ladder. The table is built once per public key, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2  # type: ignore[import-untyped]

__all__ = ["FixedBaseTable"]

WINDOW_BITS = 8
_DIGITS = 1 << WINDOW_BITS


class FixedBaseTable:
    """Powers ``base^(d * 256^i) mod modulus`` for every byte position ``i`` and byte ``d``.

    Args:
        base: The fixed base (an element of ``Z*_modulus``).
        modulus: The modulus (``n^2`` for Paillier).
        exponent_bytes: Number of little-endian exponent bytes the table covers.
    """

    __slots__ = ("_modulus", "_rows", "exponent_bytes")

    def __init__(self, base: int, modulus: int, exponent_bytes: int) -> None:
        mod = gmpy2.mpz(modulus)
        row_base = gmpy2.mpz(base) % mod
        rows: list[list[int]] = []
        for _ in range(exponent_bytes):
            row = [gmpy2.mpz(1), row_base]
            power = row_base
            for _ in range(2, _DIGITS):
                power = power * row_base % mod
                row.append(power)
            rows.append(row)
            row_base = power * row_base % mod
        self._modulus = mod
        self._rows = rows
        self.exponent_bytes = exponent_bytes

    def power_from_digits(self, digits: bytes) -> Any:
        """Return ``base^a mod modulus`` where ``digits`` is ``a`` in little-endian bytes."""
        if len(digits) > self.exponent_bytes:
            raise ValueError("exponent longer than the fixed-base table")
        mod = self._modulus
        acc = None
        for row, digit in zip(self._rows, digits, strict=False):
            if digit:
                acc = row[digit] if acc is None else acc * row[digit] % mod
        return gmpy2.mpz(1) if acc is None else acc

    def power(self, exponent: int) -> Any:
        """Return ``base^exponent mod modulus`` for ``0 <= exponent < 256^exponent_bytes``."""
        if exponent < 0:
            raise ValueError("negative exponent")
        return self.power_from_digits(int(exponent).to_bytes(self.exponent_bytes, "little"))

    def powers_from_digit_block(self, block: bytes, count: int) -> Sequence[int]:
        """Return ``count`` powers whose exponents are consecutive slices of ``block``."""
        width = self.exponent_bytes
        return [self.power_from_digits(block[i * width : (i + 1) * width]) for i in range(count)]
