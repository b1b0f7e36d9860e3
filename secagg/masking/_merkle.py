"""The roster commitment: an RFC 9162 Merkle tree over the serialized advertisements.

RFC 9162 (Certificate Transparency v2), section 2.1: the Merkle Tree Hash of ``n`` leaves
with leaf hash ``SHA-256(0x00 || leaf)`` and node hash ``SHA-256(0x01 || left || right)``,
split at the largest power of two below ``n`` (any ``n``, not only powers of two), and the
inclusion proofs of section 2.1.3, verified with the leaf index and the tree size. A client
that holds the root and ``n`` checks any advert it is shown with ``O(log n)`` hashes instead
of reading all ``n`` adverts (Bell et al., CCS 2020, need each client to see only its
``k = O(log n)`` neighbours).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "HASH_BYTES",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "tree_hash",
    "inclusion_path_length",
    "verify_inclusion",
]

HASH_BYTES = 32
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    """Hash pairs; a last unpaired node moves up unchanged.

    Level by level this gives RFC 9162's split at the largest power of two below ``n``:
    the left subtree is always complete, so only the rightmost node of a level can be alone.
    """
    out = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        out.append(level[-1])
    return out


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (RFC 9162, 2.1.1) of ``leaves`` (raw leaf data, not hashes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = [leaf_hash(leaf) for leaf in leaves]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


class MerkleTree:
    """All levels of the tree over ``leaves``: the root and any inclusion proof in O(log n).

    The server keeps this (``O(n)`` hashes, built once per round); clients only verify.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a roster tree needs at least one leaf")
        levels = [[leaf_hash(leaf) for leaf in leaves]]
        while len(levels[-1]) > 1:
            levels.append(_next_level(levels[-1]))
        self._levels = levels

    @property
    def size(self) -> int:
        """The number of leaves ``n``."""
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle Tree Hash of all leaves."""
        return self._levels[-1][0]

    def inclusion_proof(self, index: int) -> tuple[bytes, ...]:
        """``PATH(index, D[n])`` of RFC 9162, 2.1.3.1: sibling hashes from the leaf upward."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf index {index} is outside a tree of {self.size} leaves")
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return tuple(path)


def inclusion_path_length(index: int, size: int) -> int:
    """The length of ``PATH(index, D[size])`` (RFC 9162, 2.1.3.1), without any hashing."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    length = 0
    while size > 1:
        split = 1 << ((size - 1).bit_length() - 1)  # largest power of two below size
        if index < split:
            size = split
        else:
            index, size = index - split, size - split
        length += 1
    return length


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162, 2.1.3.2: whether ``leaf`` is at ``index`` of the tree of ``size`` with ``root``.

    ``leaf`` is the raw leaf data (hashed here with the 0x00 prefix).
    """
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if len(p) != HASH_BYTES or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
