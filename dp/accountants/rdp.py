"""The Renyi-DP accountant: fast, composable, always an upper bound.

RDP curves add under composition, so the accountant keeps one vector of RDP values over a
grid of orders (1.01 to 4096 by default) and converts to (epsilon, delta) with the improved
conversion of Balle et al. 2020 at query time. It is looser than the PLD accountant (the
conversion loses a little) but it accounts for the integer mechanisms of distributed DP
(discrete Gaussian, Skellam, distributed discrete Gaussian) and for zCDP, which have RDP
bounds but no known tight privacy loss distribution.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dp.accountants import _rdp_math as rm
from dp.accountants.base import Bound, PrivacyAccountant, check_delta, check_epsilon
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import (
    ZCDP,
    Composed,
    DiscreteGaussian,
    DiscreteLaplace,
    DistributedDiscreteGaussian,
    DpEvent,
    Gaussian,
    Laplace,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
    Skellam,
)
from dp.neighbouring import Neighbouring

__all__ = ["RdpAccountant", "DEFAULT_ORDERS"]

DEFAULT_ORDERS = rm.DEFAULT_ORDERS

FloatArray = NDArray[np.float64]


@functools.lru_cache(maxsize=512)
def _sampled_gaussian_cached(rate: float, sigma: float, orders: tuple[float, ...]) -> FloatArray:
    values = rm.rdp_sampled_gaussian(np.array(orders, dtype=np.float64), rate, sigma)
    values.setflags(write=False)
    return values


_BASE_EVENTS = (
    Gaussian,
    Laplace,
    DiscreteLaplace,
    DiscreteGaussian,
    Skellam,
    DistributedDiscreteGaussian,
    ZCDP,
)
"""The un-sampled mechanisms with an RDP curve of their own."""


def _pure_epsilon(event: DpEvent) -> float:
    """The pure-DP epsilon of an un-sampled event, ``inf`` if it has none."""
    if isinstance(event, Laplace):
        return 1.0 / event.scale
    if isinstance(event, DiscreteLaplace):
        return event.sensitivity / event.scale
    if isinstance(event, SelfComposed):
        return event.count * _pure_epsilon(event.event)
    if isinstance(event, Composed):
        return sum(_pure_epsilon(inner) for inner in event.events)
    return math.inf


def _wor_base_supported(event: DpEvent) -> bool:
    """Events whose RDP holds for any pair of neighbouring samples (no nested sampling)."""
    if isinstance(event, _BASE_EVENTS):
        return True
    if isinstance(event, SelfComposed):
        return _wor_base_supported(event.event)
    if isinstance(event, Composed):
        return all(_wor_base_supported(inner) for inner in event.events)
    return False


class RdpAccountant(PrivacyAccountant):
    """Renyi-DP accountant over a grid of orders (Mironov 2017).

    Supports :class:`~dp.Gaussian`, :class:`~dp.Laplace`, :class:`~dp.DiscreteLaplace`,
    :class:`~dp.DiscreteGaussian`, :class:`~dp.Skellam`,
    :class:`~dp.DistributedDiscreteGaussian`, :class:`~dp.ZCDP`, :class:`~dp.PoissonSampled`
    of a Gaussian (exact sampled-Gaussian RDP, Mironov, Talwar, Zhang 2019) or of any other
    un-sampled event (Zhu and Wang 2019, Theorem 5), :class:`~dp.SampledWithoutReplacement`
    of any un-sampled event, and any :class:`~dp.SelfComposed` or :class:`~dp.Composed` of
    these. Under add/remove a fixed-size sample is accounted as the displacement pair
    (Poisson rate ``m/N`` at twice the sensitivity); under zero-out and replace-one with the
    replace-one bound of Wang, Balle, Kasiviswanathan 2019, Theorem 9 (base at twice the
    sensitivity); Poisson sampling is refused under replace-one (``dp.neighbouring``).

    Args:
        orders: Renyi orders (> 1) to track; default :data:`DEFAULT_ORDERS`
            (1.01 ... 4096, a superset of dp_accounting's and Opacus' defaults).
        neighbouring: the relation every answer is for (default ``"add_remove"``).

    Example:
        >>> import dp
        >>> acc = dp.RdpAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1000)
        >>> round(acc.get_epsilon(1e-5), 2)
        1.71
    """

    def __init__(
        self, orders: Sequence[float] | None = None, neighbouring: Neighbouring = "add_remove"
    ) -> None:
        super().__init__(neighbouring)
        if orders is None:
            array = DEFAULT_ORDERS.copy()
        else:
            try:
                array = np.unique(np.asarray(list(orders), dtype=np.float64))
            except (TypeError, ValueError) as error:
                raise InvalidArgument("orders must be real numbers") from error
            if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array <= 1.0):
                raise InvalidArgument("orders must be a non-empty set of finite numbers > 1")
        self._orders: FloatArray = array
        self._orders_key = tuple(array.tolist())
        self._rdp: FloatArray = np.zeros_like(array)
        self._cache: dict[DpEvent, FloatArray] = {}
        self._round_rdp: list[tuple[FloatArray, int]] = []

    @property
    def orders(self) -> FloatArray:
        """The Renyi orders tracked (a copy)."""
        return self._orders.copy()

    @property
    def rdp(self) -> FloatArray:
        """The composed RDP value at each order (a copy)."""
        return self._rdp.copy()

    def _supports_form(self, form: DpEvent) -> bool:
        """Whether an event in accounting form has a sound RDP bound here."""
        if isinstance(form, _BASE_EVENTS):
            return True
        if isinstance(form, (PoissonSampled, SampledWithoutReplacement)):
            return _wor_base_supported(form.event)
        if isinstance(form, SelfComposed):
            return self._supports_form(form.event)
        if isinstance(form, Composed):
            return all(self._supports_form(inner) for inner in form.events)
        return False

    def event_rdp(self, event: DpEvent) -> FloatArray:
        """The RDP curve of one event under this relation, at this accountant's orders.

        Returns a read-only array.

        Raises:
            UnsupportedEvent: the event has no sound RDP bound here.
        """
        return self._event_rdp(self._form(event), self._orders, self._orders_key)

    def _event_rdp(self, event: DpEvent, orders: FloatArray, key: tuple[float, ...]) -> FloatArray:
        use_cache = key is self._orders_key
        if use_cache and event in self._cache:
            return self._cache[event]
        values = self._compute_rdp(event, orders, key)
        values.setflags(write=False)
        if use_cache:
            self._cache[event] = values
        return values

    def _compute_rdp(
        self, event: DpEvent, orders: FloatArray, key: tuple[float, ...]
    ) -> FloatArray:
        if isinstance(event, Gaussian):
            return rm.rdp_gaussian(orders, event.noise_multiplier)
        if isinstance(event, Laplace):
            return rm.rdp_laplace(orders, event.scale)
        if isinstance(event, DiscreteLaplace):
            return rm.rdp_discrete_laplace(orders, event.scale, event.sensitivity)
        if isinstance(event, DiscreteGaussian):
            ratio = event.sensitivity_l2 / event.sigma  # may be inf; never raises
            return rm.rdp_zcdp(orders, 0.5 * ratio * ratio)
        if isinstance(event, ZCDP):
            return rm.rdp_zcdp(orders, event.rho)
        if isinstance(event, Skellam):
            return rm.rdp_skellam(orders, event.mu, event.sensitivity_l1, event.sensitivity_l2)
        if isinstance(event, DistributedDiscreteGaussian):
            return rm.rdp_distributed_discrete_gaussian(
                orders,
                event.sigma,
                event.n_min,
                event.dimension,
                event.sensitivity_l1,
                event.sensitivity_l2,
            )
        if isinstance(event, PoissonSampled) and isinstance(event.event, Gaussian):
            return np.array(_sampled_gaussian_cached(event.rate, event.event.noise_multiplier, key))
        if isinstance(event, (PoissonSampled, SampledWithoutReplacement)):
            top = int(np.max(np.ceil(orders)))
            integers = np.arange(max(top, 3) + 1, dtype=np.float64)
            integers[:2] = 2.0  # orders 0 and 1 are never read; keep the array valid
            base = np.asarray(self._event_rdp(event.event, integers, tuple(integers.tolist())))
            if isinstance(event, PoissonSampled):
                return rm.rdp_poisson_general(orders, event.rate, base)
            return rm.rdp_sampled_without_replacement(
                orders, event.rate, base, _pure_epsilon(event.event)
            )
        if isinstance(event, SelfComposed):
            return event.count * self._event_rdp(event.event, orders, key)
        if isinstance(event, Composed):
            total = np.zeros_like(orders)
            for inner in event.events:
                total = total + self._event_rdp(inner, orders, key)
            return total
        raise UnsupportedEvent(f"RdpAccountant cannot account for {event!r}")  # pragma: no cover

    def _compose(self, event: DpEvent, count: int) -> None:
        values = self._event_rdp(event, self._orders, self._orders_key)
        with np.errstate(over="ignore"):
            new_total = self._rdp + count * values
        self._rdp = new_total
        self._round_rdp.append((values, count))

    def _check_bound(self, bound: Bound) -> None:
        if bound == "lower":
            raise InvalidArgument("RdpAccountant gives upper bounds only; use PldAccountant")
        if bound != "upper":
            raise InvalidArgument(f"bound must be 'upper' or 'lower', got {bound!r}")

    def get_epsilon(self, delta: float, *, bound: Bound = "upper") -> float:
        """Smallest epsilon over the orders (improved conversion, Balle et al. 2020)."""
        delta = check_delta(delta)
        self._check_bound(bound)
        if not self._ledger:
            return 0.0
        return rm.epsilon_from_rdp(self._orders, self._rdp, delta)[0]

    def get_delta(self, epsilon: float, *, bound: Bound = "upper") -> float:
        """Smallest delta over the orders for ``epsilon``."""
        epsilon = check_epsilon(epsilon)
        self._check_bound(bound)
        if not self._ledger:
            return 0.0
        return rm.delta_from_rdp(self._orders, self._rdp, epsilon)[0]

    def best_order(self, delta: float) -> float:
        """The order at which :meth:`get_epsilon` is attained (for reports)."""
        delta = check_delta(delta)
        return rm.epsilon_from_rdp(self._orders, self._rdp, delta)[1]

    def epsilon_curve(self, delta: float) -> FloatArray:
        """Epsilon after each round (each :meth:`compose` call), computed in one pass."""
        delta = check_delta(delta)
        curve = np.empty(len(self._round_rdp), dtype=np.float64)
        running = np.zeros_like(self._orders)
        log_term = np.log1p(-1.0 / self._orders) - (
            (math.log(delta) + np.log(self._orders)) / (self._orders - 1.0)
        )
        for index, (values, count) in enumerate(self._round_rdp):
            running = running + count * values
            curve[index] = max(float(np.min(running + log_term)), 0.0)
        return curve
