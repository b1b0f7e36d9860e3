"""Raw primitives of the masking protocol, for tests, benchmarks and audits.

Hazardous: these have no protocol checks around them. Use :class:`secagg.masking.Client`
and :class:`secagg.masking.Server` to aggregate.
"""

from __future__ import annotations

from secagg.masking._kdf import derive_key, pair_mask_key, self_mask_key, session_id
from secagg.masking._merkle import MerkleTree, inclusion_path_length, tree_hash, verify_inclusion
from secagg.masking._prg import add_prgs, keystream, prg_words, word_dtype
from secagg.masking._prp import RosterPermutation
from secagg.masking._roster import harary_neighbours
from secagg.masking._shamir import PRIME, combine, lagrange_weights, split

__all__ = [
    "keystream",
    "prg_words",
    "add_prgs",
    "word_dtype",
    "derive_key",
    "pair_mask_key",
    "self_mask_key",
    "session_id",
    "harary_neighbours",
    "MerkleTree",
    "tree_hash",
    "verify_inclusion",
    "inclusion_path_length",
    "RosterPermutation",
    "PRIME",
    "split",
    "combine",
    "lagrange_weights",
]
