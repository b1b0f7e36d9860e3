"""The roster commitment (RFC 9162 Merkle tree) and the ring permutation (Feistel + cycle walk)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.masking._prp import ROUNDS
from secagg.masking.hazmat import (
    MerkleTree,
    RosterPermutation,
    inclusion_path_length,
    tree_hash,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "merkle_rfc6962.json").read_text())
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves"]]


def _rfc_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162, 2.1.1, written as the recursive definition (the reference for the tests)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _rfc_mth(leaves[:k]) + _rfc_mth(leaves[k:])).digest()


def _rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162, 2.1.3.1: PATH(m, D[n]), recursively."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_rfc_path(m, leaves[:k]), _rfc_mth(leaves[k:])]
    return [*_rfc_path(m - k, leaves[k:]), _rfc_mth(leaves[:k])]


@pytest.mark.parametrize("size", range(9))
def test_known_roots(size: int) -> None:
    assert tree_hash(LEAVES[:size]).hex() == VECTORS["roots"][str(size)]
    if size:
        assert MerkleTree(LEAVES[:size]).root.hex() == VECTORS["roots"][str(size)]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-{c['size']}")
def test_known_inclusion_proofs(case: dict) -> None:
    index, size = case["index"], case["size"]
    path = tuple(bytes.fromhex(h) for h in case["path"])
    tree = MerkleTree(LEAVES[:size])
    assert tree.inclusion_proof(index) == path
    assert verify_inclusion(LEAVES[index], index, size, path, tree.root)


@given(st.lists(st.binary(max_size=6), min_size=1, max_size=70), st.data())
def test_tree_matches_the_rfc_definition_and_every_proof_verifies(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaves)
    n = len(leaves)
    assert tree.root == _rfc_mth(leaves) == tree_hash(leaves)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = tree.inclusion_proof(index)
    assert list(proof) == _rfc_path(index, leaves)
    assert len(proof) == inclusion_path_length(index, n)
    assert verify_inclusion(leaves[index], index, n, proof, tree.root)


@given(st.lists(st.binary(min_size=1, max_size=4), min_size=2, max_size=40, unique=True), st.data())
def test_any_change_breaks_an_inclusion_proof(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = tree.inclusion_proof(index)
    leaf, root = leaves[index], tree.root
    other = data.draw(st.integers(0, n - 1).filter(lambda j: j != index), label="other")
    assert not verify_inclusion(leaves[other], index, n, proof, root)  # another leaf
    assert not verify_inclusion(leaf, other, n, proof, root)  # another index
    # (Another size with the same root can accept the same path: RFC 9162 binds a proof to
    # the pair (root, size), which is why the session id hashes both.)
    assert not verify_inclusion(leaf, index, n, proof, bytes(32))  # another root
    assert not verify_inclusion(leaf, n, n, proof, root)  # index out of range
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="node")
        flipped = bytes([proof[at][0] ^ 1]) + proof[at][1:]
        bad = (*proof[:at], flipped, *proof[at + 1 :])
        assert not verify_inclusion(leaf, index, n, bad, root)
        assert not verify_inclusion(leaf, index, n, proof[:-1], root)  # too short
    assert not verify_inclusion(leaf, index, n, (*proof, bytes(32)), root)  # too long


def test_path_length_refuses_out_of_range_indices() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_path_length(3, 3)
    with pytest.raises(ValueError, match="outside"):
        MerkleTree([b"a"]).inclusion_proof(1)
    with pytest.raises(ValueError, match="at least one"):
        MerkleTree([])


def test_feistel_has_at_least_eight_rounds() -> None:
    assert ROUNDS >= 8  # Dai and Steinberger (CRYPTO 2016): 8 rounds are indifferentiable


@settings(max_examples=30)
@given(st.integers(1, 700), st.binary(min_size=32, max_size=32))
def test_permutation_is_a_bijection_with_its_inverse(size: int, key: bytes) -> None:
    pi = RosterPermutation(key, size)
    table = pi.table()
    assert sorted(table) == list(range(size))
    assert all(pi.inverse(position) == leaf for leaf, position in enumerate(table))
    assert RosterPermutation(key, size).table() == table  # a function of (key, size) alone


@given(st.integers(3, 200), st.integers(1, 8), st.binary(min_size=32, max_size=32))
def test_ring_neighbours_are_distinct_and_symmetric(size: int, half: int, key: bytes) -> None:
    half = min(half, (size - 1) // 2)
    if half < 1:
        return
    pi = RosterPermutation(key, size)
    leaf = size // 2
    near = pi.ring_neighbours(leaf, half)
    assert len(set(near)) == 2 * half
    assert leaf not in near
    assert all(leaf in pi.ring_neighbours(other, half) for other in near)


def test_keys_and_sizes_give_unrelated_permutations() -> None:
    tables = {
        tuple(RosterPermutation(hashlib.sha256(bytes([i])).digest(), 64).table()) for i in range(20)
    }
    assert len(tables) == 20
    a = RosterPermutation(bytes(32), 100).table()
    b = RosterPermutation(bytes(32), 101).table()
    assert a != b[:100]


def test_permutation_refuses_values_outside_the_domain() -> None:
    pi = RosterPermutation(bytes(32), 10)
    with pytest.raises(ValueError, match="outside"):
        pi.forward(10)
    with pytest.raises(ValueError, match="outside"):
        pi.inverse(-1)
    with pytest.raises(ValueError, match="at least one"):
        RosterPermutation(bytes(32), 0)
