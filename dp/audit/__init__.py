"""Empirical privacy audits: measure the privacy a mechanism really gives.

An accountant proves an upper bound for the mechanism it is told about; it cannot notice
code that does something else (twice the sensitivity, clipping skipped, the wrong noise, a
mislabelled relation). An audit runs the code and returns a *lower bound* that must stay
under the claimed epsilon, so every run gets a check that can fail (issue 19):

* :func:`audit_one_run` (Steinke, Nasr and Jagielski 2023) and :func:`audit_one_run_gdp`
  (Mahloujifar, Melis and Chaudhuri 2024): canaries in one training run.
* :func:`canary_client_estimate` (Andrew et al. 2024): canary clients in federated
  learning, an epsilon estimate from cosines with the final model change.
* :func:`audit_samples`, :func:`audit_mechanism`: Clopper-Pearson bounds from a hypothesis
  test over repeated runs of a small mechanism.
* Harnesses: :func:`audit_canary_pipeline`, :func:`audit_gaussian_mechanism`,
  :func:`audit_fixed_size_cohort`, with :func:`claimed_epsilon` for the accountant's side.

Every audit returns an :class:`AuditResult` (frozen, versioned ``to_dict``/``from_dict``).
"""

from __future__ import annotations

from dp.audit.canary_clients import (
    canary_client_estimate,
    canary_cosines,
    random_canary_directions,
)
from dp.audit.fdp import audit_one_run_gdp, gdp_one_run_mu_lower_bound, gdp_one_run_refutes
from dp.audit.gdp import gdp_delta, gdp_epsilon, gdp_mu
from dp.audit.harness import (
    audit_canary_pipeline,
    audit_fixed_size_cohort,
    audit_gaussian_mechanism,
    claimed_epsilon,
)
from dp.audit.hypothesis_test import (
    audit_mechanism,
    audit_samples,
    clopper_pearson_upper,
    epsilon_from_error_counts,
)
from dp.audit.one_run import (
    audit_one_run,
    count_correct,
    default_guess_counts,
    fit_gaussian_mu,
    guesses_from_scores,
    one_run_epsilon_lower_bound,
    one_run_p_value,
)
from dp.audit.result import AUDIT_FORMAT_VERSION, AuditMethod, AuditResult

__all__ = [
    # the record
    "AuditResult",
    "AuditMethod",
    "AUDIT_FORMAT_VERSION",
    # one run (Steinke, Nasr, Jagielski 2023)
    "audit_one_run",
    "one_run_p_value",
    "one_run_epsilon_lower_bound",
    "guesses_from_scores",
    "count_correct",
    "default_guess_counts",
    "fit_gaussian_mu",
    # Gaussian-DP refinement (Mahloujifar, Melis, Chaudhuri 2024)
    "audit_one_run_gdp",
    "gdp_one_run_refutes",
    "gdp_one_run_mu_lower_bound",
    "gdp_delta",
    "gdp_epsilon",
    "gdp_mu",
    # canary clients (Andrew et al. 2024)
    "random_canary_directions",
    "canary_cosines",
    "canary_client_estimate",
    # Clopper-Pearson over repeated runs
    "clopper_pearson_upper",
    "epsilon_from_error_counts",
    "audit_samples",
    "audit_mechanism",
    # harnesses
    "claimed_epsilon",
    "audit_canary_pipeline",
    "audit_gaussian_mechanism",
    "audit_fixed_size_cohort",
]
