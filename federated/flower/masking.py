"""Server side of SecAgg+ masking over Flower: our state machine, Flower's network.

:class:`MaskingAggregation` describes the protocol parameters; :class:`MaskingRound` drives
one round of :class:`secagg.masking.Server` over a Flower :class:`~flwr.serverapp.Grid`:
each protocol round (AdvertiseKeys, ShareKeys, MaskedInput, ConsistencyCheck, Unmask;
Bonawitz et al. CCS 2017, Figure 4, over the SecAgg+ graph of Bell et al. CCS 2020) is one
Flower message to each still-active node. A node that does not answer in time, answers
with an error, or answers with a message that fails validation (wrong session, id, length,
dtype or range) has dropped out at that stage; the protocol recovers as long as
``threshold`` nodes remain, and otherwise releases nothing.

Unlike Flower's own ``SecAggPlusWorkflow``, a dropout before masking does not abort the
round, a wrong-length vector is refused instead of summed, and a request for both shares of
a client makes the honest clients abort (each releases one share per neighbour, once).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from flwr.serverapp import Grid
from numpy.typing import NDArray

from dp.events import DpEvent
from dp.mechanisms.distributed import DistributedConfig
from federated.errors import InvalidArgument
from federated.flower._arrays import flatten
from federated.flower._envelope import Envelope, Protocol
from federated.flower._exchange import StageReplies, exchange
from federated.flower._plan import MaskingPlan, fixed_point_scale
from federated.flower._round import Observer, RoundOutcome
from federated.flower._training import ARRAYS_KEY, CONFIG_KEY, reply_metrics
from federated.flower.errors import MalformedMessage
from federated.flower.privacy import DistributedDP
from secagg.errors import SecAggError
from secagg.masking import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    MaskedInput,
    MaskingConfig,
    Server,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)

__all__ = ["MaskingAggregation", "MaskingRound"]


@dataclass(frozen=True, slots=True)
class MaskingAggregation:
    """SecAgg+ parameters of a Flower run.

    Attributes:
        threshold_fraction: Shamir threshold as a fraction of a neighbourhood, in (1/2, 1].
            It is also the minimum fraction of the cohort that must survive.
        modulus_bits: the masked sum lives in ``Z_{2^B}``.
        neighbours: SecAgg+ graph degree (even), or ``None`` for the complete graph.
    """

    threshold_fraction: float = 0.6
    modulus_bits: int = 32
    neighbours: int | None = None

    def __post_init__(self) -> None:
        if not 0.5 < self.threshold_fraction <= 1.0:
            raise InvalidArgument("threshold_fraction must be in (0.5, 1]")
        if not 8 <= self.modulus_bits <= 64:
            raise InvalidArgument("modulus_bits must be in [8, 64]")
        if self.neighbours is not None and (self.neighbours < 2 or self.neighbours % 2):
            raise InvalidArgument("neighbours must be None or an even int >= 2")

    def threshold(self, cohort_size: int) -> int:
        """Shamir threshold for a cohort: more than half of one neighbourhood."""
        full = self.neighbours is None
        size = cohort_size if full else min(self.neighbours or 0, cohort_size - 1) + 1
        return max(size // 2 + 1, math.ceil(self.threshold_fraction * size))

    def plan(
        self,
        nodes: Sequence[int],
        round_number: int,
        vector_length: int,
        clip: float,
        privacy: DistributedDP | None = None,
    ) -> MaskingPlan:
        """The round's configuration and encoding; protocol ids are positions in ``nodes``.

        Under distributed DP the noise is sized for ``n_min = threshold - colluders``
        honest survivors, the worst case the round accepts when the colluders
        (:attr:`DistributedDP.colluders`) survive and subtract their own shares, and the
        grid step is calibrated to ``B`` bits (Kairouz et al. 2021, section 5).

        Raises:
            InvalidArgument: more colluders than the threshold tolerates.
        """
        ids = tuple(range(len(nodes)))
        threshold = self.threshold(len(ids))
        dp_config = None
        seed = b""
        length = vector_length
        colluders = 0
        if privacy is not None:
            colluders = privacy.colluders_for(threshold)
            dp_config = DistributedConfig.calibrate(
                dimension=vector_length,
                l2_clip=clip,
                noise_multiplier=privacy.noise_multiplier,
                n_min=threshold - colluders,
                num_clients=len(ids),
                modulus_bits=self.modulus_bits,
                noise=privacy.noise,
                k_stddevs=privacy.k_stddevs,
            )
            seed = os.urandom(32)
            length = dp_config.padded_dimension
        config = MaskingConfig(
            client_ids=ids,
            threshold=threshold,
            vector_length=length,
            modulus_bits=self.modulus_bits,
            neighbours=self.neighbours,
            round_number=round_number,
        )
        scale = fixed_point_scale(self.modulus_bits, len(ids), clip)
        return MaskingPlan(config, 0, clip, scale, dp_config, seed, colluders)

    def run_round(
        self,
        grid: Grid,
        nodes: Sequence[int],
        round_number: int,
        global_arrays: ArrayRecord,
        *,
        clip: float,
        train_config: ConfigRecord | None = None,
        timeout: float | None = 600.0,
        observer: Observer | None = None,
        privacy: DistributedDP | None = None,
    ) -> RoundOutcome:
        """Run one SecAgg+ round with ``nodes`` and return the decoded sum of survivors."""
        _, layout = flatten(global_arrays)
        plan = self.plan(nodes, round_number, layout.size, clip, privacy)
        return MaskingRound(
            grid, plan, nodes, global_arrays, train_config, timeout=timeout, observer=observer
        ).run()


class MaskingRound:
    """One SecAgg+ round over a Flower grid (one method per protocol round).

    Args:
        grid: the grid of the running ServerApp.
        plan: the round's configuration and encoding.
        nodes: the sampled node ids; node ``nodes[i]`` plays protocol id ``i``.
        global_arrays: the global model, sent with the masked-input stage.
        train_config: the training configuration for the user's train function.
        timeout: seconds to wait for the replies of one stage.
        observer: sees every accepted reply payload (for audits and tests).

    After :meth:`run`, ``dropped`` and ``failures`` say which nodes dropped at each stage and
    why (no reply, an error reply, or a reply that failed validation).
    """

    def __init__(
        self,
        grid: Grid,
        plan: MaskingPlan,
        nodes: Sequence[int],
        global_arrays: ArrayRecord,
        train_config: ConfigRecord | None = None,
        *,
        timeout: float | None = 600.0,
        observer: Observer | None = None,
    ) -> None:
        if len(nodes) != len(plan.config.client_ids) or len(set(nodes)) != len(nodes):
            raise InvalidArgument("nodes must be distinct, one per configured client")
        self.grid = grid
        self.plan = plan
        self.nodes = tuple(nodes)
        self.node_of = dict(enumerate(self.nodes))
        self.id_of = {node: cid for cid, node in self.node_of.items()}
        self.global_arrays = global_arrays
        self.train_config = train_config if train_config is not None else ConfigRecord()
        self.timeout = timeout
        self.observer = observer
        self.server = Server(plan.config)
        self.round_number = plan.config.round_number
        self.dropped: dict[str, tuple[int, ...]] = {}
        self.failures: dict[str, dict[int, str]] = {}
        self.stage_seconds: dict[str, float] = {}
        self.bytes_received = 0
        self.metrics: dict[int, MetricRecord] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, stage: str, requests: Mapping[int, RecordDict]) -> dict[int, bytes]:
        """Send one stage; return the reply bodies of nodes that answered with an envelope."""
        replies: StageReplies = exchange(
            self.grid, requests, group_id=str(self.round_number), timeout=self.timeout
        )
        bodies: dict[int, bytes] = {}
        failures = dict(replies.failures)
        for node, content in replies.replies.items():
            try:
                envelope = Envelope.from_content(content)
            except MalformedMessage as exc:
                failures[node] = f"malformed envelope: {exc}"
                continue
            if (
                envelope.protocol is not Protocol.MASKING
                or envelope.stage != stage
                or envelope.round_number != self.round_number
            ):
                failures[node] = "reply for another protocol, stage or round"
                continue
            bodies[node] = envelope.body
            metrics = reply_metrics(content)
            if metrics is not None:
                self.metrics[node] = metrics
        self.stage_seconds[stage] = replies.seconds
        self.failures[stage] = failures
        self.bytes_received += sum(len(b) for b in bodies.values())
        self.dropped[stage] = tuple(sorted(failures))
        return bodies

    def _request(self, stage: str, body: bytes = b"") -> Envelope:
        return Envelope(Protocol.MASKING, stage, self.round_number, body)

    def _accept(self, stage: str, node: int, body: bytes) -> None:
        if self.observer is not None:
            self.observer(stage, node, body)

    def _drop(self, stage: str, node: int, reason: str) -> None:
        self.dropped[stage] = tuple(sorted({*self.dropped.get(stage, ()), node}))
        self.failures.setdefault(stage, {})[node] = reason

    # -- the five protocol rounds -----------------------------------------------------------

    def advertise_keys(self) -> tuple[int, ...]:
        """Round 0: send the plan; collect the advertised keys. Returns the active ids."""
        requests = {
            node: self._request("advertise_keys").to_content(
                dict(self.plan.for_client(cid).to_record())
            )
            for cid, node in self.node_of.items()
        }
        adverts: list[AdvertiseKeys] = []
        for node, body in self._send("advertise_keys", requests).items():
            try:
                advert = AdvertiseKeys.from_bytes(body)
            except SecAggError as exc:
                self._drop("advertise_keys", node, f"malformed reply: {exc}")
                continue
            if advert.client_id != self.id_of[node]:
                self._drop("advertise_keys", node, "speaks for another client id")
                continue
            self._accept("advertise_keys", node, body)
            adverts.append(advert)
        self.roster = self.server.collect_keys(adverts)
        return tuple(self.roster)

    def share_keys(self, active: Sequence[int]) -> tuple[int, ...]:
        """Round 1: send each client its roster slice; collect shares. Returns ids with bundles."""
        requests = {
            self.node_of[c]: self._request("share_keys", self.roster[c].to_bytes()).to_content()
            for c in active
            if c in self.roster
        }
        messages: list[ShareKeys] = []
        for node, reply in self._send("share_keys", requests).items():
            try:
                message = ShareKeys.from_bytes(reply)
            except SecAggError as exc:
                self._drop("share_keys", node, f"malformed reply: {exc}")
                continue
            if message.client_id != self.id_of[node]:
                self._drop("share_keys", node, "speaks for another client id")
                continue
            self._accept("share_keys", node, reply)
            messages.append(message)
        self.bundles = self.server.collect_shares(messages)
        return tuple(sorted(self.bundles))

    def masked_input(self, active: Sequence[int]) -> tuple[int, ...]:
        """Round 2: forward share bundles and the global model; collect masked vectors."""
        requests: dict[int, RecordDict] = {}
        for cid in active:
            content = self._request("masked_input", self.bundles[cid].to_bytes()).to_content()
            content[ARRAYS_KEY] = self.global_arrays
            content[CONFIG_KEY] = self.train_config
            requests[self.node_of[cid]] = content
        messages: list[MaskedInput] = []
        for node, reply in self._send("masked_input", requests).items():
            message = self._valid_masked_input(node, reply)
            if message is None:
                self._drop("masked_input", node, "invalid masked vector (id, length or range)")
                continue
            self._accept("masked_input", node, reply)
            messages.append(message)
        self.consistency_request = self.server.collect_masked_inputs(messages)
        return self.consistency_request.survivors

    def _valid_masked_input(self, node: int, body: bytes) -> MaskedInput | None:
        """Parse a masked vector, refusing (not summing) a wrong id, length, dtype or range."""
        cfg = self.plan.config
        try:
            message = MaskedInput.from_bytes(body)
        except SecAggError:
            return None
        vector = message.vector
        if message.client_id != self.id_of[node] or vector.shape != (cfg.vector_length,):
            return None
        if cfg.modulus_bits < 64 and vector.size and int(vector.max()) >> cfg.modulus_bits:
            return None
        return message

    def consistency_check(self, survivors: Sequence[int]) -> tuple[int, ...]:
        """Round 3: send the survivor list; collect acknowledgements."""
        requests = {
            self.node_of[cid]: self._request("consistency_check", request.to_bytes()).to_content()
            for cid, request in self.consistency_requests(survivors).items()
        }
        messages: list[ConsistencyResponse] = []
        for node, reply in self._send("consistency_check", requests).items():
            try:
                message = ConsistencyResponse.from_bytes(reply)
            except SecAggError as exc:
                self._drop("consistency_check", node, f"malformed reply: {exc}")
                continue
            if message.client_id != self.id_of[node]:
                self._drop("consistency_check", node, "speaks for another client id")
                continue
            self._accept("consistency_check", node, reply)
            messages.append(message)
        self.unmask_request = self.server.collect_consistency(messages)
        return tuple(m.client_id for m in messages)

    def consistency_requests(self, survivors: Sequence[int]) -> dict[int, ConsistencyRequest]:
        """The survivor list each survivor receives (its neighbourhood's part when unsigned)."""
        return {cid: self.server.consistency_request_for(cid) for cid in survivors}

    def unmask_requests(self, answering: Sequence[int]) -> dict[int, UnmaskRequest]:
        """The unmask request each answering client receives (its neighbourhood's part)."""
        return {cid: self.server.unmask_request_for(cid) for cid in answering}

    def unmask(self, answering: Sequence[int]) -> NDArray[np.uint64]:
        """Round 4: ask for shares; rebuild masks; return the sum mod ``2^B``."""
        requests = {
            self.node_of[cid]: self._request("unmask", request.to_bytes()).to_content()
            for cid, request in self.unmask_requests(answering).items()
        }
        messages: list[UnmaskResponse] = []
        for node, reply in self._send("unmask", requests).items():
            try:
                message = UnmaskResponse.from_bytes(reply)
            except SecAggError as exc:
                self._drop("unmask", node, f"malformed reply: {exc}")
                continue
            if message.client_id != self.id_of[node]:
                self._drop("unmask", node, "speaks for another client id")
                continue
            self._accept("unmask", node, reply)
            messages.append(message)
        result = self.server.collect_unmask(messages)
        self.survivor_ids = result.survivors
        return np.asarray(result.sum, dtype=np.uint64)

    # -- whole round ------------------------------------------------------------------------

    def run(self) -> RoundOutcome:
        """Run the five rounds; decode the sum. Releases nothing below the threshold."""
        threshold = self.plan.config.threshold
        try:
            active = self.advertise_keys()
            active = self.share_keys(active)
            survivors = self.masked_input(active)
            answering = self.consistency_check(survivors)
            total = self.unmask(answering)
        except SecAggError as exc:
            return self._outcome(None, (), f"round released nothing: {exc}")
        decoded, event = self.plan.decode(total, len(self.survivor_ids))
        survivors_nodes = tuple(self.node_of[c] for c in self.survivor_ids)
        return self._outcome(decoded, survivors_nodes, "", threshold, event)

    def _outcome(
        self,
        total: NDArray[np.float64] | None,
        survivors: tuple[int, ...],
        note: str,
        threshold: int | None = None,
        event: DpEvent | None = None,
    ) -> RoundOutcome:
        return RoundOutcome(
            total,
            self.nodes,
            survivors,
            self.plan.config.threshold if threshold is None else threshold,
            dict(self.dropped),
            dict(self.stage_seconds),
            self.bytes_received,
            note,
            event,
            {node: self.metrics[node] for node in survivors if node in self.metrics},
        )
