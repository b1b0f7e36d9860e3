"""Calibration: the returned noise meets the target, is nearly the smallest, and errors."""

from __future__ import annotations

import pytest

import dp


@pytest.mark.parametrize("accountant", ["pld", "rdp"])
def test_noise_meets_target_and_is_tight(accountant: str) -> None:
    target, delta, rate, steps = 1.5, 1e-5, 0.02, 500
    sigma = dp.calibrate_noise_multiplier(
        target, delta, sampling_rate=rate, steps=steps, accountant=accountant, tolerance=1e-3
    )
    make = dp.PldAccountant if accountant == "pld" else dp.RdpAccountant
    event = dp.PoissonSampled(rate, dp.Gaussian(sigma))
    assert make().compose(event, steps).get_epsilon(delta) <= target
    smaller = dp.PoissonSampled(rate, dp.Gaussian(sigma * (1 - 2e-3)))
    assert make().compose(smaller, steps).get_epsilon(delta) > target


def test_pld_needs_less_noise_than_rdp() -> None:
    kwargs = {"sampling_rate": 0.01, "steps": 1000}
    pld = dp.calibrate_noise_multiplier(2.0, 1e-5, accountant="pld", **kwargs)
    rdp = dp.calibrate_noise_multiplier(2.0, 1e-5, accountant="rdp", **kwargs)
    assert pld < rdp


def test_full_batch_uses_the_exact_gaussian() -> None:
    sigma = dp.calibrate_noise_multiplier(1.0, 1e-5, sampling_rate=1.0, steps=1)
    assert dp.accountants.pld.gaussian_epsilon(sigma, 1e-5) <= 1.0
    assert dp.accountants.pld.gaussian_epsilon(sigma * 0.998, 1e-5) > 1.0


def test_impossible_target_raises() -> None:
    with pytest.raises(dp.CalibrationError):
        dp.calibrate_noise_multiplier(0.01, 1e-10, sampling_rate=1.0, steps=1000, max_sigma=10.0)
    with pytest.raises(dp.CalibrationError):
        dp.calibrate_steps(0.01, 1e-5, noise_multiplier=0.5, sampling_rate=1.0)


def test_calibrate_steps_is_the_largest_feasible_count() -> None:
    steps = dp.calibrate_steps(1.0, 1e-5, noise_multiplier=1.0, sampling_rate=0.01)
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.0))
    assert dp.PldAccountant().compose(event, steps).get_epsilon(1e-5) <= 1.0
    assert dp.PldAccountant().compose(event, steps + 1).get_epsilon(1e-5) > 1.0


def test_calibrate_steps_caps_at_max_steps() -> None:
    assert (
        dp.calibrate_steps(
            10.0, 1e-5, noise_multiplier=5.0, sampling_rate=0.001, max_steps=50, accountant="rdp"
        )
        == 50
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_epsilon": 0.0},
        {"target_epsilon": float("nan")},
        {"delta": 0.0},
        {"sampling_rate": 0.0},
        {"sampling_rate": 1.5},
        {"steps": 0},
        {"accountant": "gdp"},
        {"min_sigma": 2.0, "max_sigma": 1.0},
        {"tolerance": 0.0},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "target_epsilon": 1.0,
        "delta": 1e-5,
        "sampling_rate": 0.01,
        "steps": 100,
    }
    arguments.update(kwargs)
    target = arguments.pop("target_epsilon")
    delta = arguments.pop("delta")
    with pytest.raises(dp.InvalidArgument):
        dp.calibrate_noise_multiplier(target, delta, **arguments)  # type: ignore[arg-type]


def test_fixed_size_cohorts_are_calibrated_as_they_run() -> None:
    # Under add/remove a fixed-size cohort is the displacement pair: about twice the noise
    # the Poisson answer at the same rate gives, and the answer meets the target.
    z = dp.calibrate_noise_multiplier(3.0, 1e-5, population=60_000, sample_size=600, steps=1000)
    poisson = dp.calibrate_noise_multiplier(3.0, 1e-5, sampling_rate=0.01, steps=1000)
    assert z == pytest.approx(2 * poisson, rel=0.01)
    cohort = dp.SampledWithoutReplacement(60_000, 600, dp.Gaussian(z))
    assert dp.PldAccountant().compose(cohort, 1000).get_epsilon(1e-5) <= 3.0
    steps = dp.calibrate_steps(3.0, 1e-5, noise_multiplier=z, population=60_000, sample_size=600)
    assert steps >= 1000
    assert dp.PldAccountant().compose(cohort, steps).get_epsilon(1e-5) <= 3.0
    assert dp.PldAccountant().compose(cohort, steps + 1).get_epsilon(1e-5) > 3.0


def test_fixed_size_calibration_arguments_are_checked() -> None:
    with pytest.raises(dp.InvalidArgument, match="both"):
        dp.calibrate_noise_multiplier(3.0, 1e-5, population=100, steps=10)
    with pytest.raises(dp.InvalidArgument, match="not both"):
        dp.calibrate_noise_multiplier(
            3.0, 1e-5, sampling_rate=0.1, population=100, sample_size=10, steps=10
        )
    with pytest.raises(dp.InvalidArgument):
        dp.calibrate_steps(3.0, 1e-5, noise_multiplier=1.0)
    with pytest.raises(dp.UnsupportedEvent):  # the PLD refuses fixed size under zero-out
        dp.calibrate_noise_multiplier(
            3.0, 1e-5, population=100, sample_size=10, steps=10, neighbouring="zero_out"
        )
