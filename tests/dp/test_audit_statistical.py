"""Statistical targets of dp.audit on a Gaussian harness with known epsilon (issue 19).

The harness is the idealised setting of Steinke, Nasr and Jagielski (2023, section 6):
``m`` canaries, each included by a CSPRNG coin, each moving its own coordinate by 1 before
the library's exact Gaussian mechanism (``GaussianMechanism``, discrete Gaussian noise from
the OS CSPRNG) releases the vector; each canary's score is its coordinate. With respect to
one canary the release is exactly the Gaussian mechanism of noise multiplier ``z``, whose
epsilon at ``delta`` is ``gdp_epsilon(1/z, delta)`` (equal to the PLD accountant's exact
Gaussian value); ``z`` is chosen so that it is 1, 4 and 8 at ``delta = 1e-5``.

Coverage. A lower bound at 95% confidence exceeds the truth in at most 5% of independent
runs. CI runs 40 independent runs per epsilon and method (``deep`` profile: 200) and fails
if more than 6 (deep: 10, the literal 95% target) exceed the truth. Reasoning for the CI
threshold: if each run exceeded with probability exactly 0.05, more than 6 of 40 would
happen with probability 0.0007 (binomial tail), so a correct implementation passes with
overwhelming probability; a bound that exceeded in 30% of runs would pass with probability
0.003. The bounds are conservative (Bonferroni over the guess counts, the worst-case
analyses), so the observed count is 0 in practice.

Estimate. The Gaussian fit (Andrew et al. 2024) of the scores lands within 15% of the true
epsilon. Its standard error in ``mu`` is about ``sqrt(4/m)``, so small epsilons need many
canaries: 50,000 here (0.05 s of noise), which puts 15% beyond four standard errors at
epsilon 1 (the hardest case).

Ceilings of the lower bounds (why they cannot be within 15%): with ``r`` guesses all
correct, Steinke et al. certify at most ``logit(0.05^(1/r))``: 5.81 for ``r = 1,000``, 8.1
for 10,000; with 1,000 canaries and the Bonferroni search the mean bounds over 200 runs
were 0.18/0.24 (one-run/GDP) at epsilon 1, 1.41/1.94 at 4 and 2.63/3.86 at 8
(``benchmarks/audit.py --coverage 200``).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import dp
from dp import audit
from dp._rng import random_bits
from dp.mechanisms import GaussianMechanism

DELTA = 1e-5
RUNS, ALLOWED = (200, 10) if os.environ.get("HYPOTHESIS_PROFILE") == "deep" else (40, 6)


def _noise_multiplier(epsilon: float) -> float:
    return 1.0 / audit.gdp_mu(epsilon, DELTA)


def _harness(z: float, canaries: int) -> tuple[np.ndarray, np.ndarray]:
    included = random_bits(canaries)
    mechanism = GaussianMechanism(z, 1.0, canaries)
    return included, mechanism.release(included.astype(np.float64))


@pytest.mark.parametrize("epsilon", [1.0, 4.0, 8.0])
def test_true_epsilon_matches_the_accountant(epsilon: float) -> None:
    z = _noise_multiplier(epsilon)
    exact = dp.PldAccountant().compose(dp.Gaussian(z)).get_epsilon(DELTA)
    assert exact == pytest.approx(epsilon, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("epsilon", [1.0, 4.0, 8.0])
def test_lower_bounds_cover_the_true_epsilon(epsilon: float) -> None:
    z = _noise_multiplier(epsilon)
    exceed = {"one_run": 0, "one_run_gdp": 0}
    for _ in range(RUNS):
        included, scores = _harness(z, 1000)
        for result in (
            audit.audit_one_run(included, scores, delta=DELTA, claimed_epsilon=epsilon),
            audit.audit_one_run_gdp(included, scores, delta=DELTA, claimed_epsilon=epsilon),
        ):
            assert result.epsilon_lower_bound is not None
            exceed[result.method] += result.violation
    assert exceed["one_run"] <= ALLOWED, exceed
    assert exceed["one_run_gdp"] <= ALLOWED, exceed


@pytest.mark.parametrize("epsilon", [1.0, 4.0, 8.0])
def test_gaussian_fit_estimate_is_within_15_percent(epsilon: float) -> None:
    included, scores = _harness(_noise_multiplier(epsilon), 50_000)
    mu = audit.fit_gaussian_mu(scores[included], scores[~included])
    assert audit.gdp_epsilon(mu, DELTA) == pytest.approx(epsilon, rel=0.15)


def test_canary_client_estimate_in_a_federated_round() -> None:
    # One round of federated DP-FedAvg-style aggregation: k canary clients, each submitting
    # clip_norm * (its random direction), summed and released by the Gaussian mechanism; the
    # cosine of each direction with the model change. Interference between canaries shrinks
    # the shift by sqrt(1 + k/(d z^2)) (2.6% here) and the estimate's standard error is about
    # 3% (measured over 20 runs: -2.1% +- 4.1% with 1,500 canaries), so 15% is about four
    # standard errors away. Directions are kept in float32 (262 MB) to afford d = 32,768.
    epsilon, k, d = 4.0, 2000, 32_768
    z = _noise_multiplier(epsilon)
    directions = np.concatenate(
        [audit.random_canary_directions(100, d).astype(np.float32) for _ in range(k // 100)]
    )
    update_sum = directions.sum(axis=0, dtype=np.float64)
    model_delta = GaussianMechanism(z, 1.0, d).release(update_sum)
    cosines = audit.canary_cosines(directions, model_delta)
    result = audit.canary_client_estimate(
        cosines, delta=DELTA, dimension=d, claimed_epsilon=epsilon
    )
    assert result.epsilon_estimate == pytest.approx(epsilon, rel=0.15)
    # Never-inserted directions have the analytic null spread 1/sqrt(d).
    null = audit.canary_cosines(audit.random_canary_directions(200, d), model_delta)
    assert abs(float(np.mean(null))) < 4 / math.sqrt(200 * d)
    assert float(np.std(null)) == pytest.approx(1 / math.sqrt(d), rel=0.15)


def test_canary_clients_with_inclusion_coins_give_a_bound_and_an_estimate() -> None:
    # The runner's use: each canary client is inserted by a CSPRNG coin; the cosines are the
    # one-run scores, so the same canaries give the Gaussian-DP lower bound and (never
    # inserted directions being the null) the Gaussian-fit estimate.
    epsilon, k, d = 4.0, 1000, 16_384
    z = _noise_multiplier(epsilon)
    included = random_bits(k)
    directions = np.concatenate(
        [audit.random_canary_directions(100, d).astype(np.float32) for _ in range(k // 100)]
    )
    update_sum = directions[included].sum(axis=0, dtype=np.float64)
    model_delta = GaussianMechanism(z, 1.0, d).release(update_sum)
    cosines = audit.canary_cosines(directions, model_delta)
    result = audit.audit_one_run_gdp(included, cosines, delta=DELTA, claimed_epsilon=epsilon)
    assert result.epsilon_lower_bound is not None
    assert 0.0 < result.epsilon_lower_bound < epsilon
    assert not result.violation
    assert result.epsilon_estimate is not None
    assert result.epsilon_estimate == pytest.approx(epsilon, rel=0.4)  # ~500 a side: ~6% sd
    assert "consistent" in result.describe()
