"""DP-FTRL strategies and schemas: serialisation, the optimisation cache and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dp.ftrl.blt as blt_module
from dp.errors import InvalidArgument, SerializationError
from dp.ftrl import (
    BandedStrategy,
    BLTStrategy,
    ParticipationSchema,
    Strategy,
    TreeAggregation,
)


def examples() -> list[Strategy]:
    return [
        TreeAggregation(17),
        BandedStrategy(17, [1.0, 0.4, 0.2]),
        BLTStrategy(17, [0.9, 0.3], [0.25, 0.125]),
    ]


@pytest.mark.parametrize("strategy", examples(), ids=repr)
def test_round_trip_through_json(strategy: Strategy) -> None:
    data = json.loads(json.dumps(strategy.to_dict()))
    again = Strategy.from_dict(data)
    assert type(again) is type(strategy)
    assert again == strategy
    assert type(strategy).from_dict(data) == strategy
    np.testing.assert_array_equal(again.noise_matrix(), strategy.noise_matrix())
    schema = ParticipationSchema(17, 2, 4)
    assert again.sensitivity(schema) == strategy.sensitivity(schema)


def test_schema_round_trip_and_key() -> None:
    schema = ParticipationSchema(2000, 4, 500)
    assert ParticipationSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    assert schema.cache_key() == "n2000-k4-b500"
    # Single participation: b is irrelevant and normalised away in the key.
    assert ParticipationSchema(10, 1, 3).cache_key() == ParticipationSchema(10, 1, 7).cache_key()
    assert ParticipationSchema(10, 5, 3).effective_participations == 4


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"version": 2, "mechanism": "tree", "rounds": 4},
        {"version": 1, "mechanism": "fft", "rounds": 4},
        {"version": 1, "mechanism": "blt", "rounds": 4},
        {"version": 1, "mechanism": "blt", "rounds": 4, "theta": [1.5], "omega": [0.1]},
        {"version": 1, "mechanism": "blt", "rounds": 4, "theta": "ab", "omega": [0.1]},
        {"version": 1, "mechanism": "banded", "rounds": 4, "coefs": [0.0, 1.0]},
        {"version": 1, "mechanism": "banded", "rounds": 2, "coefs": [1.0, 0.5, 0.2]},
        {"version": 1, "mechanism": "tree", "rounds": True},
        {"version": 1, "mechanism": "tree", "rounds": 0},
    ],
)
def test_from_dict_refuses_malformed(data: Any) -> None:
    with pytest.raises(SerializationError):
        Strategy.from_dict(data)


def test_from_dict_refuses_other_mechanism_on_subclass() -> None:
    with pytest.raises(SerializationError, match="not a BLTStrategy"):
        BLTStrategy.from_dict(TreeAggregation(4).to_dict())


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"version": 1, "rounds": 3},
        {"version": 1, "rounds": 0, "max_participations": 1, "min_separation": 1},
    ],
)
def test_schema_from_dict_refuses_malformed(data: Any) -> None:
    with pytest.raises(SerializationError):
        ParticipationSchema.from_dict(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rounds": 0},
        {"rounds": True},
        {"rounds": 2.0},
        {"rounds": 10, "max_participations": 0},
        {"rounds": 10, "min_separation": -1},
        {"rounds": 10**6},
    ],
)
def test_schema_refuses_bad_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        ParticipationSchema(**kwargs)


def test_schema_allows() -> None:
    schema = ParticipationSchema(10, 2, 3)
    assert schema.allows([0, 3])
    assert not schema.allows([0, 2])
    assert not schema.allows([0, 3, 6])
    assert not schema.allows([9, 12])


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: BLTStrategy(5, [0.5, 0.2], [0.1]), "entries"),
        (lambda: BLTStrategy(5, [1.0], [0.1]), "theta"),
        (lambda: BLTStrategy(5, [0.5], [-0.1]), "omega"),
        (lambda: BLTStrategy(5, [], []), "buffers"),
        (lambda: BLTStrategy(5, [math.nan], [0.1]), "finite"),
        (lambda: BLTStrategy(5, [[0.5]], [[0.1]]), "1-D"),
        (lambda: BandedStrategy(5, [1.0] * 6), "entries"),
        (lambda: BandedStrategy(5, [-1.0]), "diagonal"),
        (lambda: TreeAggregation("8"), "int"),
    ],
)
def test_constructors_refuse_bad_parameters(factory: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        factory()


def test_methods_refuse_bad_arguments() -> None:
    strategy = BLTStrategy(8, [0.5], [0.5])
    with pytest.raises(InvalidArgument, match="covers"):
        strategy.sensitivity(ParticipationSchema(9))
    with pytest.raises(InvalidArgument, match="ParticipationSchema"):
        strategy.sensitivity((8, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="kind"):
        strategy.expected_error("suffix")
    with pytest.raises(InvalidArgument, match="reduction"):
        strategy.expected_error(reduction="median")
    with pytest.raises(InvalidArgument, match="momentum"):
        strategy.expected_error("iterate", momentum=1.0)
    schema = ParticipationSchema(8, 2, 2)
    with pytest.raises(InvalidArgument, match="bands"):
        BandedStrategy.optimise(schema, bands=3)
    with pytest.raises(InvalidArgument, match="bands"):
        BandedStrategy.optimise(schema, bands=0)
    with pytest.raises(InvalidArgument, match="buffers"):
        BLTStrategy.optimise(schema, buffers=0)
    with pytest.raises(InvalidArgument, match="objective"):
        BLTStrategy.optimise(schema, objective="median")


def test_optimise_caches_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = ParticipationSchema(32, 2, 16)
    first = BLTStrategy.optimise(schema, buffers=2, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.json"))
    assert [f.name for f in files] == ["blt-n32-k2-b16-k2-mean.json"]

    def refuse(*_: object) -> None:
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(blt_module, "_optimise_blt", refuse)
    assert BLTStrategy.optimise(schema, buffers=2, cache_dir=tmp_path) == first
    # A corrupt or mismatched cache entry is ignored (and the strategy re-optimised).
    files[0].write_text("{not json", encoding="utf-8")
    with pytest.raises(AssertionError, match="cache"):
        BLTStrategy.optimise(schema, buffers=2, cache_dir=tmp_path)
    files[0].write_text(json.dumps(BLTStrategy(32, [0.5], [0.5]).to_dict()), encoding="utf-8")
    with pytest.raises(AssertionError, match="cache"):
        BLTStrategy.optimise(schema, buffers=2, cache_dir=tmp_path)


def test_banded_cache_and_optimum_is_no_worse_than_its_start(tmp_path: Path) -> None:
    schema = ParticipationSchema(48, 3, 12)
    strategy = BandedStrategy.optimise(schema, cache_dir=tmp_path)
    assert strategy.bands == 12
    assert strategy.sensitivity_is_exact(schema)
    again = BandedStrategy.optimise(schema, cache_dir=tmp_path)
    assert again == strategy
    from dp.ftrl._toeplitz import sqrt_coefs

    start = BandedStrategy(48, sqrt_coefs(12))
    assert strategy.expected_error(schema=schema) <= start.expected_error(schema=schema)
