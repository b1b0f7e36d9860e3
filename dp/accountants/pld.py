"""The privacy loss distribution (PLD) accountant: tight, certified, the default.

The accountant keeps, for each adjacency direction (add and remove one record), the
pessimistically discretised PLD of everything composed so far, and convolves one more
round into it on each :meth:`~PldAccountant.compose` (FFT; a round of ``count`` steps is
first self-composed by repeated squaring). A query reads epsilon off the composed PLDs
exactly, so the per-round pattern of federated learning (compose a round, query, repeat)
costs one convolution per round. When everything composed is an un-sampled Gaussian the
exact formula of Balle and Wang 2018 is used instead.

References: Koskela, Jalko, Honkela 2020 (FFT composition); Doroshenko et al. 2022
(connect-the-dots discretisation); Zhu, Dong, Wang 2022 (dominating pairs, add/remove).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from dp.accountants import _pld_discrete_gaussian as pdg
from dp.accountants import _pld_math as pm
from dp.accountants._pld_mechanisms import Direction, SampledNoise, discretise_mechanism
from dp.accountants.base import Bound, PrivacyAccountant, check_delta, check_epsilon
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import (
    Composed,
    DiscreteLaplace,
    DpEvent,
    Gaussian,
    Laplace,
    PoissonSampled,
    SelfComposed,
)
from dp.neighbouring import Neighbouring

__all__ = ["PldAccountant", "gaussian_delta", "gaussian_epsilon"]

FloatArray = NDArray[np.float64]
_DIRECTIONS: tuple[Direction, Direction] = ("add", "remove")
_MAX_REFINEMENTS = 12
_LOWER_REFINEMENT = {"gaussian": 4.0, "laplace": 64.0, "discrete_laplace": 64.0}
"""How much finer the lower bound's grid is than the upper bound's, per mechanism.

The lower bound rounds each cell's loss down; a continuous loss sits just above the grid
point (a small bias), but the Laplace losses have atoms (at +-1/b), each rounded down by
up to a whole shift at every step, so they need a finer grid (measured: Poisson Laplace
q = 0.001, b = 0.5, 10,000 steps, gap 11.8% at 4x, 0.4% at 64x; Gaussians are best at 4x).
"""


def gaussian_delta(sigma: float, epsilon: float) -> float:
    """Exact delta of the Gaussian mechanism (Balle and Wang 2018, Theorem 8).

    ``Phi(1/(2s) - eps s) - e^eps Phi(-1/(2s) - eps s)`` for sensitivity 1 and noise ``s``,
    evaluated in log-space so that tiny deltas keep their relative precision.
    """
    log_first = float(special.log_ndtr(0.5 / sigma - epsilon * sigma))
    log_second = epsilon + float(special.log_ndtr(-0.5 / sigma - epsilon * sigma))
    if log_second >= log_first:
        return 0.0
    return math.exp(log_first) * -math.expm1(log_second - log_first)


def gaussian_epsilon(sigma: float, delta: float) -> float:
    """Exact epsilon of the Gaussian mechanism at ``delta`` (inverse of :func:`gaussian_delta`).

    Root-found to about 1e-12 and then rounded up, so it is never below the true value.
    """
    if gaussian_delta(sigma, 0.0) <= delta:
        return 0.0
    hi = 1.0
    while gaussian_delta(sigma, hi) > delta:
        hi *= 2.0
        if hi > 1e300:  # sigma so small that epsilon is not a finite float
            return math.inf
    root = optimize.brentq(
        lambda eps: gaussian_delta(sigma, eps) - delta, 0.0, hi, xtol=1e-13, rtol=1e-13
    )
    eps = float(root)
    while gaussian_delta(sigma, eps) > delta:
        eps = eps * (1.0 + 1e-12) + 1e-13
    return eps


def _gaussian_only_precision(event: DpEvent) -> float | None:
    """``1/sigma^2`` summed if the event is a composition of un-sampled Gaussians, else None."""
    if isinstance(event, Gaussian):
        inverse = 1.0 / event.noise_multiplier  # inf or 0 at the extremes, never raises
        return inverse * inverse
    if isinstance(event, PoissonSampled) and event.rate >= 1.0:
        return _gaussian_only_precision(event.event)
    if isinstance(event, SelfComposed):
        inner = _gaussian_only_precision(event.event)
        return None if inner is None else event.count * inner
    if isinstance(event, Composed):
        total = 0.0
        for item in event.events:
            inner = _gaussian_only_precision(item)
            if inner is None:
                return None
            total += inner
        return total
    return None


class PldAccountant(PrivacyAccountant):
    """Privacy loss distribution accountant with certified upper and lower bounds.

    Supports :class:`~dp.Gaussian`, :class:`~dp.Laplace`, :class:`~dp.DiscreteLaplace`,
    :class:`~dp.DiscreteGaussian`, :class:`~dp.DistributedDiscreteGaussian` (where
    ``dp.neighbouring`` admits it), their :class:`~dp.PoissonSampled` versions, and any
    :class:`~dp.SelfComposed` or :class:`~dp.Composed` of these; under add/remove also their
    :class:`~dp.SampledWithoutReplacement` versions, as the displacement pair (Poisson rate
    ``m/N`` at twice the sensitivity, ``dp.neighbouring``). Discrete Gaussians are accounted
    through a continuous Gaussian surrogate and a pointwise slack below ``1e-30``
    (:mod:`dp.accountants._pld_discrete_gaussian`); one whose noise is too small for that
    (below about 3.8 grid units per share) is refused. Other events (Skellam, zCDP,
    fixed-size sampling under zero-out or replace-one, Poisson sampling under replace-one)
    are refused with :class:`dp.UnsupportedEvent`: use :class:`~dp.RdpAccountant`.

    The upper bound is never below the true epsilon: the discretisation is pessimistic,
    truncated tails go to the infinite-loss mass (added to delta), and both adjacency
    directions are composed separately and the worse one is reported.

    Args:
        value_discretization_interval: the coarsest loss grid spacing. Each mechanism gets
            a grid of this spacing divided by a power of two, fine enough for its own loss
            distribution (its standard deviation over ``resolution``); compositions coarsen
            the grid again (by powers of two, up to this value) as the loss widens.
        tail_mass: largest mass moved (pessimistically) per truncation of a tail.
        resolution: grid points per standard deviation of a single mechanism's loss.
        neighbouring: the relation every answer is for (default ``"add_remove"``).

    Example:
        >>> import dp
        >>> acc = dp.PldAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1000)
        >>> lower, upper = acc.get_epsilon_bounds(1e-5)
        >>> lower <= upper
        True
    """

    def __init__(
        self,
        value_discretization_interval: float = 1e-3,
        tail_mass: float = 1e-18,
        resolution: float = 12.0,
        neighbouring: Neighbouring = "add_remove",
    ) -> None:
        super().__init__(neighbouring)
        interval = float(value_discretization_interval)
        if not math.isfinite(interval) or not 1e-6 <= interval <= 0.1:
            raise InvalidArgument("value_discretization_interval must be in [1e-6, 0.1]")
        tail = float(tail_mass)
        if not math.isfinite(tail) or not 0.0 <= tail <= 1e-6:
            raise InvalidArgument("tail_mass must be in [0, 1e-6]")
        resolution = float(resolution)
        if not math.isfinite(resolution) or not 1.0 <= resolution <= 1000.0:
            raise InvalidArgument("resolution must be in [1, 1000]")
        self._interval = interval
        self._tail = tail
        self._resolution = resolution
        self._intervals: dict[SampledNoise, float] = {}
        self._state: dict[Direction, pm.DiscretePld] = {}
        self._gaussian_precision: float | None = 0.0
        self._slack = pdg.Slack()
        self._cache: dict[tuple[DpEvent, Direction, pm.Side], pm.DiscretePld] = {}
        self._spectra: pm.SpectrumCache = {}
        self._lower: tuple[int, dict[Direction, pm.DiscretePld]] | None = None

    @property
    def value_discretization_interval(self) -> float:
        """The loss grid spacing."""
        return self._interval

    def _supports_form(self, form: DpEvent) -> bool:
        """Whether an event in accounting form has a PLD here (see the class docstring)."""
        if isinstance(form, _PLD_BASES):
            return True
        if isinstance(form, pdg.DISCRETE_GAUSSIANS) or (
            isinstance(form, PoissonSampled) and isinstance(form.event, pdg.DISCRETE_GAUSSIANS)
        ):
            return self._supports_discrete_gaussian(form)
        if isinstance(form, PoissonSampled):
            return isinstance(form.event, _PLD_BASES)
        if isinstance(form, SelfComposed):
            return self._supports_form(form.event)
        if isinstance(form, Composed):
            return all(self._supports_form(inner) for inner in form.events)
        return False

    def _supports_discrete_gaussian(self, form: DpEvent) -> bool:
        """A (sampled) discrete Gaussian whose per-round slack is within the budget.

        Which relations admit client-added noise is decided by ``_relations`` (the noise
        count must not differ between neighbours); a sampled distributed discrete Gaussian
        in accounting form is the displacement pair of a fixed-size cohort.
        """
        try:
            _, slack = pdg.surrogate(form, "upper")
        except UnsupportedEvent:
            return False
        return slack.log_total <= math.log(pdg.PER_ROUND_SLACK * pdg.SUPPORT_MARGIN)

    # ----------------------------------------------------------------- construction

    def _event_pld(self, event: DpEvent, direction: Direction, side: pm.Side) -> pm.DiscretePld:
        key = (event, direction, side)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        pld = self._build_pld(event, direction, side)
        self._cache[key] = pld
        return pld

    def _build_pld(self, event: DpEvent, direction: Direction, side: pm.Side) -> pm.DiscretePld:
        tail = self._tail
        if isinstance(event, (*_PLD_BASES, PoissonSampled)):
            noise = _noise_of(event)
            try:
                interval = self._mechanism_interval(noise)
                if side == "lower":
                    # Its rounding bias scales with the grid.
                    interval /= _LOWER_REFINEMENT[noise.kind]
                return discretise_mechanism(noise, direction, interval, side, tail / 4)
            except OverflowError as error:
                raise UnsupportedEvent(
                    f"{event!r} has too large a privacy loss for a grid of spacing "
                    f"{self._interval}: the RdpAccountant bounds it (or use a larger "
                    "value_discretization_interval)"
                ) from error
        if isinstance(event, SelfComposed):
            inner = self._event_pld(event.event, direction, side)
            return pm.self_compose(inner, event.count, tail, self._interval)
        if isinstance(event, Composed):
            result = self._event_pld(event.events[0], direction, side)
            for item in event.events[1:]:
                result = pm.compose(result, self._event_pld(item, direction, side), tail)
            return result
        raise UnsupportedEvent(f"PldAccountant cannot account for {event!r}")  # pragma: no cover

    def _round_pld(
        self, event: DpEvent, count: int, direction: Direction, side: pm.Side
    ) -> pm.DiscretePld:
        single = self._event_pld(event, direction, side)
        if count == 1:
            return single
        _check_grid_fits(single, count, self._interval)
        return pm.self_compose(single, count, self._tail, self._interval)

    def _mechanism_interval(self, noise: SampledNoise) -> float:
        """The grid spacing for one mechanism: ``max / 2^m``, below std / resolution."""
        cached = self._intervals.get(noise)
        if cached is not None:
            return cached
        coarse = [
            discretise_mechanism(noise, direction, self._interval, "upper", self._tail)
            for direction in _DIRECTIONS
        ]
        std = min(pm.loss_std(pld) for pld in coarse)
        interval = self._interval
        for _ in range(_MAX_REFINEMENTS):
            if interval * self._resolution <= std:
                break
            interval /= 2.0
        self._intervals[noise] = interval
        return interval

    def _compose(self, form: DpEvent, count: int) -> None:
        event, slack = _upper_surrogate(form)
        total = self._slack.plus(slack.times(count))
        if total.log_total > math.log(pdg.MAX_TOTAL_SLACK):
            raise UnsupportedEvent(
                f"composing {form!r} {count} times would take the discrete Gaussian slack "
                f"above {pdg.MAX_TOTAL_SLACK:g} (over about 2^62 rounds); the RdpAccountant "
                "bounds it"
            )
        self._compose_surrogate(event, count)
        self._slack = total

    def _compose_surrogate(self, event: DpEvent, count: int) -> None:
        precision = _gaussian_only_precision(event)
        new_precision = (
            None
            if precision is None or self._gaussian_precision is None
            else self._gaussian_precision + count * precision
        )
        if new_precision is not None:
            # Only un-sampled Gaussians so far: the exact formula answers, no PLD needed.
            self._gaussian_precision = new_precision
            return
        # The first other event: bring the Gaussians composed so far into the PLDs too.
        runs = [] if self._state else _surrogate_runs(self._forms, "upper")
        runs.append((event, count))
        new_state: dict[Direction, pm.DiscretePld] = {}
        try:
            for direction in _DIRECTIONS:
                state = self._state.get(direction)
                for run_event, run_count in runs:
                    round_pld = self._round_pld(run_event, run_count, direction, "upper")
                    state = (
                        round_pld
                        if state is None
                        else pm.compose(state, round_pld, self._tail, self._spectra)
                    )
                assert state is not None
                new_state[direction] = state
        except OverflowError as error:
            raise UnsupportedEvent(_TOO_WIDE.format(event=event)) from error
        self._state = new_state
        self._gaussian_precision = None

    def _composed_lower(self) -> dict[Direction, pm.DiscretePld]:
        """The optimistic PLDs of the whole ledger (computed on demand, cached per length)."""
        if self._lower is not None and self._lower[0] == len(self._forms):
            return self._lower[1]
        result: dict[Direction, pm.DiscretePld] = {}
        runs = _surrogate_runs(self._forms, "lower")
        try:
            for direction in _DIRECTIONS:
                total: pm.DiscretePld | None = None
                for event, count in runs:
                    part = self._round_pld(event, count, direction, "lower")
                    total = part if total is None else pm.compose(total, part, self._tail)
                result[direction] = (
                    total if total is not None else pm.identity(self._interval, "lower")
                )
        except OverflowError as error:  # pragma: no cover - the upper bound's grid fits
            raise UnsupportedEvent(_TOO_WIDE.format(event="the ledger")) from error
        self._lower = (len(self._forms), result)
        return result

    # ----------------------------------------------------------------------- queries

    def _exact_gaussian_sigma(self, bound: Bound = "upper") -> float | None:
        """The composed Gaussians' noise multiplier (0 and inf at the float extremes)."""
        precision = self._gaussian_precision
        if precision is None:
            return None
        if bound == "lower":
            # The lower-bound surrogates of unsampled discrete Gaussians differ.
            total = 0.0
            for event, count in _surrogate_runs(self._forms, "lower"):
                inner = _gaussian_only_precision(event)
                assert inner is not None
                total += count * inner
            precision = total
        if precision <= 0.0:
            return math.inf
        return 1.0 / math.sqrt(precision)

    def get_epsilon(self, delta: float, *, bound: Bound = "upper") -> float:
        """Epsilon at ``delta``: an upper bound (default) or a certified lower bound."""
        delta = check_delta(delta)
        if bound not in ("upper", "lower"):
            raise InvalidArgument(f"bound must be 'upper' or 'lower', got {bound!r}")
        if not self._ledger:
            return 0.0
        if bound == "upper":
            slack = self._slack
            if slack.empty:
                return self._surrogate_epsilon(delta, bound)
            # delta(eps) <= e^H delta'(eps - H - Lo) for the surrogate's delta' (module
            # _pld_discrete_gaussian, step 3): eps = eps'(delta e^{-H}) + H + Lo. H + Lo is
            # at most 1e-30, far below the relative margin 2^-49 that covers e^{-H}.
            if self.get_delta(0.0) <= delta:
                return 0.0
            epsilon = self._surrogate_epsilon(delta * (1.0 - _EXP_MARGIN), bound)
            return math.nextafter(epsilon + _slack_total(slack), math.inf)
        slack = self._lower_slack()
        if slack.empty:
            return self._surrogate_epsilon(delta, bound)
        grown = _times_exp(delta, slack.lo, "up")
        if not grown < 1.0:
            return 0.0
        epsilon = self._surrogate_epsilon(grown, bound)
        return max(0.0, _down(epsilon - slack.hi - slack.lo))

    def _surrogate_epsilon(self, delta: float, bound: Bound) -> float:
        """Epsilon of the composed surrogates (the ledger itself without discrete Gaussians)."""
        sigma = self._exact_gaussian_sigma(bound)
        if sigma is not None:
            if sigma == 0.0 or sigma == math.inf:
                return math.inf if sigma == 0.0 else 0.0
            return gaussian_epsilon(sigma, delta)
        states = self._state if bound == "upper" else self._composed_lower()
        return max(pm.epsilon_for_delta(states[d], delta) for d in _DIRECTIONS)

    def _lower_slack(self) -> pdg.Slack:
        """The lower-bound surrogates' slack over the whole ledger."""
        total = pdg.Slack()
        for form, count in self._forms:
            total = total.plus(_surrogate(form, "lower")[1].times(count))
        return total

    def get_delta(self, epsilon: float, *, bound: Bound = "upper") -> float:
        """Delta at ``epsilon``: an upper bound (default) or a certified lower bound."""
        epsilon = check_epsilon(epsilon)
        if bound not in ("upper", "lower"):
            raise InvalidArgument(f"bound must be 'upper' or 'lower', got {bound!r}")
        if not self._ledger:
            return 0.0
        if bound == "upper":
            slack = self._slack
            if slack.empty:
                return self._surrogate_delta(epsilon, bound)
            # e^H delta'(eps - x) <= e^H (delta'(eps) + e^eps x), x = H + Lo <= 1e-30, since
            # H_a <= H_b + (b - a) for a < b; e^H is covered by the margin 2^-49.
            log_extra = epsilon + slack.log_total
            extra = math.exp(log_extra) if log_extra < 700.0 else math.inf
            delta = self._surrogate_delta(epsilon, bound) + max(extra, _TINY)
            return min(1.0, delta * (1.0 + _EXP_MARGIN))
        slack = self._lower_slack()
        if slack.empty:
            return self._surrogate_delta(epsilon, bound)
        shifted = _up(epsilon + slack.hi + slack.lo)
        if not math.isfinite(shifted):
            return 0.0
        return _times_exp(self._surrogate_delta(shifted, bound), -slack.lo, "down")

    def _surrogate_delta(self, epsilon: float, bound: Bound) -> float:
        """Delta of the composed surrogates (the ledger itself without discrete Gaussians)."""
        sigma = self._exact_gaussian_sigma(bound)
        if sigma is not None:
            if sigma == 0.0 or sigma == math.inf:
                return 1.0 if sigma == 0.0 else 0.0
            return gaussian_delta(sigma, epsilon)
        states = self._state if bound == "upper" else self._composed_lower()
        return max(pm.delta_for_epsilon(states[d], epsilon) for d in _DIRECTIONS)

    def epsilon_curve(self, delta: float) -> FloatArray:
        """Upper-bound epsilon after each round, recomposing the ledger round by round."""
        delta = check_delta(delta)
        replay = PldAccountant(
            self._interval, self._tail, self._resolution, neighbouring=self.neighbouring
        )
        replay._cache = self._cache
        replay._intervals = self._intervals
        replay._spectra = self._spectra
        curve = np.empty(len(self._ledger), dtype=np.float64)
        for index, (entry, form) in enumerate(zip(self._ledger, self._forms, strict=True)):
            replay._compose(form[0], form[1])
            replay._ledger.append(entry)
            replay._forms.append(form)
            curve[index] = replay.get_epsilon(delta)
        return curve


_TOO_WIDE = (
    "composing {event!r} makes the privacy loss too wide for the PLD grid (epsilon in the "
    "thousands or more); the RdpAccountant bounds it"
)


def _check_grid_fits(single: pm.DiscretePld, count: int, max_interval: float) -> None:
    """Refuse at once a self-composition whose loss cannot fit the largest grid.

    The composed loss has mean ``count * m`` and standard deviation ``sqrt(count) * s``
    (``m``, ``s`` of one step); if even that window exceeds the grid at the coarsest
    spacing, the squarings would only run into :data:`MAX_GRID_POINTS` after minutes.

    Raises:
        OverflowError: the composition cannot fit.
    """
    total = float(np.sum(single.masses))
    if total <= 0.0:
        return
    mean = abs(float(np.sum(single.masses * single.losses)) / total)
    width = count * mean + 10.0 * math.sqrt(count) * pm.loss_std(single)
    if width > 0.5 * pm.MAX_GRID_POINTS * max_interval:
        raise OverflowError("composed privacy loss too wide for the grid")


_PLD_BASES = (Gaussian, Laplace, DiscreteLaplace)
"""The un-sampled mechanisms with an exact privacy loss distribution here."""


def _noise_of(event: DpEvent) -> SampledNoise:
    rate = 1.0
    inner = event
    if isinstance(event, PoissonSampled):
        rate, inner = event.rate, event.event
    if isinstance(inner, Gaussian):
        return SampledNoise("gaussian", inner.noise_multiplier, rate)
    if isinstance(inner, Laplace):
        return SampledNoise("laplace", inner.scale, rate)
    if isinstance(inner, DiscreteLaplace):
        return SampledNoise("discrete_laplace", inner.scale, rate, inner.sensitivity)
    raise UnsupportedEvent(f"PldAccountant cannot account for {event!r}")  # pragma: no cover


def _surrogate(form: DpEvent, side: pm.Side) -> tuple[DpEvent | None, pdg.Slack]:
    return pdg.surrogate(form, side)


def _upper_surrogate(form: DpEvent) -> tuple[DpEvent, pdg.Slack]:
    event, slack = pdg.surrogate(form, "upper")
    assert event is not None  # upper surrogates never vanish
    return event, slack


def _surrogate_runs(ledger: list[tuple[DpEvent, int]], side: pm.Side) -> list[tuple[DpEvent, int]]:
    """The grouped ledger with discrete Gaussians replaced by their ``side`` surrogates."""
    runs = []
    for form, count in _grouped(ledger):
        event = _surrogate(form, side)[0]
        if event is not None:
            runs.append((event, count))
    return _grouped(runs)


_EXP_MARGIN = 2.0**-49
"""Relative margin of a product with ``exp(+-x)``, ``x <= 1e-30``, and the float roundings."""

_TINY = 5e-324
"""The smallest positive float: an upper bound on any slack term that underflows."""


def _slack_total(slack: pdg.Slack) -> float:
    """``H + Lo`` rounded up (at least the smallest positive float)."""
    if slack.log_total > math.log(pdg.MAX_TOTAL_SLACK):  # pragma: no cover - refused on compose
        raise UnsupportedEvent("discrete Gaussian slack above its budget")
    return max((slack.hi + slack.lo) * (1.0 + _EXP_MARGIN), _TINY)


def _times_exp(value: float, exponent: float, direction: str) -> float:
    """``value * e^exponent`` rounded up or down (never past the true product)."""
    with np.errstate(over="ignore"):
        product = value * math.exp(min(exponent, 700.0))
    if direction == "up":
        return product * (1.0 + _EXP_MARGIN)
    return product * (1.0 - _EXP_MARGIN)


def _up(value: float) -> float:
    """``value`` (a float sum of a few terms) pushed above the exact sum."""
    if not math.isfinite(value):
        return value
    return math.nextafter(value + abs(value) * _EXP_MARGIN, math.inf)


def _down(value: float) -> float:
    """``value`` (a float sum of a few terms) pushed below the exact sum."""
    if not math.isfinite(value):
        return value
    return math.nextafter(value - abs(value) * _EXP_MARGIN, -math.inf)


def _grouped(ledger: list[tuple[DpEvent, int]]) -> list[tuple[DpEvent, int]]:
    """Merge ledger entries with equal events (composition order does not matter)."""
    totals: dict[DpEvent, int] = {}
    for event, count in ledger:
        totals[event] = totals.get(event, 0) + count
    return list(totals.items())
