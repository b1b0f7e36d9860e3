"""A keyed pseudorandom permutation of ``[0, n)``: where each advert sits on the Harary ring.

A balanced Feistel network on ``2h`` bits (``2^(2h) >= n``) with :data:`ROUNDS` rounds whose
round function is SHA-256 keyed by the session id, the domain size and the round number;
with a random-oracle round function, 8 rounds are indifferentiable from a random
permutation (Dai and Steinberger, "Indifferentiability of 8-Round Feistel Networks",
CRYPTO 2016). It is restricted to ``[0, n)`` by cycle walking (Black and Rogaway, "Ciphers
with Arbitrary Finite Domains", CT-RSA 2002, section 3): re-apply until the value lands in
the domain; as ``2^(2h) < 4n``, under four steps on average.

Both directions cost ``O(1)`` hashes, so a client finds the ``k`` leaf indices of its ring
neighbours with ``O(k)`` evaluations and without reading the roster. The key is the session
id, a hash of the committed roster: a server that wants other neighbours for someone must
change the roster, i.e. find a new root, and each try is a fresh random permutation.
"""

from __future__ import annotations

import hashlib
import struct

__all__ = ["ROUNDS", "RosterPermutation"]

ROUNDS = 8
_DOMAIN = b"fedcrypt/secagg-masking/ring-feistel/v1"


class RosterPermutation:
    """``pi``: leaf index -> ring position, a keyed permutation of ``range(size)``.

    Args:
        key: the session id (32 bytes), which binds the roster and the configuration.
        size: the domain size ``n >= 1`` (the number of leaves of the roster tree).
    """

    __slots__ = ("_half", "_mask", "_prefix", "_round_tags", "size")

    def __init__(self, key: bytes, size: int) -> None:
        if size < 1:
            raise ValueError("the permutation domain must hold at least one element")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._prefix = hashlib.sha256(_DOMAIN + key + struct.pack(">Q", size))
        self._round_tags = [struct.pack(">B", r) for r in range(ROUNDS)]

    def _round(self, r: int, value: int) -> int:
        h = self._prefix.copy()
        h.update(self._round_tags[r] + value.to_bytes(8, "big"))
        return int.from_bytes(h.digest()[:8], "big") & self._mask

    def _encrypt(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for r in range(ROUNDS):
            left, right = right, left ^ self._round(r, right)
        return (left << self._half) | right

    def _decrypt(self, y: int) -> int:
        left, right = y >> self._half, y & self._mask
        for r in reversed(range(ROUNDS)):
            left, right = right ^ self._round(r, left), left
        return (left << self._half) | right

    def _check(self, value: int) -> None:
        if not 0 <= value < self.size:
            raise ValueError(f"{value} is outside the permutation domain [0, {self.size})")

    def forward(self, index: int) -> int:
        """``pi(index)``: the ring position of the advert at leaf ``index``."""
        self._check(index)
        value = self._encrypt(index)
        while value >= self.size:  # cycle walking (Black and Rogaway 2002)
            value = self._encrypt(value)
        return value

    def inverse(self, position: int) -> int:
        """``pi^-1(position)``: the leaf index whose advert sits at ring ``position``."""
        self._check(position)
        value = self._decrypt(position)
        while value >= self.size:
            value = self._decrypt(value)
        return value

    def ring_neighbours(self, index: int, half: int) -> list[int]:
        """Leaf indices at ring positions ``pi(index) +- 1..half`` (mod ``n``), near first.

        The Harary graph ``H(2 * half, n)`` of Bell et al. (CCS 2020, section 3.2); the
        caller ensures ``2 * half < n`` so the ``2 * half`` positions are distinct.
        """
        position = self.forward(index)
        out = []
        for step in range(1, half + 1):
            out.append(self.inverse((position + step) % self.size))
            out.append(self.inverse((position - step) % self.size))
        return out

    def table(self) -> list[int]:
        """``[pi(0), ..., pi(n - 1)]`` (the server's whole ring; ``O(n)`` evaluations)."""
        return [self.forward(i) for i in range(self.size)]
