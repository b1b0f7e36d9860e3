"""Empirical soundness on a deliberately small field (p = 193), by exhaustive enumeration.

Over a 193-element field every query point and every joint randomness value can be tried, so
the tests count exactly how many of them a cheating prover gets past, and compare with the
bounds the docs state: BBCGGI19 Theorem 4.3 for the proof check (``DEGREE * (P - 1)`` bad
query points out of ``p - P``) and Schwartz-Zippel for the circuit's random combination
(``degree`` bad values of ``r`` out of ``p``). A cheater built to be optimal reaches each bound
exactly; random cheaters never exceed it.
"""

from __future__ import annotations

import secrets
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.validated.hazmat import Count, FlpBBCGGI19, Sum, flp_error

from .strategies import toy_field

F = toy_field()
P = F.MODULUS


def accepted_query_points(flp: FlpBBCGGI19, meas: list[int], proof: list[int]) -> int:
    """How many query points t (all non-roots of unity) make the verifier accept."""
    size = 2  # Count: one Mul call, P = next_power_of_2(2)
    count = 0
    for t in range(P):
        if pow(t, size, P) == 1:
            continue
        verifier = flp.query(F.vec(meas), F.vec(proof), F.vec([t]), F.zeros(0), 1)
        count += flp.decide(verifier)
    return count


def cheating_count_proof(s0: int, s1: int, m: int, c1: int, c2: int) -> list[int]:
    """A proof for an invalid count m whose gadget polynomial claims Mul(m, m) = m."""
    alpha = F.root_of_unity(2)
    c0 = (m - c1 * alpha - c2 * alpha * alpha) % P
    return [s0, s1, c0, c1, c2]


FLP_COUNT = FlpBBCGGI19(Count(field=F))
BOUND_COUNT = flp_error(FLP_COUNT.valid)


def test_the_bound_for_count_is_two_points() -> None:
    assert Fraction(2, P - 2) == BOUND_COUNT


@settings(max_examples=15)
@given(
    s0=st.integers(0, P - 1),
    s1=st.integers(0, P - 1),
    m=st.integers(2, P - 1),
    c1=st.integers(0, P - 1),
    c2=st.integers(0, P - 1),
)
def test_random_cheaters_never_beat_the_bound(s0: int, s1: int, m: int, c1: int, c2: int) -> None:
    proof = cheating_count_proof(s0, s1, m, c1, c2)
    rate = Fraction(accepted_query_points(FLP_COUNT, [m], proof), P - 2)
    assert rate <= BOUND_COUNT


def test_the_optimal_cheater_reaches_the_bound_exactly() -> None:
    inv2 = F.inv(2)
    for _ in range(5):
        s0, s1 = secrets.randbelow(P), secrets.randbelow(P)
        m = 2 + secrets.randbelow(P - 2)
        # Wire polynomials through (1, s_j) and (-1, m): w_j(x) = (s_j + m)/2 + (s_j - m)/2 x.
        a0, a1 = (s0 + m) * inv2 % P, (s0 - m) * inv2 % P
        b0, b1 = (s1 + m) * inv2 % P, (s1 - m) * inv2 % P
        honest = [a0 * b0 % P, (a0 * b1 + a1 * b0) % P, a1 * b1 % P]
        # Add lam (x - u)(x - v): the check then passes exactly at t = u and t = v.
        u, v = 2, 3 + secrets.randbelow(P - 4)
        alpha = P - 1
        lam = (m - m * m) * F.inv((alpha - u) * (alpha - v) % P) % P
        extra = [lam * u * v % P, -lam * (u + v) % P, lam]
        proof = [s0, s1] + [(h + e) % P for h, e in zip(honest, extra, strict=True)]
        assert accepted_query_points(FLP_COUNT, [m], proof) == 2
        assert Fraction(2, P - 2) == BOUND_COUNT


def test_honest_proofs_of_valid_counts_pass_every_query_point() -> None:
    for m in (0, 1):
        proof = FLP_COUNT.prove(F.vec([m]), F.vec([5, 7]), F.zeros(0))
        assert accepted_query_points(FLP_COUNT, [m], F.to_ints(proof)) == P - 2


# -- the circuit's random linear combination (joint randomness) -----------------------------
BITS = 4
FLP_SUM = FlpBBCGGI19(Sum(BITS, field=F))


def accepted_joint_rands(meas: list[int]) -> int:
    """How many joint randomness values r let an honestly-proved invalid input through."""
    count = 0
    for r in range(P):
        jr = F.vec([r])
        proof = FLP_SUM.prove(F.vec(meas), F.vec([secrets.randbelow(P)]), jr)
        t = secrets.randbelow(P)
        while pow(t, 8, P) == 1:
            t = secrets.randbelow(P)
        count += FLP_SUM.decide(FLP_SUM.query(F.vec(meas), proof, F.vec([t]), jr, 1))
    return count


def _sqrt_table() -> dict[int, int]:
    return {b * b % P: b for b in range(P)}


def test_the_optimal_invalid_input_reaches_the_schwartz_zippel_bound() -> None:
    # Range2(b) = b^2 - b; choose the bits so that sum_k r^(k+1) Range2(b_k) = lam r prod(r - a_i).
    squares = _sqrt_table()
    inv2 = F.inv(2)
    while True:
        roots = [1 + secrets.randbelow(P - 1) for _ in range(BITS - 1)]
        if len(set(roots)) < BITS - 1:
            continue
        coeffs = [1]
        for a in roots:  # multiply by (r - a)
            coeffs = [
                ((coeffs[i - 1] if i else 0) - a * (coeffs[i] if i < len(coeffs) else 0)) % P
                for i in range(len(coeffs) + 1)
            ]
        lam = 1 + secrets.randbelow(P - 1)  # any non-zero multiple has the same roots
        # b^2 - b = c  <=>  (2b - 1)^2 = 1 + 4c
        disc = [(1 + 4 * lam * c) % P for c in coeffs]
        if all(d in squares for d in disc):
            meas = [(squares[d] + 1) * inv2 % P for d in disc]
            break
    assert accepted_joint_rands(meas) == BITS  # r = 0 and the BITS - 1 chosen roots
    assert Sum(BITS, field=F).circuit_error() == Fraction(BITS, P)


@settings(max_examples=5)
@given(meas=st.lists(st.integers(0, P - 1), min_size=BITS, max_size=BITS))
def test_random_invalid_inputs_never_beat_the_bound(meas: list[int]) -> None:
    if all(b in (0, 1) for b in meas):
        meas[0] = 2
    assert Fraction(accepted_joint_rands(meas), P) <= Fraction(BITS, P)
