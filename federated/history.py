"""The record of a federated run: one :class:`RoundRecord` per round, and the ledger.

A :class:`History` is what :func:`federated.run` returns. It holds per-round metrics (loss,
accuracy when an evaluator gives it, epsilon, survivors, bytes sent, time per stage), why
the run stopped, and the privacy ledger from which :meth:`History.privacy_report` builds the
report of :mod:`dp.report`.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from dp.errors import DPError
from dp.report import PrivacyReport, SamplingScheme, ThreatModel
from federated._privacy import PrivacyTracker
from federated.adversary import AdversaryRecord
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    ParticipationSelection,
    UniformSelection,
)
from federated.errors import InvalidArgument

if TYPE_CHECKING:
    from dp.audit import AuditResult  # scipy.stats: loaded only by audited runs

__all__ = ["RoundStatus", "RoundRecord", "History", "RELEASED"]

RELEASED = "the noised aggregate of every completed round, and the model updated from it"
"""What a run publishes, as its privacy report states it: the guarantee covers all of it."""


class RoundStatus(str, enum.Enum):
    """What happened in a round."""

    COMPLETED = "completed"
    """The server learned the (noised) sum and the model was updated."""

    SKIPPED = "skipped"
    """Too few clients survived; nothing was released, the model and the budget are unchanged."""


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """Metrics of one round.

    Attributes:
        round: the round number, from 1.
        status: completed, or skipped for lack of survivors.
        selected: clients selected for the round.
        survivors: clients whose update is in the sum (0 for a skipped round).
        threshold: the minimum number of survivors the round needed.
        metrics: the evaluator's metrics of the global model after the round.
        epsilon: cumulative epsilon after the round at the run's delta (``None`` without DP).
        bytes_sent: bytes all clients sent to the server during the round.
        stage_seconds: wall time per stage: ``train`` (with the masking backend it includes
            each client's clipping and encoding, done in the same task), ``clip``, the
            protocol steps, ``decode``...
        note: a human-readable remark (e.g. why a round was skipped).
        rejected: validated aggregation: reports whose proof of a bounded update failed (or
            that were malformed or replayed); they are not in the sum. The server learns
            only that they were invalid, never their content.
        rejected_clients: the ids of the rejected clients (empty when a round was abandoned
            for too few valid reports before the server learned them: only the count).
        attackers: simulated malicious clients (:mod:`federated.adversary`) that sent a
            poisoned update this round.
        attackers_in_sum: how many of them are in the released sum (0 for a skipped round).
    """

    round: int
    status: RoundStatus
    selected: int
    survivors: int
    threshold: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    epsilon: float | None = None
    bytes_sent: int = 0
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    note: str = ""
    rejected: int = 0
    rejected_clients: tuple[int, ...] = ()
    attackers: int = 0
    attackers_in_sum: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "round": self.round,
            "status": self.status.value,
            "selected": self.selected,
            "survivors": self.survivors,
            "threshold": self.threshold,
            "metrics": dict(self.metrics),
            "epsilon": self.epsilon,
            "bytes_sent": self.bytes_sent,
            "stage_seconds": dict(self.stage_seconds),
            "note": self.note,
            "rejected": self.rejected,
            "rejected_clients": list(self.rejected_clients),
            "attackers": self.attackers,
            "attackers_in_sum": self.attackers_in_sum,
        }


@dataclass(frozen=True, eq=False)
class History:
    """Everything a run produced.

    Attributes:
        records: one record per round that ran (completed or skipped).
        parameters: the final global parameters.
        stop_reason: why the run ended (all rounds done, or the budget).
        config: the configuration of the run.
        privacy: the privacy tracker holding the accountant and its ledger.
        audit: the canary audit of the run (``federated.run(..., audit=...)``): its
            epsilon lower bound and estimate next to the claimed epsilon, or ``None``.
        adversary: the simulated adversary of the run and the ids of the clients it
            controlled (drawn with the OS CSPRNG at the start), or ``None``.
    """

    records: tuple[RoundRecord, ...]
    parameters: NDArray[np.float64]
    stop_reason: str
    config: FederatedConfig
    privacy: PrivacyTracker
    audit: AuditResult | None = None
    adversary: AdversaryRecord | None = None

    @property
    def completed_rounds(self) -> int:
        """Rounds whose sum was released."""
        return sum(1 for r in self.records if r.status is RoundStatus.COMPLETED)

    @property
    def skipped_rounds(self) -> int:
        """Rounds skipped for lack of survivors."""
        return sum(1 for r in self.records if r.status is RoundStatus.SKIPPED)

    @property
    def final_epsilon(self) -> float | None:
        """The epsilon spent by the whole run at the run's delta (``None`` without DP)."""
        return self.privacy.epsilon()

    def metric(self, name: str) -> list[float]:
        """The values of one evaluator metric over the completed rounds."""
        return [r.metrics[name] for r in self.records if name in r.metrics]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary of the run, with the privacy ledger and its relation.

        ``ledger`` is :func:`dp.ledger_to_dict` of the accountant (``None`` without DP):
        ``dp.RdpAccountant.from_ledger_dict`` rebuilds it under the run's relation.
        ``audit`` is the canary audit's :meth:`dp.audit.AuditResult.to_dict` (``None``
        without one), readable by :meth:`dp.audit.AuditResult.from_dict`.
        """
        return {
            "aggregation": self.config.aggregation.value,
            "dp_mode": self.config.privacy.mode.value,
            "stop_reason": self.stop_reason,
            "completed_rounds": self.completed_rounds,
            "skipped_rounds": self.skipped_rounds,
            "final_epsilon": self.final_epsilon,
            "delta": self.config.privacy.delta if self.config.privacy.enabled else None,
            "neighbouring": self.config.privacy.neighbouring
            if self.config.privacy.enabled
            else None,
            "colluders": self.privacy.colluders
            if self.config.privacy.mode is DPMode.DISTRIBUTED
            else None,
            "ledger": None
            if self.privacy.accountant is None
            else self.privacy.accountant.ledger_to_dict(),
            "rounds": [r.to_dict() for r in self.records],
            "audit": None if self.audit is None else self.audit.to_dict(),
            "adversary": None if self.adversary is None else self.adversary.to_dict(),
        }

    def privacy_report(self, *, title: str | None = None) -> PrivacyReport:
        """The privacy budget report of the run (:class:`dp.report.PrivacyReport`).

        The privacy unit is the client, the relation the run's ``neighbouring`` (the one its
        accountant used), the sampling scheme the one the run used, the threat model the
        run's DP mode (trusted server for central DP; distributed noise under secure
        aggregation, with ``n_min`` honest survivors, the colluders assumed and the fewest
        survivors seen), the clip norm and noise multiplier in the user's units, and what
        was released (every completed round's noised aggregate, hence the model). The title
        names the aggregation backend, and says so loudly when it is the insecure plaintext
        baseline. A canary audit of the run (:attr:`audit`) gets its own section, and a
        refuted claim a warning.

        Raises:
            InvalidArgument: the run used no DP, or completed no round (nothing to report).
        """
        config = self.config
        privacy = config.privacy
        accountant = self.privacy.accountant
        if accountant is None:
            raise InvalidArgument("this run added no DP noise: epsilon is unbounded")
        if not accountant.ledger:
            raise InvalidArgument("no round completed: nothing was released")
        survivors = [r.survivors for r in self.records if r.status is RoundStatus.COMPLETED]
        if privacy.mode is DPMode.DISTRIBUTED:
            threat = ThreatModel(
                kind="distributed",
                n_min=self.privacy.n_min,
                min_survivors=min(survivors),
                dropouts=config.dropout.active,
                colluders=self.privacy.colluders,
            )
        elif config.aggregation is Aggregation.VALIDATED:
            threat = ThreatModel(kind="two_aggregators", dropouts=config.dropout.active)
        else:
            threat = ThreatModel(kind="trusted_server", dropouts=config.dropout.active)
        return PrivacyReport.from_ledger(
            accountant.ledger,
            delta=privacy.run_delta,
            privacy_unit="client",
            neighbouring=privacy.neighbouring,
            sampling=_sampling_scheme(config, self.privacy.population),
            population=self.privacy.population if self.privacy.population >= 2 else None,
            target_epsilon=privacy.target_epsilon,
            threat_model=threat,
            clip_norm=config.clip_norm,
            noise_multiplier=privacy.noise_multiplier,
            released=RELEASED,
            title=title if title is not None else _default_title(config),
            audits=() if self.audit is None else (self.audit,),
        )

    def write_privacy_report(
        self, directory: str | Path, *, stem: str = "privacy-report", title: str | None = None
    ) -> list[Path]:
        """Write the privacy report as JSON, Markdown, HTML and PNG into ``directory``.

        Each file is written to a temporary name and renamed into place, so a failure never
        leaves a partial file. The PNG needs matplotlib (the ``plot`` extra); without it the
        other three files are still written and the HTML says the plot is missing. A DP-FTRL
        run also gets ``<stem>-ftrl-comparison.md`` and ``.png``: its epsilon and rho
        against rounds beside tree aggregation's and DP-FedAvg's with Poisson sampling
        (:func:`dp.report.compare_ftrl`).

        Returns:
            The paths written.
        """
        report = self.privacy_report(title=title)
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        contents: list[tuple[str, bytes]] = [
            (".json", (report.to_json() + "\n").encode()),
            (".md", report.to_markdown().encode()),
            (".html", report.to_html().encode()),
        ]
        with contextlib.suppress(DPError):  # no matplotlib: the HTML says so
            contents.append((".png", report.plot_png()))
        if self.privacy.ftrl is not None:
            from federated._ftrl import comparison_files  # imports dp.ftrl when used

            contents += comparison_files(self.privacy.ftrl, self.config, self.privacy.population)
        written = []
        for suffix, data in contents:
            target = folder / f"{stem}{suffix}"
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            written.append(target)
        return written


def _sampling_scheme(config: FederatedConfig, population: int) -> SamplingScheme:
    selection = config.selection
    if isinstance(selection, ParticipationSelection):
        return "participation_schema"
    if isinstance(selection, UniformSelection):
        return "full_batch" if selection.sample_size >= population else "fixed_size"
    return "full_batch" if selection.rate >= 1.0 else "poisson"


def _default_title(config: FederatedConfig) -> str:
    mode = config.privacy.mode.value
    aggregation = config.aggregation.value
    if config.aggregation is Aggregation.PLAIN_INSECURE:
        return (
            f"fedcrypt run: {mode} DP, aggregation plain_insecure "
            "(INSECURE baseline: the server sees every client's update)"
        )
    title = f"fedcrypt run: {mode} DP, aggregation {aggregation}"
    if config.aggregation is Aggregation.PAILLIER and config.paillier.allow_insecure_key:
        title += f" (INSECURE {config.paillier.key_bits}-bit test key)"
    if config.aggregation is Aggregation.VALIDATED and config.privacy.mode is DPMode.CENTRAL:
        # The report's threat model says "trusted server", which claims less than the run
        # has: neither aggregator sees the un-noised sum (each adds the whole noise).
        title += " (each of two aggregators adds the whole noise to its share)"
    return title
