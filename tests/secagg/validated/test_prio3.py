"""Prio3 instances of draft 07 beyond the vectors: completeness, exact sums, rejections."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import DeserializationError, InvalidArgument, InvalidProof
from secagg.validated import Prio3, prio3_count, prio3_histogram, prio3_sum, prio3_sumvec


def _prepare_all(vdaf: Prio3, measurements: list[Any]) -> Any:
    key = os.urandom(16)
    outs: list[list[Any]] = [[] for _ in range(vdaf.SHARES)]
    for m in measurements:
        nonce = os.urandom(16)
        public, shares = vdaf.shard(m, nonce, os.urandom(vdaf.RAND_SIZE))
        # Through the wire encodings, as deployed.
        public = vdaf.decode_public_share(vdaf.encode_public_share(public))
        shares = [
            vdaf.decode_input_share(j, vdaf.encode_input_share(s)) for j, s in enumerate(shares)
        ]
        states, preps = [], []
        for j, s in enumerate(shares):
            state, prep = vdaf.prep_init(key, j, nonce, public, s)
            states.append(state)
            preps.append(vdaf.decode_prep_share(vdaf.encode_prep_share(prep)))
        message = vdaf.prep_shares_to_prep(preps)
        for j, state in enumerate(states):
            outs[j].append(vdaf.prep_next(state, message))
    return vdaf.unshard([vdaf.aggregate(o) for o in outs], len(measurements))


@settings(max_examples=8)
@given(shares=st.integers(2, 3), ms=st.lists(st.integers(0, 1), min_size=1, max_size=4))
def test_count(shares: int, ms: list[int]) -> None:
    assert _prepare_all(prio3_count(shares), ms) == sum(ms)


@settings(max_examples=8)
@given(
    shares=st.integers(2, 3),
    bits=st.integers(1, 12),
    data=st.data(),
)
def test_sum(shares: int, bits: int, data: st.DataObject) -> None:
    ms = data.draw(st.lists(st.integers(0, 2**bits - 1), min_size=1, max_size=3))
    assert _prepare_all(prio3_sum(bits, shares), ms) == sum(ms)


@settings(max_examples=8)
@given(
    shares=st.integers(2, 3),
    length=st.integers(1, 6),
    bits=st.integers(1, 4),
    chunk=st.integers(1, 7),
    data=st.data(),
)
def test_sumvec(shares: int, length: int, bits: int, chunk: int, data: st.DataObject) -> None:
    vec = st.lists(st.integers(0, 2**bits - 1), min_size=length, max_size=length)
    ms = data.draw(st.lists(vec, min_size=1, max_size=3))
    expected = [sum(col) for col in zip(*ms, strict=True)]
    assert _prepare_all(prio3_sumvec(length, bits, chunk, shares), ms) == expected


@settings(max_examples=8)
@given(shares=st.integers(2, 3), length=st.integers(1, 9), chunk=st.integers(1, 5), data=st.data())
def test_histogram(shares: int, length: int, chunk: int, data: st.DataObject) -> None:
    ms = data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=4))
    expected = [ms.count(b) for b in range(length)]
    assert _prepare_all(prio3_histogram(length, chunk, shares), ms) == expected


@pytest.mark.parametrize(
    ("vdaf", "bad"),
    [
        (prio3_count(), [2]),
        (prio3_sum(4), [0, 0, 3, 0]),
        (prio3_histogram(4, 2), [1, 1, 0, 0]),  # two-hot
        (prio3_histogram(4, 2), [0, 0, 0, 0]),  # zero-hot
        (prio3_sumvec(2, 2, 3), [1, 0, 0, 5]),
    ],
    ids=["count", "sum", "histogram-two-hot", "histogram-zero-hot", "sumvec"],
)
def test_invalid_encodings_are_rejected(vdaf: Prio3, bad: list[int]) -> None:
    nonce, key = os.urandom(16), os.urandom(16)
    meas = vdaf.field.vec([b % vdaf.field.MODULUS for b in bad])
    public, shares = vdaf.shard_encoded(meas, nonce, os.urandom(vdaf.RAND_SIZE))
    preps = [vdaf.prep_init(key, j, nonce, public, s)[1] for j, s in enumerate(shares)]
    with pytest.raises(InvalidProof):
        vdaf.prep_shares_to_prep(preps)


def test_argument_checks() -> None:
    vdaf = prio3_sum(4)
    with pytest.raises(InvalidArgument):
        vdaf.shard(16, os.urandom(16), os.urandom(vdaf.RAND_SIZE))
    with pytest.raises(InvalidArgument):
        vdaf.shard(1, os.urandom(15), os.urandom(vdaf.RAND_SIZE))
    with pytest.raises(InvalidArgument):
        vdaf.shard(1, os.urandom(16), os.urandom(vdaf.RAND_SIZE - 1))
    with pytest.raises(InvalidArgument):
        prio3_count(shares=1)
    histogram = prio3_histogram(4, 2)
    with pytest.raises(InvalidArgument):
        histogram.shard(4, os.urandom(16), os.urandom(histogram.RAND_SIZE))
    with pytest.raises(DeserializationError):
        prio3_count().decode_public_share(b"\x00")
    with pytest.raises(DeserializationError):
        vdaf.decode_prep_share(b"\x00" * 3)
