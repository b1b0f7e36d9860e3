"""Planted bugs: the audit must refute the claimed epsilon (issue 19), so CI proves it can fail.

Each test runs the code under test once, with noise from the library's samplers (OS
CSPRNG), and asserts ``result.violation`` (the lower bound exceeds the accountant's claim).
Margins, measured over 100 independent runs each (``benchmarks/audit.py --detection 100``,
table in docs/dp/audit.md): every bug was flagged in 100 of 100 runs, and the bound's mean
is at least 4.9 of its standard deviations above the claim (noise off and clipping skipped
sit at the ceiling, 9.5 against 4.4), so a miss is far below 1% and these tests fail with
negligible probability. A correct pipeline is audited the same way and must not be flagged
(its bound, 2.78 +- 0.12, is 13 standard deviations under the claim).

Pipeline (one round, claim z = 1, clip norm C = 1, delta = 1e-5, claimed epsilon 4.38):
10,000 canary clients, each included by a CSPRNG coin, submit ``4 C e_i``; clients clip to
``C``, the server adds ``GaussianMechanism(z, C)`` noise. Bugs: noise off, sigma halved,
clipping skipped, sensitivity doubled (clients clip to ``2 C``, noise still for ``C``).
The fixed-size cohort bug is audited by Clopper-Pearson over repeated rounds of the
displacement pair (population 4, cohort 2, z = 1.5): claimed as
``PoissonSampled(2/4, Gaussian(1.5))`` (2.02) it is refuted; the correct claim
``SampledWithoutReplacement(4, 2, Gaussian(1.5))`` (5.22) is not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import dp
from dp import audit
from dp.mechanisms import GaussianMechanism, clip_l2

DELTA = 1e-5
CANARIES = 10_000
Z = 1.0
CLAIM = audit.claimed_epsilon(dp.Gaussian(Z), DELTA)
# One guess pair fixed before the run (a sixteenth of the canaries guessed on each side, the
# best single pair for a doubled mu on this harness), so no Bonferroni correction is paid.
GUESSES = (CANARIES // 16, CANARIES // 16)

Step = Callable[[np.ndarray], np.ndarray]


def _clip(bound: float) -> Step:
    return lambda update: clip_l2(update, bound)


def _noise(z: float) -> Step:
    return GaussianMechanism(z, 1.0, CANARIES).release


PIPELINES: dict[str, tuple[Step, Step]] = {
    "noise off": (_clip(1.0), lambda total: total),
    "sigma halved": (_clip(1.0), _noise(Z / 2)),
    "clipping skipped": (lambda update: update, _noise(Z)),
    "sensitivity doubled": (_clip(2.0), _noise(Z)),
}


def _audit(client: Step, server: Step) -> audit.AuditResult:
    return audit.audit_canary_pipeline(
        client,
        server,
        canaries=CANARIES,
        canary_norm=4.0,
        delta=DELTA,
        claimed_epsilon=CLAIM,
        guess_counts=[GUESSES],
    )


@pytest.mark.parametrize("bug", sorted(PIPELINES))
def test_planted_bug_is_detected(bug: str) -> None:
    result = _audit(*PIPELINES[bug])
    assert result.violation, (bug, result.epsilon_lower_bound, CLAIM)


def test_correct_pipeline_is_not_flagged() -> None:
    result = _audit(_clip(1.0), _noise(Z))
    assert not result.violation
    assert result.epsilon_estimate == pytest.approx(CLAIM, rel=0.15)


def test_fixed_size_cohort_without_displacement_is_detected() -> None:
    population, cohort, z = 4, 2, 1.5
    wrong = audit.claimed_epsilon(dp.PoissonSampled(cohort / population, dp.Gaussian(z)), DELTA)
    right = audit.claimed_epsilon(
        dp.SampledWithoutReplacement(population, cohort, dp.Gaussian(z)), DELTA
    )
    result = audit.audit_fixed_size_cohort(
        population, cohort, z, trials=200_000, delta=DELTA, claimed_epsilon=wrong
    )
    assert result.violation, (result.epsilon_lower_bound, wrong)
    assert result.epsilon_lower_bound is not None
    assert result.epsilon_lower_bound <= right


def test_gaussian_mechanism_audit_stays_under_its_claim_and_catches_a_halved_sigma() -> None:
    claim = audit.claimed_epsilon(dp.Gaussian(2.0), DELTA)
    honest = audit.audit_gaussian_mechanism(
        GaussianMechanism(2.0, 1.0, 1), trials=200_000, delta=DELTA, claimed_epsilon=claim
    )
    assert not honest.violation
    buggy = audit.audit_gaussian_mechanism(
        GaussianMechanism(1.0, 1.0, 1), trials=200_000, delta=DELTA, claimed_epsilon=claim
    )
    assert buggy.violation
