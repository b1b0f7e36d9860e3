"""Threshold Paillier: serialisation, validation of untrusted bytes, and what is published."""

from __future__ import annotations

import dataclasses
import math

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import DeserializationError, InvalidArgument, InvalidShare, KeyMismatch
from secagg.paillier import PublicKey
from secagg.paillier.threshold import (
    DecryptionShare,
    KeyShare,
    VectorDecryptionShare,
    VerificationKeys,
    combine_shares,
    combine_vector_shares,
    verify_decryption_share,
)
from tests.secagg.test_threshold_support import committee, safe_primes

# --------------------------------------------------------------------------- round trips


def test_verification_keys_round_trip() -> None:
    keys = committee(5, 3)
    data = keys.verification.to_bytes()
    assert VerificationKeys.from_bytes(data) == keys.verification
    assert VerificationKeys.from_bytes(data).fingerprint == keys.verification.fingerprint


def test_key_shares_round_trip_and_still_decrypt() -> None:
    keys = committee(4, 2)
    restored = [KeyShare.from_bytes(share.to_bytes()) for share in keys.shares]
    assert restored == list(keys.shares)
    ct = keys.public_key.encrypt(-5)
    shares = [share.partial_decrypt(ct) for share in restored[2:]]
    assert combine_shares(keys.verification, ct, shares).to_signed() == -5


def test_decryption_shares_round_trip() -> None:
    keys = committee(4, 3)
    ct = keys.public_key.encrypt(2024)
    shares = [share.partial_decrypt(ct) for share in keys.shares]
    wire = [share.to_bytes(keys.verification) for share in shares]
    assert len({len(data) for data in wire}) == 1  # fixed width
    restored = [DecryptionShare.from_bytes(data, keys.verification) for data in wire]
    assert restored == shares
    assert combine_shares(keys.verification, ct, restored[1:]).plaintext == 2024


def test_vector_decryption_shares_round_trip() -> None:
    keys = committee(3, 2)
    vector = keys.public_key.encrypt_vector(np.arange(-30, 30).reshape(6, 10), max_summands=4)
    shares = [share.partial_decrypt_vector(vector) for share in keys.shares[:2]]
    restored = [
        VectorDecryptionShare.from_bytes(share.to_bytes(keys.verification), keys.verification)
        for share in shares
    ]
    assert restored == shares
    result = combine_vector_shares(keys.verification, vector, restored)
    np.testing.assert_array_equal(result.values, np.arange(-30, 30).reshape(6, 10))


# --------------------------------------------------------------------------- malformed bytes


def _serialised_objects() -> dict[str, tuple[bytes, object]]:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(11)
    vector = keys.public_key.encrypt_vector(np.arange(10), max_summands=2)
    v = keys.verification
    return {
        "verification": (v.to_bytes(), VerificationKeys.from_bytes),
        "key share": (keys.shares[0].to_bytes(), KeyShare.from_bytes),
        "decryption share": (
            keys.shares[0].partial_decrypt(ct).to_bytes(v),
            lambda data: DecryptionShare.from_bytes(data, v),
        ),
        "vector share": (
            keys.shares[0].partial_decrypt_vector(vector).to_bytes(v),
            lambda data: VectorDecryptionShare.from_bytes(data, v),
        ),
    }


@pytest.mark.parametrize("kind", ["verification", "key share", "decryption share", "vector share"])
def test_truncated_padded_and_relabelled_bytes_are_refused(kind: str) -> None:
    data, load = _serialised_objects()[kind]
    bad_inputs = [
        b"",
        data[:4],
        data[:-1],
        data + b"\x00",
        b"XXXX" + data[4:],
        data[:4] + bytes([2]) + data[5:],  # unknown version
    ]
    for bad in bad_inputs:
        with pytest.raises(DeserializationError):
            load(bad)  # type: ignore[operator]
    with pytest.raises(DeserializationError):
        load("not bytes")  # type: ignore[operator]


@settings(max_examples=25)
@given(st.data())
def test_bit_flips_in_key_shares_are_refused(data: st.DataObject) -> None:
    # The share checks itself against v_i = v^(Delta s_i): any flip of n, v, v_i or s fails.
    raw = committee(3, 2).shares[1].to_bytes()
    body_start = 5 + 8
    position = data.draw(st.integers(body_start * 8, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[position // 8] ^= 1 << (position % 8)
    with pytest.raises(DeserializationError):
        KeyShare.from_bytes(bytes(flipped))


@settings(max_examples=25)
@given(st.data())
def test_bit_flips_in_decryption_shares_never_pass_unnoticed(data: st.DataObject) -> None:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(4)
    raw = keys.shares[0].partial_decrypt(ct).to_bytes(keys.verification)
    position = data.draw(st.integers(0, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[position // 8] ^= 1 << (position % 8)
    try:
        share = DecryptionShare.from_bytes(bytes(flipped), keys.verification)
    except (DeserializationError, KeyMismatch):
        return
    with pytest.raises(InvalidShare):
        verify_decryption_share(keys.verification, ct, share)


def test_decryption_shares_of_another_key_are_refused_on_load() -> None:
    keys, other = committee(3, 2), committee(3, 2, slot=1)
    share = other.shares[0].partial_decrypt(other.public_key.encrypt(1))
    with pytest.raises(KeyMismatch):
        DecryptionShare.from_bytes(share.to_bytes(other.verification), keys.verification)
    with pytest.raises(KeyMismatch):
        share.to_bytes(keys.verification)
    vector = other.public_key.encrypt_vector(np.arange(5), max_summands=2)
    vector_share = other.shares[0].partial_decrypt_vector(vector)
    with pytest.raises(KeyMismatch):
        VectorDecryptionShare.from_bytes(
            vector_share.to_bytes(other.verification), keys.verification
        )
    with pytest.raises(KeyMismatch):
        vector_share.to_bytes(keys.verification)


def test_share_values_outside_the_group_are_refused_on_load() -> None:
    keys = committee(3, 2)
    p, _ = safe_primes()
    share = keys.shares[0].partial_decrypt(keys.public_key.encrypt(1))
    for value in (p, p * 12345, keys.public_key.n):
        forged = dataclasses.replace(share, value=value)
        with pytest.raises(DeserializationError):
            DecryptionShare.from_bytes(forged.to_bytes(keys.verification), keys.verification)


def test_verification_keys_must_be_squares_and_units() -> None:
    v = committee(3, 2).verification
    p, _ = safe_primes()
    with pytest.raises(InvalidArgument):
        dataclasses.replace(v, base=p)
    non_residue = next(x for x in range(2, 1000) if gmpy2.jacobi(x, v.n) == -1)
    with pytest.raises(InvalidArgument):
        dataclasses.replace(v, keys=(non_residue, *v.keys[1:]))
    with pytest.raises(InvalidArgument):
        dataclasses.replace(v, keys=v.keys[:2])
    with pytest.raises(InvalidArgument):
        dataclasses.replace(v, threshold=4)


# --------------------------------------------------------------------------- what is published


def _secrets_of_the_dealer() -> dict[str, int]:
    p, q = safe_primes()
    p_half, q_half = (p - 1) // 2, (q - 1) // 2
    m = p_half * q_half
    n = p * q
    return {
        "p": p,
        "q": q,
        "p'": p_half,
        "q'": q_half,
        "m": m,
        "phi": (p - 1) * (q - 1),
        "lambda": 2 * m,
        "d": m * pow(m, -1, n),
    }


def test_published_objects_do_not_reveal_the_factorisation() -> None:
    keys = committee(5, 3)
    n = keys.public_key.n
    secret = _secrets_of_the_dealer()
    ct = keys.public_key.encrypt(123)
    decryption_share = keys.shares[0].partial_decrypt(ct)
    published = [
        n,
        keys.verification.base,
        *keys.verification.keys,
        decryption_share.value,
        decryption_share.challenge,
        decryption_share.response,
    ]
    for value in published:
        for name, hidden in secret.items():
            assert value != hidden, name
        # A published value sharing a factor with p' or q' would factor m (and then n).
        assert math.gcd(value, secret["p'"]) == 1
        assert math.gcd(value, secret["q'"]) == 1
    for value in published[1:-2]:
        assert math.gcd(value, n) == 1
    # The serialised verification data is n plus one group element per key and no more.
    width = (n.bit_length() + 7) // 8
    expected = 5 + 6 + width + 2 * width * (1 + 5)
    assert len(keys.verification.to_bytes()) == expected
    fields = [f.name for f in dataclasses.fields(VerificationKeys)]
    assert fields == ["n", "threshold", "n_parties", "base", "keys"]


def test_the_public_key_is_defined_by_n_alone() -> None:
    keys = committee(3, 2)
    n = keys.public_key.n
    rebuilt = PublicKey(n, allow_insecure=True)
    assert rebuilt == keys.public_key
    assert PublicKey.from_bytes(keys.public_key.to_bytes(), allow_insecure=True) == rebuilt
    payload = keys.public_key.to_bytes()
    n_bytes = n.to_bytes((n.bit_length() + 7) // 8, "big")
    assert n_bytes in payload
    assert len(payload) <= len(n_bytes) + 16  # n plus a short header and fingerprint


def test_key_share_repr_hides_the_secret() -> None:
    share = committee(3, 2).shares[0]
    assert str(share.secret) not in repr(share)
    assert "secret" not in repr(share)


def test_dealer_output_keeps_no_factorisation() -> None:
    keys = committee(3, 2)
    secret = _secrets_of_the_dealer()
    reachable: list[int] = []
    for obj in (keys.verification, *keys.shares):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            reachable.extend(value if isinstance(value, tuple) else [value])
    for value in reachable:
        assert value not in secret.values()
