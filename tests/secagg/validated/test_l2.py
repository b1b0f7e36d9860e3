"""The bounded-L2 circuit under Prio3: completeness, exact sums and the soundness catalogue."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import DeserializationError, InvalidArgument, InvalidProof
from secagg.validated import (
    BoundedL2,
    Field64,
    JointRandMismatch,
    LeaderShare,
    Prio3,
    VerificationFailed,
    prio3_bounded_l2,
    soundness_bound,
)
from secagg.validated.hazmat import bits_of

from .strategies import signed_updates

LENGTH, BITS, BOUND = 6, 4, 40  # coordinates in [-8, 8), squared norm at most 40
VDAF = prio3_bounded_l2(LENGTH, BITS, BOUND)


def run(vdaf: Prio3, public: Any, shares: list[Any], nonce: bytes, key: bytes) -> list[Any]:
    """Prepare one report; return the output shares (raises if the report is rejected)."""
    states, prep_shares = [], []
    for j, share in enumerate(shares):
        state, prep_share = vdaf.prep_init(key, j, nonce, public, share)
        states.append(state)
        prep_shares.append(prep_share)
    message = vdaf.prep_shares_to_prep(prep_shares)
    return [vdaf.prep_next(s, message) for s in states]


def shard(vdaf: Prio3, x: Any, nonce: bytes | None = None) -> tuple[bytes, Any, list[Any]]:
    nonce = nonce or os.urandom(16)
    public, shares = vdaf.shard(x, nonce, os.urandom(vdaf.RAND_SIZE))
    return nonce, public, shares


def malicious(vdaf: Prio3, meas: Any, nonce: bytes | None = None) -> tuple[bytes, Any, list[Any]]:
    """A client that encodes anything it likes and proves it honestly otherwise."""
    nonce = nonce or os.urandom(16)
    public, shares = vdaf.shard_encoded(meas, nonce, os.urandom(vdaf.RAND_SIZE))
    return nonce, public, shares


def encoding(valid: BoundedL2, coords: list[int], slack: int) -> Any:
    """Bits of arbitrary offset coordinates and slack, without the encoder's checks."""
    f = valid.field
    return np.concatenate(
        [
            bits_of(f, [c + valid.offset for c in coords], valid.bits),
            bits_of(f, [slack], valid.slack_bits),
        ]
    )


@settings(max_examples=10)
@given(updates=st.lists(signed_updates(LENGTH, BITS, BOUND), min_size=1, max_size=3))
def test_valid_updates_are_accepted_and_summed_exactly(updates: list[list[int]]) -> None:
    key = os.urandom(16)
    outs: list[list[Any]] = [[], []]
    for x in updates:
        nonce, public, shares = shard(VDAF, x, None)
        for j, o in enumerate(run(VDAF, public, shares, nonce, key)):
            outs[j].append(o)
    result = VDAF.unshard([VDAF.aggregate(o) for o in outs], len(updates))
    assert result == [sum(col) for col in zip(*updates, strict=True)]


def test_extremes_are_accepted() -> None:
    key = os.urandom(16)
    for x in ([-6, 2, 0, 0, 0, 0], [6, -2, 0, 0, 0, 0], [0] * LENGTH, [-1, 1, -2, 2, -3, 3]):
        assert sum(v * v for v in x) <= BOUND
        nonce, public, shares = shard(VDAF, x)
        assert VDAF.unshard(run(VDAF, public, shares, nonce, key), 1) == x


def test_three_aggregators() -> None:
    vdaf = prio3_bounded_l2(LENGTH, BITS, BOUND, shares=3)
    x = [3, -4, 1, 0, -2, 2]
    nonce, public, shares = shard(vdaf, x)
    assert vdaf.unshard(run(vdaf, public, shares, nonce, os.urandom(16)), 1) == x


def test_honest_encoder_refuses_invalid_updates() -> None:
    with pytest.raises(InvalidArgument, match="exceeds"):
        VDAF.shard([7, 0, 0, 0, 0, 0], os.urandom(16), os.urandom(VDAF.RAND_SIZE))
    with pytest.raises(InvalidArgument, match="outside"):
        VDAF.shard([8, 0, 0, 0, 0, 0], os.urandom(16), os.urandom(VDAF.RAND_SIZE))
    with pytest.raises(InvalidArgument, match="coordinates"):
        VDAF.shard([0] * (LENGTH + 1), os.urandom(16), os.urandom(VDAF.RAND_SIZE))


def test_parameters_that_could_wrap_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="wrap"):
        BoundedL2(2**60, 40, 1)


# -- the soundness catalogue: every invalid report is rejected ---------------------------
VALID = VDAF.flp.valid
assert isinstance(VALID, BoundedL2)


def rejected(nonce: bytes, public: Any, shares: list[Any]) -> bool:
    try:
        run(VDAF, public, shares, nonce, os.urandom(16))
    except InvalidProof:
        return True
    return False


def test_a_bit_that_is_not_a_bit() -> None:
    meas = encoding(VALID, [1, 0, 0, 0, 0, 0], BOUND - 1)
    meas[0] = 2  # coordinate 0 becomes 1 + 1 = 2 in value, but via a non-bit
    assert rejected(*malicious(VDAF, meas))


def test_one_coordinate_out_of_range_by_field_wraparound() -> None:
    # Coordinate 0 "= -9", i.e. offset -1 = p - 1, smuggled as the bits' field value.
    meas = encoding(VALID, [0, 0, 0, 0, 0, 0], BOUND)
    f = VALID.field
    meas[: VALID.bits] = f.vec([f.MODULUS - 1, 0, 0, 0])
    assert rejected(*malicious(VDAF, meas))


def test_norm_just_above_the_bound() -> None:
    x = [6, 2, 1, 0, 0, 0]  # 41 = BOUND + 1
    slack = (BOUND - 41) % (1 << VALID.slack_bits)  # the best a liar can put in k bits
    assert rejected(*malicious(VDAF, encoding(VALID, x, slack)))
    # ... and a slack that makes the field equation hold needs a negative (non-k-bit) value.
    meas = encoding(VALID, x, 0)
    f = VALID.field
    meas[-VALID.slack_bits :] = f.vec([f.MODULUS - 1] + [0] * (VALID.slack_bits - 1))
    assert rejected(*malicious(VDAF, meas))


def test_lying_about_the_slack() -> None:
    x = [1, 1, 0, 0, 0, 0]
    assert rejected(*malicious(VDAF, encoding(VALID, x, BOUND - 3)))  # true slack is 38


def test_wrong_length_is_refused_before_proving_or_on_the_wire() -> None:
    with pytest.raises(InvalidArgument):
        VDAF.shard_encoded(VALID.field.zeros(VALID.MEAS_LEN - 1), os.urandom(16), os.urandom(96))
    _, _, shares = shard(VDAF, [0] * LENGTH)
    data = VDAF.encode_input_share(shares[0])
    for bad in (data[:-16], data + bytes(16), data[:-1]):
        with pytest.raises(DeserializationError):
            VDAF.decode_input_share(0, bad)
    other = prio3_bounded_l2(LENGTH + 1, BITS, BOUND)
    with pytest.raises(DeserializationError):
        other.decode_input_share(0, data)


@pytest.mark.parametrize("where", ["seed", "coefficient", "last"])
def test_malformed_proof(where: str) -> None:
    nonce, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    leader = shares[0]
    assert isinstance(leader, LeaderShare)
    proof = leader.proof.copy()
    index = {"seed": 0, "coefficient": VALID.GADGETS[0].ARITY + 1, "last": len(proof) - 1}[where]
    proof[index] = VALID.field.scalar(int(proof[index]) + 1)
    shares[0] = LeaderShare(leader.meas, proof, leader.blind)
    assert rejected(nonce, public, shares)


def test_tampered_measurement_share() -> None:
    nonce, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    leader = shares[0]
    meas = leader.meas.copy()
    meas[0] = VALID.field.scalar(int(meas[0]) + 1)
    shares[0] = LeaderShare(meas, leader.proof, leader.blind)
    with pytest.raises(InvalidProof):
        run(VDAF, public, shares, nonce, os.urandom(16))


def test_proof_for_another_update() -> None:
    nonce = os.urandom(16)
    _, public_a, shares_a = shard(VDAF, [1, 2, 3, 0, 0, 0], nonce)
    _, public_b, shares_b = shard(VDAF, [5, -3, 1, 0, 0, 0], nonce)
    a, b = shares_a[0], shares_b[0]
    assert isinstance(a, LeaderShare)
    assert isinstance(b, LeaderShare)
    mixed = [LeaderShare(b.meas, a.proof, b.blind), shares_b[1]]
    assert rejected(nonce, public_b, mixed)
    mixed = [LeaderShare(a.meas, a.proof, a.blind), shares_b[1]]  # helper share of another
    assert rejected(nonce, public_a, mixed)


def test_report_moved_to_another_nonce() -> None:
    _, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    assert rejected(os.urandom(16), public, shares)


def test_inconsistent_joint_randomness_hint() -> None:
    nonce, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    lie = [public[0], bytes(16)]
    with pytest.raises(InvalidProof) as info:
        run(VDAF, lie, shares, nonce, os.urandom(16))
    assert isinstance(info.value, JointRandMismatch | VerificationFailed)


def test_inconsistent_helper_seed() -> None:
    nonce, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    helper = shares[1]
    shares[1] = type(helper)(os.urandom(16), helper.proof_seed, helper.blind)
    assert rejected(nonce, public, shares)
    nonce, public, shares = shard(VDAF, [1, 2, 3, 0, 0, 0])
    helper = shares[1]
    shares[1] = type(helper)(helper.meas_seed, os.urandom(16), helper.blind)
    assert rejected(nonce, public, shares)


def test_soundness_error_meets_the_target() -> None:
    for length in (10**3, 10**5, 10**6):
        bound = soundness_bound(BoundedL2(length, 16, length * 2**20), xof_queries=2**40)
        assert bound.log2 <= -64
    assert soundness_bound(VALID, xof_queries=1).log2 < -110


# -- Field64 with several proofs (draft 08's multiple proofs on draft 07's XOF) -------------
VDAF64 = prio3_bounded_l2(LENGTH, BITS, BOUND, field=Field64, proofs=3)
VALID64 = VDAF64.flp.valid
assert isinstance(VALID64, BoundedL2)


def test_field64_multiproof_accepts_and_sums() -> None:
    key = os.urandom(16)
    x = [3, -4, 1, 0, -2, 2]
    nonce, public, shares = shard(VDAF64, x)
    assert VDAF64.unshard(run(VDAF64, public, shares, nonce, key), 1) == x
    assert len(shares[0].proof) == 3 * VDAF64.flp.PROOF_LEN


@pytest.mark.parametrize("proof", [0, 1, 2])
def test_field64_every_proof_counts(proof: int) -> None:
    nonce, public, shares = shard(VDAF64, [1, 2, 3, 0, 0, 0])
    leader = shares[0]
    bad = leader.proof.copy()
    i = proof * VDAF64.flp.PROOF_LEN + 1
    bad[i] = Field64.scalar(int(bad[i]) + 1)
    shares[0] = LeaderShare(leader.meas, bad, leader.blind)
    with pytest.raises(VerificationFailed):
        run(VDAF64, public, shares, nonce, os.urandom(16))


def test_field64_invalid_updates_are_rejected() -> None:
    over = encoding(VALID64, [6, 2, 1, 0, 0, 0], (BOUND - 41) % (1 << VALID64.slack_bits))
    not_bit = encoding(VALID64, [1, 0, 0, 0, 0, 0], BOUND - 1)
    not_bit[0] = 2
    for meas in (over, not_bit):
        nonce, public, shares = malicious(VDAF64, meas)
        with pytest.raises(InvalidProof):
            run(VDAF64, public, shares, nonce, os.urandom(16))


def test_multiproof_soundness_bound() -> None:
    valid = BoundedL2(10**5, 16, 10**5 * 2**20, field=Field64)
    one, three = (soundness_bound(valid, proofs=k) for k in (1, 3))
    assert one.log2 > -10  # one Field64 proof is useless against grinding
    assert three.log2 <= -90
    # k = 1 reduces to Q * circuit + flp.
    assert one.total == one.xof_queries * one.circuit + one.flp
