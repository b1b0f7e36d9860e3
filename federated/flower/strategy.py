"""The server loop of a Flower run with fedcrypt: :class:`SecureFedAvg`.

Inside a Flower ``ServerApp``'s ``main(grid, context)``::

    strategy = SecureFedAvg(
        MaskingAggregation(), privacy=DistributedDP(1.0, delta=1e-5), clip_norm=1.0
    )
    result = strategy.start(grid, ArrayRecord(initial_arrays), num_rounds=5)
    result.privacy_report()  # the dp.report.PrivacyReport of the run

Each round samples a cohort uniformly (OS CSPRNG) from the connected nodes, runs one
secure-aggregation round (masking or Paillier) in which each client trains on the global
model and sends only a protected update, and applies the FedAvg step
``theta <- theta + eta * sum / denominator`` (McMahan et al. 2017). Without DP the
denominator is the number of survivors; with DP it is the fixed cohort size, so that the
sensitivity does not depend on who dropped (McMahan et al. 2018).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord
from flwr.serverapp import Grid

from dp.events import DpEvent
from dp.report import PrivacyReport
from federated.config import UniformSelection
from federated.errors import BudgetExhausted, InsufficientClients, InvalidArgument
from federated.flower._arrays import flatten, unflatten
from federated.flower._round import Observer, RoundOutcome
from federated.flower.masking import MaskingAggregation
from federated.flower.privacy import DistributedDP, RunAccountant
from federated.flower.report import build_report, run_summary
from federated.history import RoundRecord, RoundStatus
from federated.selection import sample_clients

__all__ = ["Aggregation", "EvaluateFn", "FlowerRunResult", "SecureFedAvg"]

EvaluateFn = Callable[[int, ArrayRecord], Mapping[str, float] | None]
"""Server-side evaluation: (round, global arrays) -> metrics."""


class Aggregation(Protocol):
    """A secure-aggregation backend that runs one round over a grid."""

    def run_round(
        self,
        grid: Grid,
        nodes: Any,
        round_number: int,
        global_arrays: ArrayRecord,
        *,
        clip: float,
        train_config: ConfigRecord | None = ...,
        timeout: float | None = ...,
        observer: Observer | None = ...,
    ) -> RoundOutcome:
        """Run one round; return the decoded sum of the survivors' clipped updates."""
        ...


@dataclass(frozen=True, eq=False)
class FlowerRunResult:
    """What a run produced.

    Attributes:
        arrays: the final global model.
        records: one record per round (completed or skipped).
        outcomes: the raw outcome of each round's protocol.
        stop_reason: why the run ended.
        aggregation: the backend's name.
        accountant: the DP ledger (``None`` without DP).
        clip_norm: the L2 bound of every client's update (``None`` if unknown).
    """

    arrays: ArrayRecord
    records: tuple[RoundRecord, ...]
    outcomes: tuple[RoundOutcome, ...]
    stop_reason: str
    aggregation: str
    accountant: RunAccountant | None = field(default=None)
    clip_norm: float | None = None

    @property
    def final_epsilon(self) -> float | None:
        """Epsilon spent by the run at its delta (``None`` without DP)."""
        return None if self.accountant is None else self.accountant.epsilon()

    def privacy_report(self) -> PrivacyReport | None:
        """The run's :class:`dp.report.PrivacyReport` (``None`` for a run without DP)."""
        return build_report(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary of the run, with the privacy report when there is one."""
        return run_summary(self)


class SecureFedAvg:
    """FedAvg whose server only ever sees masked or encrypted sums.

    Args:
        aggregation: the backend (:class:`MaskingAggregation` by default).
        privacy: distributed DP settings (masking only), or ``None``.
        sample_size: nodes per round (``None``: every connected node).
        min_nodes: wait for this many connected nodes before the first round.
        clip_norm: L2 bound of each client's update (always applied: encodings need it).
        server_learning_rate: the FedAvg step ``eta``.
        timeout: seconds to wait for the replies of one protocol stage.
        wait_for_nodes: seconds to wait for ``min_nodes`` nodes to connect.
        observer: sees every payload the server accepts (audits, tests).
    """

    def __init__(
        self,
        aggregation: Aggregation | None = None,
        *,
        privacy: DistributedDP | None = None,
        sample_size: int | None = None,
        min_nodes: int = 2,
        clip_norm: float = 1.0,
        server_learning_rate: float = 1.0,
        timeout: float | None = 600.0,
        wait_for_nodes: float = 120.0,
        observer: Observer | None = None,
    ) -> None:
        self.aggregation: Aggregation = (
            aggregation if aggregation is not None else MaskingAggregation()
        )
        if privacy is not None and not isinstance(self.aggregation, MaskingAggregation):
            raise InvalidArgument("distributed DP needs the masking aggregation")
        if sample_size is not None and sample_size < 2:
            raise InvalidArgument("sample_size must be at least 2")
        if min_nodes < 1:
            raise InvalidArgument("min_nodes must be at least 1")
        if not (math.isfinite(clip_norm) and clip_norm > 0):
            raise InvalidArgument("clip_norm must be finite and > 0")
        if not (math.isfinite(server_learning_rate) and server_learning_rate > 0):
            raise InvalidArgument("server_learning_rate must be finite and > 0")
        self.privacy = privacy
        self.sample_size = sample_size
        self.min_nodes = max(min_nodes, sample_size or 0)
        self.clip_norm = float(clip_norm)
        self.server_learning_rate = float(server_learning_rate)
        self.timeout = timeout
        self.wait_for_nodes = wait_for_nodes
        self.observer = observer

    def _nodes(self, grid: Grid) -> list[int]:
        deadline = time.monotonic() + self.wait_for_nodes
        nodes = sorted(int(n) for n in grid.get_node_ids())
        while len(nodes) < self.min_nodes and time.monotonic() < deadline:
            time.sleep(0.2)
            nodes = sorted(int(n) for n in grid.get_node_ids())
        if len(nodes) < self.min_nodes:
            raise InsufficientClients(f"{len(nodes)} nodes connected, {self.min_nodes} needed")
        return nodes

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        *,
        train_config: ConfigRecord | None = None,
        evaluate_fn: EvaluateFn | None = None,
    ) -> FlowerRunResult:
        """Run ``num_rounds`` rounds (fewer if the privacy budget stops the run).

        Raises:
            InsufficientClients: too few nodes connected.
            InvalidArgument: delta above ``1 / nodes``, or more colluders than tolerated.
            BudgetExhausted: the first round alone would exceed the target epsilon.
        """
        if num_rounds < 1:
            raise InvalidArgument("num_rounds must be at least 1")
        nodes = self._nodes(grid)
        population = len(nodes)
        cohort_size = self.sample_size or population
        if cohort_size > population:
            raise InsufficientClients(f"sample_size {cohort_size} > {population} nodes")
        accountant = RunAccountant(self.privacy, population) if self.privacy else None
        arrays = initial_arrays
        records: list[RoundRecord] = []
        outcomes: list[RoundOutcome] = []
        stop_reason = f"completed {num_rounds} rounds"
        for round_number in range(1, num_rounds + 1):
            picked = sample_clients(UniformSelection(cohort_size), population)
            cohort = [nodes[i] for i in picked]
            if accountant is not None and not self._fits(accountant, cohort, arrays):
                if round_number == 1:
                    raise BudgetExhausted(
                        f"one round already exceeds the target epsilon "
                        f"{accountant.settings.target_epsilon:g} in the worst case: the run "
                        "would stop before round 1 with an untrained model; add noise, "
                        "sample fewer nodes or raise the target"
                    )
                stop_reason = f"stopped before round {round_number}: target epsilon reached"
                break
            outcome = self._run(grid, cohort, round_number, arrays, train_config)
            outcomes.append(outcome)
            epsilon = None
            if outcome.total is not None:
                arrays = self._step(arrays, outcome.total, len(outcome.survivors), cohort_size)
                if accountant is not None and outcome.event is not None:
                    epsilon = accountant.record(accountant.sampled(outcome.event, cohort_size))
            elif accountant is not None:
                epsilon = accountant.epsilon()
            metrics: Mapping[str, float] = {}
            if evaluate_fn is not None and outcome.total is not None:
                metrics = dict(evaluate_fn(round_number, arrays) or {})
            records.append(self._record(round_number, outcome, metrics, epsilon))
        return FlowerRunResult(
            arrays,
            tuple(records),
            tuple(outcomes),
            stop_reason,
            type(self.aggregation).__name__,
            accountant,
            self.clip_norm,
        )

    def _run(
        self,
        grid: Grid,
        cohort: list[int],
        round_number: int,
        arrays: ArrayRecord,
        train_config: ConfigRecord | None,
    ) -> RoundOutcome:
        kwargs: dict[str, Any] = {
            "clip": self.clip_norm,
            "train_config": train_config,
            "timeout": self.timeout,
            "observer": self.observer,
        }
        if self.privacy is not None:
            kwargs["privacy"] = self.privacy
        return self.aggregation.run_round(grid, cohort, round_number, arrays, **kwargs)

    def _fits(self, accountant: RunAccountant, cohort: list[int], arrays: ArrayRecord) -> bool:
        """Whether the next round, accounted in the worst case, fits.

        The worst case is the fewest honest survivors a round accepts: the threshold minus
        the colluders, ``n_min`` of the round's plan.
        """
        assert isinstance(self.aggregation, MaskingAggregation)
        assert self.privacy is not None
        _, layout = flatten(arrays)
        plan = self.aggregation.plan(cohort, 0, layout.size, self.clip_norm, self.privacy)
        assert plan.dp is not None
        worst: DpEvent = plan.dp.event(plan.dp.n_min)
        return accountant.fits(accountant.sampled(worst, len(cohort)))

    def _step(
        self, arrays: ArrayRecord, total: np.ndarray[Any, Any], survivors: int, cohort: int
    ) -> ArrayRecord:
        vector, layout = flatten(arrays)
        denominator = cohort if self.privacy is not None else survivors
        updated = vector + self.server_learning_rate * np.asarray(total) / denominator
        return unflatten(updated, layout)

    @staticmethod
    def _record(
        round_number: int,
        outcome: RoundOutcome,
        metrics: Mapping[str, float],
        epsilon: float | None,
    ) -> RoundRecord:
        return RoundRecord(
            round=round_number,
            status=RoundStatus.COMPLETED if outcome.completed else RoundStatus.SKIPPED,
            selected=len(outcome.cohort),
            survivors=len(outcome.survivors),
            threshold=outcome.threshold,
            metrics=metrics,
            epsilon=epsilon,
            bytes_sent=outcome.bytes_received,
            stage_seconds=outcome.stage_seconds,
            note=outcome.note,
        )
