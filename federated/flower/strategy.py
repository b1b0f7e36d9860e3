"""The server side of a Flower run with fedcrypt: :class:`SecureFedAvg`, a Flower ``Strategy``.

It takes Flower's ``FedAvg`` parameters (``fraction_train``, ``min_train_nodes``,
``min_available_nodes``, their evaluate counterparts, ``weighted_by_key``...), so swapping
it in for ``FedAvg`` in a ``ServerApp`` is a change of class name plus the protection
settings::

    strategy = SecureFedAvg(                     # was: FedAvg(
        fraction_train=0.5,
        min_available_nodes=10,
        aggregation=MaskingAggregation(),        # new: how updates are protected
        privacy=DistributedDP(1.0, delta=1e-5),  # new, optional: distributed DP
        clip_norm=1.0,                           # new: L2 bound of each update
    )
    result = strategy.start(grid, ArrayRecord(initial_arrays), num_rounds=5)
    result.train_metrics_clientapp, result.evaluate_metrics_clientapp  # as with FedAvg
    result.privacy_report()                      # the dp.report.PrivacyReport of the run

Each round samples a cohort uniformly (OS CSPRNG) from the nodes connected when the run
started, runs one secure-aggregation round (masking or Paillier) in which each client
trains on the global model and sends only a protected update, and applies the FedAvg step
``theta <- theta + eta * sum / denominator`` (McMahan et al. 2017). Unlike FedAvg, every
client counts once (weighting by ``num-examples`` would need each client to scale its
update by its count, which the sum cannot hide and client-level DP cannot bound). Without
DP the denominator is the number of survivors; with DP it is the fixed cohort size, so
that the sensitivity does not depend on who dropped (McMahan et al. 2018). Client-side
evaluation and train metrics are aggregated as FedAvg does (a weighted mean over
``weighted_by_key``); they travel in the clear, so under DP no train metrics are sent and
evaluation is best switched off (``fraction_evaluate=0.0``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Result, Strategy

from dp.events import DpEvent
from dp.report import PrivacyReport
from federated._warnings import DEFAULT_EPSILON_WARNING, PrivacyWarning, warn_if_epsilon_exceeds
from federated.config import UniformSelection
from federated.errors import BudgetExhausted, InsufficientClients, InvalidArgument
from federated.flower._arrays import flatten, unflatten
from federated.flower._exchange import push_and_pull
from federated.flower._metrics import MetricsAggregationFn, aggregate_or_none, weighted_mean
from federated.flower._round import Observer, RoundOutcome
from federated.flower.masking import MaskingAggregation
from federated.flower.privacy import DistributedDP, RunAccountant
from federated.flower.report import build_report, run_summary
from federated.history import RoundRecord, RoundStatus
from federated.selection import sample_clients

__all__ = ["Aggregation", "EvaluateFn", "FlowerRunResult", "SecureFedAvg"]

EvaluateFn = Callable[[int, ArrayRecord], MetricRecord | Mapping[str, float] | None]
"""Server-side evaluation: (round, global arrays) -> metrics (as Flower's ``evaluate_fn``)."""

DEFAULT_TIMEOUT = 3600.0
"""Seconds to wait for the replies of one stage (Flower's ``Strategy.start`` default)."""

logger = logging.getLogger("fedcrypt.flower")


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


@dataclass(eq=False)
class FlowerRunResult(Result):
    """What a run produced: Flower's :class:`~flwr.serverapp.strategy.Result`, and more.

    Attributes:
        arrays: the final global model.
        train_metrics_clientapp: aggregated train metrics per round (none under DP).
        evaluate_metrics_clientapp: aggregated client-side evaluate metrics per round.
        evaluate_metrics_serverapp: ``evaluate_fn``'s metrics per round (0: before round 1).
        records: one record per round (completed or skipped).
        outcomes: the raw outcome of each round's protocol.
        stop_reason: why the run ended.
        aggregation: the backend's name.
        accountant: the DP ledger (``None`` without DP).
        clip_norm: the L2 bound of every client's update (``None`` if unknown).
    """

    records: tuple[RoundRecord, ...] = ()
    outcomes: tuple[RoundOutcome, ...] = ()
    stop_reason: str = ""
    aggregation: str = ""
    accountant: RunAccountant | None = None
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


@dataclass(frozen=True)
class _Pending:
    """A training round configured by :meth:`SecureFedAvg.configure_train`, not yet run."""

    round_number: int
    cohort: list[int]
    arrays: ArrayRecord
    config: ConfigRecord
    grid: Grid


@dataclass
class _Run:
    """The state of one run: the population, the ledger and what each round produced."""

    nodes: list[int]
    cohort_size: int
    accountant: RunAccountant | None
    records: list[RoundRecord] = field(default_factory=list)
    outcomes: list[RoundOutcome] = field(default_factory=list)
    stop_reason: str | None = None
    warned: bool = False
    pending: _Pending | None = None


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{name} must be in [0, 1]")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name} must be an int >= {minimum}")
    return value


def _float_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _metric_record(values: Mapping[str, float]) -> MetricRecord:
    record = MetricRecord()
    for key, value in values.items():
        record[key] = value
    return record


class SecureFedAvg(Strategy):
    """FedAvg whose server only ever sees masked or encrypted sums (a Flower ``Strategy``).

    The first ten parameters are ``FedAvg``'s, with its meaning and defaults; the rest
    are keyword-only.

    Args:
        fraction_train: fraction of the connected nodes sampled for each training round
            (at least ``min_train_nodes``); in (0, 1].
        fraction_evaluate: fraction sampled for client-side evaluation (0: none).
        min_train_nodes: minimum cohort size (at least 2: a sum of one is the update).
        min_evaluate_nodes: minimum number of nodes evaluating.
        min_available_nodes: wait for this many connected nodes before the first round.
        weighted_by_key: the MetricRecord entry that weighs each client's metrics.
        arrayrecord_key: key of the model's ArrayRecord in evaluate messages.
        configrecord_key: key of the ConfigRecord in evaluate messages.
        train_metrics_aggr_fn: ``(replies, weight key) -> MetricRecord``; default: the
            weighted mean, as FedAvg.
        evaluate_metrics_aggr_fn: the same for evaluate replies.
        aggregation: the backend (:class:`MaskingAggregation` by default).
        privacy: distributed DP settings (masking only), or ``None``.
        clip_norm: L2 bound of each client's update (always applied: encodings need it).
        server_learning_rate: the FedAvg step ``eta``.
        wait_for_nodes: seconds to wait for ``min_available_nodes`` nodes to connect.
        epsilon_warning: warn (:class:`federated.PrivacyWarning`, and a log line) once the
            run's epsilon passes this (``None``: only the DP target is checked).
        observer: sees every payload the server accepts (audits, tests).
        min_nodes: deprecated name of ``min_available_nodes``.
        sample_size: deprecated: a fixed cohort size (use ``fraction_train`` and
            ``min_train_nodes``).
        timeout: deprecated: pass ``timeout`` to :meth:`start`, as with Flower.
    """

    def __init__(
        self,
        fraction_train: float = 1.0,
        fraction_evaluate: float = 1.0,
        min_train_nodes: int = 2,
        min_evaluate_nodes: int = 2,
        min_available_nodes: int = 2,
        weighted_by_key: str = "num-examples",
        arrayrecord_key: str = "arrays",
        configrecord_key: str = "config",
        train_metrics_aggr_fn: MetricsAggregationFn | None = None,
        evaluate_metrics_aggr_fn: MetricsAggregationFn | None = None,
        *,
        aggregation: Aggregation | None = None,
        privacy: DistributedDP | None = None,
        clip_norm: float = 1.0,
        server_learning_rate: float = 1.0,
        wait_for_nodes: float = 120.0,
        epsilon_warning: float | None = DEFAULT_EPSILON_WARNING,
        observer: Observer | None = None,
        min_nodes: int | None = None,
        sample_size: int | None = None,
        timeout: float | None = None,
    ) -> None:
        if hasattr(fraction_train, "run_round"):  # the pre-Strategy call SecureFedAvg(backend)
            warnings.warn(
                "SecureFedAvg(backend, ...) is deprecated: pass aggregation=backend",
                DeprecationWarning,
                stacklevel=2,
            )
            if aggregation is not None:
                raise InvalidArgument("the backend was given twice")
            aggregation, fraction_train = fraction_train, 1.0
        for old, new, value in (
            ("min_nodes", "min_available_nodes", min_nodes),
            ("sample_size", "fraction_train and min_train_nodes", sample_size),
            ("timeout", "start(..., timeout=...)", timeout),
        ):
            if value is not None:
                warnings.warn(
                    f"SecureFedAvg({old}=...) is deprecated: use {new}",
                    DeprecationWarning,
                    stacklevel=2,
                )
        self.aggregation: Aggregation = (
            aggregation if aggregation is not None else MaskingAggregation()
        )
        if not hasattr(self.aggregation, "run_round"):
            raise InvalidArgument("aggregation must be a fedcrypt Flower backend")
        if privacy is not None and not isinstance(self.aggregation, MaskingAggregation):
            raise InvalidArgument("distributed DP needs the masking aggregation")
        self.fraction_train = _fraction("fraction_train", fraction_train)
        if self.fraction_train == 0.0:
            raise InvalidArgument("fraction_train must be > 0: SecureFedAvg always trains")
        self.fraction_evaluate = _fraction("fraction_evaluate", fraction_evaluate)
        self.min_train_nodes = _count("min_train_nodes", min_train_nodes, 2)
        self.min_evaluate_nodes = _count("min_evaluate_nodes", min_evaluate_nodes, 0)
        if self.fraction_evaluate == 0.0:
            self.min_evaluate_nodes = 0
        self.min_available_nodes = _count(
            "min_available_nodes", min_available_nodes if min_nodes is None else min_nodes, 1
        )
        self.sample_size = None if sample_size is None else _count("sample_size", sample_size, 2)
        self.weighted_by_key = weighted_by_key
        self.arrayrecord_key = arrayrecord_key
        self.configrecord_key = configrecord_key
        self.train_metrics_aggr_fn: MetricsAggregationFn = train_metrics_aggr_fn or weighted_mean
        self.evaluate_metrics_aggr_fn: MetricsAggregationFn = (
            evaluate_metrics_aggr_fn or weighted_mean
        )
        if not (math.isfinite(clip_norm) and clip_norm > 0):
            raise InvalidArgument("clip_norm must be finite and > 0")
        if not (math.isfinite(server_learning_rate) and server_learning_rate > 0):
            raise InvalidArgument("server_learning_rate must be finite and > 0")
        if epsilon_warning is not None and not (
            math.isfinite(epsilon_warning) and epsilon_warning > 0
        ):
            raise InvalidArgument("epsilon_warning must be finite and > 0, or None")
        self.privacy = privacy
        self.clip_norm = float(clip_norm)
        self.server_learning_rate = float(server_learning_rate)
        self.wait_for_nodes = wait_for_nodes
        self.epsilon_warning = epsilon_warning
        self.observer = observer
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._run: _Run | None = None

    @property
    def min_nodes(self) -> int:
        """Deprecated name of :attr:`min_available_nodes`."""
        return self.min_available_nodes

    # -- Flower's Strategy interface --------------------------------------------------------

    def summary(self) -> None:
        """Log the strategy's configuration (Flower calls this when a run starts)."""
        logger.info(
            "SecureFedAvg: %s, clip %g, fraction train %.2f (min %d) | evaluate %.2f (min %d), "
            "min available nodes %d, %s",
            type(self.aggregation).__name__,
            self.clip_norm,
            self.fraction_train,
            self.min_train_nodes,
            self.fraction_evaluate,
            self.min_evaluate_nodes,
            self.min_available_nodes,
            "no DP" if self.privacy is None else f"distributed DP {self.privacy}",
        )

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Sample the round's cohort and check the budget; return no plaintext message.

        A secure-aggregation round takes several exchanges (five for SecAgg+), so the
        round runs in :meth:`aggregate_train` over this grid; Flower's own loop sends the
        empty list this returns, then calls :meth:`aggregate_train`.

        Raises:
            InsufficientClients: too few nodes connected.
            InvalidArgument: delta above ``1 / nodes``, or more colluders than tolerated.
            BudgetExhausted: the first round alone would exceed the target epsilon.
        """
        run = self._run
        if run is None or (server_round == 1 and (run.outcomes or run.stop_reason)):
            run = self._begin(grid)  # a new run in Flower's own loop, which never says so
        if run.stop_reason is not None:
            return []
        picked = sample_clients(UniformSelection(run.cohort_size), len(run.nodes))
        cohort = [run.nodes[i] for i in picked]
        if run.accountant is not None and not self._fits(run.accountant, cohort, arrays):
            if not run.outcomes:
                raise BudgetExhausted(
                    f"one round already exceeds the target epsilon "
                    f"{run.accountant.settings.target_epsilon:g} in the worst case: the run "
                    "would stop before round 1 with an untrained model; add noise, "
                    "sample fewer nodes or raise the target"
                )
            run.stop_reason = f"stopped before round {server_round}: target epsilon reached"
            return []
        config["server-round"] = server_round
        run.pending = _Pending(server_round, cohort, arrays, config, grid)
        return []

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Run the configured secure round; return the new model and the train metrics.

        ``replies`` is ignored (no plaintext update is ever sent). The model is ``None``
        when the round released nothing (too few survivors), as with Flower.
        """
        run = self._run
        pending = None if run is None else run.pending
        if run is None or pending is None or pending.round_number != server_round:
            return None, None
        run.pending = None
        outcome = self._run_round(pending)
        run.outcomes.append(outcome)
        arrays = None
        epsilon = None
        if outcome.total is not None:
            arrays = self._step(
                pending.arrays, outcome.total, len(outcome.survivors), run.cohort_size
            )
            if run.accountant is not None and outcome.event is not None:
                epsilon = run.accountant.record(
                    run.accountant.sampled(outcome.event, run.cohort_size)
                )
        elif run.accountant is not None:
            epsilon = run.accountant.epsilon()
        run.records.append(self._record(server_round, outcome, {}, epsilon))
        self._warn_epsilon(run, server_round, epsilon)
        contents = [RecordDict({"metrics": m}) for m in outcome.metrics.values()]
        metrics = aggregate_or_none(
            self.train_metrics_aggr_fn, contents, self.weighted_by_key, "train"
        )
        logger.info(
            "round %d: %s, %d of %d survived%s",
            server_round,
            "released" if outcome.completed else f"released nothing ({outcome.note})",
            len(outcome.survivors),
            len(outcome.cohort),
            "" if epsilon is None else f", epsilon {epsilon:.3g}",
        )
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Ordinary Flower evaluate messages to a uniformly sampled set of nodes."""
        if self.fraction_evaluate == 0.0:
            return []
        nodes = sorted(int(n) for n in grid.get_node_ids())
        size = min(
            len(nodes), max(int(len(nodes) * self.fraction_evaluate), self.min_evaluate_nodes)
        )
        if size == 0:
            return []
        config["server-round"] = server_round
        content = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
        picked = sample_clients(UniformSelection(size), len(nodes))
        return [
            Message(content, dst_node_id=nodes[i], message_type=MessageType.EVALUATE)
            for i in picked
        ]

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """The weighted mean of the evaluate replies' metrics (as FedAvg)."""
        replies = list(replies)
        good = [reply.content for reply in replies if not reply.has_error()]
        if len(good) < len(replies):
            logger.info(
                "round %d: %d evaluate replies were errors", server_round, len(replies) - len(good)
            )
        return aggregate_or_none(
            self.evaluate_metrics_aggr_fn, good, self.weighted_by_key, "evaluate"
        )

    # -- the run ------------------------------------------------------------------------------

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float | None = None,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: EvaluateFn | None = None,
    ) -> FlowerRunResult:
        """Run ``num_rounds`` rounds (fewer if the privacy budget stops the run).

        Flower's loop: train (securely), client-side evaluation, ``evaluate_fn``.

        Args:
            grid: the grid of the running ServerApp.
            initial_arrays: the global model at round 0.
            num_rounds: rounds to run.
            timeout: seconds to wait for the replies of one stage (default 3600).
            train_config: handed to the clients' train function.
            evaluate_config: handed to the clients' evaluate function.
            evaluate_fn: server-side evaluation, called before round 1 and after each round.

        Raises:
            InsufficientClients: too few nodes connected.
            InvalidArgument: delta above ``1 / nodes``, or more colluders than tolerated.
            BudgetExhausted: the first round alone would exceed the target epsilon.
        """
        if isinstance(num_rounds, bool) or not isinstance(num_rounds, int) or num_rounds < 1:
            raise InvalidArgument("num_rounds must be an int >= 1")
        if timeout is not None:
            self.timeout = timeout
        self.summary()
        train_config = ConfigRecord() if train_config is None else train_config
        evaluate_config = ConfigRecord() if evaluate_config is None else evaluate_config
        run = self._begin(grid)
        try:
            return self._loop(
                run, grid, initial_arrays, num_rounds, train_config, evaluate_config, evaluate_fn
            )
        finally:
            self._run = None

    def _loop(
        self,
        run: _Run,
        grid: Grid,
        arrays: ArrayRecord,
        num_rounds: int,
        train_config: ConfigRecord,
        evaluate_config: ConfigRecord,
        evaluate_fn: EvaluateFn | None,
    ) -> FlowerRunResult:
        result = FlowerRunResult(
            arrays=arrays,
            aggregation=type(self.aggregation).__name__,
            accountant=run.accountant,
            clip_norm=self.clip_norm,
        )
        if evaluate_fn is not None:
            initial = evaluate_fn(0, arrays)
            if initial is not None:
                result.evaluate_metrics_serverapp[0] = _metric_record(_float_metrics(initial))
        for server_round in range(1, num_rounds + 1):
            self.configure_train(server_round, arrays, train_config, grid)
            if run.stop_reason is not None:
                break
            new_arrays, train_metrics = self.aggregate_train(server_round, [])
            if new_arrays is not None:
                arrays = new_arrays
            if train_metrics is not None:
                result.train_metrics_clientapp[server_round] = train_metrics
            messages = list(self.configure_evaluate(server_round, arrays, evaluate_config, grid))
            if messages:
                replies = push_and_pull(grid, messages, self.timeout)
                evaluated = self.aggregate_evaluate(server_round, replies)
                if evaluated is not None:
                    result.evaluate_metrics_clientapp[server_round] = evaluated
            if evaluate_fn is not None:
                metrics = evaluate_fn(server_round, arrays)
                if metrics is not None:
                    values = _float_metrics(metrics)
                    result.evaluate_metrics_serverapp[server_round] = _metric_record(values)
                    run.records[-1] = dataclasses.replace(run.records[-1], metrics=values)
        result.arrays = arrays
        result.records = tuple(run.records)
        result.outcomes = tuple(run.outcomes)
        result.stop_reason = run.stop_reason or f"completed {num_rounds} rounds"
        return result

    def _begin(self, grid: Grid) -> _Run:
        """Wait for the nodes; fix the population, the cohort size and the ledger."""
        needed = max(self.min_available_nodes, self.min_train_nodes, self.sample_size or 0)
        deadline = time.monotonic() + self.wait_for_nodes
        nodes = sorted(int(n) for n in grid.get_node_ids())
        while len(nodes) < needed and time.monotonic() < deadline:
            time.sleep(0.2)
            nodes = sorted(int(n) for n in grid.get_node_ids())
        if len(nodes) < needed:
            raise InsufficientClients(f"{len(nodes)} nodes connected, {needed} needed")
        population = len(nodes)
        if self.sample_size is not None:
            cohort_size = self.sample_size
        else:
            cohort_size = max(int(population * self.fraction_train), self.min_train_nodes)
        if cohort_size > population:
            raise InsufficientClients(f"a cohort of {cohort_size} from {population} nodes")
        accountant = RunAccountant(self.privacy, population) if self.privacy else None
        if self.privacy is not None and self.fraction_evaluate > 0:
            warnings.warn(
                "client-side evaluation sends each node's metrics in the clear; the run's "
                "epsilon does not cover them (set fraction_evaluate=0.0 under DP)",
                PrivacyWarning,
                stacklevel=3,
            )
        self._run = _Run(nodes, cohort_size, accountant)
        return self._run

    def _run_round(self, pending: _Pending) -> RoundOutcome:
        kwargs: dict[str, Any] = {
            "clip": self.clip_norm,
            "train_config": pending.config,
            "timeout": self.timeout,
            "observer": self.observer,
        }
        if self.privacy is not None:
            kwargs["privacy"] = self.privacy
        return self.aggregation.run_round(
            pending.grid, pending.cohort, pending.round_number, pending.arrays, **kwargs
        )

    def _warn_epsilon(self, run: _Run, server_round: int, epsilon: float | None) -> None:
        if run.warned or run.accountant is None or epsilon is None:
            return
        settings = run.accountant.settings
        message = warn_if_epsilon_exceeds(
            epsilon,
            settings.delta,
            bound=self.epsilon_warning,
            budget=settings.target_epsilon,
            what=f"the Flower run after round {server_round}",
            stacklevel=5,  # the ServerApp's call of start()
        )
        run.warned = message is not None

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
