"""The committed key roster: session id, each client's slice of it, and the neighbour graph.

Bell et al. (CCS 2020) want each SecAgg+ client to receive and process the keys of only its
``k = O(log n)`` neighbours. The server therefore commits to the whole roster and shows each
client a slice of it:

1. **Commitment.** The server sorts the ``n`` adverts by client id and builds the RFC 9162
   (section 2.1) Merkle tree over their serialized bytes. The session id is
   ``SHA-256(domain, config digest, n, root)`` (:func:`~secagg.masking._kdf.session_id`).
2. **Graph.** The advert at leaf ``i`` sits at ring position ``pi(i)`` where ``pi`` is the
   keyed Feistel permutation of :mod:`secagg.masking._prp` (key: the session id); the graph
   is the Harary graph ``H(k, n)`` on that ring (Bell et al. 2020, section 3.2). A client
   finds its neighbours' leaves with ``O(k)`` permutation calls, without the roster.
3. **Slice.** A client receives ``n``, the root, and the entries of its own leaf, its
   neighbours' leaves and the two leaves adjacent in id order, each with its inclusion
   proof: ``O(k log n)`` bytes and hashes. For the complete graph (SecAgg, ``k >= n - 1``)
   it receives every advert and recomputes the root: linear, as that protocol is.

Why this keeps the guarantees of the full roster:

* *One roster, one graph.* Two honest clients that derive the same session id hold the same
  ``(n, root)``, hence (SHA-256 being collision resistant) the same advert at every leaf and
  the same permutation. Neighbours that hold different session ids cannot decrypt each
  other's shares (the AEAD key and associated data carry the session id) and abort.
* *No duplicates.* Each client checks ``id(i - 1) < id(i) < id(i + 1)`` around its own leaf.
  When every client in the roster is honest and continues, every adjacent pair is checked,
  so the committed roster is strictly sorted: no id appears twice.
* *No chosen neighbours.* The graph is a pseudorandom function of the committed roster. To
  give a client other neighbours the server must commit to another roster (another root),
  and every such try yields a fresh random permutation: grinding is as hard as before,
  when the ring order was ``SHA-256(session, id)``.
* *Keys used are checked.* The client verifies, for every advert it sees, a known id, this
  configuration's digest and distinct public keys, and in signed rounds the Ed25519
  signature of each (its neighbours', whose keys it uses, and the two adjacent ones, so a
  server cannot slip an unsigned leaf next to an honest client to pass the order check).

The server validates every advert (and every signature) before it commits, so an honest
server never forwards a bad roster; a malicious one can only show a slice that fails a
client's checks.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from secagg.masking._config import MaskingConfig
from secagg.masking._kdf import session_id
from secagg.masking._merkle import MerkleTree, tree_hash, verify_inclusion
from secagg.masking._messages import AdvertiseKeys, KeyRoster, RosterEntry
from secagg.masking._prp import RosterPermutation

__all__ = [
    "RoundKeys",
    "RosterViews",
    "advert_payload",
    "consistency_payload",
    "check_signature",
    "commit_roster",
    "client_round_keys",
    "harary_neighbours",
    "is_complete",
]

_ADVERT_DOMAIN = b"fedcrypt/secagg-masking/advertise/v1"
CONSISTENCY_DOMAIN = b"fedcrypt/secagg-masking/consistency/v1"


def advert_payload(advert: AdvertiseKeys) -> bytes:
    """The bytes an advertisement's Ed25519 signature covers."""
    return (
        _ADVERT_DOMAIN
        + advert.config_digest
        + advert.client_id.to_bytes(4, "big")
        + advert.share_public_key
        + advert.mask_public_key
    )


def consistency_payload(session: bytes, survivors: tuple[int, ...]) -> bytes:
    """The bytes a consistency signature covers: session id and the sorted survivor list."""
    return CONSISTENCY_DOMAIN + session + struct.pack(f">{len(survivors)}I", *survivors)


def check_signature(
    config: MaskingConfig, client_id: int, signature: bytes, payload: bytes
) -> bool:
    """Whether ``signature`` is ``client_id``'s valid Ed25519 signature on ``payload``."""
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(config.verify_key(client_id)).verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def is_complete(config: MaskingConfig, size: int) -> bool:
    """Whether the round's graph over ``size`` clients is complete (plain SecAgg)."""
    return config.neighbours is None or config.neighbours >= size - 1


@dataclass(frozen=True, slots=True)
class RoundKeys:
    """What a party knows of the committed roster, and the graph derived from it.

    The server knows every advert; a client only those of its slice (``view``). Neighbour
    sets are computed on demand: the server from its whole ring, a client from ``O(k)``
    evaluations of the permutation.
    """

    config: MaskingConfig
    session_id: bytes
    size: int
    root: bytes
    adverts: dict[int, AdvertiseKeys]
    index_of: dict[int, int]
    permutation: RosterPermutation | None
    view: KeyRoster | None = None
    _positions: list[int] | None = None
    _leaves: list[int] | None = None
    _id_at: dict[int, int] = field(default_factory=dict)
    _cache: dict[int, frozenset[int]] = field(default_factory=dict)

    def neighbour_leaves(self, leaf: int) -> list[int]:
        """Leaf indices of the Harary-ring neighbours of ``leaf`` (sparse graphs only)."""
        assert self.permutation is not None
        assert self.config.neighbours is not None
        half = self.config.neighbours // 2
        positions, leaves = self._positions, self._leaves
        if positions is None or leaves is None:
            return self.permutation.ring_neighbours(leaf, half)
        here, n = positions[leaf], self.size
        return [leaves[(here + s) % n] for step in range(1, half + 1) for s in (step, -step)]

    def neighbours_of(self, client_id: int) -> frozenset[int]:
        """The neighbours of ``client_id`` in the round's graph (itself excluded)."""
        cached = self._cache.get(client_id)
        if cached is not None:
            return cached
        if client_id not in self.adverts:
            raise KeyError(client_id)
        if self.permutation is None:
            out = frozenset(self.adverts) - {client_id}
        else:
            leaves = self.neighbour_leaves(self.index_of[client_id])
            out = frozenset(self._id_at[leaf] for leaf in leaves)
        self._cache[client_id] = out
        return out

    def neighbourhood(self, client_id: int) -> frozenset[int]:
        """The neighbours of ``client_id`` plus itself: the holders of its shares."""
        return self.neighbours_of(client_id) | {client_id}

    @property
    def signatures_needed(self) -> int:
        """Consistency signatures an unmask request must carry (signed rounds).

        At least ``t``, and a strict majority of the committed roster: as every honest
        client signs one survivor list only, two different lists cannot both gather a
        majority, also on a sparse graph where ``t`` is below half of ``n`` (Bonawitz et
        al. 2017, section 6.2, relies on ``t > n / 2`` for this). ``n`` is bound by the
        session id, so the server cannot shrink it for one client alone.
        """
        return max(self.config.threshold, self.size // 2 + 1)


def _check_size(
    config: MaskingConfig, size: int, error: type[Exception], too_few: type[Exception]
) -> None:
    if size > len(config.client_ids):
        raise error(
            f"a roster of {size} adverts is larger than the {len(config.client_ids)} invited"
        )
    if size < config.threshold:
        raise too_few(f"{size} clients advertised keys, threshold is {config.threshold}")
    degree = size - 1 if config.neighbours is None else min(config.neighbours, size - 1)
    if degree + 1 < config.threshold:
        raise too_few(f"neighbourhoods of {degree + 1} clients are below the threshold")


def _check_adverts(
    config: MaskingConfig, adverts: Iterable[AdvertiseKeys], error: type[Exception]
) -> dict[int, AdvertiseKeys]:
    """Known and distinct ids, this configuration's digest, distinct public keys."""
    digest = config.digest()
    out: dict[int, AdvertiseKeys] = {}
    public_keys: set[bytes] = set()
    for advert in adverts:
        cid = advert.client_id
        if not config.has_client(cid):
            raise error(f"roster names unknown client {cid}")
        if cid in out:
            raise error(f"roster names client {cid} twice")
        if advert.config_digest != digest:
            raise error(f"client {cid} advertised keys for another configuration or round")
        for pk in (advert.share_public_key, advert.mask_public_key):
            if pk in public_keys:
                raise error("two advertised public keys are equal")
            public_keys.add(pk)
        out[cid] = advert
    return out


def _check_signatures(
    config: MaskingConfig, adverts: Iterable[AdvertiseKeys], error: type[Exception]
) -> None:
    for advert in adverts:
        cid = advert.client_id
        if not check_signature(config, cid, advert.signature, advert_payload(advert)):
            raise error(f"the advertisement of client {cid} is not validly signed")


class RosterViews(Mapping[int, KeyRoster]):
    """The server's per-client slices of the committed roster, built on demand.

    ``round_keys`` is the server's own :class:`RoundKeys` (every advert, the whole ring).

    ``views[client_id]`` is the :class:`~secagg.masking.KeyRoster` to send that client;
    iteration yields the ids of the roster in id order.
    """

    __slots__ = ("_sorted", "_tree", "_whole", "round_keys")

    def __init__(self, keys: RoundKeys, tree: MerkleTree, ordered: Sequence[AdvertiseKeys]):
        self.round_keys = keys
        self._tree = tree
        self._sorted = tuple(ordered)
        self._whole: KeyRoster | None = None

    def __getitem__(self, client_id: int) -> KeyRoster:
        keys = self.round_keys
        leaf = keys.index_of[client_id]  # KeyError for an id outside the roster
        if keys.permutation is None:
            if self._whole is None:
                entries = tuple(RosterEntry(i, a) for i, a in enumerate(self._sorted))
                self._whole = KeyRoster(keys.size, keys.root, entries)
            return self._whole
        wanted = {leaf, *keys.neighbour_leaves(leaf)}
        wanted.update(i for i in (leaf - 1, leaf + 1) if 0 <= i < keys.size)
        entries = tuple(
            RosterEntry(i, self._sorted[i], self._tree.inclusion_proof(i)) for i in sorted(wanted)
        )
        return KeyRoster(keys.size, keys.root, entries)

    def __iter__(self) -> Iterator[int]:
        return (a.client_id for a in self._sorted)

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.round_keys.index_of

    @property
    def adverts(self) -> tuple[AdvertiseKeys, ...]:
        """Every committed advert, in id (leaf) order."""
        return self._sorted


def commit_roster(
    config: MaskingConfig,
    adverts: Iterable[AdvertiseKeys],
    *,
    error: type[Exception],
    too_few: type[Exception],
) -> RosterViews:
    """The server's step: validate every advert, commit to the sorted roster, derive the graph.

    ``O(n)`` hashing and, in signed rounds, ``O(n)`` signature checks: once, at the server.
    """
    checked = _check_adverts(config, adverts, error)
    _check_size(config, len(checked), error, too_few)
    if config.signed:
        _check_signatures(config, checked.values(), error)
    ordered = [checked[cid] for cid in sorted(checked)]
    tree = MerkleTree([a.to_bytes() for a in ordered])
    size = tree.size
    session = session_id(config.digest(), size, tree.root)
    index_of = {a.client_id: i for i, a in enumerate(ordered)}
    id_at = {i: a.client_id for i, a in enumerate(ordered)}
    if is_complete(config, size):
        keys = RoundKeys(config, session, size, tree.root, checked, index_of, None, _id_at=id_at)
    else:
        permutation = RosterPermutation(session, size)
        positions = permutation.table()
        leaves = [0] * size
        for leaf, position in enumerate(positions):
            leaves[position] = leaf
        keys = RoundKeys(
            config,
            session,
            size,
            tree.root,
            checked,
            index_of,
            permutation,
            None,
            positions,
            leaves,
            id_at,
        )
    return RosterViews(keys, tree, ordered)


def client_round_keys(
    config: MaskingConfig,
    roster: KeyRoster,
    own: AdvertiseKeys,
    *,
    error: type[Exception],
    too_few: type[Exception],
) -> RoundKeys:
    """A client's step: check its slice of the roster and derive session id and neighbours.

    Checks, raising ``error`` (or ``too_few`` when the round is too small): the size
    fits the configuration and threshold; the client's own advert is in the slice exactly as
    it sent it; every entry's proof verifies against ``(root, n)`` (or, for the complete
    graph, the whole roster hashes to ``root``); the entries are exactly the client's own
    leaf, its neighbours' leaves and the adjacent leaves; ids are known, distinct and
    strictly increasing around the client's leaf; digests match; public keys are distinct;
    in signed rounds every advert of the slice is validly signed. ``O(k log n)`` work.
    """
    if not isinstance(roster, KeyRoster):
        raise error("expected a KeyRoster")
    size = roster.size
    _check_size(config, size, error, too_few)
    mine = [e for e in roster.entries if e.advert.client_id == own.client_id]
    if not mine or mine[0].advert != own:
        raise error("the roster does not hold this client's own keys as it advertised them")
    adverts = _check_adverts(config, (e.advert for e in roster.entries), error)
    leaf = mine[0].index
    by_leaf = {e.index: e.advert.client_id for e in roster.entries}
    complete = is_complete(config, size)
    if complete:
        if not roster.whole:
            raise error("the complete graph needs the whole roster")
        if tree_hash([e.advert.to_bytes() for e in roster.entries]) != roster.root:
            raise error("the roster does not hash to its root")
        ids = [e.advert.client_id for e in roster.entries]
        if any(b <= a for a, b in pairwise(ids)):
            raise error("the roster is not in strictly increasing id order")
    else:
        for entry in roster.entries:
            if not verify_inclusion(
                entry.advert.to_bytes(), entry.index, size, entry.proof, roster.root
            ):
                raise error(f"the inclusion proof of leaf {entry.index} does not verify")
        around = [by_leaf.get(i) for i in (leaf - 1, leaf, leaf + 1)]
        if (leaf > 0 and around[0] is None) or (leaf < size - 1 and around[2] is None):
            raise error("the roster slice lacks a leaf adjacent to this client's")
        present = [cid for cid in around if cid is not None]
        if any(b <= a for a, b in pairwise(present)):
            raise error("the roster is not in strictly increasing id order around this client")
    session = session_id(config.digest(), size, roster.root)
    index_of = {cid: i for i, cid in by_leaf.items()}
    if complete:
        if config.signed:
            _check_signatures(
                config, (a for a in adverts.values() if a.client_id != own.client_id), error
            )
        return RoundKeys(
            config, session, size, roster.root, adverts, index_of, None, roster, _id_at=by_leaf
        )
    permutation = RosterPermutation(session, size)
    keys = RoundKeys(
        config, session, size, roster.root, adverts, index_of, permutation, roster, _id_at=by_leaf
    )
    neighbour_leaves = keys.neighbour_leaves(leaf)
    wanted = {leaf, *neighbour_leaves}
    wanted.update(i for i in (leaf - 1, leaf + 1) if 0 <= i < size)
    if set(by_leaf) != wanted:
        raise error("the roster slice is not this client's neighbourhood and adjacent leaves")
    if config.signed:  # the neighbours (whose keys it uses) and the adjacent leaves
        others = (a for a in adverts.values() if a.client_id != own.client_id)
        _check_signatures(config, others, error)
    return keys


def harary_neighbours(
    session: bytes, ids: Sequence[int], degree: int | None
) -> dict[int, frozenset[int]]:
    """Neighbour sets of ``H(degree, len(ids))`` with ``ids`` at leaves ``0..n-1``.

    The ring order is the keyed permutation of :mod:`secagg.masking._prp` under ``session``;
    ``degree=None`` (or ``>= n - 1``) gives the complete graph.
    """
    m = len(ids)
    if degree is None or degree >= m - 1:
        everyone = frozenset(ids)
        return {cid: everyone - {cid} for cid in ids}
    permutation = RosterPermutation(session, m)
    half = degree // 2
    return {
        cid: frozenset(ids[j] for j in permutation.ring_neighbours(leaf, half))
        for leaf, cid in enumerate(ids)
    }
