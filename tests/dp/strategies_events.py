"""Hypothesis strategies for dp events (shared by the event and accountant tests)."""

from __future__ import annotations

from hypothesis import strategies as st

import dp

noise_multipliers = st.floats(min_value=0.3, max_value=50.0, allow_nan=False)
rates = st.floats(min_value=1e-4, max_value=1.0, allow_nan=False)
deltas = st.floats(min_value=1e-12, max_value=0.1, allow_nan=False)
positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@st.composite
def skellams(draw: st.DrawFn) -> dp.Skellam:
    l2 = draw(positive)
    l1 = l2 * draw(st.floats(min_value=1.0, max_value=100.0))
    return dp.Skellam(draw(positive), l1, l2)


@st.composite
def distributed_discrete_gaussians(draw: st.DrawFn) -> dp.DistributedDiscreteGaussian:
    l2 = draw(positive)
    l1 = l2 * draw(st.floats(min_value=1.0, max_value=100.0))
    return dp.DistributedDiscreteGaussian(
        draw(st.floats(min_value=0.5, max_value=1e3)),
        draw(st.integers(min_value=1, max_value=1000)),
        draw(st.integers(min_value=1, max_value=10**6)),
        l1,
        l2,
    )


@st.composite
def wor_events(draw: st.DrawFn, inner: st.SearchStrategy[dp.DpEvent]) -> dp.DpEvent:
    population = draw(st.integers(min_value=1, max_value=10**6))
    sample = draw(st.integers(min_value=1, max_value=population))
    return dp.SampledWithoutReplacement(population, sample, draw(inner))


base_events: st.SearchStrategy[dp.DpEvent] = st.one_of(
    st.builds(dp.Gaussian, noise_multipliers),
    st.builds(dp.Laplace, positive),
    st.builds(dp.DiscreteLaplace, positive, st.integers(min_value=1, max_value=1000)),
    st.builds(dp.DiscreteGaussian, positive, positive),
    st.builds(dp.ZCDP, positive),
    skellams(),
    distributed_discrete_gaussians(),
)

events: st.SearchStrategy[dp.DpEvent] = st.recursive(
    base_events,
    lambda children: st.one_of(
        st.builds(dp.PoissonSampled, rates, children),
        wor_events(children),
        st.builds(dp.SelfComposed, children, st.integers(min_value=1, max_value=10**6)),
        st.builds(dp.Composed, st.lists(children, min_size=1, max_size=3).map(tuple)),
    ),
    max_leaves=6,
)
"""Any event, nested (not necessarily supported by an accountant)."""

pld_step_events: st.SearchStrategy[dp.DpEvent] = st.one_of(
    st.builds(
        dp.PoissonSampled,
        st.floats(min_value=1e-3, max_value=0.2),
        st.builds(dp.Gaussian, st.floats(min_value=0.6, max_value=5.0)),
    ),
    st.builds(
        dp.PoissonSampled,
        st.floats(min_value=1e-2, max_value=0.5),
        st.builds(dp.Laplace, st.floats(min_value=0.5, max_value=5.0)),
    ),
)
"""Cheap events both accountants support (sampled Gaussian and Laplace)."""
