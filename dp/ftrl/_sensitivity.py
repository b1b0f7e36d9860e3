"""Sensitivity of a factorisation's encoder ``C`` under a participation schema.

One client's contribution is a set of rounds ``pi`` (a participation pattern) and a unit
vector ``g_i`` for each; the encoder's output changes by ``sum_{i in pi} C[:, i] g_i``. Its
largest L2 norm over patterns and unit vectors is the sensitivity (Choquette-Choo, McMahan,
Rush and Thakurta 2023, "Multi-epoch matrix factorization mechanisms", section 2, with the
Gram matrix ``X = C^T C``):

    sens^2 = max_pi  max_{|g_i| <= 1}  sum_{i, j in pi} X_ij <g_i, g_j>.

Taking every ``g_i`` equal gives ``1^T X_pi 1`` for any pattern, a lower bound; bounding each
inner product by one gives ``sum |X_ij|``, an upper bound, equal to the lower bound when
``X >= 0`` entrywise (their section 3). This module holds the pattern search shared by the
strategies: an exact dynamic programme for the max of a separable weight, and a generic
conservative bound for any ``C``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "best_pattern_sum",
    "generic_upper_bound",
    "gram_pattern_value",
    "strided_pattern",
]


def strided_pattern(columns: int, k: int, b: int, start: int = 0) -> list[int]:
    """The pattern ``start, start + b, ...`` with at most ``k`` rounds below ``columns``."""
    return [start + j * b for j in range(k) if start + j * b < columns]


def gram_pattern_value(gram: NDArray[np.float64], pattern: list[int]) -> float:
    """``1^T X_pi 1``: the squared norm when one unit vector is sent at every round of ``pi``."""
    idx = np.asarray(pattern, dtype=np.intp)
    return float(gram[np.ix_(idx, idx)].sum())


def best_pattern_sum(weights: NDArray[np.float64], k: int, b: int) -> tuple[float, list[int]]:
    """Max of ``sum_{i in pi} w_i`` over patterns of at most ``k`` rounds pairwise ``>= b`` apart.

    Exact dynamic programme over (rounds used, last round): ``O(n k)`` with running maxima.
    Weights must be ``>= 0`` (then using more rounds never hurts). Returns the value and one
    maximising pattern.
    """
    w = np.asarray(weights, dtype=np.float64)
    n = w.size
    k = min(k, (n - 1) // b + 1)
    best = w.copy()  # best[i]: best sum of j rounds whose last round is i
    layers = [best]
    for _ in range(1, k):
        prefix = np.maximum.accumulate(best)
        nxt = np.full(n, -np.inf)
        nxt[b:] = w[b:] + prefix[: n - b]
        best = nxt
        layers.append(best)
    values = [float(layer.max()) for layer in layers]
    j = int(np.argmax(values))
    # Walk back through the layers to recover a maximising pattern.
    pattern: list[int] = []
    i = int(np.argmax(layers[j]))
    total = values[j]
    while True:
        pattern.append(i)
        if j == 0:
            break
        remaining = layers[j][i] - w[i]
        prev = layers[j - 1][: i - b + 1]
        i = int(np.argmin(np.abs(prev - remaining)))  # the predecessor (up to rounding)
        j -= 1
    return total, sorted(pattern)


def generic_upper_bound(gram: NDArray[np.float64], k: int, b: int) -> float:
    """A conservative ``sens^2`` for any encoder from its Gram matrix ``X = C^T C``.

    For a pattern ``pi`` and unit vectors, ``sum_{i,j in pi} X_ij <g_i, g_j>`` is at most
    ``sum_{i in pi} r_i`` with ``r_i = |X_ii| +`` the ``k - 1`` largest ``|X_ij|`` over rounds
    ``j`` at least ``b`` away from ``i`` (the other rounds of ``pi`` are among them); the
    largest such sum over patterns is then an exact dynamic programme.
    """
    n = gram.shape[0]
    k = min(k, (n - 1) // b + 1)
    absolute = np.abs(gram)
    row = np.diagonal(absolute).copy()
    if k > 1:
        far = absolute.copy()
        i, j = np.indices(far.shape)
        far[np.abs(i - j) < b] = 0.0
        far.sort(axis=1)
        row += far[:, ::-1][:, : k - 1].sum(axis=1)
    value, _ = best_pattern_sum(row, k, b)
    return value
