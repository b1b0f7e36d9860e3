"""Central mechanisms on the integer grid, and the clipping helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from dp.errors import InvalidArgument
from dp.events import DiscreteGaussian, DiscreteLaplace
from dp.mechanisms import GaussianMechanism, LaplaceMechanism, clip_l1, clip_l2, grid_step
from tests.dp.test_samplers_helpers import ALPHA

vectors = hnp.arrays(
    np.float64,
    st.integers(min_value=1, max_value=40),
    elements=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
bounds = st.floats(min_value=1e-3, max_value=1e3)


@given(vectors, bounds)
def test_clip_l2_bounds_the_norm_and_keeps_the_direction(x: np.ndarray, bound: float) -> None:
    y = clip_l2(x, bound)
    assert np.linalg.norm(y) <= bound
    norm = np.linalg.norm(x)
    if norm <= bound:
        np.testing.assert_array_equal(y, x)
    else:
        np.testing.assert_allclose(y * norm / np.linalg.norm(y), x, rtol=1e-9, atol=1e-9)


@given(vectors, bounds)
def test_clip_l1_bounds_the_norm_and_is_idempotent(x: np.ndarray, bound: float) -> None:
    y = clip_l1(x, bound)
    assert np.sum(np.abs(y)) <= bound
    np.testing.assert_array_equal(clip_l1(y, bound), y)
    np.testing.assert_array_equal(clip_l2(clip_l2(x, bound), bound), clip_l2(x, bound))


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([[1.0]]), np.array(["a"])])
def test_clip_refuses_bad_vectors(bad: np.ndarray) -> None:
    with pytest.raises(InvalidArgument):
        clip_l2(bad, 1.0)


@pytest.mark.parametrize("bound", [0, -1.0, float("inf"), True])
def test_clip_refuses_bad_bounds(bound: object) -> None:
    with pytest.raises(InvalidArgument):
        clip_l1(np.ones(3), bound)  # type: ignore[arg-type]


@given(st.floats(min_value=1e-6, max_value=1e6), st.integers(min_value=1, max_value=10**6))
def test_grid_step_is_a_fine_power_of_two(sensitivity: float, dimension: int) -> None:
    step = grid_step(sensitivity, dimension)
    assert math.log2(step).is_integer()
    assert step * math.sqrt(dimension) <= sensitivity * 2.0**-20
    assert step * math.sqrt(dimension) > sensitivity * 2.0**-21


def test_gaussian_mechanism_outputs_grid_points_with_exact_noise_law() -> None:
    mech = GaussianMechanism(noise_multiplier=0.5, l2_sensitivity=1.0, dimension=40_000)
    x = np.full(40_000, 0.3)
    out = mech.release(x)
    step = mech.step
    k = out / step
    np.testing.assert_array_equal(k, np.round(k))  # every output is a grid point
    noise = (k - np.rint(0.3 / step)).astype(np.int64)
    sigma = math.sqrt(float(mech.sigma_squared))
    assert sigma > 1e4  # the grid is fine: N_Z(0, sigma^2) / sigma is N(0, 1) to 1e-4
    assert stats.kstest(noise / sigma, "norm").pvalue > ALPHA


def test_gaussian_mechanism_event_accounts_for_grid_rounding() -> None:
    mech = GaussianMechanism(noise_multiplier=1.2, l2_sensitivity=2.0, dimension=16)
    event = mech.event
    assert isinstance(event, DiscreteGaussian)
    assert event.sigma / event.sensitivity_l2 == pytest.approx(1.2, rel=1e-5)
    assert event.sigma / event.sensitivity_l2 < 1.2  # the rounding slack is charged


def test_laplace_mechanism_event_and_output() -> None:
    mech = LaplaceMechanism(scale=2.0, l1_sensitivity=1.0, dimension=8)
    event = mech.event
    assert isinstance(event, DiscreteLaplace)
    assert event.sensitivity == round(1.0 / mech.step) + 8
    assert event.sensitivity / event.scale == pytest.approx(1 / 2.0, rel=1e-4)
    out = mech.release(np.zeros(8))
    k = out / mech.step
    np.testing.assert_array_equal(k, np.round(k))
    assert np.std(mech.release(np.zeros(8))) > 0


def test_laplace_noise_has_the_configured_scale() -> None:
    mech = LaplaceMechanism(scale=0.5, l1_sensitivity=1.0, dimension=50_000, grid_bits=8)
    noise = mech.release(np.zeros(50_000))
    # Var of a discrete Laplace of scale b on a grid of step h -> 2 b^2 when b >> h.
    b = 0.5
    assert np.var(noise) == pytest.approx(2 * b * b, rel=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_multiplier": 0.0, "l2_sensitivity": 1.0, "dimension": 3},
        {"noise_multiplier": 1.0, "l2_sensitivity": -1.0, "dimension": 3},
        {"noise_multiplier": 1.0, "l2_sensitivity": 1.0, "dimension": 0},
        {"noise_multiplier": 1.0, "l2_sensitivity": 1.0, "dimension": 3, "grid_bits": 60},
    ],
)
def test_gaussian_mechanism_refuses_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        GaussianMechanism(**kwargs)  # type: ignore[arg-type]


def test_noise_outside_the_sampler_range_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidArgument, match="grid_bits"):
        LaplaceMechanism(scale=100.0, l1_sensitivity=1.0, dimension=10**6)
    with pytest.raises(InvalidArgument, match="grid_bits"):
        GaussianMechanism(noise_multiplier=1e9, l2_sensitivity=1.0, dimension=10**6)
    coarse = LaplaceMechanism(100.0, 1.0, 10**6, grid_bits=8)
    # The rounding slack charged is at most 2**-8 of the sensitivity.
    event = coarse.event
    assert 100.0 * (1 - 2.0**-8) <= event.scale / event.sensitivity <= 100.0


def test_mechanisms_refuse_wrong_shapes_and_huge_values() -> None:
    mech = GaussianMechanism(1.0, l2_sensitivity=1.0, dimension=3)
    with pytest.raises(InvalidArgument):
        mech.release(np.zeros(4))
    with pytest.raises(InvalidArgument):
        mech.release(np.array([1e300, 0.0, 0.0]))
    with pytest.raises(InvalidArgument):
        LaplaceMechanism(1.0, l1_sensitivity=1.0, dimension=3).release([0.0, np.inf, 0.0])
