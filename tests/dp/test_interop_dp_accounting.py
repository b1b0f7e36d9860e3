"""dp <-> dp_accounting: round trips of every event kind, typed refusals, and our epsilon
beside dp_accounting's (0.6.0) on converted events, under each neighbouring relation."""

from __future__ import annotations

import dataclasses
import math
import sys
from fractions import Fraction
from typing import Any

import dp_accounting as da
import pytest
from dp_accounting import dp_event as de
from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from dp.interop import (
    accountant_from_dp_accounting,
    dp_accounting_accountant,
    dp_accounting_relation,
    from_dp_accounting,
    neighbouring_from_dp_accounting,
    to_dp_accounting,
)
from tests.dp.strategies_events import events as any_events
from tests.dp.strategies_events import noise_multipliers, positive, rates

Rel = da.NeighboringRelation
RELATIONS: list[dp.Neighbouring] = ["add_remove", "zero_out", "replace_one"]
relations = st.sampled_from(RELATIONS)

# --- strategies: every event kind dp_accounting has a counterpart for -----------------------


@st.composite
def discrete_laplaces(draw: st.DrawFn) -> dp.DiscreteLaplace:
    return dp.DiscreteLaplace(draw(positive), draw(st.integers(min_value=1, max_value=10**6)))


@st.composite
def fixed_size(draw: st.DrawFn, inner: st.SearchStrategy[dp.DpEvent]) -> dp.DpEvent:
    population = draw(st.integers(min_value=1, max_value=10**9))
    sample = draw(st.integers(min_value=1, max_value=population))
    return dp.SampledWithoutReplacement(population, sample, draw(inner))


convertible_bases: st.SearchStrategy[dp.DpEvent] = st.one_of(
    st.builds(dp.Gaussian, noise_multipliers),
    st.builds(dp.Laplace, positive),
    discrete_laplaces(),
    st.builds(dp.ZCDP, positive),
)

convertible: st.SearchStrategy[dp.DpEvent] = st.recursive(
    convertible_bases,
    lambda children: st.one_of(
        st.builds(dp.PoissonSampled, rates, children),
        fixed_size(children),
        st.builds(dp.SelfComposed, children, st.integers(min_value=1, max_value=2**62)),
        st.builds(dp.Composed, st.lists(children, min_size=1, max_size=3).map(tuple)),
    ),
    max_leaves=8,
)
"""Nested events of every kind with a dp_accounting counterpart (not all accountable)."""

NO_COUNTERPART = (dp.DiscreteGaussian, dp.Skellam, dp.DistributedDiscreteGaussian)


def _leaves(event: dp.DpEvent) -> list[dp.DpEvent]:
    if isinstance(event, (dp.PoissonSampled, dp.SampledWithoutReplacement, dp.SelfComposed)):
        return _leaves(event.event)
    if isinstance(event, dp.Composed):
        return [leaf for inner in event.events for leaf in _leaves(inner)]
    return [event]


def _assert_same(original: dp.DpEvent, back: dp.DpEvent) -> None:
    """Equal, except a discrete Laplace scale may move down (less noise) by <= 2 ulp."""
    assert type(back) is type(original)
    if isinstance(original, dp.DiscreteLaplace):
        assert isinstance(back, dp.DiscreteLaplace)
        assert back.sensitivity == original.sensitivity
        assert original.scale - 2 * math.ulp(original.scale) <= back.scale <= original.scale
    elif isinstance(original, dp.Composed):
        assert isinstance(back, dp.Composed)
        assert len(back.events) == len(original.events)
        for a, b in zip(original.events, back.events, strict=True):
            _assert_same(a, b)
    elif isinstance(original, (dp.PoissonSampled, dp.SampledWithoutReplacement, dp.SelfComposed)):
        inner_back = back.event  # type: ignore[attr-defined]
        _assert_same(original.event, inner_back)
        assert back == type(original)(**{**_fields(original), "event": inner_back})
    else:
        assert back == original


def _fields(event: dp.DpEvent) -> dict[str, Any]:
    return {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}


# --- round trips --------------------------------------------------------------------------------


@given(event=convertible, relation=relations)
def test_round_trip_through_dp_accounting(event: dp.DpEvent, relation: dp.Neighbouring) -> None:
    theirs = to_dp_accounting(event, relation)
    assert isinstance(theirs, de.DpEvent)
    _assert_same(event, from_dp_accounting(theirs, relation))


@given(
    event=convertible.filter(
        lambda e: not any(isinstance(x, dp.DiscreteLaplace) for x in _leaves(e))
    ),
    relation=relations,
)
def test_round_trip_is_exact_without_discrete_laplace(
    event: dp.DpEvent, relation: dp.Neighbouring
) -> None:
    assert from_dp_accounting(to_dp_accounting(event, relation), relation) == event


@given(event=any_events, relation=relations)
def test_every_event_converts_or_is_refused_by_name(
    event: dp.DpEvent, relation: dp.Neighbouring
) -> None:
    missing = [leaf for leaf in _leaves(event) if isinstance(leaf, NO_COUNTERPART)]
    if missing:
        with pytest.raises(dp.UnsupportedEvent, match=type(missing[0]).__name__):
            to_dp_accounting(event, relation)
    else:
        _assert_same(event, from_dp_accounting(to_dp_accounting(event, relation), relation))


@given(scale=st.floats(min_value=1e-300, max_value=1e300))
def test_discrete_laplace_parameter_rounds_towards_less_noise(scale: float) -> None:
    theirs = to_dp_accounting(dp.DiscreteLaplace(scale, 3))
    assert theirs.sensitivity == 3
    # theirs: P(k) ~ exp(-a|k|) with a >= 1/scale; ours back: scale' <= 1/a.
    assert Fraction(theirs.noise_parameter) >= 1 / Fraction(scale)
    back = from_dp_accounting(theirs)
    assert isinstance(back, dp.DiscreteLaplace)
    assert Fraction(back.scale) <= 1 / Fraction(theirs.noise_parameter)


def test_discrete_laplace_reciprocals_beyond_the_floats() -> None:
    # Ours with (almost) no noise has no representable parameter: refused, not rounded.
    with pytest.raises(dp.InvalidArgument, match="DiscreteLaplace"):
        to_dp_accounting(dp.DiscreteLaplace(5e-324, 1))
    # Theirs with a huge noise: our scale is the largest float, below 1/a (less noise).
    back = from_dp_accounting(de.DiscreteLaplaceDpEvent(5e-324, 1))
    assert back == dp.DiscreteLaplace(sys.float_info.max, 1)


def test_each_kind_maps_to_its_counterpart() -> None:
    gaussian, laplace = de.GaussianDpEvent(1.5), de.LaplaceDpEvent(2.0)
    assert to_dp_accounting(dp.Gaussian(1.5)) == gaussian
    assert to_dp_accounting(dp.Laplace(2.0)) == laplace
    assert to_dp_accounting(dp.DiscreteLaplace(4.0, 2)) == de.DiscreteLaplaceDpEvent(0.25, 2)
    assert to_dp_accounting(dp.PoissonSampled(0.01, dp.Gaussian(1.5))) == (
        de.PoissonSampledDpEvent(0.01, gaussian)
    )
    fixed = to_dp_accounting(dp.SampledWithoutReplacement(1000, 10, dp.Gaussian(1.5)))
    assert fixed == de.SampledWithoutReplacementDpEvent(
        source_dataset_size=1000, sample_size=10, event=gaussian
    )
    assert to_dp_accounting(dp.SelfComposed(dp.Laplace(2.0), 7)) == (
        de.SelfComposedDpEvent(laplace, 7)
    )
    assert to_dp_accounting(dp.Composed((dp.Gaussian(1.5), dp.Laplace(2.0)))) == (
        de.ComposedDpEvent([gaussian, laplace])
    )


def test_zcdp_rho_follows_the_relation() -> None:
    # Ours holds under add/remove and costs 4 rho under replace-one; theirs holds under the
    # accountant's relation.
    assert to_dp_accounting(dp.ZCDP(0.5), "add_remove") == de.ZCDpEvent(0.5)
    assert to_dp_accounting(dp.ZCDP(0.5), "zero_out") == de.ZCDpEvent(0.5)
    assert to_dp_accounting(dp.ZCDP(0.5), Rel.REPLACE_ONE) == de.ZCDpEvent(2.0)
    assert from_dp_accounting(de.ZCDpEvent(2.0), Rel.REPLACE_ONE) == dp.ZCDP(0.5)
    assert from_dp_accounting(de.ZCDpEvent(2.0), Rel.ADD_OR_REMOVE_ONE) == dp.ZCDP(2.0)
    # An underflowed quotient is rounded up (more privacy loss), never down.
    tiny = from_dp_accounting(de.ZCDpEvent(5e-324), "replace_one")
    assert isinstance(tiny, dp.ZCDP)
    assert tiny.rho * 4 >= 5e-324


def test_relations_map_both_ways() -> None:
    pairs = {
        "add_remove": Rel.ADD_OR_REMOVE_ONE,
        "zero_out": Rel.REPLACE_SPECIAL,
        "replace_one": Rel.REPLACE_ONE,
    }
    for ours, theirs in pairs.items():
        assert dp_accounting_relation(ours) is theirs
        assert dp_accounting_relation(theirs) is theirs
        assert neighbouring_from_dp_accounting(theirs) == ours
        assert neighbouring_from_dp_accounting(ours) == ours
    for bad in ("replace", 3, None, Rel):
        with pytest.raises(dp.InvalidArgument):
            neighbouring_from_dp_accounting(bad)
        with pytest.raises(dp.InvalidArgument):
            to_dp_accounting(dp.Gaussian(1.0), bad)


def test_their_events_round_trip_through_ours() -> None:
    theirs = de.ComposedDpEvent(
        [
            de.SelfComposedDpEvent(de.PoissonSampledDpEvent(0.02, de.GaussianDpEvent(0.9)), 500),
            de.SampledWithoutReplacementDpEvent(60_000, 600, de.GaussianDpEvent(1.2)),
            de.PoissonSampledDpEvent(0.1, de.LaplaceDpEvent(3.0)),
            de.DiscreteLaplaceDpEvent(0.5, 4),
            de.ZCDpEvent(0.25),
        ]
    )
    for relation in RELATIONS:
        assert to_dp_accounting(from_dp_accounting(theirs, relation), relation) == theirs


# --- no-ops and refusals ------------------------------------------------------------------------


def test_parts_without_privacy_cost_are_dropped() -> None:
    gaussian = de.GaussianDpEvent(1.0)
    composed = de.ComposedDpEvent(
        [
            de.NoOpDpEvent(),
            gaussian,
            de.PoissonSampledDpEvent(0.0, gaussian),
            de.SelfComposedDpEvent(gaussian, 0),
            de.SampledWithoutReplacementDpEvent(10, 0, gaussian),
            de.ZCDpEvent(0.0),
            de.ComposedDpEvent([]),
        ]
    )
    assert from_dp_accounting(composed) == dp.Composed((dp.Gaussian(1.0),))
    for nothing in (de.NoOpDpEvent(), de.ComposedDpEvent([de.NoOpDpEvent()])):
        with pytest.raises(dp.UnsupportedEvent, match="no privacy cost"):
            from_dp_accounting(nothing)
        assert accountant_from_dp_accounting(nothing).get_epsilon(1e-5) == 0.0


@pytest.mark.parametrize(
    ("event", "name"),
    [
        (de.NonPrivateDpEvent(), "NonPrivateDpEvent"),
        (de.UnsupportedDpEvent(), "UnsupportedDpEvent"),
        (de.RandomizedResponseDpEvent(0.5, 4), "RandomizedResponseDpEvent"),
        (de.SampledWithReplacementDpEvent(100, 10, de.GaussianDpEvent(1.0)), "SampledWith"),
        (de.SingleEpochTreeAggregationDpEvent(1.0, 8), "SingleEpochTreeAggregationDpEvent"),
        (de.RepeatAndSelectDpEvent(de.GaussianDpEvent(1.0), 3.0, 1.0), "RepeatAndSelectDpEvent"),
        (de.MixtureOfGaussiansDpEvent(1.0, [1.0], [1.0]), "MixtureOfGaussiansDpEvent"),
        (de.TruncatedSubsampledGaussianDpEvent(100, 0.1, 20, 1.0), "TruncatedSubsampled"),
        (de.ZCDpEvent(0.1, 0.5), "ZCDpEvent"),
        (de.GaussianDpEvent(0.0), "no noise"),
        (de.LaplaceDpEvent(0.0), "no noise"),
        (de.DiscreteLaplaceDpEvent(0.0, 1), "no noise"),
        # nested: the refusal names the inner event
        (de.PoissonSampledDpEvent(0.1, de.RandomizedResponseDpEvent(0.5, 4)), "Randomized"),
        (de.ComposedDpEvent([de.GaussianDpEvent(1.0), de.NonPrivateDpEvent()]), "NonPrivate"),
    ],
)
def test_their_unconvertible_events_are_refused_by_name(event: Any, name: str) -> None:
    with pytest.raises(dp.UnsupportedEvent, match=name):
        from_dp_accounting(event)


@pytest.mark.parametrize(
    "event",
    [
        dp.DiscreteGaussian(2.0, 1.0),
        dp.Skellam(10.0, 2.0, 1.0),
        dp.DistributedDiscreteGaussian(2.0, 10, 100, 5.0, 2.0),
        dp.Composed((dp.Gaussian(1.0), dp.SelfComposed(dp.DiscreteGaussian(2.0), 3))),
    ],
)
def test_our_unconvertible_events_are_refused_by_name(event: dp.DpEvent) -> None:
    leaf = next(x for x in _leaves(event) if isinstance(x, NO_COUNTERPART))
    with pytest.raises(dp.UnsupportedEvent, match=type(leaf).__name__):
        to_dp_accounting(event)


@pytest.mark.parametrize(
    "event",
    [
        de.GaussianDpEvent(-1.0),
        de.GaussianDpEvent(math.nan),
        de.LaplaceDpEvent(math.inf),
        de.DiscreteLaplaceDpEvent(1.0, 0),
        de.DiscreteLaplaceDpEvent(-2.0, 1),
        de.PoissonSampledDpEvent(1.5, de.GaussianDpEvent(1.0)),
        de.SampledWithoutReplacementDpEvent(10, 20, de.GaussianDpEvent(1.0)),
        de.SelfComposedDpEvent(de.GaussianDpEvent(1.0), -3),
        de.SelfComposedDpEvent(de.GaussianDpEvent(1.0), 2.5),
        de.ZCDpEvent(-1.0),
    ],
)
def test_their_invalid_parameters_are_invalid_arguments(event: Any) -> None:
    with pytest.raises(dp.InvalidArgument, match="cannot convert"):
        from_dp_accounting(event)


def test_wrong_inputs_are_invalid_arguments() -> None:
    with pytest.raises(dp.InvalidArgument):
        to_dp_accounting(de.GaussianDpEvent(1.0))  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        from_dp_accounting(dp.Gaussian(1.0))
    with pytest.raises(dp.InvalidArgument):
        accountant_from_dp_accounting(de.GaussianDpEvent(1.0), kind="prv")  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        dp_accounting_accountant(dp.PldAccountant(), kind="prv")  # type: ignore[arg-type]
    with pytest.raises(dp.InvalidArgument):
        dp_accounting_accountant("pld")  # type: ignore[arg-type]


def test_deep_nesting_is_refused_not_a_crash() -> None:
    event: Any = de.GaussianDpEvent(1.0)
    for _ in range(5000):
        event = de.SelfComposedDpEvent(event, 1)
    with pytest.raises(dp.UnsupportedEvent, match="too deep"):
        from_dp_accounting(event)


# --- our epsilon beside theirs ------------------------------------------------------------------

DELTA = 1e-5


def _ours_and_theirs(
    event: dp.DpEvent, count: int, relation: dp.Neighbouring, kind: str
) -> tuple[dp.PrivacyAccountant, float]:
    ours: dp.PrivacyAccountant = (dp.PldAccountant if kind == "pld" else dp.RdpAccountant)(
        neighbouring=relation
    )
    ours.compose(event, count)
    theirs = dp_accounting_accountant(ours, kind)  # type: ignore[arg-type]
    return ours, float(theirs.get_epsilon(DELTA))


@pytest.mark.parametrize(
    ("event", "count", "relation"),
    [
        (dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1000, "add_remove"),
        (dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1000, "zero_out"),
        (dp.Laplace(10.0), 100, "add_remove"),
        (dp.DiscreteLaplace(20.0, 2), 100, "add_remove"),
        (dp.PoissonSampled(0.01, dp.Laplace(2.0)), 1000, "add_remove"),
        (dp.Gaussian(1.0), 1, "replace_one"),
    ],
)
def test_our_pld_brackets_dp_accounting_pld(
    event: dp.DpEvent, count: int, relation: dp.Neighbouring
) -> None:
    ours, theirs = _ours_and_theirs(event, count, relation, "pld")
    lower, upper = ours.get_epsilon_bounds(DELTA)
    # Both upper bounds are pessimistic discretisations (theirs on a 1e-4 grid): ours is
    # never below our certified lower bound's side of theirs, and within 0.5% of it.
    assert lower <= theirs * (1 + 1e-9)
    assert upper == pytest.approx(theirs, rel=5e-3)


@pytest.mark.parametrize(
    ("mechanism", "parameter", "ours"),
    [
        ("gaussian", 1.1, dp.PoissonSampled(0.01, dp.Gaussian(1.1))),  # 1.4654 <= 1.5134
        ("laplace", 2.0, dp.PoissonSampled(0.01, dp.Laplace(2.0))),  # 0.4777 <= 0.5286
    ],
)
def test_our_bounds_are_never_below_dp_accounting_optimistic_estimate(
    mechanism: str, parameter: float, ours: dp.DpEvent
) -> None:
    build = getattr(da.pld.privacy_loss_distribution, f"from_{mechanism}_mechanism")
    optimistic = build(
        parameter,
        sampling_prob=0.01,
        pessimistic_estimate=False,
        use_connect_dots=False,
        value_discretization_interval=1e-4,
    )
    their_lower = optimistic.self_compose(1000).get_epsilon_for_delta(DELTA)
    lower, upper = dp.PldAccountant().compose(ours, 1000).get_epsilon_bounds(DELTA)
    assert their_lower <= lower <= upper


@pytest.mark.parametrize(
    ("event", "count", "relation"),
    [
        (dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1000, "add_remove"),
        (dp.PoissonSampled(0.05, dp.Gaussian(0.8)), 200, "zero_out"),
        (dp.Laplace(3.0), 10, "add_remove"),
        (dp.ZCDP(0.05), 10, "replace_one"),
        (dp.ZCDP(0.05), 10, "add_remove"),
    ],
)
def test_our_rdp_is_dp_accounting_rdp_or_tighter(
    event: dp.DpEvent, count: int, relation: dp.Neighbouring
) -> None:
    ours, theirs = _ours_and_theirs(event, count, relation, "rdp")
    # Our orders are a superset of theirs: never looser, and close.
    assert ours.get_epsilon(DELTA) <= theirs * (1 + 1e-9)
    assert ours.get_epsilon(DELTA) == pytest.approx(theirs, rel=2e-2)


def test_dp_accounting_rdp_under_replace_one_reads_noise_at_half_our_sensitivity() -> None:
    # dp_accounting 0.6.0: its PLD accounts GaussianDpEvent(z) under REPLACE_ONE at distance
    # 2C (as we do, and as its event's docstring says), its RDP at C (its issue #378).
    event = to_dp_accounting(dp.Gaussian(1.0), "replace_one")
    their_pld = da.pld.PLDAccountant(Rel.REPLACE_ONE).compose(event).get_epsilon(DELTA)
    their_rdp = da.rdp.RdpAccountant(neighboring_relation=Rel.REPLACE_ONE).compose(event)
    their_rdp_add = da.rdp.RdpAccountant().compose(event)
    ours = dp.PldAccountant(neighbouring="replace_one").compose(dp.Gaussian(1.0))
    assert ours.get_epsilon(DELTA) == pytest.approx(their_pld, rel=1e-6)  # 9.997
    assert their_rdp.get_epsilon(DELTA) == their_rdp_add.get_epsilon(DELTA)  # 4.73: add/remove's
    assert their_rdp.get_epsilon(DELTA) < 0.5 * ours.get_epsilon(DELTA)


def test_fixed_size_sampling_under_replace_one_against_dp_accounting_rdp() -> None:
    # dp_accounting's only fixed-size accounting: RDP under REPLACE_ONE, its base at C.
    fixed = dp.SampledWithoutReplacement(1000, 100, dp.Gaussian(2.0))
    ours = dp.RdpAccountant(neighbouring="replace_one").compose(fixed, 100)
    direct = dp_accounting_accountant(ours, "rdp").get_epsilon(DELTA)
    # The same mechanism with the base at 2C: their multiplier halved.
    halved = de.SampledWithoutReplacementDpEvent(1000, 100, de.GaussianDpEvent(1.0))
    at_2c = da.rdp.RdpAccountant(neighboring_relation=Rel.REPLACE_ONE).compose(halved, 100)
    ours_eps = ours.get_epsilon(DELTA)
    assert direct < 0.5 * ours_eps  # 5.38 against 14.05: their reading under-reports
    # With the base at 2C, theirs (Wang, Balle, Kasiviswanathan 2019) is ours: 14.0538.
    assert ours_eps == pytest.approx(at_2c.get_epsilon(DELTA), rel=1e-9)
    assert ours_eps >= at_2c.get_epsilon(DELTA) * (1 - 1e-12)


def test_fixed_size_sampling_under_add_remove_is_refused_by_dp_accounting() -> None:
    fixed = dp.SampledWithoutReplacement(1000, 100, dp.Gaussian(2.0))
    ours = dp.PldAccountant().compose(fixed, 100)
    for kind in ("pld", "rdp"):
        with pytest.raises(dp.UnsupportedEvent, match="does not support"):
            dp_accounting_accountant(ours, kind)  # type: ignore[arg-type]
    # Ours is the displacement pair, Poisson(m/N) at 2C, which dp_accounting can account.
    pair = de.PoissonSampledDpEvent(0.1, de.GaussianDpEvent(1.0))
    theirs = da.pld.PLDAccountant().compose(pair, 100).get_epsilon(DELTA)
    assert ours.get_epsilon(DELTA) == pytest.approx(theirs, rel=5e-3)


def test_their_event_accounted_by_ours_under_its_relation() -> None:
    theirs = de.SelfComposedDpEvent(de.PoissonSampledDpEvent(0.01, de.GaussianDpEvent(1.1)), 1000)
    pld = accountant_from_dp_accounting(theirs)
    assert pld.neighbouring == "add_remove"
    assert isinstance(pld, dp.PldAccountant)
    assert pld.get_epsilon(DELTA) == pytest.approx(
        da.pld.PLDAccountant().compose(theirs).get_epsilon(DELTA), rel=5e-3
    )
    rdp = accountant_from_dp_accounting(de.GaussianDpEvent(2.0), Rel.REPLACE_ONE, "rdp", count=5)
    assert isinstance(rdp, dp.RdpAccountant)
    assert rdp.neighbouring == "replace_one"
    assert rdp.ledger == ((dp.Gaussian(2.0), 5),)
    # Poisson sampling under replace-one: we refuse it, as dp_accounting's RDP does.
    with pytest.raises(dp.UnsupportedEvent):
        accountant_from_dp_accounting(theirs, Rel.REPLACE_ONE)


THEIR_ORDERS = [float(order) for order in da.rdp.RdpAccountant()._orders]


@settings(max_examples=8)
@given(
    rate=st.floats(min_value=1e-3, max_value=0.3),
    sigma=st.floats(min_value=0.6, max_value=4.0),
    steps=st.integers(min_value=1, max_value=300),
)
def test_rdp_agrees_on_drawn_sampled_gaussians(rate: float, sigma: float, steps: int) -> None:
    event = dp.PoissonSampled(rate, dp.Gaussian(sigma))
    on_their_orders = dp.RdpAccountant(orders=THEIR_ORDERS).compose(event, steps)
    theirs = dp_accounting_accountant(on_their_orders, "rdp").get_epsilon(DELTA)
    # The same exact RDP on the same orders: equal, except where their fractional-order
    # series gives up and drops an order (then theirs is looser: q = 0.3, sigma = 0.6,
    # 300 steps gives 208.5 against 128.8).
    assert on_their_orders.get_epsilon(DELTA) <= theirs * (1 + 1e-6)
    ours = dp.RdpAccountant().compose(event, steps).get_epsilon(DELTA)
    assert ours <= on_their_orders.get_epsilon(DELTA) * (1 + 1e-12)  # more orders: tighter


def test_rdp_equals_dp_accounting_rdp_on_their_orders() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.1))
    ours = dp.RdpAccountant(orders=THEIR_ORDERS).compose(event, 1000)
    theirs = dp_accounting_accountant(ours, "rdp").get_epsilon(DELTA)
    assert ours.get_epsilon(DELTA) == pytest.approx(theirs, rel=1e-6)  # 1.71177


@pytest.mark.parametrize("relation", ["zero_out", "replace_one"])
def test_a_dp_ftrl_prefix_entry_converts_to_the_gaussian_it_is_accounted_as(relation: str) -> None:
    from dp.events import MatrixFactorizationGaussian

    event = MatrixFactorizationGaussian(
        noise_multiplier=3.0, sensitivity=2.0, prior_sensitivity=1.0, rounds=10, strategy="blt"
    )
    theirs = to_dp_accounting(event, relation)
    # sqrt(2^2 - 1^2) = sqrt(3) of sensitivity growth at noise 3: a Gaussian of z = 3/sqrt(3).
    assert theirs.noise_multiplier == pytest.approx(3.0 / math.sqrt(3.0), rel=1e-12)
    peer = da.pld.PLDAccountant(neighboring_relation=dp_accounting_relation(relation))
    peer.compose(theirs, 5)
    ours = dp.PldAccountant(neighbouring=relation).compose(event, 5)
    assert ours.get_epsilon(1e-6) == pytest.approx(peer.get_epsilon(1e-6), rel=1e-6)
    with pytest.raises(dp.UnsupportedEvent, match="zero_out or replace_one"):
        to_dp_accounting(event, "add_remove")
