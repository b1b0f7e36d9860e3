"""What every party derives from the key roster: session id, keys by id, the neighbour graph.

The graph is the Harary graph ``H(k, m)`` of Bell et al. (CCS 2020, section 3.2) over the
``m`` clients that advertised keys, placed on the ring in the order of
``SHA-256(session id, id)``: nobody picks the order alone, and every party computes the
same graph without another message. ``neighbours=None`` gives the complete graph (SecAgg).

Cost split (so a client's cryptographic work is ``O(k)``, as Bell et al. 2020 intend):
the structural checks of the whole roster (known and distinct ids, this configuration's
digest, distinct public keys), the session id over every advertised key and the ring order
are public and deterministic, computed once per distinct roster and memoised in a small
bounded cache keyed by a SHA-256 digest of the roster's fields (only public data goes in).
Signatures are verified by the server for every advert, by a client only for its own
neighbourhood: the only keys it ever uses. A non-neighbour's bad advert is ignored by this
client (it never touches those keys, which still enter the session id); that client's own
neighbours verify it and abort.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from secagg.masking._config import MaskingConfig
from secagg.masking._kdf import graph_order, session_id
from secagg.masking._messages import AdvertiseKeys, KeyRoster

__all__ = [
    "RoundKeys",
    "advert_payload",
    "consistency_payload",
    "check_signature",
    "build_round_keys",
    "harary_neighbours",
    "roster_digest",
    "clear_roster_cache",
]

_ROSTER_DOMAIN = b"fedcrypt/secagg-masking/roster-cache/v1"
_CACHE_SIZE = 4
_cache_lock = threading.Lock()
_public_cache: OrderedDict[bytes, RoundKeys] = OrderedDict()
# The last roster object digested and its key: n in-process clients handed the same frozen
# roster object skip re-hashing it (a strong reference, so the id cannot be reused).
_last_digested: tuple[KeyRoster, MaskingConfig, bytes] | None = None
_advert_id = attrgetter("client_id")
_advert_signature = attrgetter("signature")
_advert_fields = attrgetter("config_digest", "share_public_key", "mask_public_key", "signature")

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


@dataclass(frozen=True, slots=True)
class RoundKeys:
    """The validated roster of one round and the quantities derived from it.

    Neighbour sets are computed on demand (a client needs only its own), from the ring order
    of the Harary graph, or from the member set for the complete graph.
    """

    config: MaskingConfig
    session_id: bytes
    adverts: dict[int, AdvertiseKeys]
    ring: tuple[int, ...] | None
    _position: dict[int, int] = field(default_factory=dict)
    _cache: dict[int, frozenset[int]] = field(default_factory=dict)

    def neighbours_of(self, client_id: int) -> frozenset[int]:
        """The neighbours of ``client_id`` in the round's graph (itself excluded)."""
        cached = self._cache.get(client_id)
        if cached is not None:
            return cached
        if client_id not in self.adverts:
            raise KeyError(client_id)
        if self.ring is None:
            out = frozenset(self.adverts) - {client_id}
        else:
            assert self.config.neighbours is not None
            half = self.config.neighbours // 2
            out = harary_ring_neighbours(self.ring, self._position[client_id], half)
        self._cache[client_id] = out
        return out

    @property
    def signatures_needed(self) -> int:
        """Consistency signatures an unmask request must carry (signed rounds).

        At least ``t``, and a strict majority of the roster: as every honest client signs
        one survivor list only, two different lists cannot both gather a majority, also on
        a sparse graph where ``t`` is below half of ``n`` (Bonawitz et al. 2017, section 6.2,
        relies on ``t > n / 2`` for this).
        """
        return max(self.config.threshold, len(self.adverts) // 2 + 1)

    def neighbourhood(self, client_id: int) -> frozenset[int]:
        """The neighbours of ``client_id`` plus itself: the holders of its shares."""
        return self.neighbours_of(client_id) | {client_id}


def roster_digest(config: MaskingConfig, roster: KeyRoster) -> bytes:
    """SHA-256 over the configuration digest and every field of every advert, in one pass.

    The cache key of the public roster-derived data: two rosters share it only if they
    carry the same adverts (ids, digests, keys and signatures) in the same order.
    """
    adverts = roster.adverts
    h = hashlib.sha256(_ROSTER_DOMAIN + config.digest())
    h.update(struct.pack(f">I{len(adverts)}I", len(adverts), *map(_advert_id, adverts)))
    h.update(bytes(map(len, map(_advert_signature, adverts))))
    h.update(b"".join(chain.from_iterable(map(_advert_fields, adverts))))
    return h.digest()


def clear_roster_cache() -> None:
    """Forget every memoised roster (tests; or to drop the public data of past rounds)."""
    global _last_digested
    with _cache_lock:
        _public_cache.clear()
        _last_digested = None


def _cache_key(config: MaskingConfig, roster: KeyRoster) -> bytes:
    """:func:`roster_digest`, reused when the very same (immutable) roster object returns."""
    global _last_digested
    with _cache_lock:
        last = _last_digested
    if last is not None and last[0] is roster and last[1] is config:
        return last[2]
    key = roster_digest(config, roster)
    with _cache_lock:
        _last_digested = (roster, config, key)
    return key


def build_round_keys(
    config: MaskingConfig,
    roster: KeyRoster,
    *,
    error: type[Exception],
    too_few: type[Exception],
    verify_for: int | None = None,
) -> RoundKeys:
    """Validate a roster (ids, keys, signatures, size) and derive session id and graph.

    Args:
        config: the round's configuration.
        roster: the advertisements the server collected.
        error: the exception raised on a violation (clients abort, the server refuses).
        too_few: the exception raised when fewer than ``t`` clients take part.
        verify_for: ``None`` (the server) verifies every advert's signature; a client id
            verifies only the signatures of that client's neighbourhood, the adverts whose
            keys it uses (``O(k)`` instead of ``O(n)`` Ed25519 verifications).
    """
    key = _cache_key(config, roster)
    with _cache_lock:
        keys = _public_cache.get(key)
        if keys is not None:
            _public_cache.move_to_end(key)
    if keys is None:
        keys = _public_round_keys(config, roster, error=error, too_few=too_few)
        with _cache_lock:
            _public_cache[key] = keys
            while len(_public_cache) > _CACHE_SIZE:
                _public_cache.popitem(last=False)
    if config.signed:
        if verify_for is None:
            checked: Sequence[int] = list(keys.adverts)
        elif verify_for in keys.adverts:
            checked = sorted(keys.neighbourhood(verify_for))
        else:
            checked = []  # the client aborts: the roster does not hold its own keys
        for cid in checked:
            advert = keys.adverts[cid]
            if not check_signature(config, cid, advert.signature, advert_payload(advert)):
                raise error(f"the advertisement of client {cid} is not validly signed")
    return keys


def _public_round_keys(
    config: MaskingConfig,
    roster: KeyRoster,
    *,
    error: type[Exception],
    too_few: type[Exception],
) -> RoundKeys:
    """The structural checks and public derivations of :func:`build_round_keys` (no crypto)."""
    digest = config.digest()
    known = set(config.client_ids)
    adverts: dict[int, AdvertiseKeys] = {}
    public_keys: set[bytes] = set()
    for advert in roster.adverts:
        cid = advert.client_id
        if cid not in known:
            raise error(f"roster names unknown client {cid}")
        if cid in adverts:
            raise error(f"roster names client {cid} twice")
        if advert.config_digest != digest:
            raise error(f"client {cid} advertised keys for another configuration or round")
        for pk in (advert.share_public_key, advert.mask_public_key):
            if pk in public_keys:
                raise error("two advertised public keys are equal")
            public_keys.add(pk)
        adverts[cid] = advert
    if len(adverts) < config.threshold:
        raise too_few(f"{len(adverts)} clients advertised keys, threshold is {config.threshold}")
    session = session_id(
        digest, ((a.client_id, a.share_public_key, a.mask_public_key) for a in adverts.values())
    )
    m = len(adverts)
    degree = m - 1 if config.neighbours is None else min(config.neighbours, m - 1)
    if degree + 1 < config.threshold:
        raise too_few(f"neighbourhoods of {degree + 1} clients are below the threshold")
    if config.neighbours is None or config.neighbours >= m - 1:
        return RoundKeys(config, session, adverts, None)
    ring = tuple(graph_order(session, adverts))
    return RoundKeys(config, session, adverts, ring, {cid: i for i, cid in enumerate(ring)})


def harary_neighbours(
    session: bytes, ids: list[int], degree: int | None
) -> dict[int, frozenset[int]]:
    """Neighbour sets of the Harary graph ``H(degree, len(ids))`` (complete if ``None``)."""
    m = len(ids)
    if degree is None or degree >= m - 1:
        everyone = frozenset(ids)
        return {cid: everyone - {cid} for cid in ids}
    ring = graph_order(session, ids)
    return {cid: harary_ring_neighbours(ring, pos, degree // 2) for pos, cid in enumerate(ring)}


def harary_ring_neighbours(ring: Sequence[int], position: int, half: int) -> frozenset[int]:
    """The ``2 * half`` ring neighbours (``half`` on each side) of the client at ``position``."""
    m = len(ring)
    return frozenset(ring[(position + step) % m] for step in range(-half, half + 1) if step)
