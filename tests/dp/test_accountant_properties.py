"""Algebraic laws of the accountants, checked with hypothesis.

Epsilon grows with steps and sampling rate, shrinks with noise and delta; the order of
composition does not matter; PLD <= RDP (up to discretisation); lower <= upper.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from tests.dp.strategies_events import events, pld_step_events

sigmas = st.floats(min_value=0.7, max_value=4.0)
small_rates = st.floats(min_value=0.005, max_value=0.2)
steps = st.integers(min_value=1, max_value=300)
deltas = st.sampled_from([1e-3, 1e-5, 1e-7, 1e-9])
tolerance = 1e-9


def _sampled(rate: float, sigma: float) -> dp.DpEvent:
    return dp.PoissonSampled(rate, dp.Gaussian(sigma))


@given(rate=small_rates, sigma=sigmas, k=steps, extra=steps, delta=deltas)
def test_rdp_monotone_in_steps(rate: float, sigma: float, k: int, extra: int, delta: float) -> None:
    fewer = dp.RdpAccountant().compose(_sampled(rate, sigma), k).get_epsilon(delta)
    more = dp.RdpAccountant().compose(_sampled(rate, sigma), k + extra).get_epsilon(delta)
    assert fewer <= more + tolerance


@settings(max_examples=10)
@given(rate=small_rates, sigma=sigmas, k=steps, extra=steps, delta=deltas)
def test_pld_monotone_in_steps(rate: float, sigma: float, k: int, extra: int, delta: float) -> None:
    fewer = dp.PldAccountant().compose(_sampled(rate, sigma), k).get_epsilon(delta)
    more = dp.PldAccountant().compose(_sampled(rate, sigma), k + extra).get_epsilon(delta)
    assert fewer <= more + 1e-6


@settings(max_examples=10)
@given(rate=small_rates, factor=st.floats(1.0, 3.0), sigma=sigmas, k=steps, delta=deltas)
def test_monotone_in_rate(rate: float, factor: float, sigma: float, k: int, delta: float) -> None:
    higher = min(rate * factor, 1.0)
    for make in (dp.RdpAccountant, dp.PldAccountant):
        low = make().compose(_sampled(rate, sigma), k).get_epsilon(delta)
        high = make().compose(_sampled(higher, sigma), k).get_epsilon(delta)
        assert low <= high + 1e-6


@settings(max_examples=10)
@given(rate=small_rates, sigma=sigmas, factor=st.floats(1.0, 3.0), k=steps, delta=deltas)
def test_monotone_in_noise(rate: float, sigma: float, factor: float, k: int, delta: float) -> None:
    for make in (dp.RdpAccountant, dp.PldAccountant):
        noisy = make().compose(_sampled(rate, sigma * factor), k).get_epsilon(delta)
        quiet = make().compose(_sampled(rate, sigma), k).get_epsilon(delta)
        assert noisy <= quiet + 1e-6


@settings(max_examples=10)
@given(rate=small_rates, sigma=sigmas, k=steps)
def test_monotone_in_delta(rate: float, sigma: float, k: int) -> None:
    for make in (dp.RdpAccountant, dp.PldAccountant):
        acc = make().compose(_sampled(rate, sigma), k)
        values = [acc.get_epsilon(delta) for delta in (1e-9, 1e-7, 1e-5, 1e-3)]
        assert all(a >= b - tolerance for a, b in itertools.pairwise(values))
        deltas_ = [acc.get_delta(eps) for eps in (0.1, 0.5, 1.0, 4.0)]
        assert all(a >= b - tolerance for a, b in itertools.pairwise(deltas_))


@settings(max_examples=8)
@given(st.lists(st.tuples(pld_step_events, st.integers(1, 50)), min_size=2, max_size=3))
def test_composition_order_does_not_matter(runs: list[tuple[dp.DpEvent, int]]) -> None:
    for make in (dp.RdpAccountant, dp.PldAccountant):
        forward, backward = make(), make()
        if not all(forward.supports(event) for event, _ in runs):
            continue
        for event, count in runs:
            forward.compose(event, count)
        for event, count in reversed(runs):
            backward.compose(event, count)
        a, b = forward.get_epsilon(1e-6), backward.get_epsilon(1e-6)
        assert abs(a - b) <= 1e-3 * max(a, b) + 1e-6
        composed = make().compose(dp.Composed(tuple(dp.SelfComposed(e, c) for e, c in runs)))
        c = composed.get_epsilon(1e-6)
        assert abs(a - c) <= 1e-3 * max(a, c) + 1e-6


@settings(max_examples=10)
@given(rate=small_rates, sigma=sigmas, k=steps, delta=deltas)
def test_pld_below_rdp_and_lower_below_upper(
    rate: float, sigma: float, k: int, delta: float
) -> None:
    event = _sampled(rate, sigma)
    pld = dp.PldAccountant().compose(event, k)
    lower, upper = pld.get_epsilon_bounds(delta)
    rdp = dp.RdpAccountant().compose(event, k).get_epsilon(delta)
    assert lower <= upper + tolerance
    assert upper <= rdp + 1e-3 * rdp + 1e-6
    assert pld.get_delta(upper) <= delta * (1 + 1e-9)


@given(events)
def test_ledger_round_trips_for_any_event(event: dp.DpEvent) -> None:
    ledger = [(event, 3), (dp.Gaussian(2.0), 1)]
    text = json.dumps(dp.ledger_to_dict(ledger))
    assert dp.ledger_from_dict(json.loads(text)) == ledger


@given(events)
def test_supported_events_give_finite_or_infinite_but_valid_epsilon(event: dp.DpEvent) -> None:
    acc = dp.RdpAccountant()
    if acc.supports(event):
        eps = acc.compose(event).get_epsilon(1e-5)
        assert eps >= 0.0
    else:
        assert not dp.PldAccountant().supports(event) or isinstance(
            event, (dp.PoissonSampled, dp.Composed, dp.SelfComposed)
        )


@settings(max_examples=8)
@given(sigma=st.floats(0.5, 10.0), count=st.integers(1, 200), delta=deltas)
def test_discretised_gaussian_never_below_the_exact_value(
    sigma: float, count: int, delta: float
) -> None:
    from dp.accountants import _pld_math as pm
    from dp.accountants.pld import gaussian_epsilon

    acc = dp.PldAccountant()
    exact = gaussian_epsilon(sigma / count**0.5, delta)
    upper = max(
        pm.epsilon_for_delta(acc._round_pld(dp.Gaussian(sigma), count, d, "upper"), delta)
        for d in ("add", "remove")
    )
    lower = max(
        pm.epsilon_for_delta(acc._round_pld(dp.Gaussian(sigma), count, d, "lower"), delta)
        for d in ("add", "remove")
    )
    assert lower <= exact * (1 + 1e-9) + 1e-9
    assert exact <= upper * (1 + 1e-9) + 1e-9
    assert upper <= exact + max(0.005 * exact, 0.002)
