"""SecAgg+ masking: correctness for any inputs and dropout schedule, and the round API."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import InsufficientShares, InvalidArgument
from secagg.masking import MaskingConfig, RoundResult, Stage, run_round, simulate_round
from secagg.masking.hazmat import harary_neighbours
from tests.secagg.strategies_masking import make_round, round_shapes


def _expected(inputs: list[np.ndarray], survivors: tuple[int, ...], bits: int) -> np.ndarray:
    total = 0
    for i in survivors:
        total = total + inputs[i].astype(object)
    if isinstance(total, int):
        return np.zeros(inputs[0].shape, dtype=np.uint64)
    return np.array([int(v) % 2**bits for v in total], dtype=np.uint64)


@given(round_shapes())
def test_unmasked_sum_equals_plain_sum_of_survivors(shape: dict) -> None:
    result = run_round(**shape)
    drops = shape["dropouts"]
    n = len(shape["inputs"])
    survivors = tuple(i for i in range(n) if drops.get(i, Stage.UNMASK + 1) > Stage.MASKED_INPUT)
    assert result.survivors == survivors
    assert set(result.dropped) == set(range(n)) - set(survivors)
    assert result.sum.dtype == np.uint64
    np.testing.assert_array_equal(
        result.sum, _expected(shape["inputs"], survivors, shape["modulus_bits"])
    )


@settings(max_examples=5)
@given(round_shapes(max_clients=8))
def test_signed_rounds_sum_the_same(shape: dict) -> None:
    result = run_round(**shape, signed=True)
    np.testing.assert_array_equal(
        result.sum, _expected(shape["inputs"], result.survivors, shape["modulus_bits"])
    )


def test_simulate_round_returns_the_sum() -> None:
    x = [np.arange(6, dtype=np.uint32) * (i + 1) for i in range(5)]
    total = simulate_round(x, threshold=3)
    np.testing.assert_array_equal(total, np.arange(6) * 15)
    dropped = simulate_round(x, threshold=3, dropouts={4: Stage.SHARE_KEYS})
    np.testing.assert_array_equal(dropped, np.arange(6) * 10)


@pytest.mark.parametrize("stage", list(Stage))
def test_dropout_at_every_stage(stage: Stage) -> None:
    x = [np.full(4, 1 << i, dtype=np.uint16) for i in range(6)]
    result = run_round(x, threshold=4, modulus_bits=16, dropouts={2: stage, 5: stage})
    included = stage > Stage.MASKED_INPUT
    assert (2 in result.survivors) is included
    expected = sum(1 << i for i in result.survivors)
    np.testing.assert_array_equal(result.sum, np.full(4, expected))
    if not included:
        assert result.dropped == (2, 5)


@pytest.mark.parametrize("stage", list(Stage))
def test_dropouts_below_threshold_fail_with_a_typed_error(stage: Stage) -> None:
    x = [np.zeros(3, dtype=np.uint8) for _ in range(5)]
    with pytest.raises(InsufficientShares):
        run_round(x, threshold=3, dropouts={0: stage, 1: stage, 2: stage})


def test_sparse_graph_at_one_hundred_clients() -> None:
    rng = np.random.default_rng(1)
    x = [rng.integers(0, 2**32, size=16, dtype=np.uint64) for _ in range(100)]
    drops = dict.fromkeys((3, 50, 97), Stage.MASKED_INPUT) | {7: Stage.UNMASK}
    result = run_round(x, threshold=6, neighbours=8, dropouts=drops)
    assert len(result.survivors) == 97
    np.testing.assert_array_equal(result.sum, _expected(x, result.survivors, 32))


def test_sparse_graph_is_regular_and_bounded() -> None:
    r = make_round(n=11, threshold=3, neighbours=4)
    views = r.keys()
    r.shares()
    server_keys = views.round_keys
    neighbours = {i: server_keys.neighbours_of(i) for i in range(11)}
    assert all(len(v) == 4 for v in neighbours.values())
    assert all(i in neighbours[j] for i in neighbours for j in neighbours[i])
    for cid, client in r.clients.items():
        keys = client._keys
        assert keys is not None
        assert keys.session_id == server_keys.session_id
        # The client derived its own neighbours from its slice alone: k + 2 adjacent + itself.
        assert keys.neighbours_of(cid) == neighbours[cid]
        assert neighbours[cid] | {cid} <= set(keys.adverts)
        assert len(keys.adverts) <= 4 + 3
    for bundle in r.bundles.values():
        assert len(bundle.shares) == 4


def test_round_result_is_read_only() -> None:
    result = run_round([np.ones(2, dtype=np.uint8)] * 3, threshold=2)
    assert isinstance(result, RoundResult)
    with pytest.raises(ValueError, match="read-only"):
        result.sum[0] = 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_ids": (1, 1, 2), "threshold": 2, "vector_length": 1},
        {"client_ids": (), "threshold": 1, "vector_length": 1},
        {"client_ids": (-1, 0), "threshold": 2, "vector_length": 1},
        {"client_ids": (0, 1, 2), "threshold": 1, "vector_length": 1},  # 2t <= n
        {"client_ids": (0, 1, 2), "threshold": 4, "vector_length": 1},
        {"client_ids": (0, 1, 2), "threshold": 2, "vector_length": 0},
        {"client_ids": (0, 1, 2), "threshold": 2, "vector_length": 1, "modulus_bits": 65},
        {"client_ids": (0, 1, 2), "threshold": 2, "vector_length": 1, "modulus_bits": 0},
        {"client_ids": tuple(range(9)), "threshold": 3, "vector_length": 1, "neighbours": 3},
        {"client_ids": tuple(range(9)), "threshold": 6, "vector_length": 1, "neighbours": 4},
        {"client_ids": tuple(range(9)), "threshold": 2, "vector_length": 1, "neighbours": 4},
        {"client_ids": (0, 1), "threshold": 2, "vector_length": 1, "verify_keys": (b"x" * 32,)},
        {"client_ids": (0, 1), "threshold": 2, "vector_length": 1, "verify_keys": (b"x" * 32,) * 2},
        {"client_ids": (0, 1), "threshold": True, "vector_length": 1},
    ],
)
def test_config_refuses_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(InvalidArgument):
        MaskingConfig(**kwargs)


def test_config_digest_depends_on_every_field() -> None:
    base = MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4)
    variants = [
        MaskingConfig(client_ids=(0, 1, 3), threshold=2, vector_length=4),
        MaskingConfig(client_ids=(0, 1, 2), threshold=3, vector_length=4),
        MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=5),
        MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, modulus_bits=31),
        MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, round_number=1),
        MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4, neighbours=2),
    ]
    digests = {base.digest(), *(v.digest() for v in variants)}
    assert len(digests) == len(variants) + 1
    assert (
        base.digest() == MaskingConfig(client_ids=(0, 1, 2), threshold=2, vector_length=4).digest()
    )


@given(
    st.integers(3, 60),
    st.integers(1, 8).map(lambda h: 2 * h),
    st.binary(min_size=32, max_size=32),
)
def test_harary_graph_is_symmetric_regular_and_connected(n: int, k: int, session: bytes) -> None:
    ids = list(range(100, 100 + n))
    graph = harary_neighbours(session, ids, k)
    degree = min(k, n - 1)
    assert set(graph) == set(ids)
    for cid, neighbours in graph.items():
        assert cid not in neighbours
        assert len(neighbours) == degree
        assert all(cid in graph[other] for other in neighbours)
    seen, frontier = {ids[0]}, [ids[0]]
    while frontier:
        nxt = [o for c in frontier for o in graph[c] if o not in seen]
        seen.update(nxt)
        frontier = nxt
    assert seen == set(ids)
    assert graph == harary_neighbours(session, ids, k)  # every party derives the same graph


@pytest.mark.parametrize(
    "inputs",
    [
        [np.zeros(3, dtype=np.uint8), np.zeros(4, dtype=np.uint8), np.zeros(3, dtype=np.uint8)],
        [np.array([0.5, 1.0, np.nan])] * 3,
        [np.array([np.inf, 0, 0])] * 3,
        [np.zeros((3, 1), dtype=np.uint8)] * 3,
        [],
    ],
)
def test_run_round_refuses_bad_inputs(inputs: list) -> None:
    with pytest.raises(InvalidArgument):
        run_round(inputs, threshold=2)


def test_run_round_refuses_bad_dropouts() -> None:
    x = [np.zeros(2, dtype=np.uint8)] * 3
    with pytest.raises(InvalidArgument):
        run_round(x, threshold=2, dropouts={5: Stage.SHARE_KEYS})
    with pytest.raises(InvalidArgument):
        run_round(x, threshold=2, dropouts={0: 1})  # type: ignore[dict-item]
