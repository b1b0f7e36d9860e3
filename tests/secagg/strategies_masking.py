"""Hypothesis strategies and a step-by-step round driver for the masking tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import event
from hypothesis import strategies as st

from secagg.masking import (
    AdvertiseKeys,
    Client,
    ConsistencyRequest,
    KeyRoster,
    MaskingConfig,
    RosterEntry,
    RosterViews,
    Server,
    ShareBundle,
    Stage,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.masking.hazmat import MerkleTree, RosterPermutation, session_id


@st.composite
def round_shapes(draw: st.DrawFn, max_clients: int = 12) -> dict[str, Any]:
    """A round: n, threshold, graph degree, B, d, inputs and a dropout schedule leaving >= t."""
    n = draw(st.integers(2, max_clients))
    sparse = n >= 5 and draw(st.booleans())
    neighbours = draw(st.sampled_from([2, 4])) if sparse else None
    size = n if neighbours is None else min(neighbours, n - 1) + 1
    threshold = draw(st.integers(size // 2 + 1, size))
    bits = draw(st.sampled_from([1, 8, 16, 17, 32, 33, 64]))
    d = draw(st.integers(1, 6))
    inputs = [
        np.array(
            draw(st.lists(st.integers(0, 2**bits - 1), min_size=d, max_size=d)), dtype=np.uint64
        )
        for _ in range(n)
    ]
    # Dropping at most size - t clients keeps >= t members in every neighbourhood.
    max_drops = size - threshold
    dropped = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=max_drops))
    dropouts = {i: draw(st.sampled_from(list(Stage))) for i in dropped}
    return {
        "inputs": inputs,
        "threshold": threshold,
        "modulus_bits": bits,
        "neighbours": neighbours,
        "dropouts": dropouts,
    }


def signing_keys(n: int) -> tuple[list[Ed25519PrivateKey], tuple[bytes, ...]]:
    """Fresh Ed25519 keys for ``n`` clients and their raw public keys."""
    keys = [Ed25519PrivateKey.generate() for _ in range(n)]
    public = tuple(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for k in keys)
    return keys, public


@dataclass
class Round:
    """A round driven by hand, one stage at a time, so a test can tamper between stages."""

    config: MaskingConfig
    server: Server
    clients: dict[int, Client]
    inputs: dict[int, np.ndarray]
    roster: RosterViews | None = None
    bundles: dict[int, ShareBundle] = field(default_factory=dict)
    consistency: ConsistencyRequest | None = None
    unmask_request: UnmaskRequest | None = None

    def keys(self, ids: list[int] | None = None) -> RosterViews:
        chosen = self.clients if ids is None else ids
        self.roster = self.server.collect_keys(self.clients[i].advertise_keys() for i in chosen)
        return self.roster

    def shares(self, ids: list[int] | None = None) -> dict[int, ShareBundle]:
        assert self.roster is not None
        rosters = self.roster
        chosen = list(rosters) if ids is None else ids
        self.bundles = self.server.collect_shares(
            self.clients[i].share_keys(rosters[i]) for i in chosen
        )
        return self.bundles

    def masked(self, ids: list[int] | None = None) -> ConsistencyRequest:
        chosen = list(self.bundles) if ids is None else ids
        self.consistency = self.server.collect_masked_inputs(
            self.clients[i].masked_input(self.bundles[i], self.inputs[i]) for i in chosen
        )
        return self.consistency

    def consistent(self, ids: list[int] | None = None) -> UnmaskRequest:
        assert self.consistency is not None
        chosen = list(self.consistency.survivors) if ids is None else ids
        self.unmask_request = self.server.collect_consistency(
            self.clients[i].consistency_check(self.consistency) for i in chosen
        )
        return self.unmask_request


def make_round(
    n: int = 5,
    threshold: int = 3,
    d: int = 8,
    bits: int = 16,
    *,
    neighbours: int | None = None,
    signed: bool = False,
    round_number: int = 0,
    seed: int = 0,
) -> Round:
    """A fresh round over clients ``0..n-1`` with random inputs in ``Z_{2^bits}``."""
    rng = np.random.default_rng(seed)
    signers, public = signing_keys(n) if signed else ([], None)
    config = MaskingConfig(
        client_ids=tuple(range(n)),
        threshold=threshold,
        vector_length=d,
        modulus_bits=bits,
        neighbours=neighbours,
        verify_keys=public,
        round_number=round_number,
    )
    clients = {i: Client(config, i, signing_key=signers[i] if signed else None) for i in range(n)}
    inputs = {i: rng.integers(0, 2**bits, size=d, dtype=np.uint64) for i in range(n)}
    return Round(config, Server(config), clients, inputs)


def forged_slice(
    config: MaskingConfig, adverts: list[AdvertiseKeys], receiver: int, *, whole: bool = False
) -> KeyRoster:
    """What a malicious server can show ``receiver``: a valid commitment to ANY advert list.

    The adverts are committed in the given order, unchecked (duplicates, unsorted ids, bad
    keys and signatures all allowed); the slice is built exactly as an honest server would
    (or the whole roster without proofs when ``whole``), so only the client's own checks
    stand between the forgery and its secrets.
    """
    tree = MerkleTree([a.to_bytes() for a in adverts])
    size = tree.size
    leaf = next(i for i, a in enumerate(adverts) if a.client_id == receiver)
    complete = config.neighbours is None or config.neighbours >= size - 1
    if whole or complete:
        return KeyRoster(size, tree.root, tuple(RosterEntry(i, a) for i, a in enumerate(adverts)))
    assert config.neighbours is not None
    permutation = RosterPermutation(session_id(config.digest(), size, tree.root), size)
    wanted = {leaf, *permutation.ring_neighbours(leaf, config.neighbours // 2)}
    wanted.update(i for i in (leaf - 1, leaf + 1) if 0 <= i < size)
    entries = tuple(RosterEntry(i, adverts[i], tree.inclusion_proof(i)) for i in sorted(wanted))
    return KeyRoster(size, tree.root, entries)


class ReleasedShares:
    """Per owner, how many seed shares and mask-key shares honest clients released.

    The attack tests' invariant: no owner ever has ``>= t`` of both, for then the server
    could remove the owner's self mask and recompute its pairwise masks, i.e. unmask it.
    """

    def __init__(self, ids: list[int]) -> None:
        self.seeds = dict.fromkeys(ids, 0)
        self.keys = dict.fromkeys(ids, 0)

    def add(self, response: UnmaskResponse) -> None:
        for owner, _ in response.seed_shares:
            self.seeds[owner] += 1
        for owner, _ in response.key_shares:
            self.keys[owner] += 1

    def assert_never_both(self, t: int) -> None:
        for owner in self.seeds:
            assert not (self.seeds[owner] >= t and self.keys[owner] >= t), (
                owner,
                self.seeds,
                self.keys,
            )
        released = any(self.seeds.values()) or any(self.keys.values())
        event("some shares released" if released else "none")
