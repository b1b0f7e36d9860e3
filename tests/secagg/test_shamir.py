"""Shamir secret sharing over GF(2^521 - 1): known answers and the two defining laws."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import InsufficientShares, InvalidArgument, InvalidShare
from secagg.masking import _shamir
from secagg.masking.hazmat import PRIME, combine, lagrange_weights, split

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "shamir_gf_2_521.json").read_text())


def test_prime_is_the_mersenne_prime() -> None:
    assert PRIME == 2**521 - 1
    assert pow(3, PRIME - 1, PRIME) == 1


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"t{len(c['coefficients'])}")
def test_known_polynomials_interpolate(case: dict) -> None:
    coefficients = [int(c) for c in case["coefficients"]]
    t = len(coefficients)
    points = [(x, int(y)) for x, y in zip(case["xs"], case["shares"], strict=True)]
    for subset in itertools.combinations(points, t):
        assert combine(list(subset), t) == coefficients[0]


def test_lagrange_weights_match_exact_rational_interpolation() -> None:
    xs = [2, 5, 7, 11]
    weights = lagrange_weights(xs)
    for i, xi in enumerate(xs):
        exact = Fraction(1)
        for j, xj in enumerate(xs):
            if j != i:
                exact *= Fraction(xj, xj - xi)
        assert weights[i] == exact.numerator * pow(exact.denominator, -1, PRIME) % PRIME


@settings(max_examples=10)
@given(
    st.integers(0, PRIME - 1),
    st.integers(1, 6).flatmap(lambda t: st.tuples(st.just(t), st.integers(t, 7))),
)
def test_every_t_subset_rebuilds_the_secret(secret: int, shape: tuple[int, int]) -> None:
    t, n = shape
    xs = list(range(1, n + 1))
    points = list(zip(xs, split(secret, xs, t), strict=True))
    for subset in itertools.combinations(points, t):
        assert combine(list(subset), t) == secret


@given(st.integers(0, 2**256 - 1), st.integers(2, 6))
def test_t_minus_one_shares_fit_every_secret(secret: int, t: int) -> None:
    # Perfect secrecy, checkably: for t - 1 shares and ANY candidate secret there is a
    # degree t-1 polynomial through them, so the shares rule nothing out.
    xs = list(range(1, t + 1))
    shares = split(secret, xs, t)
    known = list(zip(xs[: t - 1], shares[: t - 1], strict=True))
    for candidate in (0, 1, secret ^ 1, PRIME - 1):
        # Interpolate with (0, candidate) added, then evaluate at the t-th point: consistent.
        pts = [(0, candidate), *known]
        value = 0
        x_t = xs[-1]
        for i, (xi, yi) in enumerate(pts):
            num = den = 1
            for j, (xj, _) in enumerate(pts):
                if j != i:
                    num = num * (x_t - xj) % PRIME
                    den = den * (xi - xj) % PRIME
            value = (value + yi * num * pow(den, -1, PRIME)) % PRIME
        rebuilt = combine([*known, (x_t, value)], t)
        assert rebuilt == candidate


def test_t_minus_one_shares_are_fresh_each_time() -> None:
    xs = [1, 2, 3]
    assert split(5, xs, 3)[:2] != split(5, xs, 3)[:2]


def test_corrupted_share_changes_the_secret() -> None:
    xs = [1, 2, 3]
    shares = split(123, xs, 3)
    points = list(zip(xs, shares, strict=True))
    points[1] = (2, (shares[1] + 1) % PRIME)
    assert combine(points, 3) != 123


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        split(PRIME, [1, 2], 2)
    with pytest.raises(InvalidArgument):
        split(1, [1, 1], 2)
    with pytest.raises(InvalidArgument):
        split(1, [0, 1], 2)
    with pytest.raises(InvalidArgument):
        split(1, [1, 2], 3)
    with pytest.raises(InsufficientShares):
        combine([(1, 1)], 2)
    with pytest.raises(InvalidArgument):
        combine([(1, 1), (2, 2), (3, 3)], 2)
    with pytest.raises(InvalidShare):
        combine([(1, PRIME), (2, 2)], 2)
    with pytest.raises(InvalidShare):
        _shamir.decode_element(b"\xff" * 66)
    with pytest.raises(InvalidShare):
        _shamir.decode_element(b"\x00" * 65)
    assert _shamir.decode_element(_shamir.encode_element(PRIME - 1)) == PRIME - 1
