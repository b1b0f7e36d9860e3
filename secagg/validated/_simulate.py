"""One validated-aggregation round in one process, every message through its bytes.

For tests, demos and benchmarks (and as the reference driver a transport follows): fresh
helper keys and verification key, one :class:`Client` per update, the leader and the helper,
each message serialised and parsed on the way, and the bytes each hop carried.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from secagg.errors import InvalidArgument
from secagg.validated._config import ValidatedConfig
from secagg.validated._parties import Client, Helper, Leader, RoundResult
from secagg.validated._seal import HelperKeyPair

__all__ = ["SimulatedRound", "run_round"]


@dataclass(frozen=True, slots=True)
class SimulatedRound:
    """The leader's result and the traffic of each hop, in bytes."""

    result: RoundResult
    config: ValidatedConfig
    upload_bytes: tuple[int, ...]
    request_bytes: int
    response_bytes: int
    aggregate_bytes: int


def run_round(
    updates: Sequence[Sequence[int]],
    *,
    bits: int,
    norm_bound: int,
    field: str = "Field64",
    proofs: int = 3,
    round_number: int = 0,
    extra_reports: Sequence[bytes] = (),
    circuit: str = "pine",
) -> SimulatedRound:
    """Validate and sum ``updates`` (each ``len(updates[0])`` signed ``bits``-bit integers).

    ``extra_reports`` are appended to the clients' reports as they are (e.g. a malicious
    client's bytes, built against ``result.config``; they are rejected unless valid under a
    configuration with the same digest, which the fresh helper key makes impossible).
    Raises InvalidArgument if an honest update is itself out of bounds.
    """
    if not updates:
        raise InvalidArgument("a round needs at least one update")
    keys = HelperKeyPair()
    config = ValidatedConfig(
        length=len(updates[0]),
        bits=bits,
        norm_bound=norm_bound,
        helper_public_key=keys.public,
        round_number=round_number,
        field=field,
        proofs=proofs,
        circuit=circuit,
    )
    verify_key = os.urandom(16)
    reports = [Client(config).report(u).to_bytes() for u in updates]
    reports.extend(extra_reports)
    leader, helper = Leader(config, verify_key), Helper(config, verify_key, keys)
    request = leader.prepare(reports).to_bytes()
    response = helper.prepare(request).to_bytes()
    leader.finish_prepare(response)
    aggregate = helper.aggregate_share().to_bytes()
    return SimulatedRound(
        leader.collect(aggregate),
        config,
        tuple(len(r) for r in reports),
        len(request),
        len(response),
        len(aggregate),
    )
