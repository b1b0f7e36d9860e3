"""L2 clipping and the single-threaded norm behind it (blocked sums, overflow-safe)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp.errors import InvalidArgument
from dp.mechanisms.clipping import NORM_BLOCK, clip_l1, clip_l2, clip_l2_unchecked, l2_norm

# Sizes around and across the block boundary, so the blocked sum is exercised.
sizes = st.sampled_from([1, 2, 7, NORM_BLOCK - 1, NORM_BLOCK, NORM_BLOCK + 1, 3 * NORM_BLOCK + 5])
magnitudes = st.sampled_from([1e-300, 1e-8, 1.0, 1e8, 1e160, 1e300])


def _vector(size: int, seed: int, magnitude: float) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size) * magnitude


@given(sizes, st.integers(0, 2**32 - 1), st.sampled_from([1e-8, 1.0, 1e8]))
def test_l2_norm_matches_numpy_where_numpy_does_not_overflow(
    size: int, seed: int, magnitude: float
) -> None:
    x = _vector(size, seed, magnitude)
    assert l2_norm(x) == pytest.approx(float(np.linalg.norm(x)), rel=1e-12)


@given(sizes, st.integers(0, 2**32 - 1), magnitudes, st.floats(0.5, 4.0))
def test_l2_norm_is_homogeneous_and_overflow_safe(
    size: int, seed: int, magnitude: float, factor: float
) -> None:
    # ||a x|| = |a| ||x||, including vectors whose squares overflow float64.
    x = _vector(size, seed, 1.0)
    assert math.isfinite(l2_norm(x * magnitude))
    if magnitude >= 1e-8:  # below that, squares underflow (the norm is then a lower bound)
        assert l2_norm(x * magnitude) == pytest.approx(magnitude * l2_norm(x), rel=1e-12)
    assert l2_norm(factor * x) == pytest.approx(factor * l2_norm(x), rel=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_l2_norm_and_clip_refuse_non_finite_entries(bad: float) -> None:
    x = np.ones(3 * NORM_BLOCK)
    x[NORM_BLOCK + 3] = bad
    with pytest.raises(InvalidArgument):
        l2_norm(x)
    with pytest.raises(InvalidArgument):
        clip_l2(x, 1.0)


@given(sizes, st.integers(0, 2**32 - 1), magnitudes, st.floats(1e-3, 1e3))
def test_clip_l2_bounds_the_norm_keeps_the_direction_and_is_idempotent(
    size: int, seed: int, magnitude: float, bound: float
) -> None:
    x = _vector(size, seed, magnitude)
    y = clip_l2(x, bound)
    assert l2_norm(y) <= bound
    if l2_norm(x) <= bound:
        np.testing.assert_array_equal(y, x)
    else:
        # Scaled, not zeroed, even when ||x|| overflows: norm just inside the bound.
        assert l2_norm(y) == pytest.approx(bound, rel=1e-9)
        largest = int(np.argmax(np.abs(x)))
        np.testing.assert_allclose(y / y[largest], x / x[largest], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(clip_l2(y, bound), y)


def test_clip_l2_never_aliases_or_mutates_its_input() -> None:
    inside = np.full(10, 0.01)
    outside = np.full(10, 10.0)
    for x in (inside, outside):
        before = x.copy()
        y = clip_l2(x, 1.0)
        assert not np.shares_memory(x, y)
        y[:] = 7.0
        np.testing.assert_array_equal(x, before)
    assert clip_l2([3, 4], 1.0).tolist() == pytest.approx([0.6, 0.8])
    ones = np.ones(4)
    assert not np.shares_memory(clip_l1(ones, 100.0), ones)


def test_clip_l2_unchecked_writes_into_out_only_when_it_scales() -> None:
    x = np.full(5, 10.0)
    out = np.empty(5)
    y = clip_l2_unchecked(x, 1.0, out)
    assert y is out
    assert l2_norm(y) <= 1.0
    small = np.full(5, 0.01)
    assert clip_l2_unchecked(small, 1.0, out) is small


@pytest.mark.parametrize("bad", [np.array([[1.0]]), np.array(["a"]), np.array([True])])
def test_clip_l2_refuses_non_vectors(bad: np.ndarray) -> None:
    with pytest.raises(InvalidArgument):
        clip_l2(bad, 1.0)
