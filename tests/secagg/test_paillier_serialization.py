"""Versioned binary/JSON formats: round trips and every malformed input raising a typed error."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg.errors import DeserializationError, InsecureParameters, KeyMismatch, SecAggError
from secagg.paillier import (
    Ciphertext,
    EncryptedVector,
    PublicKey,
    export_private_key,
    import_private_key,
)
from secagg.paillier._wire import CHECKSUM_BYTES, seal
from tests.secagg.strategies_paillier import float_vectors, keypair, signed_plaintexts

PK, SK = keypair()
OTHER_PK, _ = keypair(which=1)
VECTOR = PK.encrypt_vector(np.linspace(-2, 2, 90).reshape(9, 10), max_abs=2, max_summands=8) * 3
VECTOR_BYTES = VECTOR.to_bytes()
CIPHERTEXT_BYTES = PK.encrypt(-42).to_bytes()


def reseal(data: bytes, edit: bytes, at: int) -> bytes:
    """Overwrite bytes of the payload at ``at`` and recompute the checksum."""
    payload = bytearray(data[:-CHECKSUM_BYTES])
    payload[at : at + len(edit)] = edit
    return seal(bytes(payload))


def with_ciphertext(data: bytes, index: int, value: int) -> bytes:
    width = PK.ciphertext_bytes
    start = len(data) - CHECKSUM_BYTES - width * (len(VECTOR.ciphertexts) - index)
    return reseal(data, value.to_bytes(width, "big"), start)


# -- round trips ---------------------------------------------------------------------------------
def test_public_key_round_trips() -> None:
    assert PublicKey.from_bytes(PK.to_bytes(), allow_insecure=True) == PK
    assert PublicKey.from_json(PK.to_json(), allow_insecure=True) == PK
    assert len(PK.to_bytes()) == 4 + 1 + 2 + 128 + CHECKSUM_BYTES
    with pytest.raises(InsecureParameters):
        PublicKey.from_bytes(PK.to_bytes())
    with pytest.raises(InsecureParameters):
        PublicKey.from_json(PK.to_json())


@given(signed_plaintexts(PK))
def test_ciphertext_round_trips(m: int) -> None:
    c = PK.encrypt(m)
    data = c.to_bytes()
    assert len(data) == 4 + 1 + 8 + PK.ciphertext_bytes + CHECKSUM_BYTES
    loaded = Ciphertext.from_bytes(data, PK)
    assert loaded == c
    assert SK.decrypt(loaded) == m


@given(float_vectors(max_size=120))
def test_vector_round_trips(x: np.ndarray) -> None:
    ev = PK.encrypt_vector(x, value_bits=32)
    loaded = EncryptedVector.from_bytes(ev.to_bytes(), PK)
    assert loaded.layout == ev.layout
    assert loaded.summands == ev.summands
    assert loaded.ciphertexts == ev.ciphertexts
    assert np.array_equal(SK.decrypt_vector(loaded), SK.decrypt_vector(ev))


def test_vector_keeps_summands_and_integer_flag() -> None:
    loaded = EncryptedVector.from_bytes(VECTOR_BYTES, PK)
    assert loaded.summands == 3
    assert loaded.shape == (9, 10)
    ints = PK.encrypt_vector(np.arange(-5, 5))
    assert EncryptedVector.from_bytes(ints.to_bytes(), PK).layout.integer


def test_private_key_round_trips_only_through_the_named_functions() -> None:
    data = export_private_key(SK)
    assert import_private_key(data, allow_insecure=True) == SK
    with pytest.raises(InsecureParameters):
        import_private_key(data)
    assert not hasattr(SK, "to_bytes")


# -- malformed inputs ----------------------------------------------------------------------------
@given(st.data())
def test_truncated_data_is_refused(data: st.DataObject) -> None:
    for blob, load in (
        (PK.to_bytes(), lambda b: PublicKey.from_bytes(b, allow_insecure=True)),
        (CIPHERTEXT_BYTES, lambda b: Ciphertext.from_bytes(b, PK)),
        (VECTOR_BYTES, lambda b: EncryptedVector.from_bytes(b, PK)),
        (export_private_key(SK), lambda b: import_private_key(b, allow_insecure=True)),
    ):
        cut = data.draw(st.integers(0, len(blob) - 1))
        with pytest.raises(DeserializationError):
            load(blob[:cut])
        with pytest.raises(DeserializationError):
            load(blob + b"\x00")


@given(st.data())
def test_bit_flips_are_refused(data: st.DataObject) -> None:
    for blob, load in (
        (PK.to_bytes(), lambda b: PublicKey.from_bytes(b, allow_insecure=True)),
        (CIPHERTEXT_BYTES, lambda b: Ciphertext.from_bytes(b, PK)),
        (VECTOR_BYTES, lambda b: EncryptedVector.from_bytes(b, PK)),
        (export_private_key(SK), lambda b: import_private_key(b, allow_insecure=True)),
    ):
        bit = data.draw(st.integers(0, 8 * len(blob) - 1))
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DeserializationError):
            load(bytes(flipped))


@given(st.integers(0, 255).filter(lambda v: v != 1))
def test_wrong_versions_are_refused(version: int) -> None:
    edit = bytes([version])
    with pytest.raises(DeserializationError, match="version"):
        PublicKey.from_bytes(reseal(PK.to_bytes(), edit, 4), allow_insecure=True)
    with pytest.raises(DeserializationError, match="version"):
        Ciphertext.from_bytes(reseal(CIPHERTEXT_BYTES, edit, 4), PK)
    with pytest.raises(DeserializationError, match="version"):
        EncryptedVector.from_bytes(reseal(VECTOR_BYTES, edit, 4), PK)
    with pytest.raises(DeserializationError, match="version"):
        import_private_key(reseal(export_private_key(SK), edit, 4), allow_insecure=True)
    with pytest.raises(DeserializationError, match="version"):
        PublicKey.from_json(json.dumps({**json.loads(PK.to_json()), "version": version}))


@given(st.integers(0, 2**64))
def test_out_of_range_ciphertexts_are_refused(excess: int) -> None:
    for value in (0, PK.nsquare + excess % (256**PK.ciphertext_bytes - PK.nsquare)):
        raw = value.to_bytes(PK.ciphertext_bytes, "big")
        with pytest.raises(DeserializationError, match="range"):
            Ciphertext.from_bytes(reseal(CIPHERTEXT_BYTES, raw, 13), PK)
        with pytest.raises(DeserializationError, match="range"):
            EncryptedVector.from_bytes(with_ciphertext(VECTOR_BYTES, 1, value), PK)


@given(st.integers(1, 2**200), st.booleans())
def test_ciphertexts_sharing_a_factor_with_n_are_refused(k: int, use_q: bool) -> None:
    factor = SK.q if use_q else SK.p
    value = factor * k
    raw = value.to_bytes(PK.ciphertext_bytes, "big")
    with pytest.raises(DeserializationError, match="invertible"):
        Ciphertext.from_bytes(reseal(CIPHERTEXT_BYTES, raw, 13), PK)
    with pytest.raises(DeserializationError, match="invertible"):
        EncryptedVector.from_bytes(with_ciphertext(VECTOR_BYTES, 0, value), PK)


def test_objects_of_another_key_are_refused() -> None:
    with pytest.raises(KeyMismatch):
        Ciphertext.from_bytes(OTHER_PK.encrypt(1).to_bytes(), PK)
    with pytest.raises(KeyMismatch):
        EncryptedVector.from_bytes(OTHER_PK.encrypt_vector(np.ones(3)).to_bytes(), PK)


@pytest.mark.parametrize(
    ("offset", "fmt", "value"),
    [
        (13, ">B", 2),  # unknown flag
        (14, ">B", 63),  # scale_bits out of range
        (16, ">B", 10),  # slot_bits inconsistent with value_bits + headroom
        (17, ">H", 500),  # more slots than fit the key
        (19, ">I", 0),  # max_summands 0
        (23, ">I", 9),  # summands above max_summands
        (27, ">B", 40),  # too many dimensions
    ],
)
def test_inconsistent_vector_headers_are_refused(offset: int, fmt: str, value: int) -> None:
    with pytest.raises(SecAggError):
        EncryptedVector.from_bytes(reseal(VECTOR_BYTES, struct.pack(fmt, value), offset), PK)


def test_malformed_json_is_refused() -> None:
    good = json.loads(PK.to_json())
    for bad in (
        "not json",
        "[]",
        json.dumps({**good, "type": "other"}),
        json.dumps({**good, "n": 12345}),
        json.dumps({**good, "n": "-5"}),
        json.dumps({**good, "fingerprint": "00" * 8}),
        json.dumps({**good, "n": str(PK.n + 1)}),
    ):
        with pytest.raises(DeserializationError):
            PublicKey.from_json(bad, allow_insecure=True)
    with pytest.raises(DeserializationError):
        PublicKey.from_bytes("text", allow_insecure=True)  # type: ignore[arg-type]
