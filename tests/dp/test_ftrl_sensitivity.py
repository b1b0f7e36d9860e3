"""DP-FTRL sensitivity against brute force over every participation pattern (small n)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp.ftrl import BandedStrategy, BLTStrategy, ParticipationSchema, TreeAggregation
from dp.ftrl._sensitivity import best_pattern_sum, generic_upper_bound
from dp.ftrl._toeplitz import lower_toeplitz, toeplitz_sensitivity_bounds


def patterns(columns: int, k: int, b: int) -> list[tuple[int, ...]]:
    """Every non-empty pattern of at most k rounds below ``columns``, pairwise >= b apart."""
    out: list[tuple[int, ...]] = []
    for size in range(1, k + 1):
        for combo in itertools.combinations(range(columns), size):
            if all(y - x >= b for x, y in itertools.pairwise(combo)):
                out.append(combo)
    return out


def brute_force_sq(c: np.ndarray, schema: ParticipationSchema) -> float:
    """max over patterns of ||C 1_pi||^2: the exact squared sensitivity when C^T C >= 0."""
    gram = c.T @ c
    best = 0.0
    for pattern in patterns(schema.rounds, schema.max_participations, schema.min_separation):
        idx = np.array(pattern)
        best = max(best, float(gram[np.ix_(idx, idx)].sum()))
    return best


SCHEMAS = [(10, 1, 1), (10, 2, 3), (10, 3, 2), (11, 4, 3), (12, 3, 4), (9, 9, 1), (12, 2, 5)]


@pytest.mark.parametrize(("n", "k", "b"), SCHEMAS)
def test_tree_sensitivity_matches_brute_force(n: int, k: int, b: int) -> None:
    tree = TreeAggregation(n)
    schema = ParticipationSchema(n, k, b)
    exact = brute_force_sq(tree.encoder_matrix(), schema)
    lower, upper = tree.sensitivity_squared_bounds(schema)
    assert lower <= exact + 1e-9
    assert upper >= exact - 1e-9
    if tree.sensitivity_is_exact(schema):
        assert tree.sensitivity(schema) == pytest.approx(np.sqrt(exact), rel=1e-12)


def test_tree_single_participation_is_the_number_of_levels() -> None:
    for n in (1, 2, 3, 7, 8, 100, 2000):
        schema = ParticipationSchema(n)
        assert TreeAggregation(n).sensitivity(schema) ** 2 == pytest.approx(n.bit_length())
        assert TreeAggregation(n).sensitivity_is_exact(schema)


@pytest.mark.parametrize(("n", "k", "b"), SCHEMAS)
def test_banded_sensitivity_matches_brute_force(n: int, k: int, b: int) -> None:
    rng = np.random.default_rng(n * 100 + k * 10 + b)
    for bands in sorted({1, min(b, n), min(b + 2, n)}):
        coefs = np.concatenate([[1.0], rng.uniform(-0.6, 0.9, bands - 1)])
        strategy = BandedStrategy(n, coefs)
        schema = ParticipationSchema(n, k, b)
        lower, upper = strategy.sensitivity_squared_bounds(schema)
        c = strategy.encoder_matrix()
        if np.all(c.T @ c >= 0) or bands <= b or schema.effective_participations == 1:
            exact = brute_force_sq(c, schema)
            assert upper >= exact - 1e-9
            assert lower <= exact + 1e-9
        if bands <= b or schema.effective_participations == 1:
            assert lower == pytest.approx(upper, rel=1e-12)


@pytest.mark.parametrize(("n", "k", "b"), SCHEMAS)
def test_blt_sensitivity_exact_and_matches_brute_force(n: int, k: int, b: int) -> None:
    strategy = BLTStrategy(n, [0.95, 0.6, 0.2], [0.25, 0.3, 0.2])
    schema = ParticipationSchema(n, k, b)
    assert strategy.sensitivity_is_exact(schema)
    exact = brute_force_sq(strategy.encoder_matrix(), schema)
    assert strategy.sensitivity(schema) ** 2 == pytest.approx(exact, rel=1e-12)


@given(
    coefs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=9),
    k=st.integers(1, 4),
    b=st.integers(1, 4),
)
def test_monotone_toeplitz_strided_pattern_is_worst(coefs: list[float], k: int, b: int) -> None:
    """Kalinin and Lampert 2024: non-negative non-increasing Toeplitz -> 0, b, 2b, ... is worst."""
    n = 9
    c = np.concatenate([[1.0], np.sort(np.asarray(coefs) * 0.999)[::-1]])[:n]
    schema = ParticipationSchema(n, k, b)
    lower, upper = toeplitz_sensitivity_bounds(c, n, schema)
    assert lower == upper
    assert upper == pytest.approx(brute_force_sq(lower_toeplitz(c, n), schema), rel=1e-12)


@given(
    coefs=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=8),
    k=st.integers(2, 4),
    b=st.integers(1, 3),
)
def test_non_monotone_toeplitz_upper_bound_is_conservative(
    coefs: list[float], k: int, b: int
) -> None:
    n = 8
    c = np.concatenate([[1.0], np.asarray(coefs)])[:n]
    schema = ParticipationSchema(n, k, b)
    lower, upper = toeplitz_sensitivity_bounds(c, n, schema)
    # Equal vectors reach ||C 1_pi||^2 for every pattern: a valid lower bound on sens^2.
    assert upper >= brute_force_sq(lower_toeplitz(c, n), schema) - 1e-9
    assert lower <= upper
    # And the generic bound dominates the sum of |X_ij| over the worst pattern.
    gram = np.abs(lower_toeplitz(c, n).T @ lower_toeplitz(c, n))
    worst = max(gram[np.ix_(p, p)].sum() for p in map(list, patterns(n, k, b)))
    assert generic_upper_bound(lower_toeplitz(c, n).T @ lower_toeplitz(c, n), k, b) >= worst - 1e-9


@given(
    weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=11),
    k=st.integers(1, 5),
    b=st.integers(1, 5),
)
def test_best_pattern_sum_matches_enumeration(weights: list[float], k: int, b: int) -> None:
    w = np.asarray(weights)
    value, pattern = best_pattern_sum(w, k, b)
    expected = max(sum(w[list(p)]) for p in patterns(w.size, k, b))
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert sum(w[pattern]) == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert ParticipationSchema(w.size, k, b).allows(pattern)


def test_schema_shorter_than_strategy_only_counts_its_rounds() -> None:
    strategy = BLTStrategy(12, [0.9], [0.5])
    short = ParticipationSchema(6, 2, 3)
    exact = brute_force_sq(strategy.encoder_matrix()[:, :6], short)
    assert strategy.sensitivity(short) ** 2 == pytest.approx(exact, rel=1e-12)


def test_blt_exactness_follows_its_parameters() -> None:
    schema = ParticipationSchema(12, 3, 4)
    # Decays near 1 make neighbouring coefficients equal to rounding; still exact by construction.
    slow = BLTStrategy(12, [1.0 - 1e-12, 0.5], [0.5, 0.5])
    assert slow.sensitivity_is_exact(schema)
    assert slow.sensitivity(schema) ** 2 == pytest.approx(
        brute_force_sq(slow.encoder_matrix(), schema), rel=1e-12
    )
    # sum(omega) > 1: c_1 > c_0, the strided formula is not proven; a conservative bound is used.
    steep = BLTStrategy(12, [0.9, 0.2], [0.8, 0.7])
    lower, upper = steep.sensitivity_squared_bounds(schema)
    assert upper >= brute_force_sq(steep.encoder_matrix(), schema) - 1e-9
    assert lower <= upper
