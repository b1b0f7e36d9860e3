"""Red-team tests of validated aggregation: hostile bytes, malicious clients, rogue aggregators.

What an auditor does to :mod:`secagg.validated` (draft-irtf-cfrg-vdaf-07 Prio3 and
draft-chen-cfrg-vdaf-pine PINE): every deserializer is fed truncations, extensions, wrong
magic/version/kind, lying length fields (under a :mod:`tracemalloc` memory bound, the approach
of tests/secagg/test_fuzz_loaders.py), unreduced field elements and non-bytes; clients forge
proofs (norm just above the bound, a norm that wraps around the field, inconsistent joint
randomness, a helper seed that expands to another share, a tampered leader share); an
aggregator sends a wrong verifier share. The contract: a typed error or a rejected report,
never a crash, a silent acceptance or a partial state change.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import _wire
from secagg.errors import (
    DecryptionFailure,
    DeserializationError,
    InvalidArgument,
    ProtocolError,
)
from secagg.validated import (
    AggregateShare,
    AggregatorMismatch,
    Client,
    Helper,
    HelperKeyPair,
    Leader,
    PrepareRequest,
    PrepareResponse,
    RejectReason,
    Report,
    RoundResult,
    ValidatedConfig,
    WrongSession,
)
from secagg.validated import _wire as validated_wire
from secagg.validated._parties import _aad, seal_report
from secagg.validated._prio3 import HelperShare, LeaderShare
from secagg.validated._seal import seal
from tests.secagg._loading import load_outcome

KEYS = HelperKeyPair()
KEY = bytes(range(16))
B = 2000
PINE = ValidatedConfig(length=4, bits=8, norm_bound=B, helper_public_key=KEYS.public)
BITS = ValidatedConfig(
    length=4, bits=8, norm_bound=B, helper_public_key=KEYS.public, circuit="bits"
)
CONFIGS = {"pine": PINE, "bits": BITS}
UPDATE = [3, -5, 7, 1]
REFUSED = {RejectReason.INVALID, RejectReason.JOINT_RAND}


def _round(
    reports: list[Any], config: ValidatedConfig = PINE
) -> tuple[RoundResult, Leader, Helper]:
    leader, helper = Leader(config, KEY), Helper(config, KEY, KEYS, min_batch_size=0)
    leader.finish_prepare(helper.prepare(leader.prepare(reports).to_bytes()).to_bytes())
    return leader.collect(helper.aggregate_share().to_bytes()), leader, helper


def _unchecked(config: ValidatedConfig, update: list[int]) -> Report:
    """A client that skipped its checks: honest proofs of a false encoding (``shard_unchecked``)."""
    nonce = os.urandom(16)
    public, shares = config.vdaf.shard_unchecked(update, nonce, os.urandom(config.vdaf.RAND_SIZE))
    return seal_report(config, nonce, public, shares)


def _rejected_with(report: Report, config: ValidatedConfig, reasons: set[RejectReason]) -> None:
    """An honest report alongside must be summed exactly; ``report`` must be left out."""
    result, _, _ = _round([Client(config).report(UPDATE), report], config)
    assert result.sum == UPDATE
    assert len(result.accepted) == 1
    assert [(r.index, r.reason in reasons) for r in result.rejected] == [(1, True)]


# -- the valid messages of one round, for both circuits ----------------------------------------


def _messages(config: ValidatedConfig) -> dict[str, bytes]:
    vdaf = config.vdaf
    report = Client(config).report(UPDATE)
    leader, helper = Leader(config, KEY), Helper(config, KEY, KEYS, min_batch_size=0)
    request = leader.prepare([report])
    leader_state = leader.save_state()
    response = helper.prepare(request)
    helper_state = helper.save_state()
    share = helper.aggregate_share()
    nonce = os.urandom(16)
    public, shares = vdaf.shard(UPDATE, nonce, os.urandom(vdaf.RAND_SIZE))
    return {
        "report": report.to_bytes(),
        "request": request.to_bytes(),
        "response": response.to_bytes(),
        "aggregate": share.to_bytes(),
        "config": config.to_bytes(),
        "leader_state": leader_state,
        "helper_state": helper_state,
        "leader_input_share": vdaf.encode_input_share(shares[0]),
        "helper_input_share": vdaf.encode_input_share(shares[1]),
        "public_share": vdaf.encode_public_share(public),
        "prep_share": request.items[0].leader_prep_share,
    }


MESSAGES = {name: _messages(config) for name, config in CONFIGS.items()}


def _loaders(config: ValidatedConfig) -> dict[str, tuple[Callable[[Any], Any], Any]]:
    """Each loader, and how to re-serialise what it returns (None: authenticated bytes)."""
    vdaf = config.vdaf
    return {
        "report": (Report.from_bytes, lambda m: m.to_bytes()),
        "request": (PrepareRequest.from_bytes, lambda m: m.to_bytes()),
        "response": (PrepareResponse.from_bytes, lambda m: m.to_bytes()),
        "aggregate": (AggregateShare.from_bytes, lambda m: m.to_bytes()),
        "config": (ValidatedConfig.from_bytes, lambda m: m.to_bytes()),
        "leader_state": (lambda b: Leader.load_state(b, config, KEY), None),
        "helper_state": (lambda b: Helper.load_state(b, config, KEY, KEYS, min_batch_size=0), None),
        "leader_input_share": (
            lambda b: vdaf.decode_input_share(0, b),
            vdaf.encode_input_share,
        ),
        "helper_input_share": (
            lambda b: vdaf.decode_input_share(1, b),
            vdaf.encode_input_share,
        ),
        "public_share": (vdaf.decode_public_share, vdaf.encode_public_share),
        "prep_share": (vdaf.decode_prep_share, vdaf.encode_prep_share),
    }


RAW_DECODERS = ("leader_input_share", "helper_input_share", "public_share", "prep_share")
LOADERS = {name: _loaders(config) for name, config in CONFIGS.items()}
CASES = [(c, n) for c in CONFIGS for n in MESSAGES[c]]


def _check(circuit: str, name: str, data: Any) -> None:
    """Typed error, or (for unauthenticated encodings) the very bytes re-serialised."""
    load, reserialise = LOADERS[circuit][name]
    accepted, result = load_outcome(load, data)
    if not accepted or data == MESSAGES[circuit][name]:
        return
    assert reserialise is not None, f"{name}: an authenticated encoding accepted altered bytes"
    assert reserialise(result) == data, f"{name}: accepted bytes that do not round-trip"


@pytest.mark.parametrize(("circuit", "name"), CASES)
def test_every_loader_round_trips_and_refuses_non_bytes(circuit: str, name: str) -> None:
    load, reserialise = LOADERS[circuit][name]
    good = MESSAGES[circuit][name]
    if reserialise is not None:
        assert reserialise(load(good)) == good
    if name in RAW_DECODERS:
        return  # Prio3's own decoders take the bytes the parties already type-checked
    for junk in (None, "text", 7, [1, 2], 3.5, object()):
        with pytest.raises((DeserializationError, InvalidArgument)):
            load(junk)


@pytest.mark.parametrize(("circuit", "name"), CASES)
def test_truncated_and_extended_encodings_are_refused(circuit: str, name: str) -> None:
    load, _ = LOADERS[circuit][name]
    good = MESSAGES[circuit][name]
    cuts = sorted({0, 1, 4, 5, 6, len(good) // 2, len(good) - 1} & set(range(len(good))))
    for data in [good[:k] for k in cuts] + [good + b"\x00", good + good[-8:]]:
        accepted, _ = load_outcome(load, data)
        assert not accepted, f"{name}: accepted {len(data)} of {len(good)} bytes"


@pytest.mark.parametrize("circuit", list(CONFIGS))
@pytest.mark.parametrize(
    "name", ["report", "request", "response", "aggregate", "leader_state", "helper_state"]
)
def test_wrong_magic_version_and_kind_are_refused(circuit: str, name: str) -> None:
    load, _ = LOADERS[circuit][name]
    good = MESSAGES[circuit][name]
    for at in range(6):  # "FCVA", version, kind
        for value in (0, good[at] ^ 1, 0xFF):
            if value != good[at]:
                data = good[:at] + bytes([value]) + good[at + 1 :]
                assert not load_outcome(load, data)[0]


def _length_offsets(load: Callable[[Any], Any], good: bytes) -> list[int]:
    """Where the parse of ``good`` reads its 4-byte length and count fields."""
    offsets: list[int] = []
    original = _wire.Reader.u32

    def spy(self: _wire.Reader) -> int:
        offsets.append(self._pos)
        return original(self)

    _wire.Reader.u32 = spy  # type: ignore[method-assign]
    try:
        load(good)
    finally:
        _wire.Reader.u32 = original  # type: ignore[method-assign]
    return offsets


@pytest.mark.parametrize(
    ("circuit", "name"),
    [(c, n) for c in CONFIGS for n in ("report", "request", "response", "aggregate")],
)
def test_lying_length_fields_never_allocate(circuit: str, name: str) -> None:
    """Every length or count field set to a huge value: typed error within the memory bound."""
    good = MESSAGES[circuit][name]
    offsets = _length_offsets(LOADERS[circuit][name][0], good)
    assert offsets
    for at in offsets:
        for huge in (2**32 - 1, 2**31, 2**20 + 1, 2**20):
            data = good[:at] + struct.pack(">I", huge) + good[at + 4 :]
            assert not load_outcome(LOADERS[circuit][name][0], data)[0]


@st.composite
def _near(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice", "byte"]))
    i = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1 :]
    if kind == "byte":
        return data[:i] + bytes([draw(st.sampled_from([0, 0xFF]))]) + data[i + 1 :]
    if kind == "truncate":
        return data[:i]
    if kind == "extend":
        return data + draw(st.binary(min_size=1, max_size=16))
    return data[:i] + draw(st.binary(max_size=16)) + data[i + draw(st.integers(0, 16)) :]


@settings(max_examples=60)
@given(data=st.data())
def test_fuzzed_encodings_fail_typed_or_round_trip(data: st.DataObject) -> None:
    circuit, name = data.draw(st.sampled_from(CASES))
    _check(circuit, name, data.draw(_near(MESSAGES[circuit][name])))


# -- field elements >= p are refused, never reduced ----------------------------------------------


def _unreduced(vec_bytes: bytes, config: ValidatedConfig, element: int, value: int) -> bytes:
    size = config.vdaf.field.ENCODED_SIZE
    at = element * size
    return vec_bytes[:at] + value.to_bytes(size, "little") + vec_bytes[at + size :]


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_unreduced_elements_in_every_field_vector_are_refused(circuit: str) -> None:
    config = CONFIGS[circuit]
    vdaf, p = config.vdaf, config.vdaf.field.MODULUS
    top = 2 ** (8 * vdaf.field.ENCODED_SIZE) - 1
    report = Client(config).report(UPDATE)
    for value in (p, p + 1, top):
        # In the leader's share: MALFORMED, and the nonce's honest twin is not affected.
        bad = replace(report, leader_share=_unreduced(report.leader_share, config, 0, value))
        result, _, _ = _round([Client(config).report(UPDATE), bad], config)
        assert result.sum == UPDATE
        assert [r.reason for r in result.rejected] == [RejectReason.MALFORMED]
        # In the helper's prep share, then in its aggregate share: typed error, no change.
        leader, helper = Leader(config, KEY), Helper(config, KEY, KEYS, min_batch_size=0)
        response = helper.prepare(leader.prepare([report]))
        prep = response.results[0]
        forged = replace(
            response,
            results=(
                replace(
                    prep, helper_prep_share=_unreduced(prep.helper_prep_share, config, 0, value)
                ),
            ),
        )
        with pytest.raises(DeserializationError):
            leader.finish_prepare(forged.to_bytes())
        leader.finish_prepare(response)  # untouched by the refused response
        share = helper.aggregate_share()
        with pytest.raises(DeserializationError):
            leader.collect(replace(share, share=_unreduced(share.share, config, 0, value)))
        assert leader.collect(share).sum == UPDATE  # untouched by the refused share


# -- wrong configurations, replays, swapped shares ---------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        {"length": 5},
        {"bits": 9},
        {"norm_bound": B + 1},
        {"field": "Field128", "proofs": 1},
        {"circuit": "bits"},
        {"round_number": 1},
        {"helper_public_key": HelperKeyPair().public},
    ],
)
def test_a_report_for_another_configuration_is_wrong_session(other: dict[str, Any]) -> None:
    config = replace(PINE, **other)
    update = UPDATE + [0] * (config.length - len(UPDATE))
    _rejected_with(Client(config).report(update), PINE, {RejectReason.WRONG_SESSION})


def test_aggregator_messages_of_another_configuration_change_nothing() -> None:
    other = replace(PINE, norm_bound=B + 1)
    foreign_request = Leader(other, KEY).prepare([Client(other).report(UPDATE)])
    foreign_helper = Helper(other, KEY, KEYS, min_batch_size=0)
    foreign_response = foreign_helper.prepare(foreign_request)
    helper = Helper(PINE, KEY, KEYS, min_batch_size=0)
    with pytest.raises(WrongSession):
        helper.prepare(foreign_request)
    leader = Leader(PINE, KEY)
    response = helper.prepare(leader.prepare([Client(PINE).report(UPDATE)]))  # still usable
    with pytest.raises(WrongSession):
        leader.finish_prepare(foreign_response)
    leader.finish_prepare(response)
    with pytest.raises(WrongSession):
        leader.collect(foreign_helper.aggregate_share())
    assert leader.collect(helper.aggregate_share()).sum == UPDATE


def test_a_report_submitted_twice_is_counted_once() -> None:
    report = Client(PINE).report(UPDATE)
    result, leader, helper = _round([report, report.to_bytes(), report])
    assert result.sum == UPDATE
    assert [r.reason for r in result.rejected] == [RejectReason.REPLAYED] * 2
    # In the next round of the same configuration, with the nonces carried over.
    leader2 = Leader(PINE, KEY, seen_nonces=leader.seen_nonces)
    helper2 = Helper(PINE, KEY, KEYS, seen_nonces=helper.seen_nonces, min_batch_size=0)
    leader2.finish_prepare(helper2.prepare(leader2.prepare([report])))
    again = leader2.collect(helper2.aggregate_share())
    assert again.sum == [0] * 4
    assert [r.reason for r in again.rejected] == [RejectReason.REPLAYED]


def test_a_report_replayed_into_a_later_round_is_wrong_session() -> None:
    report = Client(PINE).report(UPDATE)
    _rejected_with(report, replace(PINE, round_number=1), {RejectReason.WRONG_SESSION})
    # Rewriting its round (or nonce) breaks the sealed helper share's binding.
    next_round = replace(PINE, round_number=1)
    moved = replace(report, config_digest=next_round.digest, round_number=1)
    _rejected_with(moved, next_round, {RejectReason.HELPER_REFUSED})
    renonced = replace(report, nonce=os.urandom(16))
    _rejected_with(renonced, PINE, {RejectReason.HELPER_REFUSED})


def test_a_helper_replaying_a_request_item_refuses_it() -> None:
    leader = Leader(PINE, KEY)
    request = leader.prepare([Client(PINE).report(UPDATE)])
    doubled = replace(request, items=request.items * 2)
    helper = Helper(PINE, KEY, KEYS, min_batch_size=0)
    results = helper.prepare(doubled).results
    assert [r.reason for r in results] == [RejectReason.ACCEPTED, RejectReason.REPLAYED]
    assert helper.aggregate_share().count == 1


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_swapped_leader_and_helper_shares_are_malformed(circuit: str) -> None:
    config = CONFIGS[circuit]
    vdaf = config.vdaf
    nonce = os.urandom(16)
    public, shares = vdaf.shard(UPDATE, nonce, os.urandom(vdaf.RAND_SIZE))
    honest = seal_report(config, nonce, public, shares)
    enc, ct = seal(KEYS.public, vdaf.encode_input_share(shares[0]), _aad(config, nonce))
    swapped = replace(
        honest,
        leader_share=vdaf.encode_input_share(shares[1]),
        helper_enc=enc,
        helper_ciphertext=ct,
    )
    _rejected_with(swapped, config, {RejectReason.MALFORMED})
    helper_only = replace(honest, helper_enc=enc, helper_ciphertext=ct)
    _rejected_with(helper_only, config, {RejectReason.HELPER_REFUSED})


def test_the_leader_cannot_open_the_helpers_share() -> None:
    report = Client(PINE).report(UPDATE)
    with pytest.raises(DecryptionFailure):
        HelperKeyPair().open(report.helper_enc, report.helper_ciphertext, _aad(PINE, report.nonce))
    assert set(RoundResult.__dataclass_fields__) == {"sum", "accepted", "rejected"}


# -- malicious clients ---------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_a_norm_just_above_the_bound_is_rejected(circuit: str) -> None:
    just_above = [40, 20, 1, 0]  # 1600 + 400 + 1 = B + 1, every coordinate in range
    assert sum(v * v for v in just_above) == B + 1
    with pytest.raises(InvalidArgument):
        Client(CONFIGS[circuit]).report(just_above)
    _rejected_with(_unchecked(CONFIGS[circuit], just_above), CONFIGS[circuit], REFUSED)


def _wrapping_update(p: int) -> list[int]:
    """Four integers whose squared norm is ``p + c`` with ``0 <= c <= B`` (greedy squares)."""
    for c in range(B + 1):
        rest, out = p + c, []
        for _ in range(4):
            out.append(math.isqrt(rest))
            rest -= out[-1] ** 2
        if rest == 0:
            return out
    raise AssertionError("no wrapping update")


@pytest.mark.parametrize("field", ["Field64", "Field128"])
def test_pine_rejects_a_norm_that_wraps_around_the_field(field: str) -> None:
    """PINE's wraparound tests (draft-chen-cfrg-vdaf-pine 4.1.3, ROCT23 Lemma 3.3)."""
    config = replace(PINE, field=field, proofs=3 if field == "Field64" else 1)
    p = config.vdaf.field.MODULUS
    wraps = _wrapping_update(p)
    assert 0 <= sum(v * v for v in wraps) - p <= B
    _rejected_with(_unchecked(config, wraps), config, REFUSED)
    # Entries near p/2 (the centred representatives of the extremes) and -1 * huge.
    for update in ([p // 2, p // 2, 0, 0], [(p - 1) // 2, -((p - 1) // 2), 1, 0]):
        _rejected_with(_unchecked(config, update), config, REFUSED)


def _forge(config: ValidatedConfig, **change: Any) -> Report:
    """An honest sharding of UPDATE with one part replaced (``public``, ``leader``, ``helper``)."""
    vdaf = config.vdaf
    nonce = os.urandom(16)
    public, shares = vdaf.shard(UPDATE, nonce, os.urandom(vdaf.RAND_SIZE))
    if "public" in change:
        public = change["public"](public)
    leader, helper = shares
    if "leader" in change:
        leader = change["leader"](leader)
    if "helper" in change:
        helper = change["helper"](helper)
    return seal_report(config, nonce, public, [leader, helper])


def _bump(config: ValidatedConfig, vec: Any, at: int) -> Any:
    out = np.array(vec, copy=True)
    out[at] = config.vdaf.field.add(out[at : at + 1], config.vdaf.field.vec([1]))[0]
    return out


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_forged_client_shares_are_rejected(circuit: str) -> None:
    config = CONFIGS[circuit]
    flip = bytes([1]) + bytes(15)
    cases = {
        # A joint randomness part that is not the one of the shares sent.
        "public part 0": _forge(
            config, public=lambda p: [bytes(a ^ b for a, b in zip(p[0], flip, strict=True)), *p[1:]]
        ),
        "public last part": _forge(config, public=lambda p: [*p[:-1], os.urandom(16)]),
        # The helper's seed expands to another share than the one the proof is of.
        "helper meas seed": _forge(
            config, helper=lambda h: HelperShare(os.urandom(16), h.proof_seed, h.blind)
        ),
        "helper proof seed": _forge(
            config, helper=lambda h: HelperShare(h.meas_seed, os.urandom(16), h.blind)
        ),
        "helper blind": _forge(
            config,
            helper=lambda h: HelperShare(
                h.meas_seed, h.proof_seed, os.urandom(len(h.blind or b""))
            ),
        ),
        # A valid proof with the leader's measurement share tampered (first and last element).
        "leader meas first": _forge(
            config, leader=lambda s: LeaderShare(_bump(config, s.meas, 0), s.proof, s.blind)
        ),
        "leader meas last": _forge(
            config,
            leader=lambda s: LeaderShare(_bump(config, s.meas, len(s.meas) - 1), s.proof, s.blind),
        ),
        "leader proof": _forge(
            config, leader=lambda s: LeaderShare(s.meas, _bump(config, s.proof, 0), s.blind)
        ),
        "leader blind": _forge(
            config, leader=lambda s: LeaderShare(s.meas, s.proof, os.urandom(len(s.blind or b"")))
        ),
    }
    result, _, _ = _round([Client(config).report(UPDATE), *cases.values()], config)
    assert result.sum == UPDATE
    assert len(result.accepted) == 1
    reasons = {name: r.reason for name, r in zip(cases, result.rejected, strict=True)}
    assert all(reason in REFUSED for reason in reasons.values()), reasons


# -- malicious aggregators -----------------------------------------------------------------------


def _bumped_prep_share(config: ValidatedConfig, data: bytes) -> bytes:
    share = config.vdaf.decode_prep_share(data)
    return config.vdaf.encode_prep_share(replace(share, verifier=_bump(config, share.verifier, 0)))


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_a_wrong_helper_verifier_share_makes_the_leader_reject(circuit: str) -> None:
    config = CONFIGS[circuit]
    leader, helper = Leader(config, KEY), Helper(config, KEY, KEYS, min_batch_size=0)
    response = helper.prepare(leader.prepare([Client(config).report(UPDATE)]))
    (item,) = response.results
    lying = replace(
        response,
        results=(
            replace(item, helper_prep_share=_bumped_prep_share(config, item.helper_prep_share)),
        ),
    )
    leader.finish_prepare(lying)
    # The leader rejected the report; the helper (which decided on its true share) summed it,
    # so the round ends in a typed mismatch, never in an accepted invalid report.
    with pytest.raises(AggregatorMismatch):
        leader.collect(helper.aggregate_share())


@pytest.mark.parametrize("circuit", list(CONFIGS))
def test_a_wrong_leader_verifier_share_makes_the_helper_reject(circuit: str) -> None:
    config = CONFIGS[circuit]
    leader, helper = Leader(config, KEY), Helper(config, KEY, KEYS, min_batch_size=0)
    request = leader.prepare([Client(config).report(UPDATE)])
    (item,) = request.items
    lying = replace(
        request,
        items=(
            replace(item, leader_prep_share=_bumped_prep_share(config, item.leader_prep_share)),
        ),
    )
    helper.prepare(lying)
    assert helper.aggregate_share().count == 0  # the helper rejected the report


def test_a_helper_below_its_minimum_batch_keeps_its_share() -> None:
    """A malicious leader relaying one report would learn it from the helper's share."""
    leader, helper = Leader(PINE, KEY), Helper(PINE, KEY, KEYS, min_batch_size=2)
    leader.finish_prepare(helper.prepare(leader.prepare([Client(PINE).report(UPDATE)])))
    with pytest.raises(ProtocolError):
        helper.aggregate_share()
    with pytest.raises(InvalidArgument):
        Helper(PINE, KEY, KEYS, min_batch_size=-1)


@pytest.mark.parametrize("reports", [b"FCVA", Client(PINE).report(UPDATE), "reports", None])
def test_the_leader_refuses_a_batch_that_is_not_a_list_of_reports(reports: Any) -> None:
    leader = Leader(PINE, KEY)
    with pytest.raises(InvalidArgument):
        leader.prepare(reports)
    leader.prepare([])  # nothing changed: the leader can still prepare


@pytest.mark.parametrize("circuit", list(CONFIGS))
@pytest.mark.parametrize(
    "update",
    [
        [1.5, 0, 0, 0],
        np.array([1.7, 0.0, 0.0, 0.0]),
        [True, 0, 0, 0],
        ["3", 0, 0, 0],
        [float("nan"), 0, 0, 0],
        np.array([True, False, False, False]),
        "1234",
    ],
)
def test_a_client_refuses_an_update_that_is_not_integers(circuit: str, update: Any) -> None:
    """Before the fix, 1.5 was proven and summed as 1, "3" as 3, and NaN raised ValueError."""
    with pytest.raises(InvalidArgument, match="integers"):
        Client(CONFIGS[circuit]).report(update)
    config = CONFIGS[circuit]
    integers = Client(config).report(np.array(UPDATE, dtype=np.int16))
    assert _round([integers], config)[0].sum == UPDATE


def test_a_state_with_more_seen_nonces_than_a_message_list_still_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Carried-over nonces grow without bound; before the fix, past ``MAX_ITEMS`` (2^20) a
    leader saved a state that its own ``load_state`` refused ("list too long")."""
    monkeypatch.setattr(validated_wire.Reader, "MAX_ITEMS", 4)
    seen = frozenset(os.urandom(16) for _ in range(5))
    leader = Leader.load_state(Leader(PINE, KEY, seen_nonces=seen).save_state(), PINE, KEY)
    assert leader.seen_nonces == seen
    helper = Helper(PINE, KEY, KEYS, seen_nonces=seen, min_batch_size=0)
    assert (
        Helper.load_state(helper.save_state(), PINE, KEY, KEYS, min_batch_size=0).seen_nonces
        == seen
    )
