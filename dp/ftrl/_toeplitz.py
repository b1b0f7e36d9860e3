"""Lower-triangular Toeplitz helpers shared by the banded and BLT strategies.

A lower-triangular Toeplitz matrix is its first column ``c`` (``C[i, j] = c_(i-j)``); its
inverse is Toeplitz with the power-series inverse of ``c``, computed as the impulse
response of the recursive filter ``1 / c(x)``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import toeplitz
from scipy.signal import lfilter

from dp.ftrl._sensitivity import generic_upper_bound, gram_pattern_value, strided_pattern
from dp.ftrl.schema import ParticipationSchema

__all__ = [
    "inverse_coefs",
    "lower_toeplitz",
    "monotone",
    "single_threaded_blas",
    "sqrt_coefs",
    "strided_column_sum",
    "toeplitz_sensitivity_bounds",
]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while optimising, when ``threadpoolctl`` is installed.

    The optimisers make thousands of tiny products; a multi-threaded BLAS spinning its
    threads on a busy 2-core machine made them ten times slower in wall time.
    """
    try:
        from threadpoolctl import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            threadpool_limits,
        )
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def pad(coefs: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """``coefs`` cut or zero-padded to ``n`` entries."""
    out = np.zeros(n)
    m = min(n, coefs.size)
    out[:m] = coefs[:m]
    return out


def inverse_coefs(coefs: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """The first ``n`` coefficients of ``1 / c(x)`` (the first column of ``C^{-1}``)."""
    impulse = np.zeros(n)
    impulse[0] = 1.0
    out: NDArray[np.float64] = lfilter([1.0], coefs[: max(1, min(coefs.size, n))], impulse)
    return out


def lower_toeplitz(coefs: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """The ``n x n`` lower-triangular Toeplitz matrix with first column ``coefs``."""
    out: NDArray[np.float64] = toeplitz(pad(coefs, n), np.zeros(n))
    return out


def sqrt_coefs(n: int) -> NDArray[np.float64]:
    """Coefficients of ``(1 - x)^(-1/2)``: ``binom(2m, m) / 4^m``, the square-root factorisation.

    The Toeplitz square root of the prefix-sum matrix (Fichtenberger, Henzinger and Upadhyay
    2023; Henzinger, Upadhyay and Upadhyay 2023), near-optimal for single participation; the
    starting point of both optimisers.
    """
    m = np.arange(1, n)
    return np.concatenate([[1.0], np.cumprod((2.0 * m - 1.0) / (2.0 * m))])


def monotone(coefs: NDArray[np.float64]) -> bool:
    """Whether the coefficients are non-negative and non-increasing."""
    return bool(np.all(coefs >= 0.0) and np.all(np.diff(coefs) <= 0.0))


def strided_column_sum(coefs: NDArray[np.float64], n: int, k: int, b: int) -> NDArray[np.float64]:
    """``sum_{j < k} C[:, j b]`` for the ``n x n`` lower-triangular Toeplitz ``C``."""
    comb = np.zeros(n)
    comb[: k * b : b] = 1.0
    out: NDArray[np.float64] = np.convolve(pad(coefs, n), comb)[:n]
    return out


def toeplitz_sensitivity_bounds(
    coefs: NDArray[np.float64],
    n: int,
    schema: ParticipationSchema,
    *,
    known_monotone: bool = False,
) -> tuple[float, float]:
    """Squared-sensitivity bounds of the ``n x n`` lower-triangular Toeplitz ``C``.

    Exact when the coefficients are non-negative and non-increasing: the maximising pattern
    is then ``0, b, ..., (k - 1) b`` with one vector throughout (Kalinin and Lampert 2024,
    "Banded square root matrix factorization for differentially private model training";
    McMahan, Xu and Zhang 2024, "A hassle-free algorithm for private learning in practice",
    use it for BLTs under min-separation; the tests check it against brute force over all
    patterns). Otherwise the strided
    value is a lower bound and the generic Gram bound (``n <= 4096``) or the triangle
    inequality ``(k |c|)^2`` an upper one. ``known_monotone`` says the coefficients are
    non-increasing by construction (a BLT), where float rounding of nearly equal neighbours
    must not demote the exact result to a bound.
    """
    k, b = schema.effective_participations, schema.min_separation
    column = strided_column_sum(coefs, n, k, b)
    strided = float(column @ column)
    if k == 1:
        return strided, strided  # the first column has the largest norm
    if known_monotone or monotone(pad(coefs, n)):
        return strided, strided
    if n <= 4096:
        c = lower_toeplitz(coefs, n)[:, : schema.rounds]
        gram = c.T @ c
        lower = max(strided, gram_pattern_value(gram, strided_pattern(schema.rounds, k, b)))
        return lower, max(lower, generic_upper_bound(gram, k, b))
    full = pad(coefs, n)
    return strided, max(strided, (k * math.sqrt(float(full @ full))) ** 2)
