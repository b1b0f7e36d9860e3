"""The ``masking`` backend: SecAgg+ (Bonawitz et al. CCS 2017; Bell et al. CCS 2020).

Each selected client encodes its clipped update into ``Z_{2^B}`` with an integer codec
(fixed-point quantisation, or the distributed-DP pipeline that also adds the client's
integer noise share; client work, so it runs in the run's executor) and masks it with
:class:`secagg.masking.Client`. The :class:`federated.server.AggregationServer` drives
:class:`secagg.masking.Server` through the five protocol rounds. The server learns only the
sum of the survivors' encoded vectors, which the codec decodes.

A round is abandoned before unmasking, so nothing is released, when fewer masked inputs
arrive than the run's survivor threshold, or when the protocol cannot rebuild the masks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federated._aggregation import AggregateResult, RoundInput, StageTimer
from federated._codecs import IntegerCodec
from federated.config import MaskingSettings
from federated.errors import InvalidArgument
from federated.server import AggregationServer
from secagg.errors import InsufficientShares, ProtocolAbort
from secagg.masking import Client as MaskingClient
from secagg.masking import MaskingConfig, Stage

__all__ = ["MaskingAggregator", "shamir_threshold"]

CodecFactory = Callable[[int], IntegerCodec]
"""Builds the codec for a cohort of the given size."""


class _Message(Protocol):
    def to_bytes(self) -> bytes: ...


_M = TypeVar("_M", bound=_Message)


def shamir_threshold(settings: MaskingSettings, cohort_size: int) -> int:
    """The Shamir threshold for a cohort: a fraction (> 1/2) of one neighbourhood."""
    return settings.shamir_threshold(cohort_size)


class MaskingAggregator:
    """Sum the cohort's encoded updates under SecAgg+ masking."""

    name = "masking"

    def __init__(
        self,
        server: AggregationServer,
        settings: MaskingSettings,
        codec_for: CodecFactory,
    ) -> None:
        self._server = server
        self._settings = settings
        self._codec_for = codec_for

    def client_codec(self, cohort_size: int) -> IntegerCodec:
        """The round's codec (fixed point, or distributed DP with a fresh rotation seed)."""
        return self._codec_for(cohort_size)

    def aggregate(self, round_input: RoundInput, timer: StageTimer) -> AggregateResult:
        """Run the five SecAgg+ rounds for the cohort and decode the unmasked sum.

        The contributions arrive encoded by the clients, with :meth:`client_codec`'s codec
        (``round_input.encoded``).
        """
        cohort = round_input.cohort
        drops = round_input.dropouts

        def active(stage: Stage) -> list[int]:
            return [c for c in cohort if drops.get(c, Stage.UNMASK + 1) > stage]

        if round_input.encoded is None:
            raise InvalidArgument("the masking backend takes contributions the clients encoded")
        codec = round_input.encoded.codec
        encoded = round_input.encoded.words
        signing = (
            {c: Ed25519PrivateKey.generate() for c in cohort} if self._settings.signed else None
        )
        config = MaskingConfig(
            client_ids=cohort,
            threshold=shamir_threshold(self._settings, len(cohort)),
            vector_length=codec.length,
            modulus_bits=codec.modulus_bits,
            neighbours=self._settings.neighbours,
            round_number=round_input.round_number,
            verify_keys=None
            if signing is None
            else tuple(
                signing[c].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for c in cohort
            ),
        )
        bytes_sent = 0
        server = self._server
        server.masking_begin(config)
        clients = {
            c: MaskingClient(config, c, signing_key=None if signing is None else signing[c])
            for c in cohort
        }
        aborted: set[int] = set()

        def replies(stage: Stage, call: Callable[[int], _M], among: Iterable[int]) -> list[_M]:
            """Each live client's message; a client that aborts is treated as dropped."""
            nonlocal bytes_sent
            out = []
            allowed = set(among)
            for client in active(stage):
                if client in aborted or client not in allowed:
                    continue
                try:
                    message = call(client)
                except ProtocolAbort:
                    # SecAgg+ clients abort, e.g., when too few neighbours remain; to the
                    # server that is a dropout (Bonawitz et al. 2017, section 4).
                    aborted.add(client)
                    continue
                bytes_sent += len(message.to_bytes())
                out.append(message)
            return out

        try:
            with timer.stage("advertise_keys"):
                adverts = replies(
                    Stage.ADVERTISE_KEYS, lambda c: clients[c].advertise_keys(), cohort
                )
                rosters = server.masking_collect_keys(adverts)
            with timer.stage("share_keys"):
                shares = replies(
                    Stage.SHARE_KEYS,
                    lambda c: clients[c].share_keys(rosters[c]),
                    [c for c in cohort if c in rosters],
                )
                bundles = server.masking_collect_shares(shares)
            with timer.stage("masked_input"):
                masked = replies(
                    Stage.MASKED_INPUT,
                    lambda c: clients[c].masked_input(bundles[c], encoded[c]),
                    [c for c in bundles if c in encoded],
                )
                request = server.masking_collect_masked_inputs(masked)
            if len(request.survivors) < round_input.threshold:
                server.masking_abort()
                return AggregateResult(
                    None,
                    (),
                    bytes_sent,
                    note=(
                        f"{len(request.survivors)} masked inputs, fewer than the threshold "
                        f"{round_input.threshold}: round abandoned before unmasking"
                    ),
                )
            with timer.stage("consistency_check"):
                responses = replies(
                    Stage.CONSISTENCY_CHECK,
                    lambda c: clients[c].consistency_check(server.masking_consistency_request(c)),
                    request.survivors,
                )
                server.masking_collect_consistency(responses)
            with timer.stage("unmask"):
                unmasks = replies(
                    Stage.UNMASK,
                    lambda c: clients[c].unmask(server.masking_unmask_request(c)),
                    [r.client_id for r in responses],
                )
                result = server.masking_collect_unmask(unmasks)
        except InsufficientShares as exc:
            server.masking_abort()
            return AggregateResult(None, (), bytes_sent, note=f"round abandoned: {exc}")
        with timer.stage("decode"):
            total = codec.decode(np.asarray(result.sum), len(result.survivors))
        return AggregateResult(total, result.survivors, bytes_sent)
