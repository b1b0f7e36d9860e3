"""Per-client work is O(k): neighbour-only verification and the public roster cache.

A client verifies the signatures (and, by using them, the X25519 keys) of its own
neighbourhood only; the structural checks, session id and ring order of a roster are public
and memoised. These tests pin down what a client accepts and rejects under that split.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import ProtocolAbort, ProtocolError
from secagg.masking import AdvertiseKeys, KeyRoster, Server, Stage, run_round
from secagg.masking._roster import (
    _CACHE_SIZE,
    _public_cache,
    build_round_keys,
    clear_roster_cache,
    harary_neighbours,
    roster_digest,
)
from tests.secagg.strategies_masking import Round, make_round

# n = 8 clients on a ring of degree 2: each client has 2 neighbours and 5 non-neighbours.
_SPARSE = {"n": 8, "threshold": 2, "neighbours": 2}


def _sparse_adverts(signed: bool = False) -> tuple[Round, list[AdvertiseKeys], KeyRoster]:
    r = make_round(**_SPARSE, signed=signed)  # type: ignore[arg-type]
    adverts = [c.advertise_keys() for c in r.clients.values()]
    roster = r.server.collect_keys(adverts)
    return r, adverts, roster


def _split(r: Round, roster: KeyRoster, victim: int) -> tuple[int, int]:
    """A neighbour of ``victim`` and a client that is not (nor ``victim`` itself)."""
    keys = build_round_keys(r.config, roster, error=ProtocolError, too_few=ProtocolError)
    near = min(keys.neighbours_of(victim))
    far = min(set(r.clients) - keys.neighbourhood(victim))
    return near, far


def _replace(roster: KeyRoster, advert: AdvertiseKeys) -> KeyRoster:
    return KeyRoster(
        tuple(advert if a.client_id == advert.client_id else a for a in roster.adverts)
    )


def test_bad_signature_of_a_non_neighbour_is_ignored_by_the_client() -> None:
    r, _, roster = _sparse_adverts(signed=True)
    victim = 3
    near, far = _split(r, roster, victim)
    forged = _replace(roster, dataclasses.replace(roster.adverts[victim], signature=bytes(64)))
    # The server validates every advert: it never forwards this roster.
    with pytest.raises(ProtocolError, match="not validly signed"):
        Server(r.config).collect_keys(forged.adverts)
    # A client that uses the victim's keys verifies them and aborts, releasing nothing.
    with pytest.raises(ProtocolAbort, match=f"client {victim} is not validly signed"):
        r.clients[near].share_keys(forged)
    assert r.clients[near].aborted
    assert r.clients[near].released == {}
    # A client that never touches them ignores the advert: its neighbours are unaffected.
    out = r.clients[far].share_keys(forged)
    assert not r.clients[far].aborted
    assert {s.receiver for s in out.shares} == set(
        build_round_keys(
            r.config, forged, error=ProtocolAbort, too_few=ProtocolAbort, verify_for=far
        ).neighbours_of(far)
    )


def test_low_order_key_of_a_non_neighbour_is_ignored_by_the_client() -> None:
    r, _, roster = _sparse_adverts()
    victim = 5
    evil = _replace(roster, dataclasses.replace(roster.adverts[victim], share_public_key=bytes(32)))
    near, far = _split(r, evil, victim)  # the key enters the session id, hence the ring
    with pytest.raises(ProtocolAbort, match="invalid X25519 key"):
        r.clients[near].share_keys(evil)
    r.clients[far].share_keys(evil)
    assert not r.clients[far].aborted


def test_structural_faults_anywhere_in_the_roster_abort_every_client() -> None:
    r, adverts, _ = _sparse_adverts()
    dup = KeyRoster((*adverts[:7], dataclasses.replace(adverts[7], client_id=6)))
    for cid in (0, 1):  # the second client hits the same (uncached) failure
        with pytest.raises(ProtocolAbort, match="twice"):
            r.clients[cid].share_keys(dup)
    r2, adverts2, _ = _sparse_adverts()
    same = dataclasses.replace(adverts2[6], mask_public_key=adverts2[1].share_public_key)
    with pytest.raises(ProtocolAbort, match="public keys are equal"):
        r2.clients[3].share_keys(KeyRoster((*adverts2[:6], same, adverts2[7])))


def test_ring_neighbours_match_the_whole_harary_graph() -> None:
    r, _, roster = _sparse_adverts()
    keys = build_round_keys(r.config, roster, error=ProtocolError, too_few=ProtocolError)
    graph = harary_neighbours(keys.session_id, sorted(keys.adverts), r.config.neighbours)
    assert {cid: keys.neighbours_of(cid) for cid in keys.adverts} == graph
    assert all(len(v) == 2 for v in graph.values())


@given(st.data())
@settings(max_examples=20, deadline=None)
def test_any_changed_field_changes_the_roster_digest(data: st.DataObject) -> None:
    r, _, roster = _sparse_adverts(signed=True)
    index = data.draw(st.integers(0, len(roster.adverts) - 1))
    name = data.draw(st.sampled_from(["config_digest", "share_public_key", "mask_public_key"]))
    old = roster.adverts[index]
    value = bytearray(getattr(old, name))
    value[data.draw(st.integers(0, len(value) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    changed = _replace(roster, dataclasses.replace(old, **{name: bytes(value)}))
    stripped = _replace(roster, dataclasses.replace(old, signature=b""))
    digests = {roster_digest(r.config, x) for x in (roster, changed, stripped)}
    assert len(digests) == 3
    reordered = KeyRoster(roster.adverts[::-1])
    assert roster_digest(r.config, reordered) != roster_digest(r.config, roster)


def test_equal_rosters_share_public_data_and_the_cache_is_bounded() -> None:
    clear_roster_cache()
    r, _, roster = _sparse_adverts()
    copy = KeyRoster.from_bytes(roster.to_bytes())  # equal content, another object
    a = build_round_keys(r.config, roster, error=ProtocolError, too_few=ProtocolError)
    b = build_round_keys(r.config, copy, error=ProtocolError, too_few=ProtocolError)
    assert a is b
    for _ in range(_CACHE_SIZE + 2):
        make_round(**_SPARSE).keys()  # type: ignore[arg-type]
    assert len(_public_cache) <= _CACHE_SIZE
    c = build_round_keys(r.config, roster, error=ProtocolError, too_few=ProtocolError)
    assert c.session_id == a.session_id
    assert c.ring == a.ring


def test_cached_public_data_holds_no_secret() -> None:
    clear_roster_cache()
    r = make_round(**_SPARSE)  # type: ignore[arg-type]
    roster = r.keys()
    r.shares()
    secrets = set()
    for client in r.clients.values():
        secrets.add(client._share_key.private_bytes_raw())
        secrets.add(client._mask_key.private_bytes_raw())
        secrets.add(client._seed)
        secrets.update(client._share_secrets.values())
    (keys,) = _public_cache.values()
    public = {keys.session_id, *(a.to_bytes() for a in keys.adverts.values())}
    blob = b"".join(public) + roster.to_bytes()
    assert not any(s and s in blob for s in secrets)
    assert set(vars(type(keys))["__slots__"]) == {
        "config",
        "session_id",
        "adverts",
        "ring",
        "_position",
        "_cache",
    }


def test_sparse_signed_round_with_dropouts_still_sums() -> None:
    inputs = [np.full(4, i, dtype=np.uint64) for i in range(12)]
    result = run_round(
        inputs,
        threshold=3,
        neighbours=4,
        signed=True,
        dropouts={2: Stage.MASKED_INPUT, 7: Stage.UNMASK},
    )
    expected = sum(i for i in range(12) if i != 2)
    assert result.sum.tolist() == [expected] * 4
