"""Per-client work is O(k log n): each client sees and checks only its slice of the roster.

The server commits to the sorted roster with an RFC 9162 Merkle root and sends each client
its own advert, its neighbours' and the two adjacent in id order, with inclusion proofs.
These tests pin down what a client accepts and rejects, and that a malicious server can do
no more with a committed roster than it could with the whole one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import DeserializationError, InvalidArgument, ProtocolAbort, ProtocolError
from secagg.masking import (
    AdvertiseKeys,
    ConsistencyRequest,
    KeyRoster,
    RosterEntry,
    Server,
    Stage,
    TooFewSurvivors,
    UnmaskRequest,
    run_round,
)
from secagg.masking._roster import is_complete
from secagg.masking.hazmat import harary_neighbours, session_id, tree_hash
from tests.secagg.strategies_masking import ReleasedShares, Round, forged_slice, make_round

# n = 8 clients on a ring of degree 2: each client has 2 neighbours and 5 non-neighbours.
_SPARSE = {"n": 8, "threshold": 2, "neighbours": 2}


def _adverts(signed: bool = False, **shape: object) -> tuple[Round, list[AdvertiseKeys]]:
    r = make_round(**(shape or _SPARSE), signed=signed)  # type: ignore[arg-type]
    return r, [c.advertise_keys() for c in r.clients.values()]


def _graph(r: Round, adverts: list[AdvertiseKeys]) -> dict[int, frozenset[int]]:
    """The graph every client derives from a roster committed in this (leaf) order."""
    root = tree_hash([a.to_bytes() for a in adverts])
    session = session_id(r.config.digest(), len(adverts), root)
    return harary_neighbours(session, [a.client_id for a in adverts], r.config.neighbours)


def _far_from(graph: dict[int, frozenset[int]], victim: int, adverts: list[AdvertiseKeys]) -> int:
    """A client that neither neighbours ``victim`` nor sits next to it in leaf order."""
    leaf = [a.client_id for a in adverts].index(victim)
    adjacent = {adverts[i].client_id for i in (leaf - 1, leaf + 1) if 0 <= i < len(adverts)}
    return min(c for c in graph if c != victim and victim not in graph[c] and c not in adjacent)


def test_a_slice_holds_the_neighbourhood_and_the_adjacent_leaves_only() -> None:
    r, adverts = _adverts(n=64, threshold=4, neighbours=6, d=2)
    views = r.server.collect_keys(adverts)
    keys = views.round_keys
    for cid in (0, 31, 63):
        view = views[cid]
        leaves = {e.index for e in view.entries}
        leaf = keys.index_of[cid]
        expected = {keys.index_of[v] for v in keys.neighbourhood(cid)}
        expected |= {i for i in (leaf - 1, leaf + 1) if 0 <= i < 64}
        assert leaves == expected
        assert len(view.entries) <= 6 + 3
        assert all(len(e.proof) == 6 for e in view.entries)  # log2(64) hashes each
        assert len(view.to_bytes()) < 9 * (120 + 6 * 32 + 12)
        assert KeyRoster.from_bytes(view.to_bytes()) == view


def test_every_client_derives_the_servers_graph_from_its_slice() -> None:
    r, adverts = _adverts(n=40, threshold=4, neighbours=6, d=2)
    views = r.server.collect_keys(adverts)
    server_keys = views.round_keys
    for cid, client in r.clients.items():
        client.share_keys(KeyRoster.from_bytes(views[cid].to_bytes()))
        keys = client._keys
        assert keys is not None
        assert keys.session_id == server_keys.session_id
        assert keys.neighbours_of(cid) == server_keys.neighbours_of(cid)
    ids = [a.client_id for a in views.adverts]
    assert _graph(r, list(views.adverts)) == {c: server_keys.neighbours_of(c) for c in ids}


def test_bad_signature_of_a_non_neighbour_is_ignored_by_the_client() -> None:
    r, adverts = _adverts(signed=True)
    victim = 3
    forged = [
        dataclasses.replace(a, signature=bytes(64)) if a.client_id == victim else a for a in adverts
    ]
    # The server validates every advert: an honest one never commits to this roster.
    with pytest.raises(ProtocolError, match="not validly signed"):
        Server(r.config).collect_keys(forged)
    graph = _graph(r, forged)
    near = min(graph[victim])
    with pytest.raises(ProtocolAbort, match=f"client {victim} is not validly signed"):
        r.clients[near].share_keys(forged_slice(r.config, forged, near))
    assert r.clients[near].aborted
    assert r.clients[near].released == {}
    far = _far_from(graph, victim, forged)
    out = r.clients[far].share_keys(forged_slice(r.config, forged, far))
    assert not r.clients[far].aborted
    assert {s.receiver for s in out.shares} == graph[far]


def test_low_order_key_of_a_neighbour_aborts_and_of_a_stranger_is_never_seen() -> None:
    r, adverts = _adverts()
    victim = 5
    evil = [
        dataclasses.replace(a, share_public_key=bytes(32)) if a.client_id == victim else a
        for a in adverts
    ]
    graph = _graph(r, evil)
    near = min(graph[victim])
    with pytest.raises(ProtocolAbort, match="invalid X25519 key"):
        r.clients[near].share_keys(forged_slice(r.config, evil, near))
    far = _far_from(graph, victim, evil)
    view = forged_slice(r.config, evil, far)
    assert victim not in {e.advert.client_id for e in view.entries}
    r.clients[far].share_keys(view)
    assert not r.clients[far].aborted


def _honest_view(signed: bool = False) -> tuple[Round, KeyRoster, int]:
    r, adverts = _adverts(signed=signed)
    views = r.server.collect_keys(adverts)
    cid = 4
    return r, views[cid], cid


def _abort(r: Round, cid: int, view: object, match: str) -> None:
    with pytest.raises(ProtocolAbort, match=match):
        r.clients[cid].share_keys(view)  # type: ignore[arg-type]
    assert r.clients[cid].aborted
    assert r.clients[cid].released == {}


def test_a_tampered_proof_or_root_aborts() -> None:
    r, view, cid = _honest_view()
    entries = list(view.entries)
    e = entries[0]
    entries[0] = dataclasses.replace(e, proof=(bytes(32), *e.proof[1:]))
    _abort(r, cid, dataclasses.replace(view, entries=tuple(entries)), "does not verify")
    r2, view2, cid2 = _honest_view()
    _abort(r2, cid2, dataclasses.replace(view2, root=bytes(32)), "does not verify")


def test_an_advert_moved_to_another_leaf_aborts() -> None:
    r, view, cid = _honest_view()
    have = {e.index for e in view.entries}
    target = min(set(range(view.size)) - have)
    e = next(e for e in view.entries if e.advert.client_id != cid)
    moved = RosterEntry(target, e.advert, e.proof)  # every path has length 3 at n = 8
    rest = [x for x in view.entries if x is not e]
    bad = dataclasses.replace(view, entries=tuple(sorted([*rest, moved], key=lambda x: x.index)))
    _abort(r, cid, bad, "does not verify")


def test_a_missing_or_extra_entry_aborts() -> None:
    r, adverts = _adverts()
    views = r.server.collect_keys(adverts)
    cid = 4
    view = views[cid]
    keys = views.round_keys
    own = keys.index_of[cid]
    dropped = tuple(
        e
        for e in view.entries
        if e.index == own or e.advert.client_id not in keys.neighbours_of(cid)
    )
    _abort(r, cid, dataclasses.replace(view, entries=dropped), "neighbourhood|adjacent")
    r2, adverts2 = _adverts()
    views2 = r2.server.collect_keys(adverts2)
    view2 = views2[cid]
    have = {e.index for e in view2.entries}
    spare = min(set(range(8)) - have)
    tree_proofs = views2._tree  # the server's own tree: a genuine extra entry
    extra = RosterEntry(spare, views2.adverts[spare], tree_proofs.inclusion_proof(spare))
    more = tuple(sorted((*view2.entries, extra), key=lambda e: e.index))
    _abort(r2, cid, dataclasses.replace(view2, entries=more), "neighbourhood")


def test_ids_out_of_order_around_a_client_abort_it() -> None:
    r, adverts = _adverts()
    cid = 4
    order = [a.client_id for a in adverts]
    swapped = list(adverts)
    at = order.index(cid)
    swapped[at], swapped[at + 1] = swapped[at + 1], swapped[at]  # 0 1 2 3 5 4 6 7
    _abort(r, cid, forged_slice(r.config, swapped, cid), "strictly increasing")


def test_a_duplicated_id_next_to_its_owner_aborts_the_owner() -> None:
    r, adverts = _adverts()
    other = make_round(**_SPARSE).clients[4]  # type: ignore[arg-type]
    twin = dataclasses.replace(other.advertise_keys(), config_digest=r.config.digest())
    roster = [*adverts[:5], twin, *adverts[5:7]]  # ids 0 1 2 3 4 4' 5 6: still 8 leaves
    _abort(r, 4, forged_slice(r.config, roster, 4), "twice")


def test_roster_size_is_checked_against_the_configuration() -> None:
    r2 = make_round(n=8, threshold=5, neighbours=6)
    adverts2 = [c.advertise_keys() for c in r2.clients.values()]
    small = forged_slice(r2.config, adverts2[:4], 0)  # 4 < t = 5
    with pytest.raises(TooFewSurvivors):
        r2.clients[0].share_keys(small)
    r3, adverts3 = _adverts(n=5, threshold=3)
    doubled = [*adverts3, *adverts3[:2]]  # 7 leaves for 5 invited clients
    _abort(r3, 0, forged_slice(r3.config, doubled, 0, whole=True), "larger than")


def test_whole_roster_for_the_complete_graph_must_hash_to_the_root() -> None:
    r, adverts = _adverts(n=5, threshold=3)
    views = r.server.collect_keys(adverts)
    view = views[0]
    assert is_complete(r.config, 5)
    assert view.whole
    assert len(view.entries) == 5
    other = make_round(n=5, threshold=3).clients[2].advertise_keys()
    swapped = dataclasses.replace(other, config_digest=r.config.digest())
    entries = tuple(
        RosterEntry(e.index, swapped if e.index == 2 else e.advert) for e in view.entries
    )
    _abort(r, 0, dataclasses.replace(view, entries=entries), "hash to its root")
    r2, adverts2 = _adverts(n=5, threshold=3)
    unsorted = [adverts2[1], adverts2[0], *adverts2[2:]]
    _abort(r2, 3, forged_slice(r2.config, unsorted, 3), "strictly increasing")


def test_the_slice_decoder_checks_lengths_and_ranges() -> None:
    r, adverts = _adverts()
    view = r.server.collect_keys(adverts)[4]
    data = view.to_bytes()
    assert KeyRoster.from_bytes(data) == view
    e = view.entries[0]
    with pytest.raises(InvalidArgument, match="RFC 9162 length"):
        dataclasses.replace(
            view, entries=(dataclasses.replace(e, proof=e.proof[:-1]), *view.entries[1:])
        )
    with pytest.raises(InvalidArgument, match="outside the tree"):
        KeyRoster(2, view.root, (RosterEntry(5, e.advert),))
    with pytest.raises(InvalidArgument, match="increasing"):
        KeyRoster(view.size, view.root, (view.entries[1], view.entries[0]))
    # size 1 on the wire: the first entry's leaf index is then out of range
    with pytest.raises(DeserializationError):
        KeyRoster.from_bytes(data[:6] + (1).to_bytes(4, "big") + data[10:])
    # one proof hash dropped: the declared depth no longer matches the RFC length
    with pytest.raises(DeserializationError):
        KeyRoster.from_bytes(data[:-32])


def test_the_server_recommits_the_same_roster_to_the_same_graph() -> None:
    r, adverts = _adverts()
    a = r.server.collect_keys(adverts)
    b = Server(r.config).collect_keys(list(reversed(adverts)))
    assert a.round_keys.root == b.round_keys.root
    assert a.round_keys.session_id == b.round_keys.session_id
    assert all(a[c] == b[c] for c in a)


@settings(max_examples=10)
@given(st.integers(0, 7))
def test_one_changed_advert_reshuffles_the_ring(victim: int) -> None:
    """Grinding: a server that wants other neighbours must commit to another roster, and each
    such try yields a fresh pseudorandom ring (here: the session id and ring change)."""
    r, adverts = _adverts()
    fresh = make_round(**_SPARSE).clients[victim].advertise_keys()  # type: ignore[arg-type]
    changed = [
        dataclasses.replace(fresh, config_digest=r.config.digest()) if a.client_id == victim else a
        for a in adverts
    ]
    root_a = tree_hash([a.to_bytes() for a in adverts])
    root_b = tree_hash([a.to_bytes() for a in changed])
    assert root_a != root_b
    assert session_id(r.config.digest(), 8, root_a) != session_id(r.config.digest(), 8, root_b)


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


def test_unsigned_requests_after_share_keys_are_neighbourhood_sized() -> None:
    r = make_round(n=40, threshold=4, neighbours=6, d=2)
    views = r.keys()
    r.shares()
    alive = [i for i in range(40) if i != 5]  # client 5 drops before masking
    request = r.masked(alive)
    keys = views.round_keys
    u3 = set(request.survivors)
    checks = []
    for cid in request.survivors:
        mine = r.server.consistency_request_for(cid)
        assert set(mine.survivors) == keys.neighbourhood(cid) & u3
        assert len(mine.survivors) <= 7 < len(request.survivors)
        checks.append(r.clients[cid].consistency_check(mine))
    r.server.collect_consistency(checks)
    responses = []
    for cid in request.survivors:
        mine_unmask = r.server.unmask_request_for(cid)
        assert set(mine_unmask.dropped) == {5} & keys.neighbours_of(cid)
        assert mine_unmask.survivors == r.server.consistency_request_for(cid).survivors
        responses.append(r.clients[cid].unmask(mine_unmask))
    result = r.server.collect_unmask(responses)
    expected = sum(r.inputs[i].astype(np.uint64) for i in alive) % 2**16
    np.testing.assert_array_equal(result.sum, expected)


def test_signed_requests_stay_whole_so_one_list_gathers_the_majority() -> None:
    r = make_round(n=11, threshold=2, neighbours=2, signed=True, d=2)
    r.keys()
    r.shares()
    request = r.masked()
    assert r.server.consistency_request_for(3) == request
    unmask = r.consistent()
    assert r.server.unmask_request_for(3) == unmask


def test_per_client_requests_need_the_round_to_have_reached_them() -> None:
    r = make_round(n=5, threshold=3)
    r.keys()
    with pytest.raises(ProtocolError, match="no survivor list"):
        r.server.consistency_request_for(0)
    with pytest.raises(ProtocolError, match="no unmask request"):
        r.server.unmask_request_for(0)
    r.shares()
    r.masked()
    with pytest.raises(ProtocolError, match="not in the roster"):
        r.server.consistency_request_for(99)


def test_signed_client_checks_the_adjacent_leaves_too() -> None:
    r, adverts = _adverts(signed=True, n=16, threshold=2, neighbours=2, d=2)
    for victim in range(1, 15):  # a leaf next to a client in id order but not its neighbour
        forged = [
            dataclasses.replace(a, signature=bytes(64)) if a.client_id == victim else a
            for a in adverts
        ]
        graph = _graph(r, forged)
        beside = [c for c in (victim - 1, victim + 1) if victim not in graph[c]]
        if beside:
            break
    else:  # pragma: no cover - every id-adjacent pair being ring-adjacent has odds ~ 1e-12
        pytest.fail("no leaf with an id-adjacent non-neighbour")
    view = forged_slice(r.config, forged, beside[0])
    assert victim in {e.advert.client_id for e in view.entries}
    with pytest.raises(ProtocolAbort, match=f"client {victim} is not validly signed"):
        r.clients[beside[0]].share_keys(view)


@settings(max_examples=15)
@given(st.data())
def test_unsigned_sparse_server_never_gets_both_secrets_with_any_lists(
    data: st.DataObject,
) -> None:
    """Unsigned SecAgg+: whatever (per-neighbourhood or other) lists the server shows each
    client in rounds 3 and 4, no client has >= t seed shares and >= t key shares released."""
    n = data.draw(st.integers(6, 10), label="n")
    k = data.draw(st.sampled_from([2, 4]), label="k")
    t = data.draw(st.integers(k // 2 + 1, k + 1), label="t")
    r = make_round(n=n, threshold=t, d=2, neighbours=k)
    r.keys()
    r.shares()
    honest = r.masked()
    ids = list(range(n))
    lists = st.lists(st.sampled_from(ids), unique=True, min_size=1).map(lambda v: tuple(sorted(v)))
    # The whole adversary plan is drawn first (the graph depends on fresh keys).
    shown = {i: data.draw(st.just(honest.survivors) | lists, label=f"round 3 {i}") for i in ids}
    plan = {
        i: (data.draw(st.just(shown[i]) | lists, label="survivors"), data.draw(lists | st.just(())))
        for i in ids
    }
    released = ReleasedShares(ids)
    for i in ids:
        survivors, dropped = plan[i]
        try:
            r.clients[i].consistency_check(ConsistencyRequest(honest.session_id, shown[i]))
            response = r.clients[i].unmask(UnmaskRequest(honest.session_id, survivors, dropped))
        except ProtocolAbort:
            continue
        released.add(response)
    released.assert_never_both(t)


def test_roster_views_is_a_read_only_mapping_of_the_committed_ids() -> None:
    r, adverts = _adverts()
    views = r.server.collect_keys(reversed(adverts))
    assert list(views) == list(range(8))  # id (leaf) order, whatever the arrival order
    assert len(views) == 8
    assert 3 in views
    assert 99 not in views
    with pytest.raises(KeyError):
        views[99]
    assert [a.client_id for a in views.adverts] == list(range(8))
    assert views[3] == views[3]  # built on demand, deterministic
    assert all(isinstance(v, KeyRoster) for v in views.values())
