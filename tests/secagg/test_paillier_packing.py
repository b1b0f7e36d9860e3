"""The default slot width follows the declared value range, scale and summand budget, safely.

``value_bits_for`` proves in its docstring that a slot of ``bitlen(ceil(max_abs 2^s)) + 1 +
ceil(log2 M)`` bits never carries; these tests check each step of that argument and the
extreme case end to end: every value at ``+max_abs`` or ``-max_abs``, summed ``M`` times.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import InvalidArgument, PlaintextOverflow
from secagg.paillier import PackingLayout
from secagg.paillier._encoding import MAX_SLOT_BITS, headroom_bits, value_bits_for
from tests.secagg.strategies_paillier import keypair

PK, SK = keypair()


def test_the_default_call_packs_81_values_per_2048_bit_ciphertext() -> None:
    # |x| <= 1 at scale 16 reaches 2^16, which needs 18 signed bits; 100 summands add 7 bits.
    assert value_bits_for(1.0, 16) == 18
    layout = PackingLayout.for_key(
        2048, (1000,), scale_bits=16, value_bits=18, max_summands=100, integer=False
    )
    assert (layout.slot_bits, layout.slots) == (25, 81)
    ev = PK.encrypt_vector(np.linspace(-1, 1, 50), scale_bits=16, max_summands=100)
    assert ev.layout.value_bits == 18
    assert ev.layout.slot_bits == 25


@given(
    st.floats(2.0**-20, 2.0**40, allow_nan=False, allow_infinity=False),
    st.integers(0, 40),
    st.integers(1, 1 << 20),
)
def test_the_derived_width_is_safe_and_the_narrowest(
    max_abs: float, scale_bits: int, max_summands: int
) -> None:
    limit = math.ceil(math.ldexp(max_abs, scale_bits))
    try:
        bits = value_bits_for(max_abs, scale_bits)
    except InvalidArgument:
        assert limit.bit_length() + 1 > MAX_SLOT_BITS - 1
        return
    # Step 2: every |v| <= V fits [-2^(b-1), 2^(b-1)); the width one less would not hold V.
    assert limit < 1 << (bits - 1)
    assert bits == 2 or limit >= 1 << (bits - 2)
    # Step 3: M encodings of at most 2^b - 1 each stay below 2^slot_bits.
    slot_bits = bits + headroom_bits(max_summands)
    assert max_summands * ((1 << bits) - 1) < 1 << slot_bits


@settings(max_examples=12)
@given(
    st.floats(2.0**-8, 2.0**8, allow_nan=False, allow_infinity=False),
    st.integers(0, 20),
    st.integers(1, 3000),
    st.integers(1, 200),
)
def test_extreme_values_summed_to_the_budget_decode_exactly(
    max_abs: float, scale_bits: int, max_summands: int, size: int
) -> None:
    signs = np.where(np.arange(size) % 2 == 0, 1.0, -1.0)
    x = signs * max_abs
    ev = PK.encrypt_vector(x, scale_bits=scale_bits, max_abs=max_abs, max_summands=max_summands)
    assert ev.layout.value_bits == value_bits_for(max_abs, scale_bits)
    total = ev * max_summands  # the budget exactly: every slot at its extreme
    expected = max_summands * np.ldexp(np.rint(np.ldexp(x, scale_bits)), -scale_bits)
    assert np.array_equal(SK.decrypt_vector(total), expected)
    # Mixed signs in one slot sum too: the plain sum of two extreme vectors.
    both = PK.encrypt_vector(-x, scale_bits=scale_bits, max_abs=max_abs, max_summands=max_summands)
    if max_summands >= 2:
        assert np.array_equal(SK.decrypt_vector(ev + both), np.zeros(size))
    with pytest.raises(PlaintextOverflow):
        _ = total + ev


def test_values_outside_the_declared_range_are_refused() -> None:
    with pytest.raises(PlaintextOverflow, match="max_abs"):
        PK.encrypt_vector(np.array([0.5, 1.0 + 2.0**-40]))
    with pytest.raises(PlaintextOverflow, match="max_abs"):
        PK.encrypt_vector(np.array([-3.0]), max_abs=2.5)
    assert PK.encrypt_vector(np.array([-2.5, 2.5]), max_abs=2.5).layout.value_bits == 19
    with pytest.raises(InvalidArgument, match="not both"):
        PK.encrypt_vector(np.ones(3), value_bits=20, max_abs=1.0)
    for bad in (0.0, -1.0, float("inf"), float("nan"), True, "1"):
        with pytest.raises(InvalidArgument):
            PK.encrypt_vector(np.ones(3), max_abs=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        PK.encrypt_vector(np.ones(3), max_abs=2.0**40, scale_bits=30)  # 72-bit values


def test_integers_keep_the_int32_default_and_accept_a_range() -> None:
    assert PK.encrypt_vector(np.array([-(2**31), 2**31 - 1])).layout.value_bits == 32
    small = PK.encrypt_vector(np.array([-1000, 1000]), max_abs=1000, max_summands=4)
    assert small.layout.value_bits == 11
    assert np.array_equal(SK.decrypt_vector(small * 4), np.array([-4000, 4000]))


def test_torch_tensors_are_refused_with_the_fix() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(InvalidArgument, match=r"\.numpy\(\)"):
        PK.encrypt_vector(torch.ones(3))
