"""The f-DP refinement of one-run auditing, for Gaussian-DP (Mahloujifar, Melis, Chaudhuri).

"Auditing f-differential privacy in one run", ICML 2025 (arXiv:2410.22235, 2024). The
same game as :mod:`dp.audit.one_run` (canaries included by fair coins, ``r`` guesses of
which ``v`` are correct), but the null hypothesis is a whole trade-off curve ``f`` instead
of one ``(epsilon, delta)`` point. Their analysis bounds, for an f-DP mechanism, how the
probability of ``i`` correct guesses can grow with ``i``: starting from the masses a
p-value of ``1 - confidence`` would put on the observed outcome, a backward recursion over
``i = v-1, ..., 0`` applies the inverse "blow-up" of ``f`` (for ``mu``-GDP,
``x -> Phi(Phi^-1(x) - mu)``) and accumulates the implied mass; the claim is refuted when
the total exceeds ``r / m``, the share of canaries guessed (their Theorem on reconstruction
with abstention, the ``k = 2`` membership case, and its algorithm for the empirical
privacy). The largest refuted ``mu`` is the Gaussian-DP lower bound; reported as an epsilon
through :func:`dp.audit.gdp_epsilon`, it is a lower bound *within the Gaussian family*,
which is how the paper states its empirical epsilon.

Because the whole curve constrains the outcome, the bound is much tighter than the single
``(epsilon, delta)`` point of Steinke et al. for Gaussian mechanisms at small ``delta``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from dp.audit._checks import (
    audit_inputs,
    count,
    nonnegative,
    probability,
)
from dp.audit.gdp import gdp_epsilon
from dp.audit.one_run import best_guess_bound
from dp.audit.result import AuditResult

__all__ = ["audit_one_run_gdp", "gdp_one_run_mu_lower_bound", "gdp_one_run_refutes"]

#: The largest mu searched; a run of all-correct guesses refutes everything below the cap
#: its canary count allows, far below this.
_MU_MAX = 40.0


def _refuted(mus: NDArray[np.float64], m: int, r: int, v: int, alpha: float) -> NDArray[np.bool_]:
    """For each ``mu``, whether ``v`` correct of ``r`` guesses refutes ``mu``-GDP at ``alpha``."""
    if v == 0:
        return np.zeros(mus.shape, dtype=np.bool_)
    budget = alpha * r / m
    mass = np.full(mus.shape, budget * v / r)  # r_i in the paper's recursion
    tail = np.full(mus.shape, budget * (r - v) / r)  # h_i
    for i in range(v - 1, -1, -1):
        # Inverse blow-up of mu-GDP: the least mass a set can have given its neighbour's.
        shrunk = special.ndtr(special.ndtri(np.minimum(mass, 1.0)) - mus)
        new_tail = np.maximum(tail, shrunk)
        mass = mass + (i / (r - i)) * (new_tail - tail)
        tail = new_tail
        if np.all(mass + tail > r / m):
            break
    refuted: NDArray[np.bool_] = mass + tail > r / m
    return refuted


def gdp_one_run_refutes(mu: float, m: int, r: int, v: int, *, confidence: float = 0.95) -> bool:
    """Whether ``v`` correct of ``r`` guesses over ``m`` canaries refutes ``mu``-GDP.

    Mahloujifar, Melis and Chaudhuri (2024), the recursion described in the module
    docstring, at p-value ``1 - confidence``.

    Raises:
        InvalidArgument: not ``0 <= v <= r <= m``, ``mu < 0``, ``confidence`` outside (0, 1).
    """
    mu = nonnegative("mu", mu)
    m = count("m", m, minimum=1)
    r = count("r", r, maximum=m)
    v = count("v", v, maximum=r)
    alpha = 1.0 - probability("confidence", confidence)
    return bool(_refuted(np.array([mu]), m, r, v, alpha)[0])


def gdp_one_run_mu_lower_bound(m: int, r: int, v: int, *, confidence: float = 0.95) -> float:
    """The largest ``mu`` whose ``mu``-GDP claim ``v`` correct of ``r`` guesses refutes.

    Refutation is monotone in ``mu`` (a smaller ``mu`` is a stronger claim), so two
    vectorised grid passes (64 values geometric in ``[1e-3, 40]``, then 64 inside the
    bracket found) locate it to about 0.1%; the refuted end is returned. 0 if none is.

    Raises:
        InvalidArgument: as :func:`gdp_one_run_refutes`.
    """
    m = count("m", m, minimum=1)
    r = count("r", r, maximum=m)
    v = count("v", v, maximum=r)
    alpha = 1.0 - probability("confidence", confidence)
    grid = np.geomspace(1e-3, _MU_MAX, 64)
    hits = _refuted(grid, m, r, v, alpha)
    if not hits[0]:
        return 0.0
    if hits[-1]:
        return _MU_MAX
    top = int(np.flatnonzero(hits)[-1])
    fine = np.linspace(grid[top], grid[top + 1], 66)[1:-1]
    fine_hits = _refuted(fine, m, r, v, alpha)
    refuted = fine[fine_hits]
    return float(refuted[-1]) if refuted.size else float(grid[top])


def audit_one_run_gdp(
    inclusion: ArrayLike,
    scores: ArrayLike | None = None,
    *,
    guesses: ArrayLike | None = None,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    guess_counts: Sequence[tuple[int, int]] | None = None,
) -> AuditResult:
    """Audit one run against Gaussian-DP claims (Mahloujifar, Melis and Chaudhuri 2024).

    The arguments and the Bonferroni-corrected search over ``guess_counts`` are those of
    :func:`dp.audit.audit_one_run`. The record holds ``mu_lower_bound`` (the largest
    refuted ``mu``) and ``epsilon_lower_bound = gdp_epsilon(mu_lower_bound, delta)``: if the
    mechanism is ``mu``-GDP for some ``mu`` (any Gaussian mechanism, composed or not), its
    epsilon at ``delta`` is at least that with probability ``confidence``.

    Raises:
        InvalidArgument: as :func:`dp.audit.audit_one_run`.
    """
    included, delta, confidence, claimed_epsilon = audit_inputs(
        inclusion, delta, confidence, claimed_epsilon, scores, guesses
    )
    m = included.size

    def bound_at(r: int, v: int, level: float) -> float:
        return gdp_one_run_mu_lower_bound(m, r, v, confidence=level)

    mu_bound, r, v, mu_hat, estimate = best_guess_bound(
        included, scores, guesses, guess_counts, confidence, delta, bound_at
    )
    return AuditResult(
        method="one_run_gdp",
        delta=delta,
        epsilon_lower_bound=gdp_epsilon(mu_bound, delta),
        confidence=confidence,
        epsilon_estimate=estimate,
        mu_lower_bound=mu_bound,
        mu_estimate=mu_hat,
        claimed_epsilon=claimed_epsilon,
        canaries=m,
        guesses=r,
        correct=v,
    )
