"""Run a whole SecAgg+ round in one process, with a dropout schedule.

For tests, benchmarks and the federated runner: it drives :class:`Client` and
:class:`Server` exactly as a transport would, one message per client per round, and passes
the server nothing but the messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from secagg.errors import InvalidArgument
from secagg.masking._client import Client
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._server import RoundResult, Server

__all__ = ["run_round", "simulate_round"]


def run_round(
    inputs: Sequence[npt.NDArray[Any]],
    *,
    threshold: int,
    modulus_bits: int = 32,
    neighbours: int | None = None,
    dropouts: Mapping[int, Stage] | None = None,
    signed: bool = False,
    round_number: int = 0,
) -> RoundResult:
    """Run one round over ``inputs`` (client ``i`` holds ``inputs[i]``) and unmask the sum.

    Args:
        inputs: equal-length 1-D integer arrays with values in ``[0, 2^B)``.
        threshold: the Shamir threshold ``t`` (see :class:`MaskingConfig`).
        modulus_bits: ``B``.
        neighbours: SecAgg+ graph degree ``k`` (even) or ``None`` for the complete graph.
        dropouts: client index -> the :class:`Stage` from which it sends nothing.
        signed: give every client an Ed25519 key and sign adverts and consistency checks.
        round_number: enters the session id.

    Returns:
        The sum of the inputs of the clients that sent their masked input (``.survivors``).

    Raises:
        InsufficientShares: the dropouts leave too few clients at some stage.
    """
    inputs = list(inputs)
    if not inputs:
        raise InvalidArgument("inputs must be a non-empty sequence of arrays")
    first = inputs[0]
    if not isinstance(first, np.ndarray) or first.ndim != 1:
        raise InvalidArgument("each input must be a 1-D numpy array")
    n = len(inputs)
    drops = dict(dropouts or {})
    for index, stage in drops.items():
        if not (isinstance(index, int) and 0 <= index < n):
            raise InvalidArgument(f"dropout index {index!r} is not a client index")
        if not isinstance(stage, Stage):
            raise InvalidArgument(f"dropout stage {stage!r} is not a Stage")
    signing = [Ed25519PrivateKey.generate() for _ in range(n)] if signed else None
    config = MaskingConfig(
        client_ids=tuple(range(n)),
        threshold=threshold,
        vector_length=int(first.shape[0]),
        modulus_bits=modulus_bits,
        neighbours=neighbours,
        verify_keys=None
        if signing is None
        else tuple(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for k in signing),
        round_number=round_number,
    )
    clients = {
        i: Client(config, i, signing_key=None if signing is None else signing[i]) for i in range(n)
    }
    server = Server(config)

    def active(stage: Stage) -> list[int]:
        return [i for i in range(n) if drops.get(i, Stage.UNMASK + 1) > stage]

    # Check inputs before any key is generated or sent, so a bad vector fails fast.
    for vector in inputs:
        if not isinstance(vector, np.ndarray) or vector.shape != first.shape:
            raise InvalidArgument("all inputs must be 1-D arrays of one length")
    rosters = server.collect_keys(clients[i].advertise_keys() for i in active(Stage.ADVERTISE_KEYS))
    bundles = server.collect_shares(
        clients[i].share_keys(rosters[i]) for i in active(Stage.SHARE_KEYS)
    )
    server.collect_masked_inputs(
        clients[i].masked_input(bundles[i], inputs[i]) for i in active(Stage.MASKED_INPUT)
    )
    # Each client gets its own request: its neighbourhood's part in unsigned rounds.
    survivors = set(server.survivors)
    server.collect_consistency(
        clients[i].consistency_check(server.consistency_request_for(i))
        for i in active(Stage.CONSISTENCY_CHECK)
        if i in survivors
    )
    return server.collect_unmask(
        clients[i].unmask(server.unmask_request_for(i))
        for i in active(Stage.UNMASK)
        if i in survivors
    )


def simulate_round(
    inputs: Sequence[npt.NDArray[Any]],
    *,
    threshold: int,
    modulus_bits: int = 32,
    neighbours: int | None = None,
    dropouts: Mapping[int, Stage] | None = None,
) -> npt.NDArray[np.uint64]:
    """The sum mod ``2^B`` of the surviving clients' inputs; see :func:`run_round`."""
    return run_round(
        inputs,
        threshold=threshold,
        modulus_bits=modulus_bits,
        neighbours=neighbours,
        dropouts=dropouts,
    ).sum
