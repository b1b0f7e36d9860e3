"""Known answers and laws of the masking PRG (AES-256-CTR keystream as words)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg import InvalidArgument
from secagg.masking.hazmat import add_prgs, keystream, prg_words, word_dtype

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "prg_aes_ctr.json").read_text())


def test_nist_sp800_38a_ctr_aes256() -> None:
    v = VECTORS["nist_sp800_38a_f55"]
    plain = bytes.fromhex(v["plaintext"])
    stream = keystream(bytes.fromhex(v["key"]), len(plain), counter=bytes.fromhex(v["counter"]))
    assert bytes(a ^ b for a, b in zip(stream, plain, strict=True)).hex() == v["ciphertext"]


@pytest.mark.parametrize("v", VECTORS["zero_counter"], ids=lambda v: f"offset{v['offset']}")
def test_zero_counter_keystream(v: dict) -> None:
    expected = bytes.fromhex(v["keystream"])
    stream = keystream(bytes.fromhex(v["key"]), v["offset"] + len(expected))
    assert stream[v["offset"] :] == expected


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64"])
def test_words_are_little_endian_keystream(dtype: str) -> None:
    v = VECTORS["words_le"]
    expected = v[dtype]
    words = prg_words(bytes.fromhex(v["key"]), len(expected), np.dtype(dtype))
    assert [int(w) for w in words] == expected


@given(st.binary(min_size=32, max_size=32), st.integers(1, 300))
def test_add_prgs_matches_prg_words(key: bytes, d: int) -> None:
    acc = np.arange(d, dtype=np.uint32)
    add_prgs(acc, [(key, 1)])
    expected = (np.arange(d, dtype=np.uint32) + prg_words(key, d, np.uint32)).astype(np.uint32)
    np.testing.assert_array_equal(acc, expected)
    add_prgs(acc, [(key, -1)])
    np.testing.assert_array_equal(acc, np.arange(d, dtype=np.uint32))


@given(
    st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.sampled_from([1, -1])), max_size=5),
    st.integers(1, 64),
)
def test_masks_cancel_when_added_and_removed(streams: list, d: int) -> None:
    acc = np.zeros(d, dtype=np.uint64)
    add_prgs(acc, streams)
    add_prgs(acc, [(k, -s) for k, s in streams])
    assert not acc.any()


def test_distinct_keys_give_distinct_streams() -> None:
    a, b = os.urandom(32), os.urandom(32)
    assert not np.array_equal(prg_words(a, 16, np.uint64), prg_words(b, 16, np.uint64))
    np.testing.assert_array_equal(prg_words(a, 16, np.uint64), prg_words(a, 16, np.uint64))


def test_word_dtype_and_bad_keys() -> None:
    assert word_dtype(1) == np.dtype("<u2")
    assert word_dtype(17) == np.dtype("<u4")
    assert word_dtype(33) == np.dtype("<u8")
    with pytest.raises(InvalidArgument):
        prg_words(b"short", 4, np.uint32)
    with pytest.raises(InvalidArgument):
        prg_words(bytes(32), 4, np.int32)
    with pytest.raises(InvalidArgument):
        add_prgs(np.zeros(4, dtype=np.uint32), [(b"short", 1)])
    with pytest.raises(InvalidArgument):
        keystream(bytes(32), 4, counter=b"x")
