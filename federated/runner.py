"""The round runner: select, train, clip, protect, aggregate, FedAvg, account; repeat.

One round follows the loop of McMahan et al. (2017, Algorithm 1) with the server learning
rate of Reddi et al. (2021): ``theta_{t+1} = theta_t + eta * mean_k(delta_k)``, where
``delta_k`` is client k's clipped change of the parameters. The sum behind the mean is
computed by the configured backend through :class:`federated.server.AggregationServer`,
which only ever receives masked vectors or ciphertexts (except in the labelled
``plain_insecure`` baseline). Differential privacy follows McMahan et al. (2018, DP-FedAvg):
per-client L2 clipping, Gaussian noise on the sum (central) or integer noise shares under
masking (distributed, Kairouz et al. 2021), and an accountant composed after every round.
With ``FederatedConfig.ftrl`` the server runs DP-FTRL instead (Kairouz et al. 2021;
McMahan et al. 2024): no sampling, a :class:`~federated.config.ParticipationSelection`
that enforces the participation schema, and the correlated noise of a matrix factorisation
added to the securely aggregated sum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dp.mechanisms.clipping import clip_l2_unchecked
from federated._aggregation import Aggregator, EncodedContributions, RoundInput, StageTimer
from federated._codecs import FixedPointCodec, IntegerCodec, weighted_bound
from federated._dropouts import draw_dropouts, reaches_input
from federated._masked import MaskingAggregator
from federated._paillier import PaillierAggregator
from federated._plain import PlainInsecureAggregator
from federated._privacy import PrivacyTracker, validated_encoding
from federated._run_events import RoundCallback, RunEvents
from federated._validated import ValidatedAggregator
from federated.adversary import (
    AdversaryRecord,
    MaliciousStep,
    attackers_among,
    choose_malicious,
    encode_unchecked,
    paillier_entry_limit,
)
from federated.audit import AuditConfig, CanaryPlan
from federated.client import ClientUpdate, FederatedClient, check_example_count, check_update
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    ParticipationSelection,
    PoissonSelection,
    Stage,
    UniformSelection,
    Weighting,
)
from federated.errors import InvalidArgument, RunInterrupted
from federated.executors import Executor, ExecutorName, make_executor, map_allowing_losses
from federated.history import History, RoundRecord, RoundStatus
from federated.selection import ParticipationTracker, expected_cohort_size, sample_clients
from federated.server import AggregationServer, Observer
from secagg.paillier.threshold import ThresholdKeys

__all__ = ["run", "Evaluator"]

Evaluator = Callable[[NDArray[np.float64]], Mapping[str, float]]


def _fit(job: tuple[FederatedClient, NDArray[np.float64]]) -> ClientUpdate:
    """Executor task: local training of one client (module level, so it pickles)."""
    client, parameters = job
    return client.fit(parameters)


def _fit_and_encode(
    job: tuple[
        FederatedClient,
        NDArray[np.float64],
        FederatedConfig,
        int,
        IntegerCodec,
        MaliciousStep | None,
        tuple[int, int],
    ],
) -> NDArray[np.unsignedinteger[Any]]:
    """Executor task: one client's training, clipping and encoding, all on its side.

    Only the encoded words travel back from the worker: half the bytes of the float
    update for a ring of at most 32 bits, and no second trip out to encode. A malicious
    client (``MaliciousStep``) skips clipping and encodes its poisoned update unchecked.
    """
    client, parameters, config, dimension, codec, malicious, (client_id, round_number) = job
    update = client.fit(parameters)
    if malicious is None:
        words = codec.encode(_contribution(update, config, dimension, client_id, round_number))
    else:
        checked = check_update(update, dimension, client=client_id, round_number=round_number)
        poisoned = malicious.contribution(checked, parameters)
        words = encode_unchecked(codec, poisoned, malicious.attackers)
    if codec.modulus_bits <= 32:
        return words.astype(np.uint32)
    return words


def _contribution(
    update: ClientUpdate,
    config: FederatedConfig,
    dimension: int,
    client: int | None = None,
    round_number: int | None = None,
) -> NDArray[np.float64]:
    """Clip a client's update and, when weighting by examples, weight it (client side).

    The clipped vector may be the client's own delta (when already inside the ball): it is
    only read, within this round.
    """
    delta = check_update(update, dimension, client=client, round_number=round_number)
    clipped = clip_l2_unchecked(delta, config.clip_norm)
    if config.weighting is Weighting.UNIFORM:
        return clipped
    count = check_example_count(update.num_examples)
    weight = min(count, config.example_weight_cap) / config.example_weight_cap
    return np.concatenate([weight * clipped, [weight]])


def _make_aggregator(
    config: FederatedConfig,
    server: AggregationServer,
    privacy: PrivacyTracker,
    vector_length: int,
    paillier_keys: ThresholdKeys | None,
) -> Aggregator:
    if config.aggregation is Aggregation.PLAIN_INSECURE:
        return PlainInsecureAggregator(server)
    if config.aggregation is Aggregation.MASKING:
        bits = config.masking.modulus_bits
        bound = weighted_bound(config.clip_norm, config.weighting is Weighting.EXAMPLES)

        def codec_for(cohort_size: int) -> IntegerCodec:
            if config.privacy.mode is DPMode.DISTRIBUTED:
                return privacy.distributed_codec(cohort_size)
            return FixedPointCodec(bits, vector_length, cohort_size, bound)

        return MaskingAggregator(server, config.masking, codec_for)
    if config.aggregation is Aggregation.PAILLIER:
        bound = weighted_bound(config.clip_norm, config.weighting is Weighting.EXAMPLES)
        return PaillierAggregator(server, config.paillier, bound, paillier_keys)
    if config.aggregation is Aggregation.VALIDATED:
        return ValidatedAggregator(
            server,
            config.validated,
            validated_encoding(config, vector_length),
            privacy.aggregator_noise,
        )
    raise InvalidArgument(f"aggregation {config.aggregation.value!r} is not available")


def run(
    config: FederatedConfig,
    clients: Sequence[FederatedClient],
    initial_parameters: NDArray[np.floating],
    *,
    evaluate: Evaluator | None = None,
    executor: Executor | ExecutorName | None = None,
    executor_options: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    callbacks: Sequence[RoundCallback] | None = None,
    observer: Observer | None = None,
    paillier_keys: ThresholdKeys | None = None,
    audit: AuditConfig | None = None,
) -> History:
    """Run federated training and return its :class:`~federated.History`.

    Args:
        config: the run's configuration.
        clients: the client population; client ``i`` has id ``i``.
        initial_parameters: the flat starting parameters of the global model.
        evaluate: optional server-side evaluation of the global parameters after each round
            (returns e.g. ``{"loss": ..., "accuracy": ...}``).
        executor: where client work runs: an :class:`~federated.Executor` object (left open
            for the caller to reuse), or a name, ``"serial"`` (the default), ``"process"`` or
            ``"ray"``, built with ``executor_options`` and closed when the run ends.
        executor_options: constructor options for a named executor, e.g.
            ``{"address": "auto"}`` to join a running Ray cluster.
        progress: show a ``tqdm.auto`` progress bar with the epsilon and the loss; ``None``
            shows one on a terminal or in a notebook, not under CI (``CI`` set) or with
            ``FEDCRYPT_PROGRESS=0``. Round events are also logged on the
            ``fedcrypt.federated.runner`` logger (standard :mod:`logging`).
        callbacks: called in order with each round's :class:`~federated.RoundRecord` as
            soon as the round ends (e.g. to save a checkpoint or stop a notebook plot).
        observer: called with every object the server receives (audits, tests).
        paillier_keys: the key-holder committee's threshold key for the ``paillier``
            backend (from :func:`secagg.paillier.threshold.deal_threshold_keys`); dealt
            at the first round when omitted.
        audit: insert secret canary clients and audit the run with them
            (:mod:`federated.audit`); the result is ``History.audit``. The canaries whose
            coin is set are appended to ``clients`` (ids from ``len(clients)`` on) and
            count in the population the selection and the accountant use.

    Returns:
        The history: per-round records, the final parameters, the privacy ledger and the
        audit (``None`` without one).

    Raises:
        InvalidArgument: on an inconsistent configuration or population.
        BudgetExhausted: with the ``REFUSE`` policy, if the planned rounds exceed the target.
        InvalidUpdate: a client returned a NaN, Inf or misshapen update (names the client
            and the round).
        RunInterrupted: Ctrl-C; a ``KeyboardInterrupt`` whose ``history`` holds the rounds
            done so far, the parameters of the last accounted round and the ledger.
    """
    if type(initial_parameters).__module__.split(".")[0] == "torch":
        raise InvalidArgument(
            "initial_parameters is a torch tensor: pass "
            "federated.torch.initial_parameters(model) or tensor.detach().cpu().numpy()"
        )
    try:
        raw = np.asarray(initial_parameters)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgument(f"initial_parameters is not a numeric vector: {exc}") from exc
    if raw.dtype.kind not in "iuf":
        raise InvalidArgument(f"initial_parameters must be real numbers, got dtype {raw.dtype}")
    parameters = np.array(raw, dtype=np.float64)
    if parameters.ndim != 1 or parameters.size == 0:
        raise InvalidArgument("initial_parameters must be a non-empty 1-D vector")
    if not np.all(np.isfinite(parameters)):
        raise InvalidArgument("initial_parameters contain NaN or Inf")
    adversary: AdversaryRecord | None = None
    if config.adversary is not None:  # among the given clients, not the canaries
        adversary = AdversaryRecord(
            config.adversary, choose_malicious(config.adversary, len(clients))
        )
    malicious = frozenset(() if adversary is None else adversary.malicious)
    entry_limit = (
        paillier_entry_limit(config)
        if adversary is not None and config.aggregation is Aggregation.PAILLIER
        else None
    )
    canaries: CanaryPlan | None = None
    if audit is not None:
        if not isinstance(audit, AuditConfig):
            raise InvalidArgument("audit must be an AuditConfig")
        canaries = CanaryPlan.draw(audit, config, parameters.size)
        clients = [*clients, *canaries.clients]
    initial = parameters
    population = len(clients)
    if population < 1:
        raise InvalidArgument("there are no clients")
    selection = config.selection
    if isinstance(selection, UniformSelection) and selection.sample_size > population:
        raise InvalidArgument("the sample size exceeds the number of clients")
    dimension = parameters.size
    vector_length = dimension + (1 if config.weighting is Weighting.EXAMPLES else 0)

    server = AggregationServer(
        observer=observer,
        allow_insecure_plaintext=config.aggregation is Aggregation.PLAIN_INSECURE,
    )
    privacy = PrivacyTracker(config, population, vector_length)
    participation = (
        ParticipationTracker(selection, config.rounds, population)
        if isinstance(selection, ParticipationSelection)
        else None
    )
    privacy.check_can_start()
    runner: Executor
    if isinstance(executor, Executor):
        if executor_options:
            raise InvalidArgument("executor_options apply only to an executor given by name")
        runner, owns_executor = executor, False
    else:
        runner = make_executor(executor or "serial", **(executor_options or {}))
        owns_executor = True
    aggregator = _make_aggregator(config, server, privacy, vector_length, paillier_keys)
    records: list[RoundRecord] = []
    events = RunEvents(config, records, progress=progress, callbacks=callbacks)
    tick, close_bar = events.round_done, events.close
    accounted = parameters  # the last parameters the accountant covers (see RunInterrupted)
    stop_reason = "completed all rounds"
    try:
        for round_number in range(1, config.rounds + 1):
            if not privacy.next_round_fits(round_number):
                stop_reason = (
                    f"stopped before round {round_number}: it would exceed the target "
                    f"epsilon {config.privacy.target_epsilon}"
                )
                break
            timer = StageTimer()
            with timer.stage("select"):
                cohort = (
                    sample_clients(selection, population)
                    if participation is None
                    else participation.select(round_number)
                )
                dropouts = draw_dropouts(config.dropout, round_number, cohort)
            threshold = config.survivor_threshold(len(cohort))
            if len(cohort) < config.min_clients:
                records.append(
                    RoundRecord(
                        round_number,
                        RoundStatus.SKIPPED,
                        len(cohort),
                        0,
                        threshold,
                        epsilon=privacy.epsilon(),
                        stage_seconds=dict(timer.seconds),
                        note="fewer clients selected than min_clients",
                    )
                )
                tick()
                continue
            senders = [c for c in cohort if reaches_input(c, dropouts)]
            attackers = attackers_among(malicious, senders)
            steps: dict[int, MaliciousStep] = {}
            if config.adversary is not None and attackers:
                step = MaliciousStep(
                    config.adversary,
                    len(cohort),
                    attackers,
                    config.server_learning_rate,
                    weighted=config.weighting is Weighting.EXAMPLES,
                    entry_limit=entry_limit,
                )
                steps = {c: step for c in senders if c in malicious}
            codec = aggregator.client_codec(len(cohort))
            if codec is None:
                with timer.stage("train"):
                    # A lost task (e.g. the Ray executor's WorkerLost) is a client that
                    # dropped out before sending its input.
                    updates, lost = map_allowing_losses(
                        runner, _fit, [(clients[c], parameters) for c in senders]
                    )
                with timer.stage("clip"):
                    contributions = {
                        senders[i]: _contribution(u, config, dimension, senders[i], round_number)
                        if senders[i] not in steps
                        else steps[senders[i]].contribution(
                            check_update(
                                u, dimension, client=senders[i], round_number=round_number
                            ),
                            parameters,
                        )
                        for i, u in updates.items()
                    }
                encoded = None
            else:
                with timer.stage("train"):  # training, clipping and encoding, per client
                    jobs = [
                        (
                            clients[c],
                            parameters,
                            config,
                            dimension,
                            codec,
                            steps.get(c),
                            (c, round_number),
                        )
                        for c in senders
                    ]
                    words, lost = map_allowing_losses(runner, _fit_and_encode, jobs)
                contributions = {}
                encoded = EncodedContributions(codec, {senders[i]: w for i, w in words.items()})
            for position in lost:
                dropouts[senders[position]] = Stage.MASKED_INPUT
            round_input = RoundInput(
                round_number, cohort, contributions, dropouts, threshold, encoded
            )
            result = aggregator.aggregate(round_input, timer)
            if result.total is None:
                records.append(
                    RoundRecord(
                        round_number,
                        RoundStatus.SKIPPED,
                        len(cohort),
                        0,
                        threshold,
                        epsilon=privacy.epsilon(),
                        bytes_sent=result.bytes_sent,
                        stage_seconds=dict(timer.seconds),
                        note=result.note,
                        attackers=attackers,
                        rejected=result.rejected,
                        rejected_clients=result.rejected_clients,
                    )
                )
                tick()
                continue
            total = result.total
            # Validated aggregation's two aggregators noised their shares of the sum already.
            if config.privacy.mode is DPMode.CENTRAL and privacy.aggregator_noise is None:
                with timer.stage("noise"):
                    total = (
                        privacy.add_central_noise(total)
                        if privacy.ftrl is None
                        else privacy.ftrl.add_noise(total, round_number)
                    )
            with timer.stage("update"):
                parameters = parameters + config.server_learning_rate * _mean(
                    total, len(result.survivors), config, population
                )
            with timer.stage("account"):
                epsilon = privacy.record_round(len(result.survivors))
            accounted = parameters
            metrics: Mapping[str, float] = {}
            if evaluate is not None:
                with timer.stage("evaluate"):
                    metrics = dict(evaluate(parameters))
            records.append(
                RoundRecord(
                    round_number,
                    RoundStatus.COMPLETED,
                    len(cohort),
                    len(result.survivors),
                    threshold,
                    metrics=metrics,
                    epsilon=epsilon,
                    bytes_sent=result.bytes_sent,
                    stage_seconds=dict(timer.seconds),
                    note=result.note,
                    attackers=attackers,
                    attackers_in_sum=attackers_among(malicious, result.survivors),
                    rejected=result.rejected,
                    rejected_clients=result.rejected_clients,
                )
            )
            tick()
    except KeyboardInterrupt as interrupt:
        done = f"interrupted (Ctrl-C) after {len(records)} of {config.rounds} rounds"
        partial = History(
            records=tuple(records),
            parameters=accounted,
            stop_reason=done,
            config=config,
            privacy=privacy,
            audit=None,
            adversary=adversary,
        )
        raise RunInterrupted(partial) from interrupt
    finally:
        close_bar()
        if owns_executor:
            runner.close()
    audit_result = None
    if canaries is not None:
        delta = config.privacy.run_delta if config.privacy.enabled else canaries.settings.delta
        assert delta is not None  # checked by CanaryPlan.draw
        audit_result = canaries.audit(parameters - initial, delta, privacy.epsilon())
    return History(
        records=tuple(records),
        parameters=parameters,
        stop_reason=stop_reason,
        config=config,
        privacy=privacy,
        audit=audit_result,
        adversary=adversary,
    )


def _mean(
    total: NDArray[np.float64], survivors: int, config: FederatedConfig, population: int
) -> NDArray[np.float64]:
    """The FedAvg mean of the aggregated sum.

    Without DP: divide by the survivors (or by their total weight when weighting by example
    counts, carried in the last coordinate). Under DP with Poisson sampling the denominator
    is the expected cohort size, so it does not depend on who was sampled (McMahan et al.
    2018); with fixed-size sampling it is the public number of survivors.
    """
    if config.weighting is Weighting.EXAMPLES:
        weight = float(total[-1])
        if weight <= 0:
            return np.zeros(total.size - 1, dtype=np.float64)
        return total[:-1] / weight
    if config.privacy.enabled and isinstance(config.selection, PoissonSelection):
        return total / max(expected_cohort_size(config.selection, population), 1.0)
    return total / survivors
