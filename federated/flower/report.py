"""The privacy report that ends a Flower run, built by :mod:`dp.report`.

A run with :class:`~federated.flower.DistributedDP` ends with a
:class:`dp.report.PrivacyReport`: client-level DP, the fixed-size sampling of the cohorts,
the ledger of released rounds (each event for the clients that actually survived), the
distributed threat model with its ``n_min`` and the fewest survivors seen, and the budget.
:func:`run_summary` adds the per-round records, as a JSON-ready dictionary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flwr.app import MetricRecord

from dp import ledger_to_dict
from dp.report import PrivacyReport, SamplingScheme, ThreatModel
from federated.history import RELEASED

if TYPE_CHECKING:
    from federated.flower.strategy import FlowerRunResult

__all__ = ["build_report", "run_summary"]


def build_report(result: FlowerRunResult) -> PrivacyReport | None:
    """The run's privacy report, or ``None`` when the run had no DP (nothing to account).

    It names the run's relation (the one its accountant used), the colluders assumed and
    the fewest honest survivors the noise was sized for (``n_min``: the threshold minus the
    colluders), the clip norm and noise multiplier in the user's units, and what was
    released.
    """
    accountant = result.accountant
    if accountant is None or not accountant.events:
        return None
    settings = accountant.settings
    completed = [o for o in result.outcomes if o.completed]
    cohorts = {len(o.cohort) for o in completed}
    sampling: SamplingScheme = "full_batch" if cohorts == {accountant.population} else "fixed_size"
    colluders = [settings.colluders_for(o.threshold) for o in completed]
    threat = ThreatModel(
        kind="distributed",
        n_min=min(o.threshold - c for o, c in zip(completed, colluders, strict=True)),
        min_survivors=min(len(o.survivors) for o in completed),
        dropouts=any(len(o.survivors) < len(o.cohort) for o in result.outcomes),
        colluders=max(colluders),
    )
    return PrivacyReport.from_ledger(
        [(event, 1) for event in accountant.events],
        delta=settings.delta,
        privacy_unit="client",
        neighbouring=settings.neighbouring,
        sampling=sampling,
        population=accountant.population if accountant.population >= 2 else None,
        target_epsilon=settings.target_epsilon,
        threat_model=threat,
        clip_norm=result.clip_norm,
        noise_multiplier=settings.noise_multiplier,
        released=RELEASED,
        title=f"Privacy report: Flower run with {result.aggregation}",
    )


def run_summary(result: FlowerRunResult) -> dict[str, Any]:
    """A JSON-ready summary: rounds, stop reason, epsilon, ledger, privacy report, metrics.

    The ledger is :func:`dp.ledger_to_dict` of the released rounds, with the run's relation.
    """
    report = build_report(result)
    return {
        "aggregation": result.aggregation,
        "stop_reason": result.stop_reason,
        "rounds": [record.to_dict() for record in result.records],
        "differential_privacy": result.accountant is not None,
        "epsilon": result.final_epsilon,
        "ledger": None
        if result.accountant is None
        else ledger_to_dict(
            [(event, 1) for event in result.accountant.events],
            neighbouring=result.accountant.settings.neighbouring,
        ),
        "privacy_report": None if report is None else report.to_dict(),
        "train_metrics": _by_round(result.train_metrics_clientapp),
        "evaluate_metrics_clientapp": _by_round(result.evaluate_metrics_clientapp),
        "evaluate_metrics_serverapp": _by_round(result.evaluate_metrics_serverapp),
    }


def _by_round(metrics: Mapping[int, MetricRecord]) -> dict[str, dict[str, Any]]:
    """Flower's per-round MetricRecords as JSON-ready dictionaries (keys: round numbers)."""
    return {str(r): dict(record) for r, record in sorted(metrics.items())}
