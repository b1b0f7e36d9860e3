"""The numba-compiled discrete Gaussian pass against the numpy one, draw for draw.

Both passes are fed the same random words (a deterministic stream replaces the CSPRNG
here, and only here); they must return the same values, including where the exact slow
paths decide. The distribution tests of ``test_samplers.py`` then cover the compiled path
(the default when numba is installed), its exact slow paths included (1 to 3 revealed
bits), and, below, the numpy path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dp import _rng
from dp.mechanisms import _bernoulli, _compiled, samplers
from dp.mechanisms.distributed import conditional_round
from dp.mechanisms.samplers import sample_discrete_gaussian_sq
from tests.dp.test_samplers_helpers import (
    ALPHA,
    chi_square_pvalue,
    discrete_gaussian_pmf,
    symmetric_support,
)

pytest.importorskip("numba")


class _Stream:
    """Deterministic bytes (SHA-256 in counter mode): a test double for the CSPRNG."""

    def __init__(self, seed: int) -> None:
        self.blocks = self._blocks(seed)
        self.buffer = b""

    @staticmethod
    def _blocks(seed: int) -> Iterator[bytes]:
        counter = 0
        while True:
            yield hashlib.sha256(f"{seed}:{counter}".encode()).digest()
            counter += 1

    def take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self.buffer += b"".join(next(self.blocks) for _ in range(64))
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out


def _deterministic(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Route every random word of the samplers through two deterministic streams."""
    words, extra = _Stream(seed), _Stream(seed + 1)

    def random_bytes(count: int) -> NDArray[np.uint8]:
        return np.frombuffer(words.take(count), dtype=np.uint8).copy()

    def randbits(bits: int) -> int:
        return int.from_bytes(extra.take((bits + 7) // 8), "big") >> (-bits % 8)

    monkeypatch.setattr(_rng, "random_bytes", random_bytes)
    monkeypatch.setattr(samplers, "random_bytes", random_bytes)
    monkeypatch.setattr(_bernoulli, "randbits", randbits)


def _one_pass(
    monkeypatch: pytest.MonkeyPatch, sigma_sq: Fraction, count: int, seed: int, compiled: bool
) -> NDArray[np.int64]:
    _deterministic(monkeypatch, seed)
    plan = samplers._gaussian_plan(sigma_sq)
    if compiled:
        assert _compiled.kernels() is not None
        return plan.candidates(count)
    with _compiled.compiled_disabled():
        return plan.candidates(count)


@pytest.mark.parametrize(
    "sigma_sq", [Fraction(1, 4), Fraction(22, 7), Fraction(17.3**2), Fraction(4096**2)]
)
@pytest.mark.parametrize("prefix_bits", [32, 4])
def test_compiled_pass_equals_numpy_pass(
    monkeypatch: pytest.MonkeyPatch, sigma_sq: Fraction, prefix_bits: int
) -> None:
    """Same random words, same draws; 4 revealed bits send most decisions to Python."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", prefix_bits)
    for seed, count in ((1, 1), (2, 7), (3, 1_001), (4, 16_000)):
        expected = _one_pass(monkeypatch, sigma_sq, count, seed, compiled=False)
        actual = _one_pass(monkeypatch, sigma_sq, count, seed, compiled=True)
        np.testing.assert_array_equal(actual, expected)


@settings(max_examples=10)
@given(
    numerator=st.integers(1, 10**6),
    denominator=st.integers(1, 1_000),
    count=st.integers(1, 3_000),
    seed=st.integers(0, 2**32),
)
def test_compiled_pass_equals_numpy_pass_property(
    numerator: int, denominator: int, count: int, seed: int
) -> None:
    sigma_sq = Fraction(numerator, denominator)
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = _one_pass(monkeypatch, sigma_sq, count, seed, compiled=False)
        actual = _one_pass(monkeypatch, sigma_sq, count, seed, compiled=True)
    np.testing.assert_array_equal(actual, expected)


def test_compiled_pass_past_the_acceptance_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Magnitudes beyond the tabulated ones are decided in Python, identically."""
    monkeypatch.setattr(samplers, "_TABLE_MAX", 4)
    samplers._gaussian_plan.cache_clear()
    try:
        expected = _one_pass(monkeypatch, Fraction(9), 5_000, 7, compiled=False)
        actual = _one_pass(monkeypatch, Fraction(9), 5_000, 7, compiled=True)
    finally:
        samplers._gaussian_plan.cache_clear()
    np.testing.assert_array_equal(actual, expected)
    assert np.abs(actual).max() >= 4  # the Python decision was exercised


@pytest.mark.parametrize("sigma", [0.4, 3.0, 250.0])
def test_numpy_path_matches_exact_pmf(sigma: float) -> None:
    """The numpy fast path, which runs without numba, draws from the same law."""
    with _compiled.compiled_disabled():
        assert _compiled.kernels() is None
        x = sample_discrete_gaussian_sq(Fraction(sigma) ** 2, 60_000)
    assert chi_square_pvalue(x, symmetric_support(12 * sigma), discrete_gaussian_pmf(sigma**2)) > (
        ALPHA
    )


@pytest.mark.parametrize("prefix_bits", [32, 4])
def test_compiled_rounding_equals_numpy_rounding(
    monkeypatch: pytest.MonkeyPatch, prefix_bits: int
) -> None:
    """Conditional rounding draws the same coins on both paths, slow path included."""
    monkeypatch.setattr(_bernoulli, "PREFIX_BITS", prefix_bits)
    values = np.linspace(-40.0, 40.0, 40_003) + 1 / 3
    values[::7] = np.round(values[::7])  # fractional part 0: never rounded up
    results = []
    for compiled in (False, True):
        _deterministic(monkeypatch, 11)
        if compiled:
            results.append(conditional_round(values, bound=1e9))
        else:
            with _compiled.compiled_disabled():
                results.append(conditional_round(values, bound=1e9))
    np.testing.assert_array_equal(results[1], results[0])
    assert set(np.unique(results[1] - np.floor(values))) == {0, 1}


def test_a_kernel_that_fails_to_compile_falls_back_to_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A numba failure at first use warns and leaves the numpy paths, never a crash."""
    from dp.mechanisms import _numba_kernels

    def broken() -> None:
        raise RuntimeError("no LLVM target for this CPU")

    monkeypatch.setattr(_numba_kernels, "warm_up", broken)
    _compiled._load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="numpy fast paths"):
            assert _compiled.kernels() is None
        x = sample_discrete_gaussian_sq(Fraction(9), 20_000)
    finally:
        monkeypatch.undo()
        _compiled._load.cache_clear()
    assert chi_square_pvalue(x, symmetric_support(36), discrete_gaussian_pmf(9.0)) > ALPHA
    assert _compiled.kernels() is _numba_kernels
