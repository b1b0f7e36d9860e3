"""Scalar Paillier: keys, encryption, homomorphic laws, overflow and key separation."""

from __future__ import annotations

import math

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import InsecureParameters, InvalidArgument, KeyMismatch, PlaintextOverflow
from secagg.paillier import Ciphertext, PrivateKey, PublicKey, generate_keypair, hazmat
from secagg.paillier._primes import _survivors, random_prime_3_mod_4
from tests.secagg.strategies_paillier import keypair, signed_plaintexts

PK, SK = keypair()
OTHER_PK, OTHER_SK = keypair(which=1)
values = signed_plaintexts(PK)
small = st.integers(-(10**30), 10**30)


def test_generated_key_has_the_promised_structure() -> None:
    p, q = SK.p, SK.q
    assert p * q == PK.n
    assert PK.bits == 1024
    assert PK.n.bit_length() == 1024
    assert p % 4 == 3
    assert q % 4 == 3
    assert math.gcd(p - 1, q - 1) == 2
    assert abs(p - q) > 1 << (512 - 100)
    assert gmpy2.is_prime(p)
    assert gmpy2.is_prime(q)
    assert PK.nsquare == PK.n**2
    assert PK.g == PK.n + 1


@pytest.mark.parametrize("bits", [512, 1024, 2046])
def test_short_keys_need_the_explicit_flag(bits: int) -> None:
    with pytest.raises(InsecureParameters):
        generate_keypair(bits)
    with pytest.raises(InsecureParameters):
        PublicKey(PK.n)


def test_invalid_sizes_and_moduli_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        generate_keypair(1023, allow_insecure=True)
    with pytest.raises(InsecureParameters):
        generate_keypair(128, allow_insecure=True)
    with pytest.raises(InvalidArgument):
        PublicKey(PK.n + 1, allow_insecure=True)  # even
    with pytest.raises(InvalidArgument):
        PublicKey(SK.p * SK.p, allow_insecure=True)  # square
    with pytest.raises(InvalidArgument):
        PublicKey((1 << 16400) + 1)  # beyond the supported maximum


def test_public_key_is_determined_by_n() -> None:
    again = PublicKey(PK.n, allow_insecure=True)
    assert again == PK
    assert hash(again) == hash(PK)
    assert again.fingerprint == PK.fingerprint
    assert len(PK.fingerprint) == 8
    assert again.djn_base == PK.djn_base
    assert PK.fingerprint != OTHER_PK.fingerprint


def test_djn_base_is_an_nth_power_of_minus_a_square() -> None:
    # h_s = h^n with h = -(x^2) mod n: h has Jacobi symbol 1 (p = q = 3 mod 4) and h_s is an
    # n-th residue, so h_s^a encrypts zero.
    from secagg.paillier._derive import derive_djn_seed

    x = derive_djn_seed(PK.n)
    h = (-(x * x)) % PK.n
    assert PK.djn_base == pow(h, PK.n, PK.nsquare)
    assert gmpy2.jacobi(h, PK.n) == 1
    assert gmpy2.legendre(h, SK.p) == -1  # -(square) is a non-residue mod p = 3 (mod 4)
    assert SK.decrypt(Ciphertext(PK, PK.djn_base)) == 0


def test_fixed_base_table_matches_powmod() -> None:
    table = PK._djn_table()
    for exponent in (0, 1, 255, 256, 2**511 + 12345, 256**table.exponent_bytes - 1):
        assert table.power(exponent) == pow(PK.djn_base, exponent, PK.nsquare)


@given(values)
def test_decrypt_inverts_encrypt_over_the_signed_range(m: int) -> None:
    assert SK.decrypt(PK.encrypt(m)) == m


def test_range_edges_round_trip() -> None:
    top = PK.max_int
    for m in (top, top - 1, -top, -top + 1, 0, 1, -1):
        assert SK.decrypt(PK.encrypt(m)) == m


def test_encrypt_refuses_values_outside_the_range() -> None:
    with pytest.raises(PlaintextOverflow):
        PK.encrypt(PK.max_int + 1)
    with pytest.raises(PlaintextOverflow):
        PK.encrypt(-PK.max_int - 1)
    with pytest.raises(InvalidArgument):
        PK.encrypt(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        PK.encrypt(True)


def test_decrypt_reports_overflow_in_the_gap() -> None:
    big = PK.encrypt(PK.max_int)
    with pytest.raises(PlaintextOverflow):
        SK.decrypt(big + big)


@given(values, values)
def test_addition_is_homomorphic(a: int, b: int) -> None:
    expected = a + b
    if abs(expected) > PK.max_int:
        with pytest.raises(PlaintextOverflow):
            SK.decrypt(PK.encrypt(a) + PK.encrypt(b))
    else:
        assert SK.decrypt(PK.encrypt(a) + PK.encrypt(b)) == expected
        assert SK.decrypt(PK.encrypt(a) + b) == expected
        assert SK.decrypt(b + PK.encrypt(a)) == expected


@given(small, small, small)
def test_addition_is_commutative_and_associative(a: int, b: int, c: int) -> None:
    ea, eb, ec = PK.encrypt(a), PK.encrypt(b), PK.encrypt(c)
    assert (ea + eb) == (eb + ea)
    assert ((ea + eb) + ec) == (ea + (eb + ec))
    assert SK.decrypt((ea + eb) + ec) == a + b + c


@given(small, st.integers(-(10**6), 10**6))
def test_scalar_multiplication_is_homomorphic(a: int, k: int) -> None:
    assert SK.decrypt(PK.encrypt(a) * k) == a * k
    assert SK.decrypt(k * PK.encrypt(a)) == a * k


@given(small, small)
def test_negation_and_subtraction(a: int, b: int) -> None:
    assert SK.decrypt(-PK.encrypt(a)) == -a
    assert SK.decrypt(PK.encrypt(a) - PK.encrypt(b)) == a - b
    assert SK.decrypt(PK.encrypt(a) - b) == a - b
    assert SK.decrypt(b - PK.encrypt(a)) == b - a


@given(small)
def test_rerandomize_changes_the_ciphertext_not_the_plaintext(a: int) -> None:
    c = PK.encrypt(a)
    fresh = c.rerandomize()
    assert fresh.value != c.value
    assert SK.decrypt(fresh) == a


def test_encryption_is_randomised() -> None:
    assert len({PK.encrypt(7).value for _ in range(20)}) == 20


@given(small)
def test_constant_time_decryption_agrees(a: int) -> None:
    c = PK.encrypt(a)
    assert SK.decrypt(c, constant_time=True) == SK.decrypt(c) == a


def test_hazmat_matches_textbook_paillier() -> None:
    # c = (1 + m n) r^n mod n^2 (Paillier 1999) decrypts under our CRT decryption.
    n, n2 = PK.n, PK.nsquare
    for m, r in ((0, 2), (1, 3), (123456789, 65537), (n - 1, 12345)):
        c = (1 + m * n) * pow(r, n, n2) % n2
        assert hazmat.raw_decrypt(SK, c) == m
        assert hazmat.raw_decrypt_many(SK, [c, c], 2) == [m, m]


def test_keys_do_not_mix() -> None:
    mine, theirs = PK.encrypt(1), OTHER_PK.encrypt(2)
    with pytest.raises(KeyMismatch):
        _ = mine + theirs
    with pytest.raises(KeyMismatch):
        SK.decrypt(theirs)


def test_private_key_checks_its_factors() -> None:
    with pytest.raises(KeyMismatch):
        PrivateKey(PK, OTHER_SK.p, OTHER_SK.q)
    with pytest.raises(KeyMismatch):
        PrivateKey(PK, SK.p, SK.p)
    assert PrivateKey(PK, SK.q, SK.p) == SK
    assert "p=" not in repr(SK)
    assert str(SK.p) not in repr(SK)


def test_ciphertext_value_range_is_checked() -> None:
    with pytest.raises(InvalidArgument):
        Ciphertext(PK, 0)
    with pytest.raises(InvalidArgument):
        Ciphertext(PK, PK.nsquare)
    with pytest.raises(InvalidArgument):
        Ciphertext(PK, "5")


@settings(max_examples=10)
@given(st.integers(64, 400))
def test_prime_generator_meets_its_contract(bits: int) -> None:
    prime = random_prime_3_mod_4(bits)
    assert prime.bit_length() == bits
    assert prime >> (bits - 2) == 3  # two top bits set, so p q has exactly 2 * bits bits
    assert prime % 4 == 3
    assert gmpy2.is_prime(prime, 50)


@given(st.integers(2**200, 2**256))
def test_sieve_keeps_exactly_the_candidates_without_small_factors(start: int) -> None:
    start = start - start % 4 + 3
    kept = set(_survivors(start).tolist())
    small = [3, 5, 7, 11, 13, 101, 32749]  # 32749 is the largest prime below 2^15
    for j in range(0, 2048, 7):
        has_small_factor = any((start + 4 * j) % r == 0 for r in small)
        if has_small_factor:
            assert j not in kept
    for j in kept:
        assert math.gcd(start + 4 * j, 3 * 5 * 7 * 11 * 13 * 101 * 32749) == 1


def test_keys_of_the_same_modulus_share_one_fixed_base_table() -> None:
    # Two fresh objects: PK may hold a table that other tests' keys since evicted from the
    # process-wide cache (it keeps the last few moduli), which is intended.
    first = PublicKey(PK.n, allow_insecure=True)
    again = PublicKey(PK.n, allow_insecure=True)
    assert again._djn_table() is first._djn_table()
    assert OTHER_PK._djn_table() is not PK._djn_table()
    assert SK.decrypt(again.encrypt(5) + PK.encrypt(6)) == 11
