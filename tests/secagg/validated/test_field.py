"""Field arithmetic, encoding and the NTT against Python big-int arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg.errors import DeserializationError, InvalidArgument
from secagg.validated import Field, Field64, Field128
from secagg.validated.hazmat import fold_eval_on_roots, inv_ntt, lagrange_at, ntt, poly_eval

from .strategies import field_elements

FIELDS = [Field64, Field128]


def test_draft_parameters() -> None:
    assert Field64.MODULUS == 2**32 * 4294967295 + 1 == 2**64 - 2**32 + 1
    assert Field128.MODULUS == 2**66 * 4611686018427387897 + 1 == 2**128 - 28 * 2**64 + 1
    for f in FIELDS:
        assert pow(f.GENERATOR, f.GEN_ORDER, f.MODULUS) == 1
        assert pow(f.GENERATOR, f.GEN_ORDER // 2, f.MODULUS) != 1


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(data=st.data())
def test_arithmetic_matches_integers(field: Field, data: st.DataObject) -> None:
    p = field.MODULUS
    xs = data.draw(st.lists(field_elements(field), min_size=1, max_size=40))
    ys = data.draw(st.lists(field_elements(field), min_size=len(xs), max_size=len(xs)))
    a, b = field.vec(xs), field.vec(ys)
    assert field.to_ints(field.add(a, b)) == [(x + y) % p for x, y in zip(xs, ys, strict=True)]
    assert field.to_ints(field.sub(a, b)) == [(x - y) % p for x, y in zip(xs, ys, strict=True)]
    assert field.to_ints(field.mul(a, b)) == [x * y % p for x, y in zip(xs, ys, strict=True)]
    assert field.to_ints(field.mul(a, ys[0])) == [x * ys[0] % p for x in xs]
    assert field.to_ints(field.neg(a)) == [-x % p for x in xs]
    assert int(field.sum(a)) == sum(xs) % p


@pytest.mark.parametrize("field", FIELDS, ids=str)
def test_sum_of_many_maximal_elements(field: Field) -> None:
    n = 5000
    a = field.vec([field.MODULUS - 1] * n)
    assert int(field.sum(a)) == (field.MODULUS - 1) * n % field.MODULUS
    assert (
        field.to_ints(field.sum(a.reshape(50, 100), axis=0))
        == [(field.MODULUS - 1) * 50 % field.MODULUS] * 100
    )


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(data=st.data())
def test_encoding_round_trip_and_rejection(field: Field, data: st.DataObject) -> None:
    xs = data.draw(st.lists(field_elements(field), max_size=20))
    enc = field.encode_vec(field.vec(xs))
    assert len(enc) == field.ENCODED_SIZE * len(xs)
    assert enc == b"".join(x.to_bytes(field.ENCODED_SIZE, "little") for x in xs)
    assert field.to_ints(field.decode_vec(enc)) == xs
    bad = data.draw(st.integers(field.MODULUS, 2 ** (8 * field.ENCODED_SIZE) - 1))
    with pytest.raises(DeserializationError):
        field.decode_vec(enc + bad.to_bytes(field.ENCODED_SIZE, "little"))
    with pytest.raises(DeserializationError):
        field.decode_vec(enc + b"\x00")


@pytest.mark.parametrize("field", FIELDS, ids=str)
def test_vec_refuses_unreduced(field: Field) -> None:
    with pytest.raises(InvalidArgument):
        field.vec([field.MODULUS])
    with pytest.raises(InvalidArgument):
        field.vec([-1])
    with pytest.raises(InvalidArgument):
        field.inv(0)


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(data=st.data())
def test_ntt_against_naive_evaluation(field: Field, data: st.DataObject) -> None:
    p = field.MODULUS
    n = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    coeffs = data.draw(st.lists(field_elements(field), min_size=n, max_size=n))
    w = field.root_of_unity(n)
    values = field.to_ints(ntt(field, field.vec(coeffs)))
    naive = [sum(c * pow(w, k * i, p) for i, c in enumerate(coeffs)) % p for k in range(n)]
    assert values == naive
    assert field.to_ints(inv_ntt(field, field.vec(values))) == coeffs
    t = data.draw(field_elements(field))
    direct = sum(c * pow(t, i, p) for i, c in enumerate(coeffs)) % p
    assert int(poly_eval(field, field.vec(coeffs), t)) == direct
    if pow(t, n, p) != 1:
        basis = lagrange_at(field, n, t)
        assert int(field.sum(field.mul(field.vec(values), basis))) == direct
    longer = coeffs + data.draw(st.lists(field_elements(field), max_size=3 * n))
    folded = field.to_ints(fold_eval_on_roots(field, field.vec(longer), n))
    assert folded == [sum(c * pow(w, k * i, p) for i, c in enumerate(longer)) % p for k in range(n)]


@pytest.mark.parametrize("field", FIELDS, ids=str)
def test_batched_ntt_is_rowwise(field: Field) -> None:
    rows = [[(i * 7 + j * 13 + 1) % field.MODULUS for j in range(8)] for i in range(3)]
    batch = field.vec([x for r in rows for x in r]).reshape(3, 8)
    out = ntt(field, batch)
    for i, r in enumerate(rows):
        assert field.to_ints(out[i]) == field.to_ints(ntt(field, field.vec(r)))


def test_root_of_unity_refuses_bad_orders() -> None:
    with pytest.raises(InvalidArgument):
        Field64.root_of_unity(3)
    with pytest.raises(InvalidArgument):
        Field64.root_of_unity(2**33)
    assert Field128.root_of_unity(2**66) == Field128.GENERATOR
