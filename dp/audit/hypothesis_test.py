"""Clopper-Pearson lower bounds from a hypothesis test over repeated runs.

The classical audit (Jagielski, Ullman and Oprea 2020, "Auditing differentially private
machine learning: how private is private SGD?"; Nasr, Song, Thakurta, Papernot and Carlini
2021, "Adversary instantiation"): run a mechanism many times on each of two neighbouring
inputs, reject "input 0" when a statistic of the output crosses a threshold, and count
false positives and false negatives. An ``(epsilon, delta)``-DP mechanism has, for every
test, ``FPR + e^eps FNR >= 1 - delta`` and ``FNR + e^eps FPR >= 1 - delta`` (Kairouz, Oh and
Viswanath 2015, Theorem 2.1), so

    ``epsilon >= max(log((1 - delta - FNR) / FPR), log((1 - delta - FPR) / FNR))``.

The rates are replaced by their exact one-sided Clopper-Pearson (1934) upper bounds, each
at ``1 - (1 - confidence) / 2`` (``scipy.stats.beta`` quantiles), so the bound holds with
probability at least ``confidence``. The threshold is chosen on a separate part of the
samples, so choosing it costs no confidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from dp.audit._checks import count, nonnegative, probability, real_vector
from dp.audit.result import AuditResult
from dp.errors import InvalidArgument

__all__ = [
    "audit_mechanism",
    "audit_samples",
    "clopper_pearson_upper",
    "epsilon_from_error_counts",
]

#: Number of candidate thresholds (quantiles of the selection samples) tried.
_THRESHOLDS = 256


def clopper_pearson_upper(successes: int, trials: int, level: float) -> float:
    """The exact one-sided Clopper-Pearson upper bound on a binomial proportion.

    ``P[p <= bound] >= level`` over the draw of ``successes ~ Binomial(trials, p)``:
    the ``level`` quantile of ``Beta(successes + 1, trials - successes)`` (1 if all succeed).

    Raises:
        InvalidArgument: not ``0 <= successes <= trials``, ``trials == 0``, or ``level``
            outside (0, 1).
    """
    trials = count("trials", trials, minimum=1)
    successes = count("successes", successes, maximum=trials)
    level = probability("level", level)
    if successes == trials:
        return 1.0
    return float(stats.beta.ppf(level, successes + 1, trials - successes))


def epsilon_from_error_counts(
    false_positives: int,
    negatives: int,
    false_negatives: int,
    positives: int,
    *,
    delta: float,
    confidence: float = 0.95,
) -> float:
    """The epsilon lower bound of a test with the given error counts, at ``confidence``.

    ``negatives`` runs on input 0 of which ``false_positives`` were flagged, ``positives``
    runs on input 1 of which ``false_negatives`` were missed; see the module docstring.
    Returns 0 when the counts refute nothing.

    Raises:
        InvalidArgument: counts out of range, ``delta`` outside [0, 1), ``confidence``
            outside (0, 1).
    """
    delta = probability("delta", delta, open_low=False)
    level = 1.0 - (1.0 - probability("confidence", confidence)) / 2.0
    fpr = clopper_pearson_upper(false_positives, negatives, level)
    fnr = clopper_pearson_upper(false_negatives, positives, level)
    best = 0.0
    for numerator, denominator in ((1.0 - delta - fnr, fpr), (1.0 - delta - fpr, fnr)):
        if numerator > 0.0 and denominator > 0.0:
            best = max(best, math.log(numerator / denominator))
    return best


def _bound_at(
    sorted_0: NDArray[np.float64],
    sorted_1: NDArray[np.float64],
    threshold: float,
    delta: float,
    confidence: float,
) -> float:
    """The bound of the test ``flag input 1 iff statistic > threshold`` on sorted samples."""
    false_positives = sorted_0.size - int(np.searchsorted(sorted_0, threshold, side="right"))
    false_negatives = int(np.searchsorted(sorted_1, threshold, side="right"))
    return epsilon_from_error_counts(
        false_positives,
        sorted_0.size,
        false_negatives,
        sorted_1.size,
        delta=delta,
        confidence=confidence,
    )


def audit_samples(
    statistics_0: ArrayLike,
    statistics_1: ArrayLike,
    *,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    selection_fraction: float = 0.5,
) -> AuditResult:
    """Clopper-Pearson audit from a statistic of many runs on each of two neighbours.

    The statistics must come from independent runs, in the order they were drawn. The
    first ``selection_fraction`` of each sample picks the threshold and direction
    (larger statistic means input 1, or the reverse) whose bound is largest there; the rest,
    independent of that choice, gives the reported bound (:func:`epsilon_from_error_counts`).

    Raises:
        InvalidArgument: fewer than 4 runs per input, non-finite statistics, ``delta``,
            ``confidence`` or ``selection_fraction`` outside (0, 1).
    """
    s0 = real_vector("statistics_0", statistics_0)
    s1 = real_vector("statistics_1", statistics_1)
    delta = probability("delta", delta)
    confidence = probability("confidence", confidence)
    fraction = probability("selection_fraction", selection_fraction)
    if claimed_epsilon is not None:
        claimed_epsilon = nonnegative("claimed_epsilon", claimed_epsilon)
    if min(s0.size, s1.size) < 4:
        raise InvalidArgument("at least 4 runs on each input are needed")
    cut0 = min(max(1, int(s0.size * fraction)), s0.size - 1)
    cut1 = min(max(1, int(s1.size * fraction)), s1.size - 1)
    pick0, keep0 = np.sort(s0[:cut0]), np.sort(s0[cut0:])
    pick1, keep1 = np.sort(s1[:cut1]), np.sort(s1[cut1:])
    pooled = np.concatenate([pick0, pick1])
    candidates = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, _THRESHOLDS)))
    # The best threshold on the selection half; among equally good ones (a plateau, e.g.
    # perfectly separated samples) the middle one, so the held-out half is not judged at
    # the plateau's edge.
    best, choice = -1.0, (float(candidates[0]), 1.0)
    for sign in (1.0, -1.0):
        a, b = (pick0, pick1) if sign > 0 else (np.sort(-pick0), np.sort(-pick1))
        thresholds = sign * candidates
        values = np.array([_bound_at(a, b, float(t), delta, confidence) for t in thresholds])
        top = float(values.max())
        if top > best:
            plateau = np.flatnonzero(values >= top - 1e-12)
            best, choice = top, (float(thresholds[plateau[plateau.size // 2]]), sign)
    t, sign = choice
    a, b = (keep0, keep1) if sign > 0 else (np.sort(-keep0), np.sort(-keep1))
    bound = _bound_at(a, b, t, delta, confidence)
    return AuditResult(
        method="clopper_pearson",
        delta=delta,
        epsilon_lower_bound=bound,
        confidence=confidence,
        epsilon_estimate=None,
        mu_lower_bound=None,
        mu_estimate=None,
        claimed_epsilon=claimed_epsilon,
        canaries=int(s0.size + s1.size),
    )


def audit_mechanism(
    mechanism: Callable[[NDArray[np.float64]], ArrayLike],
    input_0: ArrayLike,
    input_1: ArrayLike,
    *,
    trials: int,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    statistic: Callable[[NDArray[np.float64]], float] | None = None,
) -> AuditResult:
    """Run ``mechanism`` ``trials`` times on each neighbouring input and audit the outputs.

    The default statistic projects the output on ``input_1 - input_0`` (the Neyman-Pearson
    test for Gaussian noise). Its noise must come from the mechanism itself (the library's
    samplers draw from the OS CSPRNG); this function adds none. See :func:`audit_samples`.

    Raises:
        InvalidArgument: inputs of different shapes or equal, ``trials < 4``, and as
            :func:`audit_samples`.
    """
    x0 = np.asarray(input_0, dtype=np.float64)
    x1 = np.asarray(input_1, dtype=np.float64)
    trials = count("trials", trials, minimum=4, maximum=10**9)
    if x0.shape != x1.shape:
        raise InvalidArgument("the neighbouring inputs must have the same shape")
    direction = (x1 - x0).ravel()
    if statistic is None:
        norm = float(np.linalg.norm(direction))
        if norm == 0.0:
            raise InvalidArgument("the neighbouring inputs are equal")
        unit = direction / norm

        def statistic(out: NDArray[np.float64]) -> float:
            return float(np.dot(np.asarray(out, dtype=np.float64).ravel(), unit))

    s0 = np.array([statistic(np.asarray(mechanism(x0), dtype=np.float64)) for _ in range(trials)])
    s1 = np.array([statistic(np.asarray(mechanism(x1), dtype=np.float64)) for _ in range(trials)])
    return audit_samples(
        s0, s1, delta=delta, confidence=confidence, claimed_epsilon=claimed_epsilon
    )
