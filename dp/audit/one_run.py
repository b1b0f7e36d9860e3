"""One-run auditing with canaries (Steinke, Nasr and Jagielski 2023).

"Privacy auditing with one (1) training run", NeurIPS 2023. Each of ``m`` canaries is
included in the training data independently with probability 1/2 (fair coins from the OS
CSPRNG); after one run the auditor guesses, for some canaries, whether they were included
and abstains on the rest. Their Theorem 3.1: if the run is ``epsilon``-DP, the number of
correct guesses among ``r`` guesses is stochastically dominated by
``Binomial(r, e^epsilon / (1 + e^epsilon))``; for ``(epsilon, delta)``-DP their
Algorithm 2 (via Proposition 5.7's bound) adds ``2 m delta`` times the largest average of
the binomial's lower mass to the tail. A run whose number of correct guesses has p-value at
most ``1 - confidence`` under that law refutes ``(epsilon, delta)``-DP; the largest
refuted epsilon is a lower bound holding with probability at least ``confidence``.

Guesses come from scores (higher = more likely included): the top ``k+`` are guessed in,
the bottom ``k-`` out, the rest abstain. :func:`audit_one_run` tries several ``(k+, k-)``
and pays for the choice with a Bonferroni correction, so the reported bound keeps its
confidence (the paper maximises over ``k`` without one).

Ceiling: with ``r`` guesses all correct, the bound cannot exceed
``logit((1 - confidence)^(1/r))``: about 5.8 for ``r = 1,000`` at 95%, 8.1 for 10,000.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from dp.audit._checks import (
    audit_inputs,
    bool_vector,
    count,
    nonnegative,
    probability,
    real_vector,
)
from dp.audit.gdp import gdp_epsilon
from dp.audit.result import AuditResult
from dp.errors import InvalidArgument

__all__ = [
    "audit_one_run",
    "count_correct",
    "default_guess_counts",
    "fit_gaussian_mu",
    "guesses_from_scores",
    "one_run_epsilon_lower_bound",
    "one_run_p_value",
]

#: Epsilon search range of the lower bound (beyond it nothing a run can show changes).
_EPSILON_MAX = 60.0


def guesses_from_scores(scores: ArrayLike, positives: int, negatives: int) -> NDArray[np.int8]:
    """Guesses from scores: ``+1`` for the highest, ``-1`` for the lowest, else abstain.

    The ``positives`` highest scores are guessed included, the ``negatives`` lowest
    excluded, and the rest get ``0``.

    Ties are broken by position (a stable sort), never by randomness, so the same scores
    always give the same guesses.

    Raises:
        InvalidArgument: non-finite scores or ``positives + negatives > len(scores)``.
    """
    values = real_vector("scores", scores)
    m = values.size
    positives = count("positives", positives, maximum=m)
    negatives = count("negatives", negatives, maximum=m)
    if positives + negatives > m:
        raise InvalidArgument(f"{positives} + {negatives} guesses exceed {m} canaries")
    order = np.argsort(values, kind="stable")
    guesses = np.zeros(m, dtype=np.int8)
    if negatives:
        guesses[order[:negatives]] = -1
    if positives:
        guesses[order[m - positives :]] = 1
    return guesses


def count_correct(inclusion: ArrayLike, guesses: ArrayLike) -> tuple[int, int]:
    """``(r, v)``: the number of guesses made (non-zero) and of correct ones.

    A guess ``+1`` is correct for an included canary, ``-1`` for an excluded one.

    Raises:
        InvalidArgument: lengths differ or guesses outside ``{-1, 0, 1}``.
    """
    included = bool_vector("inclusion", inclusion)
    made = np.asarray(guesses)
    if made.shape != included.shape or made.dtype.kind not in "iu":
        raise InvalidArgument("guesses must be integers, one per canary")
    if not np.all((made >= -1) & (made <= 1)):
        raise InvalidArgument("guesses must be -1, 0 or +1")
    signs = np.where(included, 1, -1)
    return int(np.count_nonzero(made)), int(np.count_nonzero(made * signs > 0))


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float = 0.0) -> float:
    """P-value of ``v`` or more correct guesses out of ``r`` under ``(epsilon, delta)``-DP.

    Steinke, Nasr and Jagielski (2023), Theorem 3.1 for ``delta = 0`` and their Algorithm 2
    for ``delta > 0``: with ``q = e^eps/(1+e^eps)`` and ``B ~ Binomial(r, q)``,
    ``p = P[B >= v] + 2 m delta * max_{1<=i<=v} P[v - i <= B < v] / i``, capped at 1.
    Computed with exact binomial masses (scipy), vectorised over ``i``.

    Raises:
        InvalidArgument: not ``0 <= v <= r <= m``, ``epsilon < 0`` or ``delta`` outside [0, 1).
    """
    m = count("m", m, minimum=1)
    r = count("r", r, maximum=m)
    v = count("v", v, maximum=r)
    epsilon = nonnegative("epsilon", epsilon)
    delta = probability("delta", delta, open_low=False)
    q = float(special.expit(epsilon))
    tail = float(stats.binom.sf(v - 1, r, q))
    if delta == 0.0 or v == 0:
        return min(1.0, tail)
    # P[B = v - i] for i = 1..v, accumulated: P[v - i <= B < v].
    masses = stats.binom.pmf(np.arange(v - 1, -1, -1), r, q)
    averages = np.cumsum(masses) / np.arange(1, v + 1)
    return min(1.0, tail + 2.0 * m * delta * float(np.max(averages)))


def one_run_epsilon_lower_bound(
    m: int, r: int, v: int, *, delta: float = 0.0, confidence: float = 0.95
) -> float:
    """The largest epsilon refuted at ``confidence`` by ``v`` correct out of ``r`` guesses.

    Bisection on :func:`one_run_p_value` (which grows with epsilon) to ``1e-6``; the lower
    end of the final bracket is returned, so the value is itself refuted. 0 when even
    ``epsilon = 0`` is not refuted.

    Raises:
        InvalidArgument: as :func:`one_run_p_value`, or ``confidence`` outside (0, 1).
    """
    alpha = 1.0 - probability("confidence", confidence)
    if one_run_p_value(m, r, v, 0.0, delta) > alpha:
        return 0.0
    low, high = 0.0, _EPSILON_MAX
    if one_run_p_value(m, r, v, high, delta) <= alpha:
        return high
    while high - low > 1e-6:
        mid = 0.5 * (low + high)
        if one_run_p_value(m, r, v, mid, delta) <= alpha:
            low = mid
        else:
            high = mid
    return low


def default_guess_counts(m: int) -> list[tuple[int, int]]:
    """The ``(positives, negatives)`` pairs :func:`audit_one_run` tries by default.

    Symmetric guesses on a geometric grid of total counts from ``m/64`` to ``m`` (at most
    seven pairs, so the Bonferroni correction costs at most a factor of 7 in the p-value).
    """
    m = count("m", m, minimum=1)
    pairs: list[tuple[int, int]] = []
    for share in (1, 2, 4, 8, 16, 32, 64):
        half = max(1, (m * share) // 128)
        pair = (half, half) if 2 * half <= m else (m, 0)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def fit_gaussian_mu(included: ArrayLike, excluded: ArrayLike) -> float:
    """The equal-variance Gaussian fit ``mu = (mean_in - mean_out) / pooled std``, >= 0.

    The Gaussian-DP ``mu`` of two score populations, as in Andrew et al. (2024, section 3);
    a point estimate, not a bound.

    Raises:
        InvalidArgument: fewer than two scores on a side, or no spread.
    """
    a = real_vector("included", included)
    b = real_vector("excluded", excluded)
    if a.size < 2 or b.size < 2:
        raise InvalidArgument("the Gaussian fit needs at least two scores on each side")
    pooled = math.sqrt(0.5 * (float(np.var(a, ddof=1)) + float(np.var(b, ddof=1))))
    if pooled == 0.0:
        raise InvalidArgument("scores without spread: the Gaussian fit is undefined")
    return max(0.0, (float(np.mean(a)) - float(np.mean(b))) / pooled)


def gaussian_estimate(
    values: NDArray[np.float64], included: NDArray[np.bool_], delta: float
) -> tuple[float | None, float | None]:
    """``(mu, epsilon)`` of the Gaussian fit of included against excluded scores.

    ``(None, None)`` when it is undefined (fewer than two scores on a side, no spread) or
    so large that no finite epsilon exists (``mu > 1e4``, e.g. a run without noise).
    """
    n_in = int(included.sum())
    if n_in < 2 or included.size - n_in < 2:
        return None, None
    a, b = values[included], values[~included]
    if float(np.var(a)) + float(np.var(b)) == 0.0:
        return None, None
    mu = fit_gaussian_mu(a, b)
    if mu > 1e4:
        return None, None
    return mu, gdp_epsilon(mu, delta)


def audit_one_run(
    inclusion: ArrayLike,
    scores: ArrayLike | None = None,
    *,
    guesses: ArrayLike | None = None,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    guess_counts: Sequence[tuple[int, int]] | None = None,
) -> AuditResult:
    """Audit one run from canary inclusion bits and scores (or ready-made guesses).

    Steinke, Nasr and Jagielski (2023), Theorem 3.1 / Algorithm 2 at the given ``delta``.
    With scores, every pair of ``guess_counts`` (default :func:`default_guess_counts`) is
    tried at confidence ``1 - (1 - confidence) / len(guess_counts)`` (Bonferroni), the
    best bound kept, and the Gaussian fit of the scores (:func:`fit_gaussian_mu`) reported
    as the estimate. With ``guesses`` (``-1``, ``0`` abstain, ``+1``) they are used as given.

    Args:
        inclusion: one boolean per canary, drawn uniformly at random before the run.
        scores: one real per canary, higher meaning "more likely included".
        guesses: instead of scores, the auditor's guesses.
        delta: the delta of the refuted ``(epsilon, delta)`` claims.
        confidence: probability that the bound holds for a correct mechanism.
        claimed_epsilon: the accountant's epsilon at ``delta``, recorded for comparison.
        guess_counts: ``(positives, negatives)`` pairs to try.

    Raises:
        InvalidArgument: exactly one of ``scores``/``guesses`` must be given; lengths,
            probabilities and counts are checked.
    """
    included, delta, confidence, claimed_epsilon = audit_inputs(
        inclusion, delta, confidence, claimed_epsilon, scores, guesses
    )
    m = included.size

    def bound_at(r: int, v: int, level: float) -> float:
        return one_run_epsilon_lower_bound(m, r, v, delta=delta, confidence=level)

    bound, r, v, mu_hat, estimate = best_guess_bound(
        included, scores, guesses, guess_counts, confidence, delta, bound_at
    )
    return AuditResult(
        method="one_run",
        delta=delta,
        epsilon_lower_bound=bound,
        confidence=confidence,
        epsilon_estimate=estimate,
        mu_lower_bound=None,
        mu_estimate=mu_hat,
        claimed_epsilon=claimed_epsilon,
        canaries=m,
        guesses=r,
        correct=v,
    )


def best_guess_bound(
    included: NDArray[np.bool_],
    scores: ArrayLike | None,
    guesses: ArrayLike | None,
    guess_counts: Sequence[tuple[int, int]] | None,
    confidence: float,
    delta: float,
    bound_at: Callable[[int, int, float], float],
) -> tuple[float, int, int, float | None, float | None]:
    """The best bound over the guess counts tried: ``(bound, guesses, correct, mu, eps)``.

    With ``guesses`` given, ``bound_at(r, v, confidence)`` of them. With ``scores``, every
    ``(positives, negatives)`` pair of ``guess_counts`` (default
    :func:`default_guess_counts`) is tried at a Bonferroni-corrected level, so picking the
    best costs no confidence; the Gaussian fit of the scores gives the estimate.

    Raises:
        InvalidArgument: a score count that is not one per canary, or no pair to try.
    """
    m = included.size
    if guesses is not None:
        r, v = count_correct(included, guesses)
        return bound_at(r, v, confidence), r, v, None, None
    values = real_vector("scores", scores)  # type: ignore[arg-type]
    if values.size != m:
        raise InvalidArgument("one score per canary is needed")
    pairs = list(guess_counts) if guess_counts is not None else default_guess_counts(m)
    if not pairs:
        raise InvalidArgument("guess_counts is empty")
    level = 1.0 - (1.0 - confidence) / len(pairs)
    bound, r, v = -1.0, 0, 0
    for positives, negatives in pairs:
        r_k, v_k = count_correct(included, guesses_from_scores(values, positives, negatives))
        b_k = bound_at(r_k, v_k, level)
        if b_k > bound:
            bound, r, v = b_k, r_k, v_k
    mu_hat, estimate = gaussian_estimate(values, included, delta)
    return bound, r, v, mu_hat, estimate
