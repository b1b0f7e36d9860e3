"""Threshold Paillier: correctness of dealing, partial decryption, proofs and combination."""

from __future__ import annotations

import itertools
import math
import secrets

import numpy as np
import phe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import (
    InsecureParameters,
    InsufficientShares,
    InvalidArgument,
    InvalidProof,
    InvalidShare,
    KeyMismatch,
)
from secagg.paillier import PrivateKey
from secagg.paillier import _threshold_math as tmath
from secagg.paillier._threshold_primes import is_safe_prime, random_safe_prime
from secagg.paillier.threshold import (
    DecryptionShare,
    VectorDecryptionShare,
    combine_shares,
    combine_vector_shares,
    deal_threshold_keys,
    verify_decryption_share,
    verify_vector_share,
)
from tests.secagg.test_threshold_support import TEST_BITS, committee, safe_primes

committees = st.integers(1, 6).flatmap(lambda size: st.tuples(st.just(size), st.integers(1, size)))


def signed_values(n: int) -> st.SearchStrategy[int]:
    return st.integers(-(n // 3 - 1), n // 3 - 1)  # PublicKey.max_int, as in phe


# --------------------------------------------------------------------------- dealer


def test_dealer_refuses_short_moduli_without_the_insecure_flag() -> None:
    with pytest.raises(InsecureParameters):
        deal_threshold_keys(1024, 3, 2)


@pytest.mark.parametrize(("n_parties", "threshold"), [(0, 1), (3, 0), (3, 4), (True, 1)])
def test_dealer_refuses_bad_committees(n_parties: int, threshold: int) -> None:
    with pytest.raises(InvalidArgument):
        deal_threshold_keys(512, n_parties, threshold, allow_insecure=True)


def test_dealer_output_is_consistent() -> None:
    keys = deal_threshold_keys(TEST_BITS, 4, 3, allow_insecure=True)
    n = keys.public_key.n
    assert n.bit_length() == TEST_BITS
    assert keys.verification.n == n
    assert [share.holder for share in keys.shares] == [1, 2, 3, 4]
    assert all(
        share.verification_key == keys.verification.key_of(share.holder) for share in keys.shares
    )
    ct = keys.public_key.encrypt(-12345)
    shares = [share.partial_decrypt(ct) for share in keys.shares[1:]]
    assert combine_shares(keys.verification, ct, shares).to_signed() == -12345


@settings(max_examples=10)
@given(st.integers(16, 80))
def test_safe_primes_are_safe_and_exactly_sized(bits: int) -> None:
    p = random_safe_prime(bits)
    assert p.bit_length() == bits
    assert p >> (bits - 2) == 0b11  # top two bits set, so p * q has 2 * bits bits
    assert p % 4 == 3
    assert is_safe_prime(p)


def test_safe_prime_check_rejects_non_safe_primes() -> None:
    assert not is_safe_prime(13)  # prime, but 6 is not
    assert not is_safe_prime(15)
    assert is_safe_prime(23)


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6), st.data())
def test_lagrange_coefficients_interpolate_delta_times_the_secret(
    coefficients: list[int], data: st.DataObject
) -> None:
    n_parties = len(coefficients) + data.draw(st.integers(0, 3))
    holders = sorted(
        data.draw(
            st.sets(
                st.integers(1, n_parties), min_size=len(coefficients), max_size=len(coefficients)
            )
        )
    )
    delta = tmath.holder_delta(n_parties)

    def f(x: int) -> int:
        return sum(c * x**k for k, c in enumerate(coefficients))

    total = sum(tmath.lagrange_at_zero(holders, i, delta) * f(i) for i in holders)
    assert total == delta * f(0)


# --------------------------------------------------------------------------- decryption


@settings(max_examples=10)
@given(committees, st.data())
def test_every_t_subset_decrypts(sizes: tuple[int, int], data: st.DataObject) -> None:
    n_parties, threshold = sizes
    keys = committee(n_parties, threshold)
    value = data.draw(signed_values(keys.public_key.n))
    ct = keys.public_key.encrypt(value)
    shares = [share.partial_decrypt(ct) for share in keys.shares]
    for subset in itertools.combinations(shares, threshold):
        result = combine_shares(keys.verification, ct, subset)
        assert result.to_signed() == value
        assert result.holders == tuple(share.holder for share in subset)
        assert result.rejected == ()


@settings(max_examples=15)
@given(committees, st.data())
def test_any_t_shares_decrypt_and_t_minus_one_fail(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    n_parties, threshold = sizes
    keys = committee(n_parties, threshold)
    value = data.draw(signed_values(keys.public_key.n))
    ct = keys.public_key.encrypt(value)
    chosen = data.draw(st.permutations(keys.shares))[:threshold]
    shares = [share.partial_decrypt(ct) for share in chosen]
    assert combine_shares(keys.verification, ct, shares).to_signed() == value
    with pytest.raises(InsufficientShares):
        combine_shares(keys.verification, ct, shares[:-1])


@settings(max_examples=10)
@given(st.lists(st.integers(-(2**64), 2**64), min_size=2, max_size=6))
def test_threshold_decryption_is_additively_homomorphic(values: list[int]) -> None:
    keys = committee(4, 2)
    total = keys.public_key.encrypt(values[0])
    for value in values[1:]:
        total = total + keys.public_key.encrypt(value)
    shares = [share.partial_decrypt(total) for share in keys.shares[2:]]
    assert combine_shares(keys.verification, total, shares).to_signed() == sum(values)


def test_threshold_decryption_agrees_with_the_private_key() -> None:
    keys = committee(3, 2)
    p, q = safe_primes()
    private_key = PrivateKey(keys.public_key, p, q)
    ct = keys.public_key.encrypt(987654321) * 3 + 7
    shares = [share.partial_decrypt(ct) for share in keys.shares[:2]]
    assert combine_shares(keys.verification, ct, shares).to_signed() == private_key.decrypt(ct)


def test_shares_beyond_the_threshold_are_not_needed() -> None:
    keys = committee(5, 2)
    ct = keys.public_key.encrypt(5)
    shares = [share.partial_decrypt(ct) for share in keys.shares]
    result = combine_shares(keys.verification, ct, reversed(shares))
    assert result.plaintext == 5
    assert result.holders == (1, 2)


def test_raw_ciphertext_integers_are_accepted() -> None:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(77)
    raw = int(ct.value)
    shares = [share.partial_decrypt(raw) for share in keys.shares[:2]]
    assert combine_shares(keys.verification, raw, shares).plaintext == 77
    assert combine_shares(keys.verification, ct, shares).plaintext == 77


# --------------------------------------------------------------------------- cheating holders


def _forge(share: DecryptionShare, **changes: object) -> DecryptionShare:
    fields = {
        "holder": share.holder,
        "key_fingerprint": share.key_fingerprint,
        "ciphertext_digest": share.ciphertext_digest,
        "value": share.value,
        "challenge": share.challenge,
        "response": share.response,
    }
    fields.update(changes)
    return DecryptionShare(**fields)  # type: ignore[arg-type]


def _forgeries(keys, ct, honest: list[DecryptionShare]):  # type: ignore[no-untyped-def]
    """One forged share of holder 1 per way of cheating."""
    nsquare = keys.public_key.nsquare
    other_ct = keys.public_key.encrypt(1)
    share = honest[0]
    return {
        "value times a square": _forge(share, value=share.value * 4 % nsquare),
        "random value": _forge(share, value=pow(secrets.randbelow(nsquare), 2, nsquare)),
        "bumped response": _forge(share, response=share.response + 1),
        "bumped challenge": _forge(share, challenge=share.challenge ^ 1),
        "share of holder 2 relabelled": _forge(honest[1], holder=1),
        "share of another ciphertext": keys.shares[0].partial_decrypt(other_ct),
        "proof of another ciphertext": _forge(
            share, ciphertext_digest=keys.shares[0].partial_decrypt(other_ct).ciphertext_digest
        ),
    }


def test_forged_and_mismatched_shares_are_named_and_excluded() -> None:
    keys = committee(5, 3)
    ct = keys.public_key.encrypt(-31337)
    honest = [share.partial_decrypt(ct) for share in keys.shares]
    for how, forged in _forgeries(keys, ct, honest).items():
        with pytest.raises(InvalidShare) as caught:
            verify_decryption_share(keys.verification, ct, forged)
        assert caught.value.party == 1, how
        result = combine_shares(keys.verification, ct, [forged, *honest[1:]])
        assert result.to_signed() == -31337, how
        assert [error.party for error in result.rejected] == [1], how
        assert result.holders == (2, 3, 4), how
        with pytest.raises(InvalidShare) as strict:
            combine_shares(keys.verification, ct, [forged, *honest[1:]], strict=True)
        assert strict.value.party == 1, how


def test_a_bad_proof_is_reported_as_invalid_proof() -> None:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(3)
    share = keys.shares[1].partial_decrypt(ct)
    with pytest.raises(InvalidProof) as caught:
        verify_decryption_share(keys.verification, ct, _forge(share, response=share.response + 1))
    assert caught.value.party == 2


def test_too_few_valid_shares_raise_and_name_the_cheaters() -> None:
    keys = committee(4, 3)
    ct = keys.public_key.encrypt(8)
    honest = [share.partial_decrypt(ct) for share in keys.shares]
    forged = _forge(honest[2], response=honest[2].response + 1)
    with pytest.raises(InsufficientShares, match="rejected holders: 3"):
        combine_shares(keys.verification, ct, [honest[0], honest[1], forged])


def test_duplicate_holders_count_once() -> None:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(8)
    share = keys.shares[0].partial_decrypt(ct)
    with pytest.raises(InsufficientShares):
        combine_shares(keys.verification, ct, [share, share])


def test_negated_share_is_harmless() -> None:
    # The proof is about squares, so -c_i also verifies; the exponent 2 lambda_i absorbs it.
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(99)
    shares = [share.partial_decrypt(ct) for share in keys.shares[:2]]
    negated = _forge(shares[0], value=keys.public_key.nsquare - shares[0].value)
    assert combine_shares(keys.verification, ct, [negated, shares[1]]).plaintext == 99


def test_shares_of_another_key_are_refused() -> None:
    keys = committee(3, 2)
    other = committee(3, 2, slot=1)
    ct = keys.public_key.encrypt(1)
    with pytest.raises(KeyMismatch):
        other.shares[0].partial_decrypt(ct)
    foreign = other.shares[0].partial_decrypt(other.public_key.encrypt(1))
    result = combine_shares(
        keys.verification,
        ct,
        [foreign, *(share.partial_decrypt(ct) for share in keys.shares[1:])],
    )
    assert result.plaintext == 1
    assert [error.party for error in result.rejected] == [1]


def test_non_unit_ciphertexts_are_refused() -> None:
    keys = committee(3, 2)
    p, _ = safe_primes()
    for bad in (0, p, keys.public_key.nsquare, -1):
        with pytest.raises(InvalidArgument):
            keys.shares[0].partial_decrypt(bad)
    with pytest.raises(InvalidArgument):
        keys.shares[0].partial_decrypt("17")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- vectors


@settings(max_examples=8)
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.randoms(use_true_random=False),
)
def test_summed_client_vectors_decrypt_to_the_plain_sum(
    clients: int, length: int, rng: object
) -> None:
    keys = committee(5, 3)
    generator = np.random.default_rng(rng.getrandbits(32))  # type: ignore[attr-defined]
    updates = [generator.integers(-(2**20), 2**20, size=length) for _ in range(clients)]
    encrypted = [keys.public_key.encrypt_vector(u, max_summands=8) for u in updates]
    total = encrypted[0]
    for vector in encrypted[1:]:
        total = total + vector
    chosen = sorted(generator.choice(5, size=3, replace=False).tolist())
    shares = [keys.shares[i].partial_decrypt_vector(total) for i in chosen]
    result = combine_vector_shares(keys.verification, total, shares)
    np.testing.assert_array_equal(result.values, np.sum(updates, axis=0))
    assert result.holders == tuple(i + 1 for i in chosen)


def test_float_vectors_from_many_clients_sum_within_the_fixed_point_error() -> None:
    keys = committee(4, 3)
    generator = np.random.default_rng(7)
    updates = [generator.normal(size=(3, 50)) for _ in range(10)]
    params = {"max_abs": 8.0, "max_summands": 16}
    total = sum(
        (keys.public_key.encrypt_vector(u, **params) for u in updates[1:]),
        keys.public_key.encrypt_vector(updates[0], **params),
    )
    shares = [share.partial_decrypt_vector(total) for share in keys.shares]
    result = combine_vector_shares(keys.verification, total, shares)
    assert result.values.shape == (3, 50)
    assert np.max(np.abs(result.values - np.sum(updates, axis=0))) <= 10 * 2.0**-16


def test_tampered_vector_shares_are_named_and_excluded() -> None:
    keys = committee(4, 2)
    vector = keys.public_key.encrypt_vector(np.arange(200), max_summands=2)
    other = keys.public_key.encrypt_vector(np.arange(200) + 1, max_summands=2)
    honest = [share.partial_decrypt_vector(vector) for share in keys.shares]
    nsquare = keys.public_key.nsquare
    first = honest[0]
    index = len(first.values) // 2
    values = list(first.values)
    values[index] = values[index] * 9 % nsquare
    tampered = VectorDecryptionShare(
        first.holder,
        first.key_fingerprint,
        first.ciphertexts_digest,
        tuple(values),
        first.challenge,
        first.response,
    )
    forged = {
        "one value changed": tampered,
        "share of another vector": keys.shares[0].partial_decrypt_vector(other),
    }
    for how, bad in forged.items():
        with pytest.raises(InvalidShare) as caught:
            verify_vector_share(keys.verification, vector, bad)
        assert caught.value.party == 1, how
        result = combine_vector_shares(keys.verification, vector, [bad, *honest[1:]])
        np.testing.assert_array_equal(result.values, np.arange(200))
        assert [error.party for error in result.rejected] == [1], how
    with pytest.raises(InvalidProof):
        combine_vector_shares(keys.verification, vector, [tampered, honest[1]], strict=True)
    with pytest.raises(InsufficientShares):
        combine_vector_shares(keys.verification, vector, [tampered, honest[1]])


def test_vector_shares_with_one_worker_equal_two() -> None:
    keys = committee(3, 2)
    vector = keys.public_key.encrypt_vector(np.arange(-50, 50), max_summands=2)
    shares_1 = [s.partial_decrypt_vector(vector, workers=1) for s in keys.shares[:2]]
    shares_2 = [s.partial_decrypt_vector(vector, workers=2) for s in keys.shares[:2]]
    assert [s.values for s in shares_1] == [s.values for s in shares_2]
    result = combine_vector_shares(keys.verification, vector, shares_2, workers=1)
    np.testing.assert_array_equal(result.values, np.arange(-50, 50))


# --------------------------------------------------------------------------- interoperability


@settings(max_examples=10)
@given(st.lists(st.integers(-(2**100), 2**100), min_size=1, max_size=4))
def test_phe_ciphertexts_threshold_decrypt(values: list[int]) -> None:
    keys = committee(3, 2)
    phe_key = phe.paillier.PaillierPublicKey(keys.public_key.n)
    encrypted = [phe_key.encrypt(v) for v in values]
    total = encrypted[0]
    for item in encrypted[1:]:
        total = total + item
    assert total.exponent == 0
    raw = total.ciphertext(be_secure=False)
    shares = [share.partial_decrypt(raw) for share in keys.shares[1:]]
    assert combine_shares(keys.verification, raw, shares).to_signed() == sum(values)


def test_threshold_public_key_is_an_ordinary_paillier_key() -> None:
    keys = committee(3, 2)
    n = keys.public_key.n
    assert keys.public_key == keys.verification.public_key(allow_insecure=True)
    assert keys.public_key.fingerprint == keys.verification.key_fingerprint
    assert math.gcd(n, keys.public_key.g - 1) == n  # g = n + 1


def test_constant_time_mode_gives_the_same_shares() -> None:
    keys = committee(3, 2)
    ct = keys.public_key.encrypt(-777)
    fast = [share.partial_decrypt(ct) for share in keys.shares[:2]]
    safe = [share.partial_decrypt(ct, constant_time=True) for share in keys.shares[:2]]
    assert [s.value for s in safe] == [s.value for s in fast]
    assert combine_shares(keys.verification, ct, safe, strict=True).to_signed() == -777
    vector = keys.public_key.encrypt_vector(np.arange(-20, 20), max_summands=2)
    shares = [s.partial_decrypt_vector(vector, constant_time=True) for s in keys.shares[1:]]
    result = combine_vector_shares(keys.verification, vector, shares, strict=True)
    np.testing.assert_array_equal(result.values, np.arange(-20, 20))
