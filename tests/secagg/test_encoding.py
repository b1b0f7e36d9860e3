"""secagg.encoding: clipping, unbiased stochastic rounding, Z_{2^B} mapping, wrap checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg import InvalidArgument, PlaintextOverflow
from secagg.encoding import (
    FixedPointEncoding,
    check_no_wrap,
    clip_l2,
    clip_linf,
    from_ring,
    stochastic_round,
    to_ring,
)
from secagg.masking import simulate_round

BITS = st.integers(2, 64)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def ring_values(draw: st.DrawFn) -> tuple[int, list[int]]:
    bits = draw(BITS)
    half = 1 << (bits - 1)
    return bits, draw(st.lists(st.integers(-half, half - 1), min_size=1, max_size=20))


@given(ring_values())
def test_ring_round_trip(case: tuple[int, list[int]]) -> None:
    bits, values = case
    ring = to_ring(np.array(values, dtype=np.int64), bits)
    assert ring.dtype == np.uint64
    assert all(0 <= int(v) < 2**bits for v in ring)
    assert [int(v) for v in ring] == [v % 2**bits for v in values]
    assert [int(v) for v in from_ring(ring, bits)] == values


@given(BITS, st.data())
def test_ring_is_additive_while_the_sum_fits(bits: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 8))
    bound = ((1 << (bits - 1)) - 1) // n
    vectors = [
        data.draw(st.lists(st.integers(-bound, bound), min_size=3, max_size=3)) for _ in range(n)
    ]
    check_no_wrap(n, bound, 1, bits)
    total = sum(int(to_ring(np.array(v, dtype=np.int64), bits)[0]) for v in vectors) % 2**bits
    assert int(from_ring(np.array([total], dtype=np.uint64), bits)[0]) == sum(v[0] for v in vectors)


def test_to_ring_refuses_out_of_range_and_floats() -> None:
    with pytest.raises(PlaintextOverflow):
        to_ring(np.array([128]), 8)
    with pytest.raises(PlaintextOverflow):
        to_ring(np.array([-129]), 8)
    with pytest.raises(InvalidArgument):
        to_ring(np.array([0.5]), 8)
    with pytest.raises(InvalidArgument):
        to_ring(np.array([1]), 65)
    with pytest.raises(InvalidArgument):
        from_ring(np.array([256]), 8)
    with pytest.raises(InvalidArgument):
        from_ring(np.array([-1]), 8)


@given(st.lists(finite, min_size=1, max_size=30))
def test_stochastic_round_picks_a_neighbouring_integer(values: list[float]) -> None:
    x = np.array(values)
    r = stochastic_round(x)
    assert r.dtype == np.int64
    assert np.all((r == np.floor(x)) | (r == np.ceil(x)))


def test_stochastic_round_keeps_integers_and_is_unbiased() -> None:
    assert list(stochastic_round(np.array([-3.0, 0.0, 7.0]))) == [-3, 0, 7]
    n = 40_000
    for value in (0.3, -2.75, 5.5):
        samples = stochastic_round(np.full(n, value))
        p = value - math.floor(value)
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(samples.mean() - value) < 6 * sigma


def test_stochastic_round_refuses_nan_inf_and_huge() -> None:
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(InvalidArgument):
            stochastic_round(np.array([0.0, bad]))
    with pytest.raises(PlaintextOverflow):
        stochastic_round(np.array([2.0**62]))
    # Above 2^52 float64 values are integers: kept exactly.
    assert int(stochastic_round(np.array([2.0**60]))[0]) == 2**60
    with pytest.raises(InvalidArgument):
        stochastic_round(np.array(["a"]))


@given(st.lists(finite, min_size=1, max_size=20), st.floats(1e-3, 1e3))
def test_clipping_bounds_the_norm(values: list[float], bound: float) -> None:
    x = np.array(values)
    c2 = clip_l2(x, bound)
    assert np.linalg.norm(c2) <= bound * (1 + 1e-12)
    if np.linalg.norm(x) <= bound:
        np.testing.assert_array_equal(c2, x)
    else:  # same direction
        np.testing.assert_allclose(c2 * np.linalg.norm(x) / bound, x, rtol=1e-9, atol=1e-9)
    cinf = clip_linf(x, bound)
    assert np.all(np.abs(cinf) <= bound)
    np.testing.assert_array_equal(cinf, np.clip(x, -bound, bound))


def test_clip_refuses_bad_bounds() -> None:
    for bad in (0, -1.0, math.inf, math.nan, True):
        with pytest.raises(InvalidArgument):
            clip_l2(np.ones(2), bad)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=20),
    st.sampled_from(["l2", "linf"]),
    st.integers(1, 5),
)
def test_encode_decode_within_the_quantisation_bound(
    values: list[float], norm: str, weight: int
) -> None:
    enc = FixedPointEncoding(
        modulus_bits=32, n_clients=4, clip=1.0, scale=1000.0, norm=norm, max_weight=5
    )
    x = np.array(values)
    clipped = clip_l2(x, 1.0) if norm == "l2" else clip_linf(x, 1.0)
    decoded = enc.decode(enc.encode(x, weight=weight), total_weight=weight)
    assert np.all(np.abs(decoded - clipped) < 1.0 / enc.scale + 1e-12)


def test_check_no_wrap_boundary() -> None:
    check_no_wrap(n_clients=1, bound=127, weight=1, modulus_bits=8)
    with pytest.raises(PlaintextOverflow):
        check_no_wrap(n_clients=1, bound=128, weight=1, modulus_bits=8)
    check_no_wrap(n_clients=10, bound=2**20, weight=2**10, modulus_bits=35)
    with pytest.raises(PlaintextOverflow, match="modulus_bits to at least 36"):
        check_no_wrap(n_clients=16, bound=2**20, weight=2**10, modulus_bits=35)
    for bad in ((0, 1, 1, 8), (1, -1, 1, 8), (1, 1, 0, 8), (1, 1, 1, 1), (1.0, 1, 1, 8)):
        with pytest.raises(InvalidArgument):
            check_no_wrap(*bad)  # type: ignore[arg-type]


@given(st.integers(1, 50), st.integers(0, 2**20), st.integers(1, 100), BITS)
def test_check_no_wrap_accepts_exactly_the_safe_configurations(
    n: int, bound: int, weight: int, bits: int
) -> None:
    safe = n * weight * bound < 2 ** (bits - 1)
    if safe:
        check_no_wrap(n, bound, weight, bits)
        # The extreme sums decode exactly.
        for sign in (1, -1):
            total = sign * n * weight * bound
            ring = np.array([total % 2**bits], dtype=np.uint64)
            assert int(from_ring(ring, bits)[0]) == total
    else:
        with pytest.raises(PlaintextOverflow):
            check_no_wrap(n, bound, weight, bits)


def test_scale_filling_sixty_four_bits() -> None:
    enc = FixedPointEncoding(modulus_bits=64, n_clients=3, clip=1.0, scale=1.5e18)
    x = np.array([0.0, 0.5, -1.0, 1.0])
    total = sum(enc.encode(x).astype(object) for _ in range(3))
    ring = np.array([int(v) % 2**64 for v in total], dtype=np.uint64)
    np.testing.assert_allclose(enc.decode(ring, total_weight=3), x / np.linalg.norm(x), atol=1e-12)
    with pytest.raises(PlaintextOverflow):
        FixedPointEncoding(modulus_bits=64, n_clients=7, clip=1.0, scale=1.5e18)
    with pytest.raises(PlaintextOverflow):
        FixedPointEncoding(modulus_bits=64, n_clients=1, clip=1.0, scale=2.0**62)


def test_encoding_config_refuses_wrap_and_bad_fields() -> None:
    with pytest.raises(PlaintextOverflow):
        FixedPointEncoding(modulus_bits=16, n_clients=100, clip=1.0, scale=1000.0)
    with pytest.raises(PlaintextOverflow):
        FixedPointEncoding(modulus_bits=32, n_clients=2, clip=1.0, scale=10.0, margin=2**31)
    with pytest.raises(InvalidArgument):
        FixedPointEncoding(modulus_bits=32, n_clients=2, clip=1.0, scale=10.0, norm="l1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        FixedPointEncoding(modulus_bits=32, n_clients=0, clip=1.0, scale=10.0)
    enc = FixedPointEncoding(modulus_bits=32, n_clients=2, clip=1.0, scale=10.0, max_weight=2)
    assert enc.bound == 10
    with pytest.raises(PlaintextOverflow):
        enc.encode(np.ones(2), weight=3)
    with pytest.raises(InvalidArgument):
        enc.encode(np.array([np.nan]))


def test_float_updates_through_secure_aggregation() -> None:
    enc = FixedPointEncoding(modulus_bits=32, n_clients=6, clip=1.0, scale=2.0**16, norm="linf")
    rng = np.random.default_rng(0)
    updates = [rng.uniform(-1, 1, size=50) for _ in range(6)]
    total = simulate_round([enc.encode(u) for u in updates], threshold=4, modulus_bits=32)
    mean = enc.decode(total, total_weight=6)
    np.testing.assert_allclose(mean, np.mean(updates, axis=0), atol=1.0 / enc.scale)
