"""Fuzzing every secagg loader: only typed errors escape, quickly, and nothing altered passes.

Each loader gets valid bytes (or JSON) from a real round or key, then truncations, bit flips,
random bytes, huge length and count fields, spliced tails and wrong types. The contract:

* nothing but a :class:`~secagg.errors.SecAggError` escapes, within a time and memory bound;
* an authenticated encoding (the sealed client state) refuses every change;
* an encoding whose corruption cannot be detected locally (masking wire messages, whose
  contents the receiving party validates; threshold shares, whose proofs are checked at
  combination) either fails typed or parses to an object that re-serialises to the very
  bytes given, so no two encodings alias and no field is silently normalised.

The regression tests at the end failed on the code before issue 16 (a flipped seed bit in a
saved state gave a wrong sum; ``PublicKey.from_json`` raised ``ValueError`` and
``RecursionError``; ``to_json`` of a 16384-bit key raised ``ValueError``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg.errors import DeserializationError, SecAggError
from secagg.masking import (
    AdvertiseKeys,
    Client,
    ConsistencyRequest,
    ConsistencyResponse,
    EncryptedShare,
    KeyRoster,
    MaskedInput,
    ShareBundle,
    ShareKeys,
    StateKey,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.paillier import Ciphertext, PublicKey, export_private_key, import_private_key
from secagg.paillier._vector import EncryptedVector
from secagg.paillier.threshold import (
    DecryptionShare,
    KeyShare,
    VectorDecryptionShare,
    VerificationKeys,
)
from tests.secagg._loading import load_outcome
from tests.secagg.strategies_masking import Round, make_round
from tests.secagg.strategies_paillier import keypair
from tests.secagg.test_threshold_support import committee

_HUGE = (2**32 - 1, 2**31, 2**24 + 1, 2**16 + 1, 10**9)
_STATE_HEADER = 4 + 2 + 4 + 32 + 12  # magic, version, kind, client id, digest, nonce


# ------------------------------------------------------------------------- the valid inputs


@functools.cache
def _masking() -> tuple[Round, dict[str, bytes]]:
    """A signed SecAgg+ round (sparse graph) run to the end, and one message of each kind."""
    r = make_round(n=8, threshold=3, d=6, neighbours=4, signed=True)
    adverts = [r.clients[i].advertise_keys() for i in range(8)]
    r.roster = r.server.collect_keys(adverts)
    share_keys = [r.clients[i].share_keys(r.roster[i]) for i in range(8)]
    r.bundles = r.server.collect_shares(share_keys)
    masked = [r.clients[i].masked_input(r.bundles[i], r.inputs[i]) for i in range(7)]
    r.consistency = r.server.collect_masked_inputs(masked)
    checks = [r.clients[i].consistency_check(r.consistency) for i in r.consistency.survivors]
    r.unmask_request = r.server.collect_consistency(checks)
    response = r.clients[0].unmask(r.unmask_request)
    messages = {
        "AdvertiseKeys": adverts[0].to_bytes(),
        "KeyRoster": r.roster[0].to_bytes(),
        "EncryptedShare": share_keys[0].shares[0].to_bytes(),
        "ShareKeys": share_keys[0].to_bytes(),
        "ShareBundle": r.bundles[0].to_bytes(),
        "MaskedInput": masked[0].to_bytes(),
        "ConsistencyRequest": r.consistency.to_bytes(),
        "ConsistencyResponse": checks[0].to_bytes(),
        "UnmaskRequest": r.unmask_request.to_bytes(),
        "UnmaskResponse": response.to_bytes(),
    }
    return r, messages


_MESSAGE_TYPES: dict[str, Any] = {
    "AdvertiseKeys": AdvertiseKeys,
    "KeyRoster": KeyRoster,
    "EncryptedShare": EncryptedShare,
    "ShareKeys": ShareKeys,
    "ShareBundle": ShareBundle,
    "MaskedInput": MaskedInput,
    "ConsistencyRequest": ConsistencyRequest,
    "ConsistencyResponse": ConsistencyResponse,
    "UnmaskRequest": UnmaskRequest,
    "UnmaskResponse": UnmaskResponse,
}


@functools.cache
def _saved_state() -> tuple[Round, StateKey, bytes]:
    """Client 1 of a fresh round saved after ``masked_input`` (roster, seed, shares in it)."""
    r = make_round(n=6, threshold=3, d=4, neighbours=4)
    r.keys()
    r.shares()
    r.masked()
    key = StateKey.generate()
    return r, key, r.clients[1].save_state(key)


def _load_state(data: object) -> Client:
    r, key, _ = _saved_state()
    return Client.load_state(data, r.config, 1, key=key)  # type: ignore[arg-type]


@functools.cache
def _paillier() -> dict[str, tuple[bytes, Callable[[Any], Any], Callable[[Any], bytes]]]:
    """Per Paillier format: valid bytes, its loader, and the re-serialiser of a result."""
    pk, sk = keypair()
    keys = committee(3, 2)
    verification = keys.verification
    ct = keys.public_key.encrypt(-7)
    vec = keys.public_key.encrypt_vector(np.arange(-6, 6).reshape(3, 4), max_summands=4)
    share = keys.shares[0].partial_decrypt(ct)
    vshare = keys.shares[0].partial_decrypt_vector(vec)
    tpk = keys.public_key
    return {
        "PublicKey": (
            pk.to_bytes(),
            lambda d: PublicKey.from_bytes(d, allow_insecure=True),
            lambda k: k.to_bytes(),
        ),
        "PrivateKey": (
            export_private_key(sk),
            lambda d: import_private_key(d, allow_insecure=True),
            export_private_key,
        ),
        "Ciphertext": (
            pk.encrypt(12345).to_bytes(),
            lambda d: Ciphertext.from_bytes(d, pk),
            lambda c: c.to_bytes(),
        ),
        "EncryptedVector": (
            vec.to_bytes(),
            lambda d: EncryptedVector.from_bytes(d, tpk),
            lambda v: v.to_bytes(),
        ),
        "VerificationKeys": (
            verification.to_bytes(),
            VerificationKeys.from_bytes,
            lambda v: v.to_bytes(),
        ),
        "KeyShare": (keys.shares[0].to_bytes(), KeyShare.from_bytes, lambda s: s.to_bytes()),
        "DecryptionShare": (
            share.to_bytes(verification),
            lambda d: DecryptionShare.from_bytes(d, verification),
            lambda s: s.to_bytes(verification),
        ),
        "VectorDecryptionShare": (
            vshare.to_bytes(verification),
            lambda d: VectorDecryptionShare.from_bytes(d, verification),
            lambda s: s.to_bytes(verification),
        ),
    }


# ------------------------------------------------------------------------- mutations


@st.composite
def corrupted(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` after one kind of damage an attacker or a disk might do."""
    kind = draw(st.sampled_from(["cut", "extend", "flip", "random", "huge", "splice"]))
    if kind == "cut":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "extend":
        return valid + draw(st.binary(min_size=1, max_size=16))
    if kind == "flip":
        out = bytearray(valid)
        for _ in range(draw(st.integers(1, 3))):
            out[draw(st.integers(0, len(out) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if kind == "random":
        return draw(st.binary(max_size=len(valid) + 16))
    if kind == "huge":  # a huge length or count, wherever the 4- or 8-byte field may sit
        width = draw(st.sampled_from([2, 4, 8]))
        at = draw(st.integers(0, max(0, len(valid) - width)))
        value: int = draw(st.sampled_from(_HUGE)) % 2 ** (8 * width) or 2 ** (8 * width) - 1
        return valid[:at] + value.to_bytes(width, "big") + valid[at + width :]
    at = draw(st.integers(0, len(valid)))
    return valid[:at] + draw(st.binary(max_size=64))


def _fuzz(
    load: Callable[[Any], Any],
    valid: bytes,
    data: bytes,
    reserialise: Callable[[Any], bytes] | None,
) -> None:
    """Typed errors only; if accepted, damaged bytes must re-serialise to themselves."""
    accepted, result = load_outcome(load, data)
    if not accepted or data == valid:
        return
    assert reserialise is not None, "an authenticated encoding accepted altered bytes"
    assert reserialise(result) == data


_WRONG_TYPES = [None, 0, 1.5, "text", ["a"], {"a": 1}, object(), True]


# ------------------------------------------------------------------------- masking wire


@pytest.mark.parametrize("name", sorted(_MESSAGE_TYPES))
@given(data=st.data())
def test_masking_messages_fail_typed_or_reserialise_exactly(name: str, data: st.DataObject) -> None:
    valid = _masking()[1][name]
    cls = _MESSAGE_TYPES[name]
    assert cls.from_bytes(valid).to_bytes() == valid
    _fuzz(cls.from_bytes, valid, data.draw(corrupted(valid)), lambda m: m.to_bytes())


@pytest.mark.parametrize("name", sorted(_MESSAGE_TYPES))
def test_masking_messages_refuse_wrong_types(name: str) -> None:
    for wrong in _WRONG_TYPES:
        with pytest.raises(DeserializationError):
            _MESSAGE_TYPES[name].from_bytes(wrong)


def test_masked_input_with_a_huge_length_field_allocates_nothing() -> None:
    valid = _masking()[1]["MaskedInput"]
    at = 4 + 2 + 32 + 4 + 4  # header, session id, client id, word size: the u64 length
    for length in (2**40, 2**40 + 1, 2**64 - 1, 2**33):
        _fuzz(MaskedInput.from_bytes, valid, valid[:at] + length.to_bytes(8, "big"), None)


# ------------------------------------------------------------------------- saved client state


@given(data=st.data())
def test_saved_state_refuses_every_alteration(data: st.DataObject) -> None:
    _, _, valid = _saved_state()
    damaged = data.draw(corrupted(valid))
    accepted, _ = load_outcome(_load_state, damaged)
    assert not accepted or damaged == valid


def test_saved_state_refuses_wrong_types_keys_and_owners() -> None:
    r, key, valid = _saved_state()
    for wrong in [*_WRONG_TYPES, b""]:
        with pytest.raises(DeserializationError):
            _load_state(wrong)
    for wrong_key in (None, key.to_bytes(), "k" * 32):
        with pytest.raises(SecAggError, match="StateKey"):
            Client.load_state(valid, r.config, 1, key=wrong_key)  # type: ignore[arg-type]
    with pytest.raises(DeserializationError, match="fails authentication"):
        Client.load_state(valid, r.config, 1, key=StateKey.generate())
    with pytest.raises(DeserializationError, match="another client"):
        Client.load_state(valid, r.config, 2, key=key)
    for bad in (b"", b"x" * 31, b"x" * 33, bytearray(31)):
        with pytest.raises(SecAggError):
            StateKey.from_bytes(bad)
    assert key.to_bytes().hex() not in repr(key)
    assert StateKey.from_bytes(bytearray(key.to_bytes())).to_bytes() == key.to_bytes()


# ------------------------------------------------------------------------- Paillier bytes


@pytest.mark.parametrize(
    "name",
    [
        "PublicKey",
        "PrivateKey",
        "Ciphertext",
        "EncryptedVector",
        "VerificationKeys",
        "KeyShare",
        "DecryptionShare",
        "VectorDecryptionShare",
    ],
)
@given(data=st.data())
def test_paillier_encodings_fail_typed_or_reserialise_exactly(
    name: str, data: st.DataObject
) -> None:
    valid, load, reserialise = _paillier()[name]
    assert reserialise(load(valid)) == valid
    _fuzz(load, valid, data.draw(corrupted(valid)), reserialise)


@pytest.mark.parametrize("name", ["PublicKey", "PrivateKey", "Ciphertext", "EncryptedVector"])
@given(data=st.data())
def test_checksummed_paillier_encodings_refuse_every_bit_flip(
    name: str, data: st.DataObject
) -> None:
    valid, load, _ = _paillier()[name]
    flipped = bytearray(valid)
    flipped[data.draw(st.integers(0, len(valid) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    accepted, _ = load_outcome(load, bytes(flipped))
    assert not accepted


@pytest.mark.parametrize("name", sorted(_paillier()))
def test_paillier_loaders_refuse_wrong_types(name: str) -> None:
    _, load, _ = _paillier()[name]
    for wrong in _WRONG_TYPES:
        with pytest.raises(SecAggError):
            load(wrong)


# ------------------------------------------------------------------------- Paillier JSON


def _json_key() -> tuple[PublicKey, str]:
    pk, _ = keypair()
    return pk, pk.to_json()


def _from_json(text: object) -> PublicKey:
    return PublicKey.from_json(text, allow_insecure=True)  # type: ignore[arg-type]


@given(data=st.data())
def test_public_key_json_fails_typed_or_is_the_canonical_text(data: st.DataObject) -> None:
    _, text = _json_key()
    valid = text.encode()
    damaged = data.draw(corrupted(valid))
    _fuzz(_from_json, valid, damaged, lambda k: k.to_json().encode())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["\u00b2", "\u0663", "\uff11", "+1", " 1", "1_0", "0x10", "1e5", "01"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(field=st.sampled_from(["type", "version", "n", "fingerprint"]), value=json_values)
def test_public_key_json_with_any_field_value_fails_typed(field: str, value: object) -> None:
    pk, text = _json_key()
    obj = json.loads(text)
    obj[field] = value
    accepted, key = load_outcome(_from_json, json.dumps(obj))
    assert not accepted or (key == pk and json.loads(key.to_json()) == obj)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{" * 100_000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        '{"n": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
        b"\xff\xfe",
        b"\xff\xfe{\x00}\x00",
        b"\x80" * 10,
        '{"version": ' + "9" * 5000 + "}",
        '{"version": ' + "9" * 20 + "}",
        '{"n": "' + "9" * 5000 + '"}',
        '{"version": NaN}',
        '{"version": Infinity}',
        '{"version": 1e999}',
        '"\\ud800"',
        "",
        "null",
        "[]",
        "1" * 10_000_000,
        '{"type": "fedcrypt.paillier.PublicKey", "type": "fedcrypt.paillier.PublicKey"}',
    ],
    ids=lambda t: repr(t[:12]) + f"..{len(t)}",
)
def test_public_key_json_hostile_texts_fail_typed(text: str | bytes) -> None:
    accepted, _ = load_outcome(_from_json, text)
    assert not accepted


def test_public_key_json_refuses_wrong_types() -> None:
    for wrong in [None, 1, 1.5, ["{}"], {"n": "1"}, object()]:
        with pytest.raises(DeserializationError):
            _from_json(wrong)


# ------------------------------------------------------------------------- regressions


def test_regression_a_flipped_seed_bit_in_a_saved_state_is_refused() -> None:
    """Issue 16: the state after ``share_keys`` with any one bit flipped never loads.

    On the old (unsealed) format, flipping a bit of the seed loaded fine and the round
    ended with a wrong sum; every bit position here is refused, wherever the seed sits.
    """
    r = make_round(n=5, threshold=3, d=4)
    r.keys()
    r.shares()
    key = StateKey.generate()
    data = r.clients[0].save_state(key)
    for at in range(len(data)):
        flipped = data[:at] + bytes([data[at] ^ (1 << (at % 8))]) + data[at + 1 :]
        with pytest.raises(DeserializationError):
            Client.load_state(flipped, r.config, 0, key=key)
    r.clients[0] = Client.load_state(data, r.config, 0, key=key)
    survivors = r.masked().survivors
    request = r.consistent()
    result = r.server.collect_unmask(r.clients[i].unmask(request) for i in survivors)
    expected = sum(r.inputs[i].astype(np.uint64) for i in range(5)) % 2**16
    np.testing.assert_array_equal(result.sum, expected)


def _reseal(data: bytes, key: StateKey, edit: Callable[[bytes], bytes]) -> bytes:
    """``data`` with its plaintext body edited and sealed again under the right key."""
    header, nonce = data[:_STATE_HEADER], data[_STATE_HEADER - 12 : _STATE_HEADER]
    aead = key._aead()
    body = edit(aead.decrypt(nonce, data[_STATE_HEADER + 4 :], header))
    sealed = aead.encrypt(nonce, body, header)
    return header + len(sealed).to_bytes(4, "big") + sealed


def test_regression_a_resealed_state_is_still_checked_against_the_commitment() -> None:
    """Behind the tag: a seed changed by a bug before sealing fails the commitment check."""
    r = make_round(n=5, threshold=3, d=4)
    r.keys()
    r.shares()
    key = StateKey.generate()
    data = r.clients[0].save_state(key)
    seed = r.clients[0]._seed

    def flip_seed(body: bytes) -> bytes:
        at = body.index(seed)
        return body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]

    with pytest.raises(DeserializationError, match="commitment"):
        Client.load_state(_reseal(data, key, flip_seed), r.config, 0, key=key)
    share_key = r.clients[0]._share_key.private_bytes_raw()

    def swap_share_key(body: bytes) -> bytes:
        return body.replace(share_key, bytes(31) + b"\x09")

    with pytest.raises(DeserializationError, match="no longer validates"):
        Client.load_state(_reseal(data, key, swap_share_key), r.config, 0, key=key)
    secret = next(iter(r.clients[0]._share_secrets.values()))

    def flip_secret(body: bytes) -> bytes:
        return body.replace(secret, bytes([secret[0] ^ 1]) + secret[1:])

    with pytest.raises(DeserializationError, match="share-encryption secret"):
        Client.load_state(_reseal(data, key, flip_secret), r.config, 0, key=key)


@pytest.mark.parametrize(
    "n_text", ["\u00b2", "\u0663\u0663", "\uff11" * 5, "1" * 5000, "-5", "+5", " 5", "5_0", "05"]
)
def test_regression_public_key_json_decimal_field_is_ascii_and_bounded(n_text: str) -> None:
    """Issue 16: ``"²"`` passed ``str.isdigit()`` and then ``int()`` raised ``ValueError``."""
    text = json.dumps(
        {"type": "fedcrypt.paillier.PublicKey", "version": 1, "n": n_text, "fingerprint": ""}
    )
    with pytest.raises(DeserializationError, match="decimal string"):
        _from_json(text)


def test_regression_public_key_json_deep_nesting_is_typed() -> None:
    """Issue 16: ``"[" * 100000`` raised ``RecursionError``."""
    with pytest.raises(DeserializationError):
        _from_json("[" * 100_000)
    with pytest.raises(DeserializationError, match="nested deeper"):
        _from_json("[" * 100)


def test_regression_largest_public_key_round_trips_through_json() -> None:
    """``to_json`` of a 16384-bit modulus (4933 digits) hit the 4300-digit int-str limit."""
    key = PublicKey(2**16383 + 3)
    assert key.bits == 16384
    assert PublicKey.from_json(key.to_json()) == key
    with pytest.raises(DeserializationError):
        PublicKey.from_json(key.to_json().replace('"n": "', '"n": "1'))


def _u(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


@pytest.mark.parametrize("bits", [16_392, 70_000, 500_000])
def test_regression_threshold_keys_with_a_huge_modulus_fail_typed_and_fast(bits: int) -> None:
    """Key shares and verification keys past the 16384-bit cap are refused before any work.

    Before: the cap was 2^65536, so a 57 KB key share cost one exponentiation modulo a
    131,072-bit n^2 (122 s), and past the cap the range error's message printed n in
    decimal, which raised ``ValueError`` (int-str limit) instead of a typed error.
    """
    width = -(-bits // 8)
    n = (1 << (bits - 1)) + 12_345
    share = (
        b"FCTK\x01"
        + _u(width, 2)
        + _u(2, 2)
        + _u(1024, 2)
        + _u(1, 2)
        + _u(n, width)
        + _u(3, 2 * width)
        + _u(5, 2 * width)
        + _u(n * n - 2, 2 * width)
    )
    verification = (
        b"FCTV\x01" + _u(width, 2) + _u(2, 2) + _u(3, 2) + _u(n, width) + _u(9, 8 * width)
    )
    for load, data in ((KeyShare.from_bytes, share), (VerificationKeys.from_bytes, verification)):
        with pytest.raises(DeserializationError, match="-bit integer"):
            load(data)
