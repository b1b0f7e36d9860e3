"""The fused fixed-point codec: same law and bounds as secagg.encoding, fewer passes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp.mechanisms.clipping import clip_l2, l2_norm
from federated._codecs import FixedPointCodec
from secagg.errors import InvalidArgument as EncodingError


def _lift(words: np.ndarray, bits: int) -> np.ndarray:
    signed = words.astype(object)
    return np.array([w - (1 << bits) if w >= 1 << (bits - 1) else w for w in signed], dtype=float)


@given(
    st.integers(1, 300),
    st.integers(0, 2**32 - 1),
    st.sampled_from([16, 32, 62, 64]),
    st.integers(1, 200),
    st.floats(0.1, 10.0),
    st.sampled_from([0.01, 1.0, 100.0]),
)
def test_each_entry_rounds_to_a_neighbouring_grid_point_and_decodes_within_a_step(
    length: int, seed: int, bits: int, cohort: int, bound: float, spread: float
) -> None:
    codec = FixedPointCodec(bits, length, cohort, bound)
    x = np.random.default_rng(seed).standard_normal(length) * spread
    words = codec.encode(x)
    assert words.dtype == np.uint64
    assert words.shape == (length,)
    assert bits == 64 or int(words.max()) < 1 << bits
    clipped = clip_l2(x, bound)
    grid = _lift(words, bits)
    scaled = clipped / codec.step
    # floor or floor + 1 of the scaled clipped value (to float rounding of the scaling).
    assert np.all(grid >= np.floor(scaled) - 1)
    assert np.all(grid <= np.floor(scaled) + 2)
    assert np.all(np.abs(grid - scaled) <= 1 + 1e-9 * np.abs(scaled))
    # Within a step, plus the float rounding of clipping and scaling (visible only when the
    # step nears the float spacing, 62 and 64 bits: clip_l2 aims 2^-50 inside the bound).
    slack = codec.step + 2.0**-47 * bound
    assert np.all(np.abs(codec.decode(words, 1) - clipped) <= slack)
    # Never past the bound the wrap check was made with.
    assert np.all(np.abs(grid) <= np.ceil(bound / codec.step))


def test_rounding_is_unbiased() -> None:
    codec = FixedPointCodec(32, 100_000, 4, 1e6)
    x = np.full(100_000, 0.25 * codec.step) + 3 * codec.step
    grid = _lift(codec.encode(x), 32)
    assert set(np.unique(grid)) == {3.0, 4.0}
    assert (grid == 4.0).mean() == pytest.approx(0.25, abs=0.01)


def test_the_cohort_sum_decodes_within_the_quantisation_bound() -> None:
    n, length, bits = 50, 1000, 32
    codec = FixedPointCodec(bits, length, n, 1.0)
    rng = np.random.default_rng(7)
    vectors = [rng.standard_normal(length) for _ in range(n)]
    total = np.zeros(length, dtype=np.uint64)
    for v in vectors:
        total = (total + codec.encode(v)) & np.uint64((1 << bits) - 1)
    truth = sum(clip_l2(v, 1.0) for v in vectors)
    assert np.max(np.abs(codec.decode(total, n) - truth)) <= n * codec.step
    assert l2_norm(codec.decode(codec.encode(vectors[0]), 1)) <= 1.0 + length**0.5 * codec.step


def test_encodings_are_fresh_arrays_and_the_input_is_untouched() -> None:
    codec = FixedPointCodec(32, 500, 10, 1.0)
    x = np.linspace(-1, 1, 500)
    kept = x.copy()
    first = codec.encode(x)
    first_kept = first.copy()
    second = codec.encode(-x)
    np.testing.assert_array_equal(first, first_kept)
    np.testing.assert_array_equal(x, kept)
    assert not np.shares_memory(first, second)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused_as_before(bad: float) -> None:
    codec = FixedPointCodec(32, 3, 10, 1.0)
    with pytest.raises(EncodingError):
        codec.encode(np.array([0.0, bad, 0.0]))
