"""DP-FTRL expected-error formulas: closed forms, dense products and Monte Carlo."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import lfilter

from dp.ftrl import BandedStrategy, BLTStrategy, ParticipationSchema, Strategy, TreeAggregation


def honaker_prefix_variance(t: int) -> Fraction:
    """Variance of the prefix sum of rounds 0..t: sum over bits h of t + 1 of 2^h/(2^(h+1)-1)."""
    return sum(
        (Fraction(2**h, 2 ** (h + 1) - 1) for h in range((t + 1).bit_length()) if (t + 1) >> h & 1),
        Fraction(0),
    )


def test_honaker_closed_form_small_cases() -> None:
    tree = TreeAggregation(4)
    # Rounds 1..4: the leaf (1); leaves 0-1 merged (2/3); 2/3 + 1; the root (4/7).
    expected = [1.0, 2 / 3, 5 / 3, 4 / 7]
    np.testing.assert_allclose(tree.prefix_variances(), expected, rtol=1e-15)
    assert tree.expected_error() == pytest.approx(sum(expected) / 4, rel=1e-15)
    assert tree.expected_error(reduction="max") == pytest.approx(5 / 3, rel=1e-15)


@pytest.mark.parametrize("n", [1, 5, 8, 13, 64, 100])
def test_honaker_closed_form_equals_the_estimator_matrix(n: int) -> None:
    tree = TreeAggregation(n)
    product = np.cumsum(tree.noise_matrix(), axis=0)
    np.testing.assert_allclose(np.sum(product**2, axis=1), tree.prefix_variances(), rtol=1e-12)
    exact = [float(honaker_prefix_variance(t)) for t in range(n)]
    np.testing.assert_allclose(tree.prefix_variances(), exact, rtol=1e-15)
    # Honaker's estimator beats the plain tree (which sums popcount(t + 1) unit variances).
    plain = [bin(t + 1).count("1") for t in range(n)]
    assert np.all(tree.prefix_variances() <= np.asarray(plain) + 1e-12)


def strategies(n: int) -> list[Strategy]:
    return [
        TreeAggregation(n),
        BandedStrategy(n, [1.0, 0.6, 0.4, 0.1]),
        BLTStrategy(n, [0.95, 0.7, 0.3], [0.2, 0.15, 0.1]),
    ]


@pytest.mark.parametrize("strategy", strategies(20), ids=repr)
@pytest.mark.parametrize("reduction", ["mean", "max"])
def test_error_formulas_equal_dense_products(strategy: Strategy, reduction: str) -> None:
    n = strategy.rounds
    s = np.tril(np.ones((n, n)))
    beta = 0.9
    momentum = np.tril(beta ** np.subtract.outer(np.arange(n), np.arange(n)).clip(0))
    for kind, a in (("prefix", s), ("iterate", s @ momentum)):
        rows = np.sum((a @ strategy.noise_matrix()) ** 2, axis=1)
        want = rows.mean() if reduction == "mean" else rows.max()
        got = strategy.expected_error(kind, reduction=reduction, momentum=beta)
        assert got == pytest.approx(want, rel=1e-10)
    schema = ParticipationSchema(n, 3, 5)
    scaled = strategy.expected_error(schema=schema, reduction=reduction)
    assert scaled == pytest.approx(
        strategy.sensitivity(schema) ** 2 * strategy.expected_error(reduction=reduction), rel=1e-12
    )


@pytest.mark.parametrize("strategy", strategies(12), ids=repr)
def test_expected_error_against_monte_carlo(strategy: Strategy) -> None:
    """Prefix sums of the streamed noise: their mean squared error across d coordinates.

    Per coordinate the mean over rounds of the squared prefix error is a quadratic form Q
    in Gaussians with Var(Q) = 2 tr(Sigma^2) / n^2; the mean of d copies is within 6.5 of
    its standard errors except with probability < 1e-9.
    """
    d, sigma = 40_000, 1.3
    n = strategy.rounds
    stream = strategy.noise_stream(d, sigma)
    prefix = np.cumsum(np.array([stream.next() for _ in range(n)]), axis=0)
    observed = float(np.mean(prefix**2))
    want = sigma**2 * strategy.expected_error()
    product = np.cumsum(strategy.noise_matrix(), axis=0)
    cov = sigma**2 * product @ product.T
    stderr = math.sqrt(2.0 * float(np.sum(cov * cov)) / d) / n
    assert abs(observed - want) <= 6.5 * stderr
    # The iterate workload: heavy-ball momentum filter then prefix sums, as SGD would apply it.
    noise = np.diff(prefix, axis=0, prepend=0.0)
    iterates = np.cumsum(lfilter([1.0], [1.0, -0.5], noise, axis=0), axis=0)
    observed_iter = float(np.mean(iterates**2))
    want_iter = sigma**2 * strategy.expected_error("iterate", momentum=0.5)
    assert abs(observed_iter - want_iter) <= 0.1 * want_iter


def test_blt_beats_tree_and_banded_one_band_is_independent_noise() -> None:
    n = 64
    schema = ParticipationSchema(n)
    blt = BLTStrategy.optimise(schema, buffers=3)
    tree = TreeAggregation(n)
    independent = BandedStrategy(n, [1.0])
    assert blt.expected_error(schema=schema) < tree.expected_error(schema=schema)
    # C = I: each prefix sum t has t + 1 unit variances; mean (n + 1) / 2.
    assert independent.expected_error(schema=schema) == pytest.approx((n + 1) / 2, rel=1e-12)


def test_square_root_factorisation_known_answer() -> None:
    """C = S^(1/2) (coefficients binom(2m, m) / 4^m) gives S C^{-1} = C (Fichtenberger et al.

    2023): every prefix error is a column norm of C, the max error is ``(sum c_m^2)^2`` at
    noise multiplier 1.
    """
    from dp.ftrl._toeplitz import sqrt_coefs

    n = 2000
    c = sqrt_coefs(n)
    np.testing.assert_allclose(np.convolve(c, c)[:n], np.ones(n), rtol=1e-12)
    strategy = BandedStrategy(n, c)
    schema = ParticipationSchema(n)
    squares = float(np.sum(c * c))
    assert strategy.sensitivity(schema) ** 2 == pytest.approx(squares, rel=1e-12)
    assert strategy.expected_error(schema=schema, reduction="max") == pytest.approx(
        squares**2, rel=1e-9
    )
