"""Versioned bytes encodings of the masking messages: round trips and strict parsing."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg import DeserializationError, InvalidArgument
from secagg.masking import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    EncryptedShare,
    KeyRoster,
    MaskedInput,
    ShareBundle,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from tests.secagg.strategies_masking import make_round

CLASSES = [
    AdvertiseKeys,
    KeyRoster,
    EncryptedShare,
    ShareKeys,
    ShareBundle,
    MaskedInput,
    ConsistencyRequest,
    ConsistencyResponse,
    UnmaskRequest,
    UnmaskResponse,
]


def _same(a: object, b: object) -> bool:
    if isinstance(a, MaskedInput) and isinstance(b, MaskedInput):
        return (
            a.session_id == b.session_id
            and a.client_id == b.client_id
            and a.vector.dtype == b.vector.dtype
            and np.array_equal(a.vector, b.vector)
        )
    return a == b


def _via_bytes(msg: object) -> object:
    data = msg.to_bytes()  # type: ignore[attr-defined]
    back = type(msg).from_bytes(data)  # type: ignore[attr-defined]
    assert _same(msg, back)
    assert back.to_bytes() == data  # type: ignore[attr-defined]
    return back


@pytest.mark.parametrize("signed", [False, True])
def test_a_whole_round_over_bytes(signed: bool) -> None:
    r = make_round(n=6, threshold=4, d=10, bits=33, signed=signed)
    send = _via_bytes
    adverts = [send(c.advertise_keys()) for c in r.clients.values()]
    views = r.server.collect_keys(adverts)  # type: ignore[arg-type]
    shares = [send(r.clients[i].share_keys(send(views[i]))) for i in range(5)]  # type: ignore[arg-type]
    bundles = {i: send(b) for i, b in r.server.collect_shares(shares).items()}  # type: ignore[arg-type]
    masked = [
        send(r.clients[i].masked_input(bundles[i], r.inputs[i]))  # type: ignore[arg-type]
        for i in range(4)
    ]
    request = send(r.server.collect_masked_inputs(masked))  # type: ignore[arg-type]
    checks = [send(r.clients[i].consistency_check(request)) for i in range(4)]  # type: ignore[arg-type]
    unmask = send(r.server.collect_consistency(checks))  # type: ignore[arg-type]
    responses = [send(r.clients[i].unmask(unmask)) for i in range(4)]  # type: ignore[arg-type]
    result = r.server.collect_unmask(responses)  # type: ignore[arg-type]
    expected = sum(r.inputs[i].astype(object) for i in range(4))
    assert [int(v) for v in result.sum] == [int(v) % 2**33 for v in expected]


def _sample_messages() -> list[object]:
    r = make_round(n=4, threshold=3, d=3, bits=16, signed=True)
    r.keys()
    r.shares()
    r.masked([0, 1, 2])
    r.consistent()
    assert r.roster is not None
    assert r.unmask_request is not None
    assert r.consistency is not None
    response = r.clients[0].unmask(r.unmask_request)
    return [
        r.roster.adverts[0],
        r.roster[0],
        r.bundles[0].shares[0],
        r.bundles[0],
        MaskedInput(r.bundles[0].session_id, 0, np.arange(3, dtype=np.uint16)),
        r.consistency,
        r.unmask_request,
        response,
    ]


SAMPLES = _sample_messages()


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_truncation_and_extension_is_refused(msg: object) -> None:
    data = msg.to_bytes()  # type: ignore[attr-defined]
    cls = type(msg)
    for cut in range(len(data)):
        with pytest.raises(DeserializationError):
            cls.from_bytes(data[:cut])  # type: ignore[attr-defined]
    with pytest.raises(DeserializationError):
        cls.from_bytes(data + b"\x00")  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_version_kind_and_magic_are_checked(msg: object) -> None:
    data = msg.to_bytes()  # type: ignore[attr-defined]
    cls = type(msg)
    with pytest.raises(DeserializationError, match="version"):
        cls.from_bytes(data[:4] + bytes([data[4] + 1]) + data[5:])  # type: ignore[attr-defined]
    with pytest.raises(DeserializationError, match="kind"):
        cls.from_bytes(data[:5] + b"\x63" + data[6:])  # type: ignore[attr-defined]
    with pytest.raises(DeserializationError, match="magic"):
        cls.from_bytes(b"XXXX" + data[4:])  # type: ignore[attr-defined]


@given(st.sampled_from(CLASSES), st.binary(max_size=200))
def test_random_bytes_never_crash_the_parser(cls: type, data: bytes) -> None:
    prefix = b"FCSM\x01" + bytes([CLASSES.index(cls) + 1])
    for blob in (data, prefix + data):
        with contextlib.suppress(DeserializationError, InvalidArgument):
            cls.from_bytes(blob)  # type: ignore[attr-defined]


def test_share_that_is_not_a_field_element_is_refused_when_parsed() -> None:
    response = SAMPLES[-1]
    assert isinstance(response, UnmaskResponse)
    data = bytearray(response.to_bytes())
    share = response.seed_shares[0][1]
    at = bytes(data).index(share)
    data[at : at + 66] = b"\xff" * 66
    back = UnmaskResponse.from_bytes(bytes(data))  # parses: a share is 66 bytes
    assert back.seed_shares[0][1] == b"\xff" * 66  # the server refuses it (see attacks)


def test_masked_input_vector_is_read_only_and_copied() -> None:
    v = np.arange(4, dtype=np.uint32)
    msg = MaskedInput(bytes(32), 0, v)
    v[0] = 99
    assert msg.vector[0] == 0
    with pytest.raises(ValueError, match="read-only"):
        msg.vector[0] = 1
    with pytest.raises(InvalidArgument):
        MaskedInput(bytes(32), 0, np.zeros(2, dtype=np.int32))
