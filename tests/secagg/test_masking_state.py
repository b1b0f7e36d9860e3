"""Client.save_state / Client.load_state: a round survives a process boundary per stage."""

from __future__ import annotations

import numpy as np
import pytest

from secagg import DeserializationError, ProtocolAbort
from secagg.masking import Client, StateKey
from tests.secagg.strategies_masking import Round, make_round


def _reload(r: Round, i: int) -> None:
    client = r.clients[i]
    key = StateKey.generate()
    data = client.save_state(key)
    signing_key = client._signing_key if r.config.signed else None
    r.clients[i] = Client.load_state(data, r.config, i, key=key, signing_key=signing_key)
    again = r.clients[i].save_state(key)
    assert again != data  # a fresh nonce per save
    # Same body under the same key: the reloaded client saves what it loaded.
    assert _body(again, key) == _body(data, key)


def _body(data: bytes, key: StateKey) -> bytes:
    header = 4 + 2 + 4 + 32 + 12
    return key._aead().decrypt(data[header - 12 : header], data[header + 4 :], data[:header])


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("neighbours", [None, 2])
def test_round_with_every_client_reloaded_between_stages(
    signed: bool, neighbours: int | None
) -> None:
    r = make_round(n=6, threshold=2 if neighbours else 4, d=5, neighbours=neighbours, signed=signed)
    ids = range(6)
    adverts = [r.clients[i].advertise_keys() for i in ids]
    for i in ids:
        _reload(r, i)
    roster = r.server.collect_keys(adverts)
    shares = [r.clients[i].share_keys(roster[i]) for i in ids]
    for i in ids:
        _reload(r, i)
    bundles = r.server.collect_shares(shares)
    masked = [r.clients[i].masked_input(bundles[i], r.inputs[i]) for i in range(5)]
    for i in ids:
        _reload(r, i)
    request = r.server.collect_masked_inputs(masked)
    checks = [r.clients[i].consistency_check(request) for i in request.survivors]
    for i in ids:
        _reload(r, i)
    unmask = r.server.collect_consistency(checks)
    responses = [r.clients[i].unmask(unmask) for i in request.survivors]
    released = {i: r.clients[i].released for i in request.survivors}
    for i in request.survivors:
        _reload(r, i)
        assert r.clients[i].finished
        assert r.clients[i].released == released[i]
        with pytest.raises(ProtocolAbort, match="round is over"):
            r.clients[i].unmask(unmask)
    result = r.server.collect_unmask(responses)
    expected = sum(r.inputs[i].astype(np.uint64) for i in range(5)) % 2**16
    np.testing.assert_array_equal(result.sum, expected)


def test_load_refuses_other_clients_configs_and_bad_bytes() -> None:
    r = make_round()
    r.keys()
    key = StateKey.generate()
    data = r.clients[0].save_state(key)
    with pytest.raises(DeserializationError, match="another client"):
        Client.load_state(data, r.config, 1, key=key)
    with pytest.raises(DeserializationError, match="another configuration"):
        Client.load_state(data, make_round(n=6, threshold=4).config, 0, key=key)
    with pytest.raises(DeserializationError, match="fails authentication"):
        Client.load_state(data, r.config, 0, key=StateKey.generate())
    for cut in (0, 10, len(data) - 1):
        with pytest.raises(DeserializationError):
            Client.load_state(data[:cut], r.config, 0, key=key)
    with pytest.raises(DeserializationError):
        Client.load_state(data + b"\x00", r.config, 0, key=key)
