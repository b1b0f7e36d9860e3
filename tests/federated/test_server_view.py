"""The server only ever receives masked vectors, ciphertexts and protocol messages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from federated.client import ClientUpdate
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    PrivacyConfig,
    UniformSelection,
)
from federated.errors import FederatedError, ServerViewViolation
from federated.runner import run
from federated.server import AggregationServer, InsecurePlaintextUpdate
from secagg.masking import (
    AdvertiseKeys,
    ConsistencyResponse,
    MaskedInput,
    ShareKeys,
    UnmaskResponse,
)
from secagg.paillier import EncryptedVector
from secagg.paillier.threshold import VectorDecryptionShare
from tests.federated._linear import START, LinearClient, make_clients
from tests.federated.conftest import TEST_PAILLIER

# FixedPointCodec's scale for 32-bit words, 6 clients and clip 1: 2^30 / 6 grid units per 1.0.
FIXED_POINT_SCALE = 2.0**30 / 6
MASKING_MESSAGES = (AdvertiseKeys, ShareKeys, MaskedInput, ConsistencyResponse, UnmaskResponse)


@dataclass
class SpyClient:
    """Wraps a client and keeps every update it produces (client-side only)."""

    inner: LinearClient
    updates: list[np.ndarray] = field(default_factory=list)

    @property
    def num_examples(self) -> int:
        return self.inner.num_examples

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        update = self.inner.fit(parameters)
        self.updates.append(update.delta.copy())
        return update


def _record(config: FederatedConfig, clients: list[SpyClient]) -> list[object]:
    received: list[object] = []
    run(config, clients, START, observer=received.append)
    return received


def _assert_no_plaintext(received: list[object], allowed: tuple[type, ...]) -> None:
    assert received
    for item in received:
        assert isinstance(item, allowed), type(item)
        assert not isinstance(item, (np.ndarray, InsecurePlaintextUpdate, float, list))


@pytest.mark.parametrize("mode", [DPMode.NONE, DPMode.DISTRIBUTED])
def test_masking_server_sees_only_protocol_messages(mode: DPMode) -> None:
    clients = [SpyClient(c) for c in make_clients(8)]
    privacy = (
        PrivacyConfig(mode=mode, noise_multiplier=1.0, delta=1e-5)
        if mode is not DPMode.NONE
        else PrivacyConfig()
    )
    config = FederatedConfig(rounds=3, selection=UniformSelection(6), privacy=privacy)
    received = _record(config, clients)
    _assert_no_plaintext(received, MASKING_MESSAGES)
    masked = [m for m in received if isinstance(m, MaskedInput)]
    assert len(masked) == 3 * 6
    updates = [u for c in clients for u in c.updates]
    assert len(updates) == 3 * 6
    for message in masked:
        words = message.vector.astype(np.int64)
        centred = np.where(words >= 2**31, words - 2**32, words).astype(np.float64)
        # A plaintext fixed-point encoding of an update would be within a few grid units of
        # the scaled update; a masked vector is uniform in Z_{2^32} and never that close.
        for update in updates:
            assert np.max(np.abs(centred[: update.size] - update * FIXED_POINT_SCALE)) > 16


def test_masked_vectors_do_not_repeat_for_equal_inputs() -> None:
    clients = [SpyClient(LinearClient(np.zeros(4), np.zeros(4))) for _ in range(4)]
    config = FederatedConfig(rounds=1, selection=UniformSelection(4))
    received = _record(config, clients)
    vectors = [m.vector.tobytes() for m in received if isinstance(m, MaskedInput)]
    assert len(vectors) == 4
    assert len(set(vectors)) == 4


@pytest.mark.slow
def test_paillier_server_sees_only_ciphertexts_and_decryption_shares(committee_keys) -> None:
    clients = [SpyClient(c) for c in make_clients(4)]
    config = FederatedConfig(
        rounds=2,
        selection=UniformSelection(3),
        aggregation=Aggregation.PAILLIER,
        paillier=TEST_PAILLIER,
    )
    received: list[object] = []
    run(config, clients, START, observer=received.append, paillier_keys=committee_keys)
    _assert_no_plaintext(received, (EncryptedVector, VectorDecryptionShare))
    assert sum(isinstance(r, EncryptedVector) for r in received) == 2 * 3
    assert sum(isinstance(r, VectorDecryptionShare) for r in received) == 2 * 2


def test_plain_baseline_shows_up_as_insecure_in_the_server_view() -> None:
    config = FederatedConfig(
        rounds=1, selection=UniformSelection(3), aggregation=Aggregation.PLAIN_INSECURE
    )
    received = _record(config, [SpyClient(c) for c in make_clients(3)])
    assert all(isinstance(r, InsecurePlaintextUpdate) for r in received)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.paillier_sum([np.zeros(3)]),
        lambda s: s.masking_collect_masked_inputs([np.zeros(3, dtype=np.uint64)]),
        lambda s: s.masking_collect_keys([b"not a message"]),
        lambda s: s.masking_collect_unmask([[1.0, 2.0]]),
        lambda s: s.sum_insecure_plaintext([InsecurePlaintextUpdate(0, np.zeros(2))]),
    ],
)
def test_server_refuses_anything_but_masked_or_encrypted_inputs(call) -> None:
    server = AggregationServer()
    with pytest.raises(ServerViewViolation) as info:
        call(server)
    assert isinstance(info.value, FederatedError)
    assert isinstance(info.value, TypeError)


def test_plaintext_route_needs_the_insecure_opt_in_and_wrapped_updates() -> None:
    server = AggregationServer(allow_insecure_plaintext=True)
    with pytest.raises(ServerViewViolation):
        server.sum_insecure_plaintext([np.zeros(2)])  # type: ignore[list-item]
    total = server.sum_insecure_plaintext(
        [InsecurePlaintextUpdate(0, np.ones(2)), InsecurePlaintextUpdate(1, np.ones(2))]
    )
    np.testing.assert_array_equal(total, [2.0, 2.0])
