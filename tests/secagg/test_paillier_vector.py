"""Packed encrypted vectors: round trips, exact sums, the summand budget and mismatches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import EncodingMismatch, InvalidArgument, KeyMismatch, PlaintextOverflow
from secagg.paillier import EncryptedVector, PackingLayout
from tests.secagg.strategies_paillier import float_vectors, int_vectors, keypair, packing_parameters

PK, SK = keypair()
OTHER_PK, _ = keypair(which=1)


def fixed_point(x: np.ndarray, scale_bits: int) -> np.ndarray:
    return np.ldexp(np.rint(np.ldexp(x, scale_bits)), -scale_bits)


@given(float_vectors())
def test_float_round_trip_is_exact_after_fixed_point_rounding(x: np.ndarray) -> None:
    ev = PK.encrypt_vector(x, value_bits=32)
    out = SK.decrypt_vector(ev)
    assert out.shape == x.shape
    assert out.dtype == np.float64
    assert np.array_equal(out, fixed_point(x, 16))
    assert np.max(np.abs(out - x)) <= 2.0**-17


@given(int_vectors())
def test_int_round_trip_is_exact(x: np.ndarray) -> None:
    out = SK.decrypt_vector(PK.encrypt_vector(x))
    assert out.dtype == np.int64
    assert np.array_equal(out, x)


@settings(max_examples=15)
@given(packing_parameters(), st.data())
def test_any_layout_round_trips_values_at_its_bounds(
    params: dict[str, int], data: st.DataObject
) -> None:
    half = 1 << (params["value_bits"] - 1)
    size = data.draw(st.integers(1, 80))
    ints = data.draw(st.lists(st.integers(-half, half - 1), min_size=size, max_size=size))
    ints[0] = -half  # always include both extremes of the range
    ints[-1] = half - 1
    if params["value_bits"] > 53:  # float64 cannot hold such integers: use the int path
        params = {**params, "scale_bits": 0}
        x = np.array(ints, dtype=np.int64)
    else:
        x = np.ldexp(np.array(ints, dtype=np.float64), -params["scale_bits"])
    ev = PK.encrypt_vector(x, **params)
    assert ev.layout.slot_bits == params["value_bits"] + (params["max_summands"] - 1).bit_length()
    assert ev.layout.slots * ev.layout.slot_bits <= PK.bits - 1
    assert np.array_equal(SK.decrypt_vector(ev), x)


@settings(max_examples=10)
@given(st.integers(1, 6), st.data())
def test_sum_of_up_to_max_summands_vectors_is_exact(max_summands: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 50))
    count = data.draw(st.integers(1, max_summands))
    params = {"scale_bits": 8, "value_bits": 12, "max_summands": max_summands}
    rows = [
        data.draw(st.lists(st.integers(-2048, 2047), min_size=size, max_size=size))
        for _ in range(count)
    ]
    rows[0] = [-2048] * size  # worst case: every summand at an extreme
    arrays = [np.ldexp(np.array(r, dtype=np.float64), -8) for r in rows]
    vectors = [PK.encrypt_vector(a, **params) for a in arrays]
    total = sum(vectors[1:], vectors[0])
    assert total.summands == count
    assert np.array_equal(SK.decrypt_vector(total), np.sum(arrays, axis=0))
    assert np.array_equal(SK.decrypt_vector(EncryptedVector.sum(vectors)), np.sum(arrays, axis=0))


@settings(max_examples=10)
@given(st.integers(1, 9), st.sampled_from([-128, 127]), st.integers(1, 60))
def test_full_budget_at_the_extremes_is_exact_and_one_more_overflows(
    max_summands: int, extreme: int, size: int
) -> None:
    x = np.full(size, extreme, dtype=np.int64)
    ev = PK.encrypt_vector(x, value_bits=8, max_summands=max_summands)
    total = EncryptedVector.sum([ev] * max_summands)
    assert total.summands == max_summands
    assert np.array_equal(SK.decrypt_vector(total), x * max_summands)
    with pytest.raises(PlaintextOverflow):
        _ = total + ev
    with pytest.raises(PlaintextOverflow):
        EncryptedVector.sum([ev] * (max_summands + 1))
    with pytest.raises(PlaintextOverflow):
        _ = ev * (max_summands + 1)
    assert np.array_equal(SK.decrypt_vector(ev * max_summands), x * max_summands)


@given(int_vectors(value_bits=16, max_size=60), st.integers(0, 64))
def test_weighting_by_a_non_negative_integer(x: np.ndarray, weight: int) -> None:
    ev = PK.encrypt_vector(x, value_bits=16, max_summands=64)
    scaled = ev * weight
    assert scaled.summands == weight
    assert np.array_equal(SK.decrypt_vector(scaled), x * weight)
    assert np.array_equal(SK.decrypt_vector(weight * ev), x * weight)


def test_negative_weights_are_refused() -> None:
    ev = PK.encrypt_vector(np.arange(3))
    with pytest.raises(InvalidArgument):
        ev.scale(-1)


@given(float_vectors(max_size=40), float_vectors(max_size=40))
def test_vector_addition_is_commutative(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape:
        y = np.resize(y, x.shape)
    a, b = PK.encrypt_vector(x, value_bits=32), PK.encrypt_vector(y, value_bits=32)
    assert np.array_equal(SK.decrypt_vector(a + b), SK.decrypt_vector(b + a))
    assert np.array_equal(SK.decrypt_vector(a + b), fixed_point(x, 16) + fixed_point(y, 16))


def test_mismatches_are_refused() -> None:
    x = np.linspace(-1, 1, 30)
    base = PK.encrypt_vector(x)
    with pytest.raises(EncodingMismatch):
        _ = base + PK.encrypt_vector(x, scale_bits=12)
    with pytest.raises(EncodingMismatch):
        _ = base + PK.encrypt_vector(x.reshape(5, 6))
    with pytest.raises(EncodingMismatch):
        _ = base + PK.encrypt_vector(x, max_summands=4096)
    with pytest.raises(EncodingMismatch):
        _ = base + PK.encrypt_vector(x, value_bits=40)
    with pytest.raises(EncodingMismatch):
        _ = base + PK.encrypt_vector((x * 10).astype(np.int64))
    with pytest.raises(KeyMismatch):
        _ = base + OTHER_PK.encrypt_vector(x)
    with pytest.raises(KeyMismatch):
        SK.decrypt_vector(OTHER_PK.encrypt_vector(x))


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.array([1.0, np.nan]))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.array([np.inf]))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.array([], dtype=np.float64))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.array(["a"]))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.array([True]))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.arange(3), scale_bits=4)
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.ones(3), value_bits=60, max_summands=1 << 10)  # 70-bit slots
    with pytest.raises(PlaintextOverflow):
        PK.encrypt_vector(np.array([2.0**15]), scale_bits=16, value_bits=32)
    with pytest.raises(PlaintextOverflow):
        PK.encrypt_vector(np.array([1 << 31], dtype=np.int64))
    with pytest.raises(PlaintextOverflow):
        PK.encrypt_vector(np.array([1 << 40], dtype=np.uint64))
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.ones(3), workers=0)


def test_decode_is_the_decryption_path_and_checks_its_input() -> None:
    x = np.arange(-20, 20, dtype=np.int64)
    ev = PK.encrypt_vector(x)
    plaintexts = SK.decrypt_raw_many(ev.ciphertexts)
    assert np.array_equal(ev.decode(plaintexts), x)
    with pytest.raises(InvalidArgument):
        ev.decode([*plaintexts, 0])
    with pytest.raises(PlaintextOverflow):
        ev.decode([PK.n - 1] * len(plaintexts))
    # A slot larger than one summand can produce (e.g. a forged summand count) is caught.
    doubled = SK.decrypt_raw_many((ev + ev).ciphertexts)
    with pytest.raises(PlaintextOverflow):
        ev.decode(doubled)


def test_threads_do_not_change_results() -> None:
    x = np.linspace(-3, 3, 500)
    one = PK.encrypt_vector(x, max_abs=3, workers=1)
    two = PK.encrypt_vector(x, max_abs=3, workers=2)
    expected = fixed_point(x, 16)
    for ev in (one, two):
        assert np.array_equal(SK.decrypt_vector(ev, workers=1), expected)
        assert np.array_equal(SK.decrypt_vector(ev, workers=2), expected)
    assert np.array_equal(SK.decrypt_vector(one.add(two, workers=2)), 2 * expected)
    assert np.array_equal(SK.decrypt_vector(one.scale(3, workers=2)), 3 * expected)
    assert np.array_equal(SK.decrypt_vector(one, constant_time=True), expected)


def test_rerandomize_keeps_the_values() -> None:
    x = np.linspace(-1, 1, 100)
    ev = PK.encrypt_vector(x)
    fresh = ev.rerandomize()
    assert all(a != b for a, b in zip(ev.ciphertexts, fresh.ciphertexts, strict=True))
    assert np.array_equal(SK.decrypt_vector(fresh), SK.decrypt_vector(ev))


def test_packing_layout_validation() -> None:
    layout = PackingLayout.for_key(
        PK.bits, (10,), scale_bits=16, value_bits=32, max_summands=1024, integer=False
    )
    assert layout.slot_bits == 42
    assert layout.slots == (PK.bits - 1) // 42
    assert layout.ciphertext_count == 1
    with pytest.raises(InvalidArgument):
        PackingLayout((10,), 16, 32, 1024, layout.slots + 1, False).check_key(PK.bits)
    with pytest.raises(InvalidArgument):
        PackingLayout((10,), 16, 32, 0, 1, False)
