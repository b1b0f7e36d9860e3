"""Interoperability with python-paillier (phe) and the known-answer vectors."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import phe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import EncodingMismatch, InvalidArgument, KeyMismatch, PlaintextOverflow
from secagg.paillier import Ciphertext, PrivateKey, PublicKey, generate_keypair
from secagg.paillier.phe_compat import EncodedCiphertext, from_phe, from_phe_number, to_phe
from tests.secagg.strategies_paillier import keypair, signed_plaintexts

PK, SK = keypair()
OTHER_PK, _ = keypair(which=1)
PHE_PK, PHE_SK = to_phe(PK), to_phe(SK)
KAT = json.loads((Path(__file__).parents[1] / "vectors" / "paillier_kat.json").read_text())


def test_keys_convert_both_ways() -> None:
    assert isinstance(PHE_PK, phe.PaillierPublicKey)
    assert PHE_PK.n == PK.n
    assert isinstance(PHE_SK, phe.PaillierPrivateKey)
    assert {PHE_SK.p, PHE_SK.q} == {SK.p, SK.q}
    back_pk = from_phe(PHE_PK, allow_insecure=True)
    back_sk = from_phe(PHE_SK, allow_insecure=True)
    assert back_pk == PK
    assert isinstance(back_sk, PrivateKey)
    assert back_sk == SK


@given(signed_plaintexts(PK))
def test_our_ciphertexts_decrypt_under_phe(m: int) -> None:
    assert PHE_SK.decrypt(to_phe(PK.encrypt(m))) == m


@given(signed_plaintexts(PK))
def test_phe_ciphertexts_decrypt_under_ours(m: int) -> None:
    ours = from_phe(PHE_PK.encrypt(m), public_key=PK)
    assert isinstance(ours, Ciphertext)
    assert ours.public_key is PK
    assert SK.decrypt(ours) == m


@given(st.integers(-(10**40), 10**40), st.integers(-(10**40), 10**40))
def test_mixed_homomorphic_sums(a: int, b: int) -> None:
    ours = PK.encrypt(a)
    theirs = from_phe(PHE_PK.encrypt(b), public_key=PK)
    assert isinstance(theirs, Ciphertext)
    assert SK.decrypt(ours + theirs) == a + b
    assert PHE_SK.decrypt(to_phe(ours) + PHE_PK.encrypt(b)) == a + b


@settings(max_examples=10)
@given(st.floats(-1e6, 1e6, allow_nan=False))
def test_phe_fixed_point_numbers_are_refused_not_misread(x: float) -> None:
    number = PHE_PK.encrypt(x)
    if number.exponent != 0:
        with pytest.raises(EncodingMismatch):
            from_phe(number, public_key=PK)


def test_conversion_errors() -> None:
    with pytest.raises(InvalidArgument):
        to_phe(42)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgument):
        from_phe("key")
    with pytest.raises(KeyMismatch):
        from_phe(PHE_PK.encrypt(1), public_key=OTHER_PK)


def test_known_answer_vectors() -> None:
    n, p, q = int(KAT["n"]), int(KAT["p"]), int(KAT["q"])
    public_key = PublicKey(n, allow_insecure=True)
    private_key = PrivateKey(public_key, p, q)
    assert public_key.fingerprint_hex == KAT["fingerprint"]
    assert public_key.djn_base == int(KAT["djn_base"])
    phe_private = to_phe(private_key)
    for case in KAT["cases"]:
        m, c = int(case["m"]), int(case["c"])
        r = int(case["r"])
        assert c == (1 + (m % n) * n) * pow(r, n, n * n) % (n * n)
        assert private_key.decrypt(Ciphertext(public_key, c)) == m
        assert phe_private.decrypt(phe.EncryptedNumber(to_phe(public_key), c, 0)) == m


@pytest.mark.slow
def test_2048_bit_keys_end_to_end() -> None:
    public_key, private_key = generate_keypair(2048)
    assert public_key.bits == 2048
    assert private_key.p % 4 == 3
    x = np.linspace(-100, 100, 2000)
    total = sum([public_key.encrypt_vector(x, max_abs=100, max_summands=4)] * 4)
    expected = 4 * np.ldexp(np.rint(np.ldexp(x, 16)), -16)
    assert np.array_equal(private_key.decrypt_vector(total), expected)
    phe_private = to_phe(private_key)
    assert phe_private.decrypt(to_phe(public_key.encrypt(-7) * 6)) == -42
    loaded = PublicKey.from_bytes(public_key.to_bytes())
    assert loaded == public_key


finite_floats = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=25)
@given(finite_floats)
def test_phe_floats_convert_with_their_exponent(x: float) -> None:
    theirs = PHE_PK.encrypt(x)
    ours = from_phe_number(theirs, public_key=PK)
    assert ours.exponent == theirs.exponent
    assert ours.decrypt(SK) == PHE_SK.decrypt(theirs) == x
    back = to_phe(ours)
    assert (back.exponent, back.ciphertext(be_secure=False)) == (
        theirs.exponent,
        theirs.ciphertext(be_secure=False),
    )


@settings(max_examples=25)
@given(finite_floats, finite_floats, st.integers(-8, 2))
def test_our_encoded_numbers_decrypt_and_add_like_phe(x: float, y: float, exponent: int) -> None:
    ours = EncodedCiphertext.encrypt(PK, x, exponent=exponent)
    step = Fraction(16) ** exponent
    assert ours.decrypt_exact(SK) == round(Fraction(x) / step) * step
    assert PHE_SK.decrypt(to_phe(ours)) == ours.decrypt(SK)
    # Sums align exponents as phe does, in both libraries, to the same value; aligning a
    # tiny float's exponent (1.2e-295 is phe's exponent -258) can need a scalar above
    # n / 3, which both libraries then refuse.
    theirs = PHE_PK.encrypt(y)
    try:
        expected = PHE_SK.decrypt(to_phe(ours) + theirs)
    except (ValueError, OverflowError):
        with pytest.raises(PlaintextOverflow):
            ours + from_phe_number(theirs, public_key=PK)
        return
    total = ours + from_phe_number(theirs, public_key=PK)
    assert total.exponent == min(exponent, theirs.exponent)
    assert total.decrypt(SK) == expected


def test_float_conversion_errors_are_typed() -> None:
    theirs = PHE_PK.encrypt(0.5)
    with pytest.raises(EncodingMismatch, match="from_phe_number"):
        from_phe(theirs)
    with pytest.raises(InvalidArgument):
        from_phe_number(PHE_PK)
    with pytest.raises(KeyMismatch):
        from_phe_number(theirs, public_key=OTHER_PK)
    number = from_phe_number(theirs, public_key=PK)
    with pytest.raises(InvalidArgument):
        number.with_exponent(number.exponent + 1)
    with pytest.raises(InvalidArgument):
        EncodedCiphertext.encrypt(PK, float("nan"))
    with pytest.raises(InvalidArgument):
        EncodedCiphertext(number.ciphertext, 1.5)  # type: ignore[arg-type]
    with pytest.raises(PlaintextOverflow):
        EncodedCiphertext.encrypt(PK, 1e300, exponent=-40)


def test_vector_values_match_phe_numbers_of_exponent_minus_scale_over_4() -> None:
    # The documented mapping: scale_bits = 16 is phe's exponent -4.
    x = np.array([0.123456789, -0.5, 1.0])
    decoded = SK.decrypt_vector(PK.encrypt_vector(x, scale_bits=16))
    for value, got in zip(x, decoded, strict=True):
        number = EncodedCiphertext.encrypt(PK, float(value), exponent=-4)
        assert PHE_SK.decrypt(to_phe(number)) == got
