"""Under validated aggregation the server (Prio3's leader) sees only its shares, the proofs'
verifier messages, the helper's messages and the sum: never an update."""

from __future__ import annotations

import numpy as np
import pytest

from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    PrivacyConfig,
    UniformSelection,
    ValidatedSettings,
)
from federated.errors import ServerViewViolation
from federated.runner import run
from federated.server import AggregationServer, InsecurePlaintextUpdate
from secagg.validated import (
    AggregateShare,
    HelperKeyPair,
    LeaderShare,
    PrepareResponse,
    Report,
    ValidatedConfig,
)
from tests.federated._linear import START, make_clients
from tests.federated.test_server_view import SpyClient

VALIDATED_MESSAGES = (Report, PrepareResponse, AggregateShare)
SCALE = 2.0**14  # clip 1, 16 bits: the largest power of two with SCALE <= 2^15 - 1


def _run(privacy: PrivacyConfig, rounds: int = 2, cohort: int = 4):
    clients = [SpyClient(c) for c in make_clients(6)]
    config = FederatedConfig(
        rounds=rounds,
        selection=UniformSelection(cohort),
        aggregation=Aggregation.VALIDATED,
        validated=ValidatedSettings(bits=16),
        privacy=privacy,
    )
    received: list[object] = []
    history = run(config, clients, START, observer=received.append)
    return clients, received, history


@pytest.mark.parametrize(
    "privacy",
    [PrivacyConfig(), PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5)],
)
def test_the_server_receives_only_reports_verifier_shares_and_the_helpers_share(privacy) -> None:
    _, received, history = _run(privacy)
    assert received
    for item in received:
        assert isinstance(item, VALIDATED_MESSAGES), type(item)
        assert not isinstance(item, (np.ndarray, InsecurePlaintextUpdate, float, list))
    kinds = [type(item) for item in received]
    # Per round: one report per client, then one response and one share from the helper.
    assert kinds == ([Report] * 4 + [PrepareResponse, AggregateShare]) * 2
    assert history.completed_rounds == 2


def test_the_servers_shares_look_nothing_like_the_updates() -> None:
    clients, received, _ = _run(PrivacyConfig())
    updates = [u for c in clients for u in c.updates]
    reports = [r for r in received if isinstance(r, Report)]
    assert len(reports) == len(updates) == 8
    p = 2**64 - 2**32 + 1  # Field64
    for report in reports:
        # The leader's own share: the encoded update (integers of magnitude <= 2^15, or
        # their bits) plus a uniformly random field vector, so its entries spread over the
        # whole field; an encoding in the clear would have every entry below 2^16 or
        # above p - 2^16 (for a uniform element: probability 2^-47).
        share = _leader_share(report)
        entries = [int(v) for v in np.asarray(share.meas)]
        small = sum(1 for v in entries if min(v, p - v) < 2**16)
        assert small <= 1
    # The helper's share of the sum: uniform in the field, so (but with probability 2^-23
    # per coordinate) far from the small integers, or their negatives, a sum would be.
    shares = [r for r in received if isinstance(r, AggregateShare)]
    assert len(shares) == 2
    for aggregate in shares:
        raw = aggregate.share
        values = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, 16, 8)]
        assert all(min(v, p - v) > 2**40 for v in values)


def _leader_share(report: Report) -> LeaderShare:
    """Decode the leader's input share under a configuration of the same shape.

    The decoding only needs the circuit's lengths, which depend on the public length, bits
    and norm bound (clip 1 at scale 2^14, d = 2), not on the helper's key.
    """
    reach = SCALE + 2**0.5
    bound = int(np.ceil(reach * reach * (1 + 2**-40))) + 1
    config = ValidatedConfig(2, 16, bound, HelperKeyPair().public, round_number=1)
    share = config.vdaf.decode_input_share(0, report.leader_share)
    assert isinstance(share, LeaderShare)
    return share


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.validated_prepare([np.zeros(3)]),
        lambda s: s.validated_prepare([b"FCVA not parsed by the server"]),
        lambda s: s.validated_finish_prepare([1.0, 2.0]),
        lambda s: s.validated_collect(np.zeros(2, dtype=np.uint64)),
    ],
)
def test_the_validated_routes_refuse_anything_but_protocol_messages(call) -> None:
    with pytest.raises(ServerViewViolation):
        call(AggregationServer())
