"""The client, leader and helper: rounds with honest and malicious clients, replay, sessions."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import (
    DecryptionFailure,
    DeserializationError,
    InsecureParameters,
    InvalidArgument,
    ProtocolError,
)
from secagg.validated import (
    AggregatorMismatch,
    Client,
    Helper,
    HelperKeyPair,
    Leader,
    RejectReason,
    Report,
    RoundResult,
    ValidatedConfig,
    WrongSession,
)
from secagg.validated._parties import _aad
from secagg.validated._seal import seal
from secagg.validated.hazmat import bits_of

from .strategies import signed_updates

KEYS = HelperKeyPair()
# The bit-decomposed circuit (every coordinate range-checked); PINE's own catalogue is in
# test_pine.py.
CONFIG = ValidatedConfig(
    length=8, bits=8, norm_bound=2000, helper_public_key=KEYS.public, circuit="bits"
)
VALID = CONFIG.vdaf.flp.valid
SIZE = CONFIG.vdaf.field.ENCODED_SIZE
PROOFS = CONFIG.vdaf.PROOFS


def run_round(
    reports: list[Any], config: ValidatedConfig = CONFIG, key: bytes | None = None
) -> tuple[RoundResult, Leader, Helper]:
    key = key or os.urandom(16)
    leader, helper = Leader(config, key), Helper(config, key, KEYS, min_batch_size=0)
    request = leader.prepare(reports)
    response = helper.prepare(request.to_bytes())
    leader.finish_prepare(response.to_bytes())
    return leader.collect(helper.aggregate_share().to_bytes()), leader, helper


def malicious_report(meas: Any, config: ValidatedConfig = CONFIG, **tamper: Any) -> Report:
    """A client that proves an arbitrary encoded vector, sealed like an honest one."""
    vdaf = config.vdaf
    nonce = os.urandom(16)
    public, shares = vdaf.shard_encoded(meas, nonce, os.urandom(vdaf.RAND_SIZE))
    enc, ct = seal(
        config.helper_public_key, vdaf.encode_input_share(shares[1]), _aad(config, nonce)
    )
    report = Report(
        config.digest,
        config.round_number,
        nonce,
        vdaf.encode_public_share(public),
        vdaf.encode_input_share(shares[0]),
        enc,
        ct,
    )
    return replace(report, **tamper)


def encoding(coords: list[int], slack: int) -> Any:
    f = VALID.field
    return np.concatenate(
        [
            bits_of(f, [c + VALID.offset for c in coords], VALID.bits),
            bits_of(f, [slack], VALID.slack_bits),
        ]
    )


@settings(max_examples=5)
@given(updates=st.lists(signed_updates(8, 8, 2000), min_size=1, max_size=4))
def test_honest_round_sums_exactly(updates: list[list[int]]) -> None:
    reports = [Client(CONFIG).report(u).to_bytes() for u in updates]
    result, _, _ = run_round(reports)
    assert result.sum == [sum(c) for c in zip(*updates, strict=True)]
    assert len(result.accepted) == len(updates)
    assert result.rejected == ()


def fresh() -> Report:
    return Client(CONFIG).report([1] * 8)


def flip_proof_byte(report: Report, element: int) -> Report:
    share = bytearray(report.leader_share)
    share[(VALID.MEAS_LEN + element) * SIZE] ^= 1  # low byte of a proof element
    return replace(report, leader_share=bytes(share))


def test_malicious_clients_are_left_out_with_their_reason() -> None:
    honest = [[10, -10, 5, 0, 0, 0, 0, 1], [-3, 3, 3, 3, 0, 0, 0, 0]]
    reports: list[Any] = [Client(CONFIG).report(u) for u in honest]
    at_bound = [40, 20, 0, 0, 0, 0, 0, 0]  # squared norm 2000 = the bound: valid
    over = [40, 20, 1, 0, 0, 0, 0, 0]  # 2001: just above the bound
    bad_bit = encoding([0] * 8, 2000)
    bad_bit[3] = 2
    # The leader sees a helper that could not open its share as HELPER_REFUSED.
    cases = {
        "norm_just_over_bound": (malicious_report(encoding(over, 2047)), "INVALID"),
        "slack_lie": (malicious_report(encoding(at_bound, 5)), "INVALID"),
        "not_a_bit": (malicious_report(bad_bit), "INVALID"),
        "replayed": (reports[0].to_bytes(), "REPLAYED"),
        "truncated_share": (replace(fresh(), leader_share=fresh().leader_share[:-16]), "MALFORMED"),
        "garbage": (b"\x00" * 40, "MALFORMED"),
        "malformed_proof": (flip_proof_byte(fresh(), 5), "INVALID"),
        "proof_of_other": (replace(fresh(), leader_share=fresh().leader_share), "INVALID"),
        "sealed_for_other": (
            replace(fresh(), helper_ciphertext=fresh().helper_ciphertext),
            "HELPER_REFUSED",
        ),
        # A false joint randomness hint makes the aggregators query with different joint
        # randomness, so the proof check (which the draft runs first) already fails.
        "wrong_public_share": (replace(fresh(), public_share=os.urandom(32)), "INVALID"),
        "other_round": (Client(replace(CONFIG, round_number=9)).report([1] * 8), "WRONG_SESSION"),
    }
    reports.extend(case for case, _ in cases.values())
    result, _, _ = run_round(reports)
    assert result.sum == [sum(c) for c in zip(*honest, strict=True)]
    reasons = {r.index: r.reason.name for r in result.rejected}
    got = {name: reasons.get(len(honest) + i) for i, name in enumerate(cases)}
    assert got == {name: expected for name, (_, expected) in cases.items()}
    assert len(result.accepted) == len(honest)


def test_malformed_proof_with_fresh_nonce_is_invalid() -> None:
    last = VALID.proof_len() * PROOFS - 1
    for element in (0, 3, VALID.proof_len() + 1, last):  # seeds, coefficients, proof 2, last
        result, _, _ = run_round([flip_proof_byte(fresh(), element)])
        assert [r.reason for r in result.rejected] == [RejectReason.INVALID]


def test_unreduced_field_element_is_malformed() -> None:
    report = Client(CONFIG).report([1] * 8)
    share = report.leader_share[: -16 - SIZE] + b"\xff" * SIZE + report.leader_share[-16:]
    result, _, _ = run_round([replace(report, leader_share=share)])
    assert [r.reason for r in result.rejected] == [RejectReason.MALFORMED]


def test_replay_across_rounds_with_carried_nonces() -> None:
    key = os.urandom(16)
    report = Client(CONFIG).report([2] * 8)
    _, leader, helper = run_round([report], key=key)
    leader2 = Leader(CONFIG, key, seen_nonces=leader.seen_nonces)
    helper2 = Helper(CONFIG, key, KEYS, seen_nonces=helper.seen_nonces, min_batch_size=0)
    request = leader2.prepare([report])
    assert request.items == ()
    helper2.prepare(request)
    # A leader that forgot still meets a helper that remembers.
    leader3 = Leader(CONFIG, key)
    response = helper2.__class__(CONFIG, key, KEYS, seen_nonces=helper.seen_nonces).prepare(
        leader3.prepare([report])
    )
    assert [r.reason for r in response.results] == [RejectReason.REPLAYED]
    leader3.finish_prepare(response)
    assert [r.reason for r in leader3._rejected] == [RejectReason.HELPER_REFUSED]


def test_calls_out_of_order_raise_protocol_errors() -> None:
    key = os.urandom(16)
    leader, helper = Leader(CONFIG, key), Helper(CONFIG, key, KEYS, min_batch_size=0)
    with pytest.raises(ProtocolError):
        leader.collect(b"")
    with pytest.raises(ProtocolError):
        helper.aggregate_share()
    request = leader.prepare([])
    with pytest.raises(ProtocolError):
        leader.prepare([])
    helper.prepare(request)
    with pytest.raises(ProtocolError):
        helper.prepare(request)


def test_aggregator_messages_from_another_session_or_set() -> None:
    key = os.urandom(16)
    other = replace(CONFIG, round_number=1)
    leader, helper = Leader(CONFIG, key), Helper(other, key, KEYS, min_batch_size=0)
    with pytest.raises(WrongSession):
        helper.prepare(leader.prepare([Client(CONFIG).report([0] * 8)]))
    # The helper answers for a different set of reports.
    leader, helper = Leader(CONFIG, key), Helper(CONFIG, key, KEYS, min_batch_size=0)
    leader.prepare([Client(CONFIG).report([0] * 8)])
    fake = Leader(CONFIG, key).prepare([Client(CONFIG).report([0] * 8)])
    with pytest.raises(AggregatorMismatch):
        leader.finish_prepare(helper.prepare(fake))
    # The helper's aggregate share covers other reports.
    leader, helper = Leader(CONFIG, key), Helper(CONFIG, key, KEYS, min_batch_size=0)
    response = helper.prepare(leader.prepare([Client(CONFIG).report([0] * 8)]))
    leader.finish_prepare(response)
    share = helper.aggregate_share()
    with pytest.raises(AggregatorMismatch):
        leader.collect(replace(share, count=0))


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        Leader(CONFIG, b"short")
    with pytest.raises(InvalidArgument):
        Helper(CONFIG, os.urandom(16), HelperKeyPair(), min_batch_size=0)
    with pytest.raises(InvalidArgument):
        Client(CONFIG).report([10**6] + [0] * 7)
    with pytest.raises(InvalidArgument):
        ValidatedConfig(8, 1, 10, KEYS.public)


def test_config_round_trip_and_digest() -> None:
    assert ValidatedConfig.from_bytes(CONFIG.to_bytes()) == CONFIG
    assert replace(CONFIG, norm_bound=2001).digest != CONFIG.digest
    for bad in (b"", CONFIG.to_bytes()[:-1], CONFIG.to_bytes() + b"\x00"):
        with pytest.raises(DeserializationError):
            ValidatedConfig.from_bytes(bad)


def test_sealed_share_is_bound_to_its_report() -> None:
    enc, ct = seal(KEYS.public, b"secret seeds", b"aad-1")
    assert KEYS.open(enc, ct, b"aad-1") == b"secret seeds"
    with pytest.raises(DecryptionFailure):
        KEYS.open(enc, ct, b"aad-2")
    with pytest.raises(DecryptionFailure):
        HelperKeyPair().open(enc, ct, b"aad-1")
    restored = HelperKeyPair(KEYS.private_bytes())
    assert restored.open(enc, ct, b"aad-1") == b"secret seeds"


def test_a_query_point_on_a_root_of_unity_rejects_instead_of_aborting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vdaf = CONFIG.vdaf
    ones = vdaf.field.vec([1] * vdaf.flp.QUERY_RAND_LEN)
    monkeypatch.setattr(vdaf, "query_rand", lambda key, nonce: ones)
    result, _, _ = run_round([fresh()])
    assert [r.reason for r in result.rejected] == [RejectReason.INVALID]


def test_configurations_below_the_soundness_target_are_refused() -> None:
    with pytest.raises(InsecureParameters):
        ValidatedConfig(8, 8, 2000, KEYS.public, field="Field64", proofs=1)
    weak = ValidatedConfig(8, 8, 2000, KEYS.public, proofs=1, allow_weak_soundness=True)
    assert ValidatedConfig.from_bytes(weak.to_bytes()) == weak
    strong = ValidatedConfig(8, 8, 2000, KEYS.public, field="Field128", proofs=1)
    assert ValidatedConfig.from_bytes(strong.to_bytes()) == strong
    assert strong.digest != CONFIG.digest
    with pytest.raises(InvalidArgument):
        ValidatedConfig(8, 8, 2000, KEYS.public, field="Field32")


def test_a_field128_round() -> None:
    config = ValidatedConfig(8, 8, 2000, KEYS.public, field="Field128", proofs=1)
    updates = [[1, 2, 3, 4, 5, 6, 7, 8], [-8, 0, 0, 0, 0, 0, 0, 1]]
    result, _, _ = run_round([Client(config).report(u) for u in updates], config)
    assert result.sum == [sum(c) for c in zip(*updates, strict=True)]


def test_run_round_reports_the_traffic() -> None:
    from secagg.validated import run_round as simulate

    updates = [[1, -1, 2, -2], [3, 0, 0, 0]]
    sim = simulate(updates, bits=4, norm_bound=20, extra_reports=[b"junk"], circuit="bits")
    assert sim.result.sum == [4, -1, 2, -2]
    assert [r.reason for r in sim.result.rejected] == [RejectReason.MALFORMED]
    vdaf = sim.config.vdaf
    leader_share = (vdaf.flp.MEAS_LEN + vdaf.flp.PROOF_LEN * vdaf.PROOFS) * 8 + 16
    assert sim.upload_bytes[0] > leader_share  # plus framing, public share, sealed seeds
    assert sim.upload_bytes[0] < leader_share + 256  # 202 bytes of framing, keys and tags
    assert sim.request_bytes > 0
    assert sim.response_bytes > 0
    assert sim.aggregate_bytes > 0
    with pytest.raises(InvalidArgument):
        simulate([], bits=4, norm_bound=20)


def test_one_coordinate_out_of_range_with_the_norm_in_bounds() -> None:
    # Bound 10^5 admits v = 200 by norm (40,000), but 8-bit coordinates stop at 127: the
    # client writes u = 200 + 128 = 328 as the 8 bits of 72 with a "2" in place of bit 7.
    config = ValidatedConfig(8, 8, 10**5, KEYS.public, circuit="bits")
    valid = config.vdaf.flp.valid
    meas = np.concatenate(
        [
            bits_of(valid.field, [72] + [valid.offset] * 7, valid.bits),
            bits_of(valid.field, [10**5 - 200 * 200], valid.slack_bits),
        ]
    )
    meas[7] = 2
    assert valid.decode(valid.truncate(meas), 1)[0] == 200  # what it would have added
    result, _, _ = run_round([malicious_report(meas, config)], config)
    assert [r.reason for r in result.rejected] == [RejectReason.INVALID]
