"""Extreme but valid parameters give the true limit (0 or inf) or a typed DPError, quickly.

Each case here crashed untyped (ZeroDivisionError, OverflowError, RecursionError), hung,
or allocated gigabytes in the first release (an independent attack suite found them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp

DELTA = 1e-5
SIGMAS = [5e-324, 1e-300, 1e-30, 1e-8, 1e8, 1e30, 1e300, 1.7e308]


def _events(sigma: float) -> list[dp.DpEvent]:
    return [
        dp.Gaussian(sigma),
        dp.PoissonSampled(0.01, dp.Gaussian(sigma)),
        dp.PoissonSampled(0.5, dp.Laplace(sigma)),
        dp.DiscreteLaplace(sigma, 3),
        dp.PoissonSampled(0.01, dp.DiscreteLaplace(sigma, 3)),
        dp.SampledWithoutReplacement(100, 10, dp.Gaussian(sigma)),
        dp.DiscreteGaussian(sigma, 1.0),
        dp.Skellam(sigma, 2.0, 1.0),
        dp.DistributedDiscreteGaussian(max(sigma, 0.5), 10, 100, 3.0, 1.0),
    ]


def _answer(query: Callable[[], float]) -> float | None:
    """The query's answer, or None for a typed refusal; anything else fails the test."""
    try:
        value = query()
    except dp.DPError:
        value = None
    return value


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("accountant", [dp.PldAccountant, dp.RdpAccountant])
def test_every_event_at_extreme_scales_answers_or_refuses_typed(
    sigma: float, accountant: type[dp.PrivacyAccountant]
) -> None:
    for event in [*_events(sigma), dp.ZCDP(sigma)]:
        acc = accountant()
        if not acc.supports(event):
            continue

        def epsilon_of(acc: dp.PrivacyAccountant = acc, event: dp.DpEvent = event) -> float:
            return acc.compose(event, 3).get_epsilon(DELTA)

        def delta_of(acc: dp.PrivacyAccountant = acc) -> float:
            return acc.get_delta(1.0)

        epsilon = _answer(epsilon_of)
        delta = _answer(delta_of)
        for value in (epsilon, delta):
            assert value is None or (not math.isnan(value) and value >= 0.0)
        if sigma >= 1e30 and epsilon is not None and accountant is dp.PldAccountant:
            assert epsilon == 0.0  # the truth in the limit, and what the PLD certifies
        tiny_noise = sigma <= 1e-300 and not isinstance(
            event, (dp.ZCDP, dp.DistributedDiscreteGaussian)
        )
        if tiny_noise and epsilon is not None:
            assert epsilon > 100.0


def test_the_limits_are_the_truth() -> None:
    assert dp.PldAccountant().compose(dp.Gaussian(1e-300)).get_epsilon(DELTA) == math.inf
    assert dp.PldAccountant().compose(dp.Gaussian(1e-300)).get_delta(5.0) == 1.0
    assert dp.PldAccountant().compose(dp.Gaussian(1e300)).get_epsilon(DELTA) == 0.0
    assert dp.RdpAccountant().compose(dp.Gaussian(1e300)).get_epsilon(DELTA) < 1e-3
    assert (
        dp.RdpAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1e-300))).get_epsilon(DELTA)
        == math.inf
    )


def test_huge_counts_are_typed_or_fast() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.0))
    assert dp.RdpAccountant().compose(event, 10**12).get_epsilon(DELTA) > 1e6
    with pytest.raises(dp.UnsupportedEvent, match="RdpAccountant"):
        dp.PldAccountant().compose(event, 10**12)
    for count in (2**62 + 1, 10**400, 10**5000):
        with pytest.raises(dp.InvalidArgument, match="2\\*\\*62"):
            dp.RdpAccountant().compose(event, count)
        with pytest.raises(dp.InvalidArgument):
            dp.SelfComposed(event, count)


@pytest.mark.parametrize(
    "value", [10**400, -(10**5000), 2**1024], ids=["1e400", "-1e5000", "2^1024"]
)
def test_huge_integers_in_events_are_typed(value: int) -> None:
    with pytest.raises(dp.InvalidArgument):
        dp.Gaussian(value)
    payload = {"type": "gaussian", "version": 1, "noise_multiplier": value}
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict(payload)
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict(
            json.loads(json.dumps({**payload, "noise_multiplier": 1.0}))
            | {
                "type": "sampled_without_replacement",
                "population": value,
                "sample_size": 1,
                "event": {"type": "gaussian", "version": 1, "noise_multiplier": 1.0},
            }
        )


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    nested: object = {"type": "gaussian", "version": 1, "noise_multiplier": 1.0}
    for _ in range(100_000):
        nested = {"type": "self_composed", "version": 1, "event": nested, "count": 1}
    with pytest.raises(dp.SerializationError, match="nesting"):
        dp.event_from_dict(nested)
    deep_list: object = []
    for _ in range(100_000):
        deep_list = [deep_list]
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict({"type": "composed", "version": 1, "events": deep_list})
    ledger = {"type": "ledger", "version": 2, "neighbouring": "add_remove", "entries": deep_list}
    with pytest.raises(dp.SerializationError):
        dp.ledger_from_dict(ledger)


def test_distributed_discrete_gaussian_with_a_huge_n_min_is_constant_memory() -> None:
    # tau is summed in closed form, not over the 10^18 shares (which would never return).
    event = dp.DistributedDiscreteGaussian(2.0, 10**18, 100, 3.0, 1.0)
    assert dp.RdpAccountant(neighbouring="zero_out").compose(event).get_epsilon(DELTA) >= 0.0


@pytest.mark.parametrize("noise_multiplier", [1e-300, 1e300, 5e-324])
def test_calibrate_steps_at_extreme_noise_is_typed(noise_multiplier: float) -> None:
    steps = _answer(
        lambda: dp.calibrate_steps(
            1.0, DELTA, noise_multiplier=noise_multiplier, sampling_rate=0.01
        )
    )
    assert steps is None or steps >= 1


@settings(max_examples=40, deadline=None)
@given(
    sigma=st.floats(min_value=5e-324, max_value=1.7e308, allow_nan=False, allow_infinity=False),
    rate=st.floats(min_value=1e-300, max_value=1.0),
    count=st.integers(1, 2**62),
)
def test_rdp_never_crashes_untyped(sigma: float, rate: float, count: int) -> None:
    event = dp.PoissonSampled(rate, dp.Gaussian(sigma))
    value = _answer(lambda: dp.RdpAccountant().compose(event, count).get_epsilon(DELTA))
    assert value is None or value >= 0.0
