"""Goodness-of-fit helpers for the sampler tests (no tests here): binned chi-square vs a pmf."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import stats

# Each distribution test may fail by chance with this probability; the suite runs ~20.
ALPHA = 1e-5


def chi_square_pvalue(
    samples: NDArray[np.int64],
    support: NDArray[np.int64],
    pmf: Callable[[NDArray[np.int64]], NDArray[np.float64]],
    *,
    min_expected: float = 20.0,
) -> float:
    """P-value of a chi-square test of ``samples`` against ``pmf`` on ``support``.

    Consecutive support points are merged into bins of expected count >= ``min_expected``;
    everything below (above) the support is pooled into the first (last) bin, so the bins
    cover all of Z and the test has no blind spot in the tails.
    """
    n = samples.size
    probs = pmf(support)
    probs = probs / probs.sum()
    edges = [int(support[0])]
    acc = 0.0
    bin_probs = []
    for value, p in zip(support.tolist(), probs.tolist(), strict=True):
        acc += p
        if acc * n >= min_expected:
            bin_probs.append(acc)
            edges.append(value + 1)
            acc = 0.0
    bin_probs[-1] += acc
    edges[-1] = int(support[-1]) + 1
    inner = np.asarray(edges[1:-1])
    observed = np.bincount(np.searchsorted(inner, samples, side="right"), minlength=len(bin_probs))
    expected = np.asarray(bin_probs) * n
    return float(stats.chisquare(observed, expected).pvalue)


def discrete_gaussian_pmf(sigma_sq: float) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    def pmf(x: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.exp(-(x.astype(np.float64) ** 2) / (2 * sigma_sq))

    return pmf


def discrete_laplace_pmf(scale: float) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    def pmf(x: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.exp(-np.abs(x.astype(np.float64)) / scale)

    return pmf


def poisson_pmf(mean: float) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    def pmf(x: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(stats.poisson.pmf(x, mean), dtype=np.float64)

    return pmf


def skellam_pmf(mu: float) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
    def pmf(x: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(stats.skellam.pmf(x, mu, mu), dtype=np.float64)

    return pmf


def symmetric_support(spread: float) -> NDArray[np.int64]:
    half = int(np.ceil(spread)) + 5
    return np.arange(-half, half + 1)
