"""What every party derives from the key roster: session id, keys by id, the neighbour graph.

The graph is the Harary graph ``H(k, m)`` of Bell et al. (CCS 2020, section 3.2) over the
``m`` clients that advertised keys, placed on the ring in the order of
``SHA-256(session id, id)``: nobody picks the order alone, and every party computes the
same graph without another message. ``neighbours=None`` gives the complete graph (SecAgg).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
    return CONSISTENCY_DOMAIN + session + b"".join(i.to_bytes(4, "big") for i in survivors)


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


def build_round_keys(
    config: MaskingConfig,
    roster: KeyRoster,
    *,
    error: type[Exception],
    too_few: type[Exception],
) -> RoundKeys:
    """Validate a roster (ids, keys, signatures, size) and derive session id and graph.

    Args:
        config: the round's configuration.
        roster: the advertisements the server collected.
        error: the exception raised on a violation (clients abort, the server refuses).
        too_few: the exception raised when fewer than ``t`` clients take part.
    """
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
        for key in (advert.share_public_key, advert.mask_public_key):
            if key in public_keys:
                raise error("two advertised public keys are equal")
            public_keys.add(key)
        if config.signed and not check_signature(
            config, cid, advert.signature, advert_payload(advert)
        ):
            raise error(f"the advertisement of client {cid} is not validly signed")
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
