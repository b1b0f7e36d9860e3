"""Events: validation, immutability and versioned JSON round trips."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from hypothesis import given

import dp
from tests.dp.strategies_events import events


@given(events)
def test_round_trip_through_json(event: dp.DpEvent) -> None:
    text = json.dumps(event.to_dict())
    parsed = dp.event_from_dict(json.loads(text))
    assert parsed == event
    assert hash(parsed) == hash(event)
    assert type(event).from_dict(json.loads(text)) == event


@given(events)
def test_events_are_frozen(event: dp.DpEvent) -> None:
    field = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, getattr(event, field))


def test_ints_are_stored_as_floats_and_equal() -> None:
    assert dp.Gaussian(2) == dp.Gaussian(2.0)
    assert isinstance(dp.Gaussian(2).noise_multiplier, float)


@pytest.mark.parametrize(
    "build",
    [
        lambda: dp.Gaussian(0.0),
        lambda: dp.Gaussian(-1.0),
        lambda: dp.Gaussian(math.inf),
        lambda: dp.Gaussian(math.nan),
        lambda: dp.Gaussian(True),
        lambda: dp.Gaussian("1.0"),
        lambda: dp.Laplace(0.0),
        lambda: dp.DiscreteGaussian(1.0, 0.0),
        lambda: dp.Skellam(1.0, 1.0, 2.0),  # l2 > l1 is impossible
        lambda: dp.Skellam(0.0, 1.0, 1.0),
        lambda: dp.DistributedDiscreteGaussian(0.4, 10, 5, 1.0, 1.0),
        lambda: dp.DistributedDiscreteGaussian(1.0, 0, 5, 1.0, 1.0),
        lambda: dp.DistributedDiscreteGaussian(1.0, 10, 5.0, 1.0, 1.0),
        lambda: dp.ZCDP(0.0),
        lambda: dp.PoissonSampled(0.0, dp.Gaussian(1.0)),
        lambda: dp.PoissonSampled(1.5, dp.Gaussian(1.0)),
        lambda: dp.PoissonSampled(0.5, "gaussian"),
        lambda: dp.SampledWithoutReplacement(10, 11, dp.Gaussian(1.0)),
        lambda: dp.SampledWithoutReplacement(10, 0, dp.Gaussian(1.0)),
        lambda: dp.SelfComposed(dp.Gaussian(1.0), 0),
        lambda: dp.SelfComposed(dp.Gaussian(1.0), 2.0),
        lambda: dp.Composed(()),
        lambda: dp.Composed((dp.Gaussian(1.0), 3)),
        lambda: dp.Composed(dp.Gaussian(1.0)),
    ],
)
def test_invalid_parameters_raise_invalid_argument(build: Any) -> None:
    with pytest.raises(dp.InvalidArgument):
        build()


def test_composed_accepts_lists_and_stores_a_tuple() -> None:
    composed = dp.Composed([dp.Gaussian(1.0), dp.Laplace(2.0)])  # type: ignore[arg-type]
    assert composed.events == (dp.Gaussian(1.0), dp.Laplace(2.0))


def test_wor_rate() -> None:
    assert dp.SampledWithoutReplacement(200, 50, dp.Gaussian(1.0)).rate == 0.25


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"type": "gaussian", "version": 1},
        {"type": "gaussian", "version": 2, "noise_multiplier": 1.0},
        {"type": "gaussian", "version": True, "noise_multiplier": 1.0},
        {"type": "gaussian", "version": 1, "noise_multiplier": 1.0, "extra": 0},
        {"type": "gaussian", "version": 1, "noise_multiplier": "1.0"},
        {"type": "gaussian", "version": 1, "noise_multiplier": -1.0},
        {"type": "gaussian", "version": 1, "noise_multiplier": True},
        {"type": "unknown", "version": 1},
        {"version": 1, "noise_multiplier": 1.0},
        {"type": "composed", "version": 1, "events": {"type": "gaussian"}},
        {"type": "composed", "version": 1, "events": []},
        {"type": "self_composed", "version": 1, "event": {"type": "laplace"}, "count": 2},
        {
            "type": "self_composed",
            "version": 1,
            "event": {"type": "laplace", "version": 1, "scale": 1.0},
            "count": 2.0,
        },
    ],
)
def test_malformed_dicts_raise_serialization_error(data: Any) -> None:
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict(data)


def test_from_dict_checks_the_class() -> None:
    with pytest.raises(dp.SerializationError):
        dp.Laplace.from_dict(dp.Gaussian(1.0).to_dict())


def test_serialisation_error_is_invalid_argument() -> None:
    assert issubclass(dp.SerializationError, dp.InvalidArgument)


def test_known_encoding_is_stable() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.1))
    assert event.to_dict() == {
        "type": "poisson_sampled",
        "version": 1,
        "rate": 0.01,
        "event": {"type": "gaussian", "version": 1, "noise_multiplier": 1.1},
    }
