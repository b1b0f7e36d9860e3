"""Every attack of issue 4: each fails with a typed error and releases nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import (
    DecryptionFailure,
    InsufficientShares,
    InvalidArgument,
    InvalidShare,
    ProtocolAbort,
    ProtocolError,
)
from secagg.masking import (
    AdvertiseKeys,
    Client,
    ConsistencyRequest,
    EncryptedShare,
    MaskedInput,
    Server,
    ShareBundle,
    Stage,
    TooFewSurvivors,
    UnmaskRequest,
    UnmaskResponse,
    run_round,
)
from tests.secagg.strategies_masking import ReleasedShares, Round, forged_slice, make_round


def _ready_to_unmask(n: int = 5, t: int = 3, **kwargs: object) -> Round:
    r = make_round(n=n, threshold=t, **kwargs)  # type: ignore[arg-type]
    r.keys()
    r.shares()
    r.masked([i for i in range(n) if i != n - 1])  # the last client drops before masking
    r.consistent()
    return r


def _assert_released_nothing(client: Client) -> None:
    assert client.aborted
    assert client.released == {}


# -- the server asks for both shares of one client -------------------------------------------------


def test_both_shares_in_one_request() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    assert req.dropped == (4,)
    evil = dataclasses.replace(req, dropped=(1, 4))  # 1 is alive and "dropped"
    with pytest.raises(ProtocolAbort, match="both alive and dropped"):
        r.clients[0].unmask(evil)
    _assert_released_nothing(r.clients[0])


def test_both_shares_across_two_requests() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    first = r.clients[0].unmask(req)
    assert {owner for owner, _ in first.seed_shares} == {0, 1, 2, 3}
    assert {owner for owner, _ in first.key_shares} == {4}
    released = r.clients[0].released
    # Second request: now claim 1 dropped (its mask key) and 4 alive (its seed).
    evil = dataclasses.replace(req, survivors=(0, 2, 3, 4), dropped=(1,))
    with pytest.raises(ProtocolAbort, match="round is over"):
        r.clients[0].unmask(evil)
    with pytest.raises(ProtocolAbort, match="round is over"):
        r.clients[0].unmask(req)  # even an identical repeat
    assert r.clients[0].released == released
    assert r.clients[0].finished
    assert not r.clients[0].aborted


def test_survivor_list_changed_after_consistency_check() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    # Claim client 3 dropped although it was listed alive in round 3.
    evil = dataclasses.replace(req, survivors=(0, 1, 2), dropped=(3, 4))
    with pytest.raises(ProtocolAbort, match="differs from the consistency check"):
        r.clients[0].unmask(evil)
    _assert_released_nothing(r.clients[0])


@pytest.mark.parametrize(
    ("survivors", "dropped", "reason"),
    [
        ((0, 1, 2, 3), (4, 99), "unknown"),
        ((0, 1, 2, 3), (4, 4), "repeats"),
        ((0, 1, 2, 3), (0, 4), "this client is listed as dropped"),
        ((0, 1, 2, 3), (), "neither alive nor dropped"),
    ],
)
def test_unmask_list_attacks(survivors: tuple, dropped: tuple, reason: str) -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    evil = dataclasses.replace(req, survivors=survivors, dropped=dropped)
    with pytest.raises(ProtocolAbort, match=reason):
        r.clients[0].unmask(evil)
    _assert_released_nothing(r.clients[0])


@pytest.mark.parametrize(
    ("survivors", "reason"),
    [
        ((0, 1, 1, 2), "repeats"),
        ((0, 1, 2, 77), "unknown"),
        ((1, 2, 3), "omits this client"),
        ((0, 1), "fewer than threshold"),
    ],
)
def test_consistency_list_attacks(survivors: tuple, reason: str) -> None:
    r = make_round(n=5, threshold=3)
    r.keys()
    r.shares()
    request = r.masked()
    evil = ConsistencyRequest(request.session_id, survivors)
    with pytest.raises(ProtocolAbort, match=reason):
        r.clients[0].consistency_check(evil)
    assert r.clients[0].aborted
    with pytest.raises(ProtocolAbort):
        r.clients[0].unmask(UnmaskRequest(request.session_id, (0, 1, 2, 3, 4), ()))
    assert r.clients[0].released == {}


def test_too_few_survivors_is_both_an_abort_and_insufficient_shares() -> None:
    assert issubclass(TooFewSurvivors, ProtocolAbort)
    assert issubclass(TooFewSurvivors, InsufficientShares)
    r = make_round(n=9, threshold=2, neighbours=2)
    r.keys()
    r.shares()
    request = r.masked()
    # Only the client itself listed alive: below t = 2 in its neighbourhood.
    with pytest.raises(TooFewSurvivors):
        r.clients[0].consistency_check(ConsistencyRequest(request.session_id, (0,)))
    assert r.clients[0].aborted
    with pytest.raises(InsufficientShares):  # the dropout view of the same error
        run_round(
            [np.zeros(2, dtype=np.uint8)] * 9,
            threshold=2,
            neighbours=2,
            dropouts=dict.fromkeys(range(1, 9), Stage.MASKED_INPUT),
        )


def test_fewer_than_t_alive_in_unmask() -> None:
    r = make_round(n=5, threshold=3)
    r.keys()
    r.shares()
    request = r.masked()
    # Survivors are consistent, but the server (wrongly) lists 2, 3, 4 dropped.
    r.clients[0].consistency_check(request)
    evil = UnmaskRequest(request.session_id, (0, 1), (2, 3, 4))
    with pytest.raises(ProtocolAbort, match="fewer than threshold"):
        r.clients[0].unmask(evil)
    _assert_released_nothing(r.clients[0])


def test_signed_unmask_needs_t_valid_signatures() -> None:
    r = _ready_to_unmask(signed=True)
    req = r.unmask_request
    assert req is not None
    assert len(req.signatures) == 4
    forged = tuple((cid, bytes(64)) for cid, _ in req.signatures)
    with pytest.raises(ProtocolAbort, match="invalid"):
        r.clients[0].unmask(dataclasses.replace(req, signatures=forged))
    r2 = _ready_to_unmask(signed=True)
    req2 = r2.unmask_request
    assert req2 is not None
    with pytest.raises(ProtocolAbort, match="3 needed"):
        r2.clients[0].unmask(dataclasses.replace(req2, signatures=req2.signatures[:2]))
    with pytest.raises(ProtocolAbort):
        r2.clients[1].unmask(dataclasses.replace(req2, signatures=req2.signatures[:1] * 3))
    # Signatures from another session do not count.
    with pytest.raises(ProtocolAbort):
        r2.clients[2].unmask(dataclasses.replace(req2, signatures=req.signatures))


def test_signed_sparse_round_needs_a_majority_of_signatures() -> None:
    # n = 11, k = 2, t = 2: a server showing two survivor lists to two halves of the clients
    # would get t signatures on each; the majority rule refuses both.
    r = make_round(n=11, threshold=2, neighbours=2, signed=True)
    r.keys()
    r.shares()
    request = r.masked()
    responses = [r.clients[i].consistency_check(request) for i in range(5)]
    with pytest.raises(InsufficientShares, match="6 needed"):
        r.server.collect_consistency(responses)
    signed = tuple((m.client_id, m.signature) for m in responses)
    forged = UnmaskRequest(request.session_id, request.survivors, (), signed)
    with pytest.raises(ProtocolAbort, match="6 needed"):
        r.clients[0].unmask(forged)
    assert r.clients[0].released == {}


def test_signed_roster_refuses_unsigned_or_substituted_keys() -> None:
    r = make_round(n=4, threshold=3, signed=True)
    adverts = [c.advertise_keys() for c in r.clients.values()]
    stripped = [*adverts[:3], dataclasses.replace(adverts[3], signature=b"")]
    with pytest.raises(ProtocolError, match="not validly signed"):
        r.server.collect_keys(stripped)
    r2 = make_round(n=4, threshold=3, signed=True)
    adverts2 = [c.advertise_keys() for c in r2.clients.values()]
    # The server substitutes client 3's mask key with one of its own.
    other = make_round(n=4, threshold=3).clients[0].advertise_keys()
    swapped = dataclasses.replace(adverts2[3], mask_public_key=other.mask_public_key)
    roster = forged_slice(r2.config, [*adverts2[:3], swapped], 0)
    with pytest.raises(ProtocolAbort, match="not validly signed"):
        r2.clients[0].share_keys(roster)


# -- replay across rounds and sessions -------------------------------------------------------------


def test_advert_replayed_into_another_round() -> None:
    old = make_round(round_number=1)
    new = make_round(round_number=2)
    adverts = [c.advertise_keys() for c in new.clients.values()]
    adverts[0] = old.clients[0].advertise_keys()
    with pytest.raises(ProtocolError, match="another configuration or round"):
        new.server.collect_keys(adverts)


def test_roster_without_own_keys_aborts() -> None:
    a = make_round()
    b = make_round()
    roster_b = b.keys()
    a.clients[0].advertise_keys()
    with pytest.raises(ProtocolAbort, match="own keys"):
        a.clients[0].share_keys(roster_b[0])
    assert a.clients[0].aborted


def test_messages_replayed_across_sessions() -> None:
    a = _ready_to_unmask()
    b = make_round()
    b.keys()
    # ShareKeys of session a sent to server b.
    a2 = make_round()
    roster = a2.keys()
    share_msgs = [a2.clients[i].share_keys(roster[i]) for i in range(5)]
    with pytest.raises(ProtocolError, match="another session"):
        b.server.collect_shares(share_msgs)
    # A bundle, a consistency request and an unmask request of session a sent to b's clients.
    c = make_round()
    c.keys()
    c.shares()
    with pytest.raises(ProtocolAbort, match="another session"):
        c.clients[0].masked_input(a.bundles[0], c.inputs[0])
    d = make_round()
    d.keys()
    d.shares()
    d.masked()
    assert a.consistency is not None
    with pytest.raises(ProtocolAbort, match="another session"):
        d.clients[0].consistency_check(a.consistency)
    e = make_round()
    e.keys()
    e.shares()
    e.masked()
    e.consistent()
    assert a.unmask_request is not None
    with pytest.raises(ProtocolAbort, match="another session"):
        e.clients[0].unmask(a.unmask_request)
    assert e.clients[0].released == {}


def test_masked_input_replayed_into_another_session() -> None:
    a = make_round()
    a.keys()
    a.shares()
    b = make_round()
    b.keys()
    b.shares()
    replay = a.clients[0].masked_input(a.bundles[0], a.inputs[0])
    with pytest.raises(ProtocolError, match="another session"):
        b.server.collect_masked_inputs([replay])


def test_consistency_response_replayed_into_another_session() -> None:
    a = make_round()
    a.keys()
    a.shares()
    request_a = a.masked()
    b = make_round()
    b.keys()
    b.shares()
    b.masked()
    replay = a.clients[0].consistency_check(request_a)
    with pytest.raises(ProtocolError, match="another session"):
        b.server.collect_consistency([replay])


def test_unmask_response_replayed_into_another_session() -> None:
    a = _ready_to_unmask()
    b = _ready_to_unmask()
    assert a.unmask_request is not None
    replay = a.clients[0].unmask(a.unmask_request)
    with pytest.raises(ProtocolError, match="another session"):
        b.server.collect_unmask([replay])


# -- duplicated ids and keys -----------------------------------------------------------------------


def test_duplicated_ids_and_keys_in_the_roster() -> None:
    r = make_round()
    adverts = [c.advertise_keys() for c in r.clients.values()]
    with pytest.raises(ProtocolError, match="twice"):
        r.server.collect_keys([*adverts, adverts[1]])
    dup_key = dataclasses.replace(adverts[2], mask_public_key=adverts[1].mask_public_key)
    with pytest.raises(ProtocolAbort, match="public keys are equal"):
        r.clients[0].share_keys(
            forged_slice(r.config, [adverts[0], adverts[1], dup_key, *adverts[3:]], 0)
        )
    r2 = make_round()
    adverts2 = [c.advertise_keys() for c in r2.clients.values()]
    with pytest.raises(ProtocolAbort, match=r"twice|larger than"):
        r2.clients[0].share_keys(forged_slice(r2.config, [*adverts2, adverts2[3]], 0))
    r3 = make_round()
    adverts3 = [c.advertise_keys() for c in r3.clients.values()]
    with pytest.raises(ProtocolAbort, match="twice"):  # five leaves, client 3 twice
        r3.clients[0].share_keys(forged_slice(r3.config, [*adverts3[:4], adverts3[3]], 0))
    same_pair = dataclasses.replace(adverts2[2], mask_public_key=adverts2[2].share_public_key)
    with pytest.raises(ProtocolError, match="public keys are equal"):
        make_round().server.collect_keys([*adverts2[:2], same_pair, *adverts2[3:]])


def test_unknown_client_in_the_roster() -> None:
    r = make_round()
    outsider = make_round(n=9, threshold=5).clients[8].advertise_keys()
    adverts = [c.advertise_keys() for c in r.clients.values()]
    with pytest.raises(ProtocolError):
        r.server.collect_keys([*adverts, outsider])


def test_duplicate_and_unknown_senders_at_the_server() -> None:
    r = make_round()
    roster = r.keys()
    msgs = [r.clients[i].share_keys(roster[i]) for i in range(5)]
    with pytest.raises(ProtocolError, match="two ShareKeys"):
        r.server.collect_shares([*msgs, msgs[0]])
    r2 = make_round()
    r2.keys()
    r2.shares()
    masked = [r2.clients[i].masked_input(r2.bundles[i], r2.inputs[i]) for i in range(5)]
    with pytest.raises(ProtocolError, match="two masked inputs"):
        r2.server.collect_masked_inputs([*masked, masked[1]])


# -- tampered share ciphertexts --------------------------------------------------------------------


def _tampered_bundle(r: Round, receiver: int, change: object) -> ShareBundle:
    bundle = r.bundles[receiver]
    shares = list(bundle.shares)
    shares[0] = change(shares[0])  # type: ignore[operator]
    return dataclasses.replace(bundle, shares=tuple(shares))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda s: dataclasses.replace(s, ciphertext=s.ciphertext[:-1]), id="truncated"
        ),
        pytest.param(
            lambda s: dataclasses.replace(
                s, ciphertext=s.ciphertext[:20] + bytes([s.ciphertext[20] ^ 1]) + s.ciphertext[21:]
            ),
            id="bit-flipped",
        ),
        pytest.param(
            lambda s: dataclasses.replace(
                s, ciphertext=s.ciphertext[:-1] + bytes([s.ciphertext[-1] ^ 0x80])
            ),
            id="bad-tag",  # flip a bit: overwriting with a constant is a no-op 1 time in 256
        ),
        pytest.param(
            lambda s: dataclasses.replace(s, ciphertext=bytes(12) + s.ciphertext[12:]),
            id="nonce-changed",
        ),
    ],
)
def test_tampered_ciphertexts(change: object) -> None:
    r = make_round()
    r.keys()
    r.shares()
    with pytest.raises(DecryptionFailure):
        r.clients[0].masked_input(_tampered_bundle(r, 0, change), r.inputs[0])
    assert r.clients[0].aborted


def test_relabelled_sender() -> None:
    r = make_round()
    r.keys()
    r.shares()
    bundle = r.bundles[0]
    a, b = bundle.shares[0], bundle.shares[1]
    # Swap the sender labels: each ciphertext now claims the other's origin.
    swapped = (
        EncryptedShare(b.sender, 0, a.ciphertext),
        EncryptedShare(a.sender, 0, b.ciphertext),
        *bundle.shares[2:],
    )
    with pytest.raises(DecryptionFailure):
        r.clients[0].masked_input(dataclasses.replace(bundle, shares=swapped), r.inputs[0])


def test_relabelled_receiver_and_misdirected_share() -> None:
    r = make_round()
    r.keys()
    r.shares()
    share_for_1 = next(s for s in r.bundles[1].shares if s.sender != 0)  # encrypted to 1
    relabelled = EncryptedShare(share_for_1.sender, 0, share_for_1.ciphertext)
    shares = tuple(s for s in r.bundles[0].shares if s.sender != relabelled.sender)
    with pytest.raises(DecryptionFailure):
        r.clients[0].masked_input(
            ShareBundle(r.bundles[0].session_id, 0, (*shares, relabelled)), r.inputs[0]
        )
    r2 = make_round()
    r2.keys()
    r2.shares()
    with pytest.raises(ProtocolAbort, match="addressed to another client"):
        r2.clients[0].masked_input(r2.bundles[1], r2.inputs[0])


def test_share_under_the_wrong_key() -> None:
    r = make_round()
    r.keys()
    r.shares()
    other = make_round()
    other.keys()
    other.shares()
    # A ciphertext from another session (other keys) with the right labels.
    foreign = other.bundles[0].shares[0]
    shares = (foreign, *(s for s in r.bundles[0].shares if s.sender != foreign.sender))
    with pytest.raises(DecryptionFailure):
        r.clients[0].masked_input(ShareBundle(r.bundles[0].session_id, 0, shares), r.inputs[0])


def test_share_from_a_non_neighbour_or_twice() -> None:
    r = make_round(n=9, threshold=3, neighbours=2)
    r.keys()
    r.shares()
    bundle = r.bundles[0]
    with pytest.raises(ProtocolAbort, match="two shares"):
        r.clients[0].masked_input(
            dataclasses.replace(bundle, shares=(*bundle.shares, bundle.shares[0])), r.inputs[0]
        )
    r2 = make_round(n=9, threshold=3, neighbours=2)
    r2.keys()
    r2.shares()
    assert r2.clients[0]._keys is not None
    stranger = next(i for i in range(9) if i not in r2.clients[0]._keys.neighbours_of(0) and i != 0)
    foreign = EncryptedShare(stranger, 0, r2.bundles[0].shares[0].ciphertext)
    with pytest.raises(ProtocolAbort, match="not a neighbour"):
        r2.clients[0].masked_input(
            dataclasses.replace(r2.bundles[0], shares=(*r2.bundles[0].shares, foreign)),
            r2.inputs[0],
        )


def test_server_refuses_shares_not_matching_the_graph() -> None:
    r = make_round()
    roster = r.keys()
    msgs = [r.clients[i].share_keys(roster[i]) for i in range(5)]
    short = dataclasses.replace(msgs[0], shares=msgs[0].shares[1:])
    with pytest.raises(ProtocolError, match="one share to each neighbour"):
        r.server.collect_shares([short, *msgs[1:]])


# -- corrupted Shamir shares -----------------------------------------------------------------------


def _corrupt(response: UnmaskResponse, which: str) -> UnmaskResponse:
    shares = list(getattr(response, which))
    owner, data = shares[0]
    shares[0] = (owner, (int.from_bytes(data, "big") ^ 1).to_bytes(66, "big"))
    return dataclasses.replace(response, **{which: tuple(shares)})


@pytest.mark.parametrize("which", ["seed_shares", "key_shares"])
def test_corrupted_share_with_exactly_t_responders_is_detected(which: str) -> None:
    r = _ready_to_unmask(n=5, t=3)
    req = r.unmask_request
    assert req is not None
    responses = [r.clients[i].unmask(req) for i in (0, 1, 2)]
    responses[0] = _corrupt(responses[0], which)
    with pytest.raises(InvalidShare):
        r.server.collect_unmask(responses)


@pytest.mark.parametrize("which", ["seed_shares", "key_shares"])
def test_corrupted_share_with_a_spare_is_survived(which: str) -> None:
    r = _ready_to_unmask(n=5, t=3)
    req = r.unmask_request
    assert req is not None
    responses = [r.clients[i].unmask(req) for i in (0, 1, 2, 3)]
    responses[0] = _corrupt(responses[0], which)
    result = r.server.collect_unmask(responses)
    expected = sum(r.inputs[i].astype(np.uint64) for i in (0, 1, 2, 3)) % 2**16
    np.testing.assert_array_equal(result.sum, expected)


def test_share_that_is_not_a_field_element() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    responses = [r.clients[i].unmask(req) for i in (0, 1, 2)]
    owner, _ = responses[0].seed_shares[0]
    bad = dataclasses.replace(
        responses[0], seed_shares=((owner, b"\xff" * 66), *responses[0].seed_shares[1:])
    )
    with pytest.raises(InvalidShare):
        r.server.collect_unmask([bad, *responses[1:]])


def test_unmask_responses_that_break_the_rules() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    responses = [r.clients[i].unmask(req) for i in (0, 1, 2)]
    # A seed share offered for a dropped client.
    owner, data = responses[0].key_shares[0]
    bad = dataclasses.replace(responses[0], seed_shares=((owner, data),))
    with pytest.raises(ProtocolError, match="must not hold"):
        r.server.collect_unmask([bad, *responses[1:]])
    with pytest.raises(ProtocolError):
        r.server.collect_unmask(responses)  # the server failed for good


def test_too_few_unmask_responses() -> None:
    r = _ready_to_unmask()
    req = r.unmask_request
    assert req is not None
    with pytest.raises(InsufficientShares):
        r.server.collect_unmask([r.clients[i].unmask(req) for i in (0, 1)])


# -- bad vectors and out-of-order calls ------------------------------------------------------------


@pytest.mark.parametrize(
    "vector",
    [
        np.zeros(7, dtype=np.uint16),
        np.zeros(9, dtype=np.uint16),
        np.zeros((2, 4), dtype=np.uint16),
        np.array([0.0] * 8),
        np.array([np.nan] * 8),
        np.array([np.inf] * 8),
        np.array([-1] + [0] * 7, dtype=np.int64),
        np.array([2**16] + [0] * 7, dtype=np.uint32),
        np.zeros(8, dtype=bool),
        np.zeros(8, dtype=object),
        [0] * 8,
    ],
)
def test_bad_vectors_are_refused(vector: object) -> None:
    r = make_round()
    r.keys()
    r.shares()
    with pytest.raises(InvalidArgument):
        r.clients[0].masked_input(r.bundles[0], vector)  # type: ignore[arg-type]
    assert r.clients[0].aborted


@pytest.mark.parametrize(
    "vector",
    [
        np.zeros(7, dtype=np.uint16),
        np.zeros(8, dtype=np.uint32),
        np.full(8, 2**16, dtype=np.uint32),
    ],
)
def test_server_refuses_malformed_masked_vectors(vector: np.ndarray) -> None:
    r = make_round()
    r.keys()
    r.shares()
    good = r.clients[0].masked_input(r.bundles[0], r.inputs[0])
    bad = MaskedInput(good.session_id, 0, vector)
    with pytest.raises(ProtocolError, match=r"shape|word size|leaves"):
        r.server.collect_masked_inputs([bad])


def test_out_of_order_calls() -> None:
    r = make_round()
    with pytest.raises(ProtocolAbort):
        r.clients[0].unmask(UnmaskRequest(bytes(32), (0,), ()))
    assert r.clients[0].aborted
    with pytest.raises(ProtocolAbort):
        r.clients[0].advertise_keys()
    with pytest.raises(ProtocolError):
        r.server.collect_unmask([])
    with pytest.raises(ProtocolError):
        make_round().server.collect_shares([])


def test_client_construction_checks() -> None:
    r = make_round(signed=True)
    with pytest.raises(InvalidArgument):
        Client(r.config, 0)
    with pytest.raises(InvalidArgument):
        Client(r.config, 99)
    with pytest.raises(InvalidArgument):
        Client(r.config, 0, signing_key=r.clients[1]._signing_key)
    unsigned = make_round()
    with pytest.raises(InvalidArgument):
        Client(unsigned.config, 0, signing_key=r.clients[1]._signing_key)
    with pytest.raises(InvalidArgument):
        AdvertiseKeys(0, bytes(32), bytes(31), bytes(32))


# -- an adaptive malicious server, as a property ------------------------------------------------


@settings(max_examples=15)
@given(st.data())
def test_malicious_server_never_gets_both_secrets_of_a_client(data: st.DataObject) -> None:
    """Signed rounds: whatever lists the server shows each client in rounds 3 and 4, no client
    has both >= t seed shares and >= t mask-key shares released."""
    n = data.draw(st.integers(4, 8), label="n")
    neighbours = data.draw(st.sampled_from([None, 2]), label="k") if n >= 5 else None
    size = n if neighbours is None else neighbours + 1
    t = data.draw(st.integers(size // 2 + 1, size), label="t")
    r = make_round(n=n, threshold=t, d=2, neighbours=neighbours, signed=True)
    r.keys()
    r.shares()
    honest = r.masked()
    ids = list(range(n))
    lists = st.lists(st.sampled_from(ids), unique=True, min_size=1).map(lambda v: tuple(sorted(v)))
    # Draw the whole adversary plan first: the graph depends on fresh keys, so the
    # protocol's outcomes must not steer the data generation.
    shown = [data.draw(st.just(honest.survivors) | lists, label=f"round-3 list {i}") for i in ids]
    candidates = st.sampled_from(sorted(set(shown)))
    plan = {
        i: [
            (data.draw(candidates | lists, label="survivors"), data.draw(st.just(()) | lists))
            for _ in range(data.draw(st.integers(1, 2), label="requests"))
        ]
        for i in ids
    }
    signatures: dict[tuple[int, ...], list[tuple[int, bytes]]] = {}
    for i in ids:
        try:
            reply = r.clients[i].consistency_check(ConsistencyRequest(honest.session_id, shown[i]))
        except ProtocolAbort:
            continue
        signatures.setdefault(shown[i], []).append((i, reply.signature))
    released = ReleasedShares(ids)
    for i in ids:
        for survivors, dropped in plan[i]:
            request = UnmaskRequest(
                honest.session_id, survivors, dropped, tuple(signatures.get(survivors, ()))
            )
            try:
                response = r.clients[i].unmask(request)
            except ProtocolAbort:
                continue
            released.add(response)
    released.assert_never_both(t)


def test_low_order_public_key_is_refused() -> None:
    r = make_round()
    adverts = [c.advertise_keys() for c in r.clients.values()]
    # The all-zero u-coordinate is a low-order point: the agreed secret would be zero.
    evil = dataclasses.replace(adverts[1], share_public_key=bytes(32))
    with pytest.raises(ProtocolAbort, match="invalid X25519 key"):
        r.clients[0].share_keys(forged_slice(r.config, [adverts[0], evil, *adverts[2:]], 0))
    assert r.clients[0].aborted


# -- non-strict server: bad messages are dropped, the round goes on ------------------------------


def test_lenient_server_drops_bad_messages_and_finishes() -> None:
    r = make_round(n=7, threshold=4)
    r.server = Server(r.config, strict=False)
    adverts = [c.advertise_keys() for c in r.clients.values()]
    outsider = make_round(n=9, threshold=5).clients[8].advertise_keys()
    roster = r.server.collect_keys([*adverts, adverts[2], outsider])
    assert len(roster.adverts) == 7
    share_msgs = [r.clients[i].share_keys(roster[i]) for i in range(7)]
    short = dataclasses.replace(share_msgs[6], shares=share_msgs[6].shares[1:])
    bundles = r.server.collect_shares([*share_msgs[:6], short])  # client 6 is dropped
    assert set(bundles) == set(range(6))
    masked = [r.clients[i].masked_input(bundles[i], r.inputs[i]) for i in range(6)]
    wrong = MaskedInput(masked[5].session_id, 5, np.zeros(7, dtype=np.uint32))
    request = r.server.collect_masked_inputs([wrong, *masked[:5]])  # client 5 is dropped
    assert request.survivors == (0, 1, 2, 3, 4)
    checks = [r.clients[i].consistency_check(request) for i in request.survivors]
    unmask = r.server.collect_consistency([*checks, checks[0]])
    responses = [r.clients[i].unmask(unmask) for i in request.survivors]
    owner, _ = responses[0].seed_shares[0]
    broken = dataclasses.replace(
        responses[0], seed_shares=((owner, b"\xff" * 66), *responses[0].seed_shares[1:])
    )
    result = r.server.collect_unmask([broken, *responses[1:]])
    expected = sum(r.inputs[i].astype(np.uint64) for i in range(5)) % 2**16
    np.testing.assert_array_equal(result.sum, expected)
    stages = [stage for stage, _, _ in r.server.rejected]
    assert stages == [
        Stage.ADVERTISE_KEYS,
        Stage.ADVERTISE_KEYS,
        Stage.SHARE_KEYS,
        Stage.MASKED_INPUT,
        Stage.CONSISTENCY_CHECK,
        Stage.UNMASK,
    ]
    assert [sender for _, sender, _ in r.server.rejected] == [2, 8, 6, 5, 0, 0]


def test_lenient_server_still_needs_the_threshold() -> None:
    r = make_round(n=5, threshold=3)
    r.server = Server(r.config, strict=False)
    roster = r.keys()
    msgs = [r.clients[i].share_keys(roster[i]) for i in range(5)]
    broken = [dataclasses.replace(m, shares=m.shares[1:]) for m in msgs[:3]]
    with pytest.raises(InsufficientShares):
        r.server.collect_shares([*broken, *msgs[3:]])
    assert len(r.server.rejected) == 3
