"""DP-FTRL noise streams: exactly ``N z`` for recorded ``z``, and the right covariance."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from dp.errors import InvalidArgument
from dp.ftrl import (
    BandedStrategy,
    BLTStrategy,
    ParticipationSchema,
    Strategy,
    TreeAggregation,
    standard_normals,
)


class CounterSource:
    """A deterministic byte source (SHAKE-256 of a counter): for replaying draws in tests."""

    def __init__(self, label: bytes) -> None:
        self.label = label
        self.calls = 0

    def __call__(self, count: int) -> bytes:
        self.calls += 1
        return hashlib.shake_256(self.label + self.calls.to_bytes(8, "big")).digest(count)


def strategies(n: int) -> list[Strategy]:
    return [
        TreeAggregation(n),
        BandedStrategy(n, [1.0, 0.5, 0.3]),
        BLTStrategy(n, [0.9, 0.4], [0.3, 0.2]),
        BLTStrategy(n, [0.99, 0.9, 0.6, 0.3, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1]),
    ]


@pytest.mark.parametrize("strategy", strategies(11), ids=repr)
def test_stream_is_the_noise_matrix_applied_to_its_draws(strategy: Strategy) -> None:
    """Replaying the byte source gives the z draws; the stream must output exactly N z."""
    d, sigma = 5, 1.7
    stream = strategy.noise_stream(d, sigma, seed_source=CounterSource(b"x"))
    outputs = []
    for _ in range(strategy.rounds):
        w = stream.next()
        outputs.append(w.copy())
        w += 1e6  # as a caller adding the aggregate in place: must not leak into the state
    outputs = np.array(outputs)
    replay = CounterSource(b"x")
    m = strategy.noise_matrix().shape[1]
    draws = np.array([sigma * standard_normals(d, replay) for _ in range(m)])
    expected = strategy.noise_matrix() @ draws
    np.testing.assert_allclose(outputs, expected, rtol=1e-11, atol=1e-11)
    with pytest.raises(InvalidArgument, match="exhausted"):
        stream.next()


@pytest.mark.parametrize("strategy", strategies(6), ids=repr)
def test_stream_covariance_matches_factorisation(strategy: Strategy) -> None:
    """Across d coordinates (i.i.d. copies), the empirical covariance is sigma^2 N N^T.

    Each entry's estimate has standard deviation sqrt((S_ii S_jj + S_ij^2) / d); 6.5 of them
    bound a failure below 1e-9 per entry (Gaussian tails of a mean of 60,000 products).
    """
    d, sigma = 60_000, 0.8
    stream = strategy.noise_stream(d, sigma)
    w = np.array([stream.next() for _ in range(strategy.rounds)])
    empirical = w @ w.T / d
    n_mat = strategy.noise_matrix()
    cov = sigma**2 * n_mat @ n_mat.T
    spread = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / d)
    assert np.all(np.abs(empirical - cov) <= 6.5 * spread)


def test_state_sizes() -> None:
    d = 1000
    blt = BLTStrategy(50, [0.9, 0.8, 0.7, 0.6, 0.5], [0.1] * 5)
    assert blt.noise_stream(d, 1.0).state_floats == 5 * d
    assert BandedStrategy(50, [1.0, 0.5, 0.25]).noise_stream(d, 1.0).state_floats == 2 * d
    assert TreeAggregation(50).noise_stream(d, 1.0).state_floats == 6 * d


def test_zero_noise_std_gives_zero_noise() -> None:
    stream = BLTStrategy(3, [0.5], [0.5]).noise_stream(4, 0.0)
    assert not np.any(stream.next())
    assert stream.round == 1


def test_standard_normals_moments() -> None:
    """Mean, variance and tail mass of 400,001 draws, each within ~6.5 standard errors."""
    count = 400_001
    x = standard_normals(count)
    assert x.shape == (count,)
    assert x.dtype == np.float64
    assert abs(x.mean()) < 6.5 / math.sqrt(count)
    assert abs(x.var() - 1.0) < 6.5 * math.sqrt(2.0 / count)
    tail = float(np.mean(np.abs(x) > 2.0))  # P(|Z| > 2) = 0.0455
    assert abs(tail - 0.04550026) < 6.5 * math.sqrt(0.0455 * 0.9545 / count)


def test_standard_normals_refuses_short_sources() -> None:
    with pytest.raises(ValueError, match="bytes"):
        standard_normals(10, lambda count: b"\x00" * (count - 1))


@pytest.mark.parametrize(
    ("dimension", "noise_std"),
    [(0, 1.0), (True, 1.0), (2.5, 1.0), (2**31, 1.0), (3, -1.0), (3, math.nan), (3, "1")],
)
def test_stream_refuses_bad_arguments(dimension: object, noise_std: object) -> None:
    with pytest.raises(InvalidArgument):
        BLTStrategy(4, [0.5], [0.5]).noise_stream(dimension, noise_std)  # type: ignore[arg-type]


def test_stream_refuses_non_callable_source() -> None:
    with pytest.raises(InvalidArgument):
        TreeAggregation(4).noise_stream(3, 1.0, seed_source=b"seed")  # type: ignore[arg-type]


def test_noise_std_for_schema_scales_with_sensitivity() -> None:
    """The accountant's contract: noise_std = multiplier * sensitivity under the schema."""
    schema = ParticipationSchema(16, 2, 8)
    strategy = BLTStrategy(16, [0.9, 0.5], [0.2, 0.3])
    assert strategy.sensitivity(schema) > BLTStrategy(16, [0.9, 0.5], [0.2, 0.3]).sensitivity(
        ParticipationSchema(16)
    )


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 100])
def test_tree_frontier_never_exceeds_its_declared_state(n: int) -> None:
    stream = TreeAggregation(n).noise_stream(2, 1.0)
    for _ in range(n):
        stream.next()
        assert len(stream._frontier.stack) * 2 <= stream.state_floats
    # The frontier holds one node per set bit of t + 1.
    assert stream._frontier.peak == max(bin(t).count("1") for t in range(1, n + 1))
