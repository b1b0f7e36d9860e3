"""SecAgg+ secure aggregation by pairwise masking, with dropout recovery.

The protocol of Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving
Machine Learning" (CCS 2017, Figure 4), over the sparse Harary neighbour graph of Bell et
al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead" (CCS 2020). The
parties are pure state machines without I/O: a driver passes messages between them.

Call sequence (one method per round; messages are frozen dataclasses with
``to_bytes``/``from_bytes``)::

    config = MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=d)
    server = Server(config)
    clients = {i: Client(config, i) for i in config.client_ids}

    # Round 0, AdvertiseKeys: each client -> server; server -> each client its roster slice
    rosters = server.collect_keys([c.advertise_keys() for c in clients.values()])
    # Round 1, ShareKeys: each client -> server; server -> each client its own bundle
    bundles = server.collect_shares([clients[i].share_keys(rosters[i]) for i in rosters])
    # Round 2, MaskedInput: only clients that got a bundle; server -> every survivor
    request = server.collect_masked_inputs(
        [clients[i].masked_input(bundles[i], x[i]) for i in bundles])
    # Round 3, ConsistencyCheck: only clients in request.survivors; server -> same clients
    unmask = server.collect_consistency(
        [clients[i].consistency_check(request) for i in request.survivors])
    # Round 4, Unmask: clients that answered round 3
    result = server.collect_unmask([clients[i].unmask(unmask) for i in request.survivors])
    result.sum        # uint64 array: sum mod 2^B of the inputs of result.survivors
    result.survivors  # ids whose input is in the sum

The server commits to the roster with an RFC 9162 Merkle tree and sends each client only its
slice (its neighbours' adverts with inclusion proofs), so a client's work and received bytes
are ``O(k log n)`` for SecAgg+ (see :mod:`secagg.masking._roster`).

A client can leave memory between rounds: ``key = StateKey.generate()``, then
``data = client.save_state(key)`` and ``Client.load_state(data, config, client_id, key=key)``
(the round secrets, sealed with AES-256-GCM: keep ``key`` apart from ``data``).
A client that drops out simply sends nothing from some round on; the server continues
while at least ``threshold`` clients remain (else :class:`~secagg.errors.InsufficientShares`).
:func:`simulate_round` / :func:`run_round` run all of this in one call with a dropout schedule
``{client index: Stage}``.
"""

from __future__ import annotations

from secagg.masking._client import Client
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._errors import TooFewSurvivors
from secagg.masking._messages import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    EncryptedShare,
    KeyRoster,
    MaskedInput,
    RosterEntry,
    ShareBundle,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.masking._roster import RosterViews
from secagg.masking._server import RoundResult, Server
from secagg.masking._simulate import run_round, simulate_round
from secagg.masking._state import StateKey

__all__ = [
    "MaskingConfig",
    "Stage",
    "Client",
    "StateKey",
    "Server",
    "RoundResult",
    "TooFewSurvivors",
    "simulate_round",
    "run_round",
    "AdvertiseKeys",
    "KeyRoster",
    "RosterEntry",
    "RosterViews",
    "EncryptedShare",
    "ShareKeys",
    "ShareBundle",
    "MaskedInput",
    "ConsistencyRequest",
    "ConsistencyResponse",
    "UnmaskRequest",
    "UnmaskResponse",
]
