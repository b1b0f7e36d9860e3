"""PINE (draft-chen-cfrg-vdaf-pine, ROCT23): completeness, exact sums, the soundness catalogue.

The circuit-level checks run on a deliberately small field (p = 50177 = 49 * 2^10 + 1, the
smallest kind PINE's field-size conditions admit for ``B = 1``), where every value of a joint
randomness element and every random wraparound vector can be enumerated.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import InvalidArgument
from secagg.validated import (
    Client,
    Field64,
    Field128,
    Helper,
    HelperKeyPair,
    Leader,
    Report,
    RoundResult,
    ValidatedConfig,
    soundness_bound,
)
from secagg.validated._field import PrimeField
from secagg.validated._parties import seal_report
from secagg.validated._pine import (
    Pine,
    PineValid,
    WraparoundRetry,
    pine_bounded_l2,
    wr_dot_products,
)
from secagg.validated._prio3 import HelperShare, LeaderShare

from .strategies import signed_updates

KEYS = HelperKeyPair()
CONFIG = ValidatedConfig(length=8, bits=8, norm_bound=2000, helper_public_key=KEYS.public)


def run_round(reports: list[Any], config: ValidatedConfig = CONFIG) -> RoundResult:
    key = os.urandom(16)
    leader, helper = Leader(config, key), Helper(config, key, KEYS, min_batch_size=0)
    response = helper.prepare(leader.prepare(reports).to_bytes())
    leader.finish_prepare(response.to_bytes())
    return leader.collect(helper.aggregate_share().to_bytes())


def unchecked_report(update: list[int], config: ValidatedConfig = CONFIG) -> Report:
    """A client that skipped clipping: a false norm claim, honestly proved and sealed."""
    vdaf = config.vdaf
    nonce = os.urandom(16)
    public, shares = vdaf.shard_unchecked(update, nonce, os.urandom(vdaf.RAND_SIZE))
    return seal_report(config, nonce, public, shares)


def test_pine_is_the_default_circuit() -> None:
    assert isinstance(CONFIG.vdaf, Pine)
    assert CONFIG.circuit == "pine"
    bits = replace(CONFIG, circuit="bits")
    assert bits.digest != CONFIG.digest
    for config in (CONFIG, bits):
        assert ValidatedConfig.from_bytes(config.to_bytes()) == config
    with pytest.raises(InvalidArgument):
        replace(CONFIG, circuit="nope")


@settings(max_examples=5)
@given(updates=st.lists(signed_updates(8, 8, 2000), min_size=1, max_size=3))
def test_honest_round_sums_exactly(updates: list[list[int]]) -> None:
    result = run_round([Client(CONFIG).report(u).to_bytes() for u in updates])
    assert result.sum == [sum(c) for c in zip(*updates, strict=True)]
    assert len(result.accepted) == len(updates)
    assert result.rejected == ()


def test_a_field128_round() -> None:
    config = replace(CONFIG, field="Field128", proofs=1)
    updates = [[40, 20, 0, 0, 0, 0, 0, 0], [-1, 0, 0, 0, 0, 0, 0, 7]]
    result = run_round([Client(config).report(u) for u in updates], config)
    assert result.sum == [39, 20, 0, 0, 0, 0, 0, 7]


def test_the_upload_is_about_one_field_vector() -> None:
    vdaf = pine_bounded_l2(10**4, 10**4 * 2**20)
    valid = vdaf.valid
    # gradient, bit-checked norm and wraparound results, then the proofs (O(sqrt d)).
    assert 10**4 + valid.bit_checked_len == vdaf.SHARED_LEN
    assert vdaf.proof_elements < 4 * math.isqrt(10**4) * (vdaf.PROOFS + 2)
    assert vdaf.SHARED_LEN + vdaf.proof_elements < 1.6 * 10**4


def test_soundness_catalogue() -> None:
    honest = [[10, -10, 5, 0, 0, 0, 0, 1], [-3, 3, 3, 3, 0, 0, 0, 0]]
    reports: list[Any] = [Client(CONFIG).report(u) for u in honest]
    p = Field64.MODULUS
    assert p == (2**32 - 1) ** 2 + (2**16) ** 2  # a norm that wraps to 0 mod p
    other = Client(CONFIG).report([1] * 8)
    cases = {
        "at_bound": (unchecked_report([40, 20, 0, 0, 0, 0, 0, 0]), None),  # 2000: valid
        "norm_just_over_bound": (unchecked_report([40, 20, 1, 0, 0, 0, 0, 0]), "INVALID"),
        "huge_coordinate": (unchecked_report([2**40, 0, 0, 0, 0, 0, 0, 0]), "INVALID"),
        "wraparound": (unchecked_report([2**32 - 1, 2**16, 0, 0, 0, 0, 0, 0]), "INVALID"),
        "replayed": (reports[0].to_bytes(), "REPLAYED"),
        "wrong_length": (replace(other, leader_share=other.leader_share[:-8]), "MALFORMED"),
    }
    fresh = Client(CONFIG).report([0, 1, 0, 1, 0, 1, 0, 1])
    share = bytearray(fresh.leader_share)
    share[(CONFIG.vdaf.SHARED_LEN + 3) * 8] ^= 1  # a proof element
    cases["malformed_proof"] = (replace(fresh, leader_share=bytes(share)), "INVALID")
    # Another report's proof (same length) on this report's gradient share.
    a, b = Client(CONFIG).report([1] * 8), Client(CONFIG).report([2, 0, 0, 0, 0, 0, 0, 0])
    cut = CONFIG.vdaf.SHARED_LEN * 8
    swapped = a.leader_share[:cut] + b.leader_share[cut:]
    cases["proof_for_another_update"] = (replace(a, leader_share=swapped), "INVALID")
    # A false joint randomness part in the public share (the client's hint lies). A false
    # wraparound hint changes the dot products one aggregator computes, so the proof fails
    # first (INVALID); so does a false verification hint (the joint randomness differs).
    for label, index, want in (("wr_hint", 1, "INVALID"), ("vf_hint", 3, "INVALID")):
        c = Client(CONFIG).report([3] * 8)
        parts = bytearray(c.public_share)
        parts[16 * index] ^= 1
        cases[label] = (replace(c, public_share=bytes(parts)), want)
    items = list(cases.items())
    result = run_round(reports + [case for _, (case, _) in items])
    reasons = {r.index - len(reports): r.reason.name for r in result.rejected}
    for i, (name, (_, want)) in enumerate(items):
        assert reasons.get(i) == want, name
    assert result.sum == [sum(c) for c in zip(*honest, [40, 20, 0, 0, 0, 0, 0, 0], strict=True)]


def test_honest_client_refuses_out_of_bounds_updates() -> None:
    client = Client(CONFIG)
    with pytest.raises(InvalidArgument):
        client.report([40, 20, 1, 0, 0, 0, 0, 0])  # norm 2001
    with pytest.raises(InvalidArgument):
        client.report([128, 0, 0, 0, 0, 0, 0, 0])  # outside 8 bits, though norm 16384 ...
    with pytest.raises(InvalidArgument):
        client.report([1] * 7)


def test_pine_has_no_single_step_encoding() -> None:
    vdaf = CONFIG.vdaf
    with pytest.raises(InvalidArgument):
        vdaf.shard_encoded(vdaf.field.zeros(3), os.urandom(16), os.urandom(vdaf.RAND_SIZE))
    with pytest.raises(InvalidArgument):
        vdaf.flp.valid.encode([0] * 8)


# -- the vectorised wraparound dot products against the draft's byte-by-byte loop ---------


def reference_dot_products(field: Any, x: list[int], stream: bytes, checks: int) -> list[int]:
    """poc/flp_pine.py ``run_wr_checks``, one byte (four entries) at a time."""
    p, d = field.MODULUS, len(x)
    out, pos = [], 0
    for _ in range(checks):
        acc = 0
        for j in range(0, d, 4):
            b = stream[pos]
            pos += 1
            for k in range(j, min(j + 4, d)):
                two = b & 3
                acc += (-1 if two == 0 else 1 if two == 3 else 0) * x[k]
                b >>= 2
        out.append(acc % p)
    return out


@settings(max_examples=10)
@given(
    d=st.integers(1, 2100),
    checks=st.integers(1, 5),
    field=st.sampled_from([Field64, Field128]),
    data=st.data(),
)
def test_wraparound_dot_products_match_the_reference(
    d: int, checks: int, field: Any, data: st.DataObject
) -> None:
    p = field.MODULUS
    edges = st.sampled_from([0, 1, p - 1, p - 2, 2**32 - 1, 2**63 % p])
    x = data.draw(st.lists(st.one_of(edges, st.integers(0, p - 1)), min_size=d, max_size=d))
    stream = os.urandom(checks * -(-d // 4))
    got = field.to_ints(wr_dot_products(field, field.vec(x), stream, checks))
    assert got == reference_dot_products(field, x, stream, checks)


# -- a small field: the circuit's checks and its error, counted exactly ---------------------

TOY = PrimeField("Toy50177", 50177, 2, 2**10, pow(3, 49, 50177))
TOY_VALID = PineValid(TOY, 2, 1, num_wr_checks=4)
TOY_P = TOY.MODULUS


def toy_meas(x: list[int], wr_seed: bytes) -> Any:
    """The FLP input of an honest client for ``x`` under the stream ``wr_seed`` (4 bytes)."""
    v = TOY_VALID
    head = v.encode_gradient_and_norm(x, strict=False)
    results = wr_dot_products(TOY, head[:2], wr_seed, 4)
    return np.concatenate([head, v.encode_wr_checks(results, strict=False), results])


def circuit(meas: Any, r_bit: int, r_wr: int, r_final: int) -> int:
    return TOY_VALID.eval(meas, TOY.vec([r_bit, r_wr, r_final]))


def roots(values: list[int], degree: int) -> tuple[list[int], Any]:
    """Every root in the toy field of the polynomial taking ``values[i]`` at ``i``.

    Interpolated from ``degree + 1`` evaluations (the circuit is a polynomial of at most that
    degree in the joint randomness element), then evaluated at all ``p`` points at once.
    """
    xs = list(range(degree + 1))
    coeffs = [0] * (degree + 1)
    for i, xi in enumerate(xs):  # Lagrange, coefficient form
        basis, denom = [1], 1
        for j, xj in enumerate(xs):
            if j != i:
                basis = [
                    (a - xj * b) % TOY_P for a, b in zip([0, *basis], [*basis, 0], strict=True)
                ]
                denom = denom * (xi - xj) % TOY_P
        scale = values[i] * pow(denom, -1, TOY_P) % TOY_P
        coeffs = [(c + scale * b) % TOY_P for c, b in zip(coeffs, basis, strict=True)]
    points = np.arange(TOY_P, dtype=np.int64)
    acc = np.zeros(TOY_P, dtype=np.int64)
    for c in reversed(coeffs):
        acc = (acc * points + c) % TOY_P
    return [int(r) for r in np.flatnonzero(acc == 0)], acc


def test_toy_field_generator_and_parameters() -> None:
    assert pow(TOY.GENERATOR, 2**9, TOY_P) != 1
    assert TOY_VALID.wr_check_bound == 16  # next_power_of_2(ceil(8.7 * 1) + 1)
    assert TOY_VALID.num_bits_for_wr_check == 5


def test_honest_encodings_satisfy_both_circuits() -> None:
    meas = toy_meas([1, 0], bytes([0x5A, 0xFF, 0x00, 0x93]))
    ne = TOY_VALID.norm_equality()
    for r in (1, 2, 12345):
        assert circuit(meas, r, r + 1, r + 2) == 0
    assert ne.eval(meas, TOY.zeros(0)) == 0


def test_the_final_combination_vanishes_at_most_three_times() -> None:
    # Valid bits, but v + u = 2 != B = 1 and one success bit short: the output is
    # r * 1 + r^3 * (-1) = r (1 - r^2), zero exactly at r in {0, 1, -1}: the bound of 3.
    meas = toy_meas([0, 0], bytes(4))
    k = TOY_VALID.num_bits_for_sq_norm
    meas[2 : 2 + 2 * k] = TOY.vec([1] * (2 * k))
    g_last = 2 + 2 * k + 4 * (TOY_VALID.num_bits_for_wr_check + 1) - 1
    meas[g_last] = 0
    zeros, poly = roots([circuit(meas, 5, 7, r) for r in range(4)], 3)
    assert poly[1234] == circuit(meas, 5, 7, 1234)  # degree 3 indeed
    assert zeros == [0, 1, TOY_P - 1]
    assert all(circuit(meas, 5, 7, r) == 0 for r in zeros)
    assert circuit(meas, 5, 7, 1234) != 0
    assert TOY_VALID.circuit_error() * TOY_P == TOY_VALID.bit_checked_len + 4 + 1


def test_a_non_bit_is_caught_for_all_but_a_few_values_of_r_bit() -> None:
    meas = toy_meas([1, 0], bytes(4))
    meas[2] = 2  # the first norm bit
    degree = TOY_VALID.bit_checked_len - 1
    bad, poly = roots([circuit(meas, r, 3, 9) for r in range(degree + 1)], degree)
    assert poly[4321] == circuit(meas, 4321, 3, 9)  # the degree is as stated
    assert len(bad) <= degree
    assert all(circuit(meas, r, 3, 9) == 0 for r in bad)


def test_a_wrapped_gradient_passes_half_of_the_wraparound_tests() -> None:
    # 224^2 + 1^2 = p: the squared norm wraps to 0 (in range), the integer norm is p.
    assert TOY_P == 224**2 + 1
    x = TOY.vec([224, 1])
    passing = 0
    for nibble in range(16):  # every {-1, 0, 1} vector of length 2, with its probability
        stream = bytes([nibble])
        r = TOY.to_ints(wr_dot_products(TOY, x, stream, 1))[0]
        passing += (r + 15) % TOY_P <= 31
    assert passing == 8  # ROCT23 Lemma 3.3: at most 1/2
    honest = [
        TOY.to_ints(wr_dot_products(TOY, TOY.vec([1, 0]), bytes([n]), 1))[0] for n in range(16)
    ]
    assert all((r + 15) % TOY_P <= 31 for r in honest)
    assert TOY_VALID.wraparound_error() == 2**-4


def test_a_wrapped_gradient_that_fails_a_test_must_retry() -> None:
    head = TOY_VALID.encode_gradient_and_norm([224, 1], strict=False)
    failing = wr_dot_products(TOY, head[:2], bytes([1, 0, 0, 0]), 4)
    with pytest.raises(WraparoundRetry):
        TOY_VALID.encode_wr_checks(failing)


def test_the_default_configuration_meets_the_target_up_to_a_million() -> None:
    for d in (10**3, 10**5, 10**6):
        valid = PineValid(Field64, d, d * 2**20)
        bound = soundness_bound(valid, proofs=3, norm_proofs=2)
        assert bound.log2 <= -64
        # The wraparound term dominates: 2^40 * 2^-128.
        assert bound.xof_queries * bound.wraparound == 2.0**-88
        one = soundness_bound(valid, proofs=1, norm_proofs=1)
        assert one.log2 > -64  # one proof over Field64 would not do
    big = PineValid(Field128, 10**6, 10**6 * 2**20)
    assert soundness_bound(big, proofs=1, norm_proofs=1).log2 <= -64


def test_shard_unchecked_under_the_bits_circuit_is_rejected_too() -> None:
    config = replace(CONFIG, circuit="bits")
    over = unchecked_report([40, 20, 1, 0, 0, 0, 0, 0], config)  # 2001 > 2000
    wide = unchecked_report([300, 0, 0, 0, 0, 0, 0, 0], config)  # outside 8 bits
    at = unchecked_report([40, 20, 0, 0, 0, 0, 0, 0], config)
    result = run_round([over, wide, at], config)
    assert [r.reason.name for r in result.rejected] == ["INVALID", "INVALID"]
    assert result.sum == [40, 20, 0, 0, 0, 0, 0, 0]


def test_each_share_alone_is_independent_of_the_update() -> None:
    # Same randomness, two updates: the helper's share (seeds and blinds) is identical, and
    # the leader's gradient share differs by exactly the difference of the updates: it is
    # the update minus an XOF pad the leader cannot compute (uniform, as the XOF's
    # rejection sampling is; see test_shares.py).
    vdaf = CONFIG.vdaf
    nonce, rand = os.urandom(16), os.urandom(vdaf.RAND_SIZE)
    a, b = [1, 2, 3, 4, 5, 6, 7, 8], [-8, 0, 0, 30, 0, 0, 0, 0]
    _, shares_a = vdaf.shard(a, nonce, rand)
    _, shares_b = vdaf.shard(b, nonce, rand)
    assert vdaf.encode_input_share(shares_a[1]) == vdaf.encode_input_share(shares_b[1])
    f = vdaf.field
    lead_a, lead_b, helper = shares_a[0], shares_b[0], shares_a[1]
    assert isinstance(lead_a, LeaderShare)
    assert isinstance(lead_b, LeaderShare)
    assert isinstance(helper, HelperShare)
    diff = f.to_ints(f.sub(lead_a.meas[:8], lead_b.meas[:8]))
    assert diff == [(x - y) % f.MODULUS for x, y in zip(a, b, strict=True)]
    pad = f.sub(f.reduce_ints(a), lead_a.meas[:8])
    assert f.to_ints(pad) == f.to_ints(vdaf.helper_meas_share(1, helper.meas_seed)[:8])
