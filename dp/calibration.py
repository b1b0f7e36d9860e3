"""Noise and step calibration: the smallest noise (or most steps) that meets a budget.

Both searches bracket the answer, bisect on it, and finish with a check by the chosen
accountant that the returned value really gives ``epsilon <= target``; a search that
cannot reach the target raises :class:`dp.CalibrationError` rather than overshoot.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from dp.accountants.base import PrivacyAccountant, check_delta
from dp.accountants.pld import PldAccountant
from dp.accountants.rdp import RdpAccountant
from dp.errors import CalibrationError, InvalidArgument
from dp.events import DpEvent, Gaussian, PoissonSampled, SampledWithoutReplacement
from dp.neighbouring import Neighbouring, check_neighbouring

__all__ = ["calibrate_noise_multiplier", "calibrate_steps", "AccountantName"]

AccountantName = Literal["pld", "rdp"]


def _make_accountant(
    accountant: AccountantName | PrivacyAccountant, relation: Neighbouring
) -> PrivacyAccountant:
    if isinstance(accountant, PrivacyAccountant):
        if accountant.rounds:
            raise InvalidArgument("pass a fresh accountant (nothing composed yet)")
        return type(accountant)(neighbouring=relation)
    if accountant == "pld":
        return PldAccountant(neighbouring=relation)
    if accountant == "rdp":
        return RdpAccountant(neighbouring=relation)
    raise InvalidArgument(f"accountant must be 'pld' or 'rdp', got {accountant!r}")


def _relation(accountant: AccountantName | PrivacyAccountant, neighbouring: object) -> Neighbouring:
    """The relation to calibrate for: the argument, else the given accountant's, else add/remove."""
    own = accountant.neighbouring if isinstance(accountant, PrivacyAccountant) else None
    if neighbouring is None:
        return own or "add_remove"
    relation = check_neighbouring(neighbouring)
    if own is not None and own != relation:
        raise InvalidArgument(f"the accountant is for {own}, not {relation}")
    return relation


def _check_target(target_epsilon: object) -> float:
    if isinstance(target_epsilon, bool) or not isinstance(target_epsilon, (int, float)):
        raise InvalidArgument("target_epsilon must be a real number")
    value = float(target_epsilon)
    if not math.isfinite(value) or value <= 0.0:
        raise InvalidArgument(f"target_epsilon must be finite and > 0, got {target_epsilon!r}")
    return value


def _check_rate(rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise InvalidArgument("sampling_rate must be a real number")
    value = float(rate)
    if not 0.0 < value <= 1.0:
        raise InvalidArgument(f"sampling_rate must be in (0, 1], got {rate!r}")
    return value


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidArgument(f"steps must be an int >= 1, got {steps!r}")
    return steps


def _step_event(rate: float, sigma: float) -> DpEvent:
    gaussian = Gaussian(sigma)
    return gaussian if rate >= 1.0 else PoissonSampled(rate, gaussian)


def _step_builder(
    sampling_rate: object, population: int | None, sample_size: int | None
) -> Callable[[float], DpEvent]:
    """``sigma -> event`` of one step: Poisson at ``sampling_rate``, or a fixed-size cohort.

    Exactly one of ``sampling_rate`` and the pair ``(population, sample_size)`` is given;
    a fixed-size cohort is accounted as it ran (under add/remove, the displacement pair).
    """
    if population is None and sample_size is None:
        if sampling_rate is None:
            raise InvalidArgument("give sampling_rate, or population and sample_size")
        rate = _check_rate(sampling_rate)
        return lambda sigma: _step_event(rate, sigma)
    if sampling_rate is not None:
        raise InvalidArgument("give sampling_rate or population and sample_size, not both")
    if population is None or sample_size is None:
        raise InvalidArgument("a fixed-size cohort needs both population and sample_size")
    cohort = SampledWithoutReplacement(population, sample_size, Gaussian(1.0))  # validates
    return lambda sigma: SampledWithoutReplacement(
        cohort.population, cohort.sample_size, Gaussian(sigma)
    )


_FAST_ORDERS = (
    1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0,
    32.0, 48.0, 64.0, 96.0, 128.0, 256.0, 512.0, 1024.0,
)  # fmt: skip
"""A small grid of orders for the first, cheap bracketing pass (an upper bound too)."""


def _epsilon(
    accountant: AccountantName | PrivacyAccountant,
    relation: Neighbouring,
    event: DpEvent,
    steps: int,
    delta: float,
) -> float:
    return _make_accountant(accountant, relation).compose(event, steps).get_epsilon(delta)


def _fast_epsilon(relation: Neighbouring, event: DpEvent, steps: int, delta: float) -> float:
    return RdpAccountant(_FAST_ORDERS, relation).compose(event, steps).get_epsilon(delta)


def _bisect_log(meets: Callable[[float], bool], lo: float, hi: float, tolerance: float) -> float:
    """Smallest feasible value in [lo, hi] up to ``tolerance`` (``hi`` feasible, ``lo`` not)."""
    while hi / lo > 1.0 + tolerance:
        mid = math.sqrt(lo * hi)
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi


def calibrate_noise_multiplier(
    target_epsilon: float,
    delta: float,
    *,
    sampling_rate: float | None = None,
    steps: int,
    population: int | None = None,
    sample_size: int | None = None,
    accountant: AccountantName | PrivacyAccountant = "pld",
    neighbouring: Neighbouring | None = None,
    min_sigma: float = 0.1,
    max_sigma: float = 1000.0,
    tolerance: float = 1e-3,
) -> float:
    """The smallest noise multiplier (up to ``tolerance``, relative) meeting the target.

    ``steps`` Poisson-sampled Gaussian steps with rate ``sampling_rate`` (1 = full batch),
    or fixed-size cohorts of ``sample_size`` out of ``population`` (give those two instead
    of the rate; under add/remove they are accounted as the displacement pair), are
    accounted by ``accountant``. A first bisection on a cheap RDP bound (a few orders)
    gives a noise multiplier that is certainly feasible; the chosen accountant then brackets
    the answer below it and bisects on ``log sigma``. The returned value is the upper end of
    the final bracket, which the accountant has checked gives ``epsilon <= target_epsilon``.
    ``neighbouring`` is the relation (default: the given accountant's, else add/remove).

    Raises:
        InvalidArgument: a parameter is out of range.
        UnsupportedEvent: the steps cannot be accounted under the relation (Poisson
            sampling under replace-one).
        CalibrationError: even ``max_sigma`` does not meet the target.
    """
    relation = _relation(accountant, neighbouring)
    target = _check_target(target_epsilon)
    delta = check_delta(delta)
    step_event = _step_builder(sampling_rate, population, sample_size)
    steps = _check_steps(steps)
    if not 0.0 < min_sigma < max_sigma or not math.isfinite(max_sigma):
        raise InvalidArgument("need 0 < min_sigma < max_sigma < inf")
    if not 0.0 < tolerance < 1.0:
        raise InvalidArgument("tolerance must be in (0, 1)")

    def meets(sigma: float) -> bool:
        return _epsilon(accountant, relation, step_event(sigma), steps, delta) <= target

    def meets_fast(sigma: float) -> bool:
        return _fast_epsilon(relation, step_event(sigma), steps, delta) <= target

    if not meets_fast(max_sigma):
        if not meets(max_sigma):
            raise CalibrationError(
                f"even noise_multiplier={max_sigma} gives epsilon > {target} at delta={delta}"
            )
        hi = max_sigma
    elif meets_fast(min_sigma):
        hi = min_sigma
    else:
        hi = _bisect_log(meets_fast, min_sigma, max_sigma, 0.01)
    # hi is feasible for the cheap bound; make sure the chosen accountant agrees.
    while not meets(hi):
        if hi >= max_sigma:
            raise CalibrationError(
                f"even noise_multiplier={max_sigma} gives epsilon > {target} at delta={delta}"
            )
        hi = min(hi * 1.1, max_sigma)
    lo = hi
    while True:
        if lo <= min_sigma:
            return min_sigma
        lo = max(lo * 0.8, min_sigma)
        if not meets(lo):
            break
        hi = lo
    return _bisect_log(meets, lo, hi, tolerance)


def calibrate_steps(
    target_epsilon: float,
    delta: float,
    *,
    noise_multiplier: float,
    sampling_rate: float | None = None,
    population: int | None = None,
    sample_size: int | None = None,
    accountant: AccountantName | PrivacyAccountant = "pld",
    neighbouring: Neighbouring | None = None,
    max_steps: int = 10_000_000,
) -> int:
    """The largest number of sampled Gaussian steps whose epsilon stays <= the target.

    The steps are Poisson-sampled at ``sampling_rate``, or fixed-size cohorts of
    ``sample_size`` out of ``population`` (as in :func:`calibrate_noise_multiplier`).
    ``neighbouring`` is the relation (default: the given accountant's, else add/remove).

    Raises:
        InvalidArgument: a parameter is out of range.
        UnsupportedEvent: the steps cannot be accounted under the relation.
        CalibrationError: even one step exceeds the target.
    """
    relation = _relation(accountant, neighbouring)
    target = _check_target(target_epsilon)
    delta = check_delta(delta)
    max_steps = _check_steps(max_steps)
    event = _step_builder(sampling_rate, population, sample_size)(
        Gaussian(noise_multiplier).noise_multiplier
    )

    def meets(steps: int) -> bool:
        return _epsilon(accountant, relation, event, steps, delta) <= target

    if not meets(1):
        raise CalibrationError(f"a single step already exceeds epsilon {target}")
    # The cheap RDP bound is an upper bound, so its answer is feasible: start from there.
    lo = 1
    hi = 2
    while hi <= max_steps and _fast_epsilon(relation, event, hi, delta) <= target:
        lo, hi = hi, hi * 2
    lo = max(lo, 1)
    while lo > 1 and not meets(lo):  # pragma: no cover - the fast bound is an upper bound
        lo //= 2
    hi = max(lo * 2, 2)
    while hi <= max_steps and meets(hi):
        lo, hi = hi, hi * 2
    if hi > max_steps:
        if meets(max_steps):
            return max_steps
        hi = max_steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid):
            lo = mid
        else:
            hi = mid
    return lo
