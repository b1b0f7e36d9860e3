"""PLD accounting of the discrete Gaussian and the distributed discrete Gaussian.

The sum of ``n`` discrete Gaussian shares ``N_Z(0, s^2)`` per coordinate is neither a
discrete Gaussian nor dominated by the continuous Gaussian pair, but its neighbouring pair
is *pointwise close* to a post-processed continuous Gaussian pair, and pointwise closeness
survives Poisson subsampling and adaptive composition. The three steps (proofs in
``docs/dp/accountant.md``, section "Discrete Gaussians in the PLD accountant"):

1. *Sum closeness* (convolve one share at a time; Poisson summation, as in Kairouz, Liu,
   Steinke 2021, Theorem 1): for every integer ``k``, with ``V = n s^2``,
   ``log(D_n(k) / N_Z(0, V)(k))`` lies in ``[S_- + L, S_+ + L]``, where
   ``S_+- = sum_{k=1}^{n-1} log(1 +- eta(s^2 k/(k+1)))``,
   ``L = log(1 + eta(V)) - n log(1 + eta(s^2))`` and
   ``eta(v) = 2 sum_{m>=1} exp(-2 pi^2 v m^2)``.
2. *Rounding lemma*: with ``Y ~ N(0, V - w)`` and ``R_w(y)`` the integer ``k`` drawn with
   probability proportional to ``exp(-(k - y)^2 / 2w)``,
   ``P[R_w(Y) = k] / N_Z(0, V)(k)`` lies in ``[(1 + eta(V))/(1 + eta(w)),
   (1 + eta(V))/(1 - eta(w))]``; ``R_w`` commutes with integer shifts, so the shifted
   discrete pair is close to the post-processing by ``R_w`` of the continuous pair of
   variance ``V - w``. Together, per coordinate,
   ``log(D_n(k) / P[R_w(Y) = k])`` lies in ``[-lo, hi]`` with
   ``hi = S_+ + log(1 + eta(w)) - n log(1 + eta(s^2))`` and
   ``lo = -S_- - log(1 - eta(w)) + n log(1 + eta(s^2))``.
3. *Hockey sticks of close pairs*: if ``P <= e^H P'`` and ``Q >= e^{-Lo} Q'`` pointwise,
   ``H_{e^eps}(P || Q) <= e^H H_{e^{eps - H - Lo}}(P' || Q')``; over ``T`` adaptive rounds the
   per-round factors multiply, so ``delta(eps) <= e^H delta_Gauss(eps - H - Lo)`` with ``H``
   and ``Lo`` summed over rounds and coordinates.

The same closeness with the roles reversed gives certified lower bounds: adding
independent ``N(0, u^2)`` noise to the discrete output (a post-processing) makes it
pointwise close to the continuous Gaussian of variance ``V + u^2`` (step 2 with
``w = V u^2 / (V + u^2)``), for a concrete admissible pair of neighbours.

Everything is computed in log space: at practical sizes the slack is far below the
smallest float (``exp(-2 pi^2 s^2)`` at ``s = 4096`` is ``e^{-3.3e8}``). An event is
supported only when its per-round slack is at most :data:`PER_ROUND_SLACK`
(``1e-30 / 2^62``) times :data:`SUPPORT_MARGIN` (``2^-16``), so that ``2^62`` rounds fit
:data:`MAX_TOTAL_SLACK` = ``1e-30``, the most any ledger may carry (a composition beyond it
is refused), even with ``2^16`` times more shares than the event that was checked; events with
more slack (a per-client scale below about 3.8 grid units, see the docs' table) are refused
with :class:`dp.UnsupportedEvent`, and the RDP accountant bounds them.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray
from scipy import special

from dp.errors import UnsupportedEvent
from dp.events import (
    Composed,
    DiscreteGaussian,
    DistributedDiscreteGaussian,
    DpEvent,
    Gaussian,
    PoissonSampled,
    SelfComposed,
)

__all__ = [
    "MAX_TOTAL_SLACK",
    "PER_ROUND_SLACK",
    "SUPPORT_MARGIN",
    "Slack",
    "coordinate_slack",
    "log_eta_upper",
    "lower_shift",
    "rounding_ratio_bounds",
    "rounding_variance",
    "sum_log_ratio_bounds",
    "surrogate",
]

FloatArray = NDArray[np.float64]

MAX_TOTAL_SLACK = 1e-30
"""The largest total pointwise slack ``H + Lo`` a ledger may carry (``exp`` of it is 1 in
floats, so the corrected epsilon equals the Gaussian PLD's to every printed digit)."""

MAX_ROUNDS = 2**62
"""Rounds of supported events that fit :data:`MAX_TOTAL_SLACK` (the accountant refuses a
composition whose total slack would exceed it, which takes more rounds than this)."""

PER_ROUND_SLACK = MAX_TOTAL_SLACK / MAX_ROUNDS
"""The largest slack ``hi + lo`` (summed over coordinates) of one round in a full ledger."""

SUPPORT_MARGIN = 2.0**-16
"""An event is supported when its slack is below ``PER_ROUND_SLACK * SUPPORT_MARGIN``: the
slack grows about linearly with ``n_min``, so a run whose accountant was chosen for its
fewest honest survivors still fits when up to ``2^16`` times more survive."""

ROUNDING_TARGET = 1e-56
"""The rounding lemma's share of one round's slack: ``w`` is chosen so that
``2 d exp(-2 pi^2 w)`` is this (``w`` is 7.4 grid units squared at ``d = 10^7``)."""

MAX_VARIANCE_LOSS = 0.01
"""Refuse an event whose rounding lemma gives up more than this fraction of the variance
``n s^2`` (the surrogate's noise would be 0.5% smaller: the RDP bound is then often as good).
"""

_TWO_PI_SQ = 2.0 * math.pi * math.pi
_THETA_TERMS = 16
_EXACT_SUM_TERMS = 1 << 12
_LINEAR_BELOW = 1e-10
_FLOAT_MARGIN = 1e-9


def log_eta_upper(v: FloatArray | float) -> FloatArray:
    """An upper bound on ``log eta(v)``, ``eta(v) = 2 sum_{m>=1} exp(-2 pi^2 v m^2)``.

    The first :data:`_THETA_TERMS` terms are summed in log space; the rest are bounded by a
    geometric series (consecutive terms beyond ``M`` shrink by ``exp(-2 pi^2 v (2M + 3))``
    at least). A relative ``1e-12`` covers the float sums. Exact for no ``v``; finite for
    every ``v > 0``.
    """
    # b is lowered by a relative 4e-15: it covers the float roundings of v (s^2 k/(k+1),
    # sigma^2 from the event) and of the products, so the result bounds the exact value.
    # The log space results are then exact to a few ulps of their magnitude; wherever a
    # slack takes part in a float result it is above e^-745, where that is below 1e-13.
    b = _TWO_PI_SQ * (1.0 - 4e-15) * np.atleast_1d(np.asarray(v, dtype=np.float64))
    m = np.arange(1, _THETA_TERMS + 1, dtype=np.float64)
    terms = -np.outer(b, m * m)
    big = float(_THETA_TERMS + 1)
    with np.errstate(divide="ignore"):
        tail = -b * big * big - np.log(-np.expm1(-b * (2.0 * big + 1.0)))
    total = special.logsumexp(np.concatenate([terms, tail[:, None]], axis=1), axis=1)
    return np.asarray(math.log(2.0) + total + 1e-12, dtype=np.float64)


def _eta_lower(v: float) -> float:
    """A lower bound on ``eta(v)``: its first term, rounded down (may underflow to 0)."""
    return 2.0 * math.exp(-_TWO_PI_SQ * v) * (1.0 - 1e-12)


def _share_variances(s2: float, n: int) -> tuple[FloatArray, int]:
    """``c_k = s^2 k/(k+1)`` for the first exact ``k``, and how many later ``k`` remain.

    ``eta(c_k)`` decreases with ``k``, so every later term is at most the one at ``K + 1``,
    which is appended; the caller multiplies it by the returned count.
    """
    exact = min(n - 1, _EXACT_SUM_TERMS)
    k = np.arange(1, exact + 2, dtype=np.float64)
    return s2 * k / (k + 1.0), n - 1 - exact


def sum_log_ratio_bounds(s2: float, n: int) -> tuple[float, float]:
    """Bounds ``(lo, hi)`` on ``log(D_n(k) / N_Z(0, n s^2)(k))`` over all integers ``k``.

    ``D_n`` is the law of the sum of ``n`` independent ``N_Z(0, s^2)`` (step 1 of the module
    docstring); float arithmetic, for moderate ``s`` (``-inf``/``inf`` when a series
    diverges, i.e. ``eta >= 1``).
    """
    if n == 1:
        return 0.0, 0.0
    c, rest = _share_variances(s2, n)
    eta = np.exp(log_eta_upper(c))
    if float(eta.max()) >= 1.0:
        return -math.inf, math.inf
    plus = float(np.sum(np.log1p(eta[:-1]))) + rest * math.log1p(float(eta[-1]))
    minus = float(np.sum(np.log1p(-eta[:-1]))) + rest * math.log1p(-float(eta[-1]))
    eta_total_up = float(np.exp(log_eta_upper(n * s2))[0])
    eta_total_low = _eta_lower(n * s2)
    eta_share_up = float(np.exp(log_eta_upper(s2))[0])
    eta_share_low = _eta_lower(s2)
    high = plus + math.log1p(eta_total_up) - n * math.log1p(eta_share_low)
    low = minus + math.log1p(eta_total_low) - n * math.log1p(eta_share_up)
    error = 1e-12 * (abs(plus) + abs(minus) + 2.0 * n * math.log1p(eta_share_up) + 1e-300)
    return low - _FLOAT_MARGIN * abs(low) - error, high + _FLOAT_MARGIN * abs(high) + error


def rounding_ratio_bounds(variance: float, w: float) -> tuple[float, float]:
    """Bounds on ``P[R_w(Y) = k] / N_Z(0, V)(k)``, ``Y ~ N(0, V - w)`` (the rounding lemma).

    ``[(1 + eta(V))/(1 + eta(w)), (1 + eta(V))/(1 - eta(w))]`` with ``eta`` bounded as in
    :func:`log_eta_upper` (and its first term from below); requires ``0 < w < V``.
    """
    eta_w_up = float(np.exp(log_eta_upper(w))[0])
    eta_v_up = float(np.exp(log_eta_upper(variance))[0])
    low = (1.0 + _eta_lower(variance)) / (1.0 + eta_w_up)
    high = (1.0 + eta_v_up) / (1.0 - eta_w_up) if eta_w_up < 1.0 else math.inf
    return low * (1.0 - 1e-12), high * (1.0 + 1e-12)


def coordinate_slack(s2: float, n: int, w: float) -> tuple[float, float]:
    """``(log hi, log lo)``: one coordinate's slack of step 2 in the module docstring.

    ``D_n(k)`` is within ``[e^{-lo}, e^{hi}]`` times ``P[R_w(Y) = k]`` (``Y ~ N(0, n s^2 - w)``)
    for every integer ``k``; equally, with ``w = V u^2/(V + u^2)``, the density of
    ``D_n + N(0, u^2)`` is within that range of the ``N(0, V + u^2)`` density. Upper bounds,
    returned as logarithms (``-inf`` for zero, ``inf`` when a series diverges).
    """
    if n == 1:
        shares, rest = np.empty(0, dtype=np.float64), 0
        log_share_terms = np.empty(0, dtype=np.float64)
    else:
        shares, rest = _share_variances(s2, n)
        log_share_terms = log_eta_upper(shares)
    log_eta_w = float(log_eta_upper(w)[0])
    log_eta_s2 = float(log_eta_upper(s2)[0])
    largest = max([log_eta_w, *log_share_terms.tolist()])
    if largest >= 0.0:
        return math.inf, math.inf
    if largest < math.log(_LINEAR_BELOW):
        # log(1 + x) <= x and -log(1 - x) <= x (1 + 2x) for x <= 1/2; the subtracted
        # n log(1 + eta(s^2)) is dropped from hi (it only lowers it).
        pieces = [log_eta_w]
        if n > 1:
            pieces += log_share_terms[:-1].tolist()
            if rest:
                pieces.append(math.log(rest) + float(log_share_terms[-1]))
        log_sum = float(special.logsumexp(pieces))
        log_hi = log_sum + math.log1p(_FLOAT_MARGIN)
        log_lo = float(
            np.logaddexp(log_sum + math.log1p(2.0 * _LINEAR_BELOW), math.log(n) + log_eta_s2)
        ) + math.log1p(_FLOAT_MARGIN)
        return log_hi, log_lo
    eta = np.exp(log_share_terms)
    eta_w = math.exp(log_eta_w)
    plus = float(np.sum(np.log1p(eta[:-1]))) + rest * math.log1p(float(eta[-1])) if n > 1 else 0.0
    minus = (
        float(np.sum(-np.log1p(-eta[:-1]))) + rest * -math.log1p(-float(eta[-1])) if n > 1 else 0.0
    )
    subtracted = n * math.log1p(_eta_lower(s2))
    added = n * math.log1p(math.exp(log_eta_s2))
    hi = plus + math.log1p(eta_w) - subtracted
    lo = minus - math.log1p(-eta_w) + added
    # Float sums of up to 4,098 terms: an absolute margin for the cancellation in hi.
    error = 1e-12 * (abs(plus) + abs(minus) + subtracted + added + eta_w)
    hi = max(hi, 0.0) * (1.0 + _FLOAT_MARGIN) + error
    lo = max(lo, 0.0) * (1.0 + _FLOAT_MARGIN) + error
    return _log(hi), _log(lo)


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else -math.inf


def rounding_variance(coordinates: float) -> float:
    """The rounding lemma's ``w`` for ``coordinates`` coordinates (see :data:`ROUNDING_TARGET`)."""
    return (math.log(2.0) + math.log(coordinates) - math.log(ROUNDING_TARGET)) / _TWO_PI_SQ


@dataclass(frozen=True, slots=True)
class Slack:
    """Pointwise slack of one invocation of an event: ``log H`` and ``log Lo``.

    ``P <= e^H P'`` and ``Q >= e^{-Lo} Q'`` for the surrogate pair ``(P', Q')`` (upper
    bounds); for lower bounds ``P >= e^{-Lo} P'`` and ``Q <= e^H Q'``. ``-inf`` is no slack.
    """

    log_hi: float = -math.inf
    log_lo: float = -math.inf

    def times(self, count: int) -> Slack:
        """The slack of ``count`` invocations."""
        if count == 0:
            return Slack()
        log_count = math.log(count)
        return Slack(self.log_hi + log_count, self.log_lo + log_count)

    def plus(self, other: Slack) -> Slack:
        """The slack of both (slacks add over rounds and coordinates)."""
        return Slack(
            float(np.logaddexp(self.log_hi, other.log_hi)),
            float(np.logaddexp(self.log_lo, other.log_lo)),
        )

    @property
    def log_total(self) -> float:
        """``log(H + Lo)``."""
        return float(np.logaddexp(self.log_hi, self.log_lo))

    @property
    def hi(self) -> float:
        """``H`` as a float (0.0 when it underflows)."""
        return math.exp(self.log_hi) if self.log_hi < 700.0 else math.inf

    @property
    def lo(self) -> float:
        """``Lo`` as a float (0.0 when it underflows)."""
        return math.exp(self.log_lo) if self.log_lo < 700.0 else math.inf

    @property
    def empty(self) -> bool:
        """No slack at all (no discrete Gaussian composed)."""
        return self.log_hi == -math.inf and self.log_lo == -math.inf


def _coordinates_of(event: DiscreteGaussian | DistributedDiscreteGaussian) -> int:
    """How many coordinates the shift can touch.

    A :class:`DistributedDiscreteGaussian` shift is a mixture (conditional rounding is
    randomised), so all ``dimension`` coordinates count. A :class:`DiscreteGaussian` names
    no dimension; ``floor(Delta^2)`` coordinates are counted, which covers (a) a
    deterministic integer query, whose shift ``v`` (``||v||_2 <= Delta``) has at most that
    many non-zero coordinates (the others are identical and independent on both sides and
    drop out of every hockey stick), and (b) a randomised one (a mixture of shifts, e.g. of
    stochastically rounded client updates) in at most ``Delta^2`` dimensions, such as every
    :class:`~dp.mechanisms.GaussianMechanism` (its sensitivity ``l2/step + sqrt(d)``
    exceeds ``sqrt(d)``). A randomised integer query in more dimensions than ``Delta^2``
    is outside this event's contract for the PLD (the RDP's zCDP bound holds for it).
    """
    if isinstance(event, DistributedDiscreteGaussian):
        return event.dimension
    square = Fraction(event.sensitivity_l2) ** 2
    return max(1, math.floor(square))


def _variance(event: DiscreteGaussian | DistributedDiscreteGaussian) -> tuple[float, int]:
    """``(s^2, n)``: per-share variance parameter and number of shares."""
    if isinstance(event, DistributedDiscreteGaussian):
        return event.sigma * event.sigma, event.n_min
    return event.sigma * event.sigma, 1


def lower_shift(event: DiscreteGaussian | DistributedDiscreteGaussian) -> tuple[int, ...]:
    """An admissible integer shift of near-maximal norm with at most 4 non-zero entries.

    Greedy sums of squares of ``floor(Delta_2^2)`` (Lagrange: four squares always suffice
    exactly, greedy nearly), within ``dimension`` coordinates and the L1 sensitivity. Its
    pair is a real pair of neighbours of the event, so it certifies lower bounds.
    """
    target = math.floor(Fraction(event.sensitivity_l2) ** 2)
    l1: Fraction | None
    if isinstance(event, DistributedDiscreteGaussian):
        slots = min(4, event.dimension)
        l1 = Fraction(event.sensitivity_l1)
    else:
        slots, l1 = 1, None  # one coordinate: the event names no dimension
    parts: list[int] = []
    remaining = target
    while remaining > 0 and len(parts) < slots:
        part = math.isqrt(remaining)
        parts.append(part)
        remaining -= part * part
    if l1 is not None:
        while parts and sum(parts) > l1:
            parts.pop()
    return tuple(parts)


def _round_down(x: float) -> float:
    """Below ``x`` by a relative 1e-15: covers a few float roundings of the inputs."""
    return math.nextafter(x * (1.0 - 1e-15), 0.0)


def _round_up(x: float) -> float:
    """Above ``x`` by a relative 1e-15."""
    return math.nextafter(x * (1.0 + 1e-15), math.inf)


@functools.lru_cache(maxsize=512)
def _base_surrogate(
    event: DiscreteGaussian | DistributedDiscreteGaussian, side: str
) -> tuple[DpEvent | None, Slack]:
    """The Gaussian surrogate of one round of ``event`` and its slack (see :func:`surrogate`)."""
    s2, n = _variance(event)
    total = s2 * n
    if side == "upper":
        coordinates = _coordinates_of(event)
        w = rounding_variance(coordinates)
        if not w <= MAX_VARIANCE_LOSS * total:
            raise UnsupportedEvent(
                f"{event!r}: the rounding lemma would give up more than "
                f"{MAX_VARIANCE_LOSS:.0%} of the noise variance; the RdpAccountant bounds it"
            )
        # sqrt(n s^2 - w) / Delta, formed without overflowing s^2; an overflow means more
        # noise than any float, and the largest float is then below it.
        kept = _round_down(1.0 - w / n / event.sigma / event.sigma)
        ratio = event.sigma / event.sensitivity_l2 * math.sqrt(n) * math.sqrt(kept)
        multiplier = min(_round_down(ratio), sys.float_info.max)
        if not multiplier > 0.0:
            raise UnsupportedEvent(f"{event!r}: noise multiplier below the smallest float")
        log_hi, log_lo = coordinate_slack(s2, n, w)
        slack = Slack(log_hi, log_lo).times(coordinates)
        return Gaussian(multiplier), slack
    shift = lower_shift(event)
    if not shift:
        return None, Slack()
    norm = _round_down(float(math.isqrt(sum(part * part for part in shift))))
    u2 = rounding_variance(len(shift))
    w = _round_down(u2 / (1.0 + u2 / total))  # V u^2 / (V + u^2)
    grown = _round_up(1.0 + u2 / n / event.sigma / event.sigma)
    multiplier = _round_up(event.sigma / norm * math.sqrt(n) * math.sqrt(grown))
    if not math.isfinite(multiplier):
        return None, Slack()  # no float bounds the noise from above: 0 is the lower bound
    log_hi, log_lo = coordinate_slack(s2, n, w)
    return Gaussian(multiplier), Slack(log_hi, log_lo).times(len(shift))


DISCRETE_GAUSSIANS = (DiscreteGaussian, DistributedDiscreteGaussian)


def surrogate(form: DpEvent, side: str) -> tuple[DpEvent | None, Slack]:
    """The event with every discrete Gaussian replaced by its Gaussian surrogate.

    ``side="upper"``: the continuous Gaussian of variance ``n s^2 - w`` at the event's L2
    sensitivity, whose composition (with the returned slack) bounds the event's from above.
    ``side="lower"``: the Gaussian of variance ``n s^2 + u^2`` at the norm of
    :func:`lower_shift`, which bounds it from below. Other events are returned unchanged
    with no slack; ``None`` is an event with no privacy loss (a zero lower-bound shift).

    Raises:
        UnsupportedEvent: the noise is too small for the rounding lemma.
    """
    if isinstance(form, DISCRETE_GAUSSIANS):
        return _base_surrogate(form, side)
    if isinstance(form, PoissonSampled) and isinstance(form.event, DISCRETE_GAUSSIANS):
        base, slack = _base_surrogate(form.event, side)
        return (None if base is None else PoissonSampled(form.rate, base)), slack
    if isinstance(form, SelfComposed):
        inner, slack = surrogate(form.event, side)
        return (None if inner is None else SelfComposed(inner, form.count)), slack.times(form.count)
    if isinstance(form, Composed):
        parts: list[DpEvent] = []
        total = Slack()
        for item in form.events:
            inner, slack = surrogate(item, side)
            total = total.plus(slack)
            if inner is not None:
                parts.append(inner)
        if not parts:
            return None, total
        return (parts[0] if len(parts) == 1 else Composed(tuple(parts))), total
    return form, Slack()
