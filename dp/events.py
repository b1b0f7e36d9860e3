"""The event algebra: frozen descriptions of what a mechanism did, for the accountants.

An event says which randomised mechanism touched the data (a Gaussian with a given noise
multiplier, a Poisson-sampled step, ...), never the data itself. Accountants turn a ledger
of events into (epsilon, delta); reports and ledgers store events as versioned JSON through
:meth:`DpEvent.to_dict` and :func:`event_from_dict`.

Conventions. Every noise parameter is relative to one record's (one client's) contribution
bound, the query's sensitivity under the add/remove-one relation: ``Gaussian(1.1)`` is a
Gaussian mechanism whose standard deviation is 1.1 times that L2 bound. Integer mechanisms
(:class:`DiscreteLaplace`, :class:`DiscreteGaussian`, :class:`Skellam`,
:class:`DistributedDiscreteGaussian`) carry their sensitivities explicitly because their
guarantees depend on the L1 and L2 norms of an integer-valued query. An event names no
neighbouring relation: the accountant that consumes it is built for one
(:mod:`dp.neighbouring`) and derives the sensitivity under it, e.g. ``2C`` for a replaced
record or a displaced cohort member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from dp.errors import InvalidArgument, SerializationError

__all__ = [
    "EVENT_FORMAT_VERSION",
    "DpEvent",
    "Gaussian",
    "Laplace",
    "DiscreteLaplace",
    "DiscreteGaussian",
    "Skellam",
    "DistributedDiscreteGaussian",
    "ZCDP",
    "MatrixFactorizationGaussian",
    "PoissonSampled",
    "SampledWithoutReplacement",
    "SelfComposed",
    "Composed",
    "event_from_dict",
]

EVENT_FORMAT_VERSION = 1
"""Version written into every serialised event; :func:`event_from_dict` refuses others."""


def _as_float(name: str, value: object) -> float:
    """``value`` as a float; an int too large for a float is an :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidArgument(f"{name} is too large for a float") from None


def _positive_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float > 0, or raise :class:`InvalidArgument`."""
    result = _as_float(name, value)
    if not math.isfinite(result) or result <= 0.0:
        raise InvalidArgument(f"{name} must be finite and > 0, got {result!r}")
    return result


def _sensitivities(l1: object, l2: object) -> tuple[float, float]:
    """Validate an (L1, L2) sensitivity pair: both > 0 and L2 <= L1, as for any integer vector."""
    l1_value = _positive_real("sensitivity_l1", l1)
    l2_value = _positive_real("sensitivity_l2", l2)
    if l2_value > l1_value * (1 + 1e-12):
        raise InvalidArgument("sensitivity_l2 cannot exceed sensitivity_l1")
    return l1_value, l2_value


def _nonnegative_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float >= 0, or raise :class:`InvalidArgument`."""
    result = _as_float(name, value)
    if not math.isfinite(result) or result < 0.0:
        raise InvalidArgument(f"{name} must be finite and >= 0, got {result!r}")
    return result


MAX_INT = 1 << 62
"""The largest count, population, dimension or integer sensitivity an event holds."""


def _positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int in ``[1, 2**62]``, or raise :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_INT:
        shown = value if value.bit_length() <= 64 else f"an int of {value.bit_length()} bits"
        raise InvalidArgument(f"{name} must be in [1, 2**62], got {shown}")
    return value


def _event(name: str, value: object) -> DpEvent:
    """Check that ``value`` is an event."""
    if not isinstance(value, DpEvent):
        raise InvalidArgument(f"{name} must be a dp event, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class DpEvent:
    """Base class of all events: frozen, hashable, JSON-serialisable.

    Subclasses set ``kind`` (the ``"type"`` tag in JSON) and list their fields; nested events
    are serialised recursively.
    """

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-compatible dict tagged with ``type`` and ``version``."""
        payload: dict[str, Any] = {"type": self.kind, "version": EVENT_FORMAT_VERSION}
        payload.update(self._fields_to_dict())
        return payload

    def _fields_to_dict(self) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DpEvent:
        """Parse a dict written by :meth:`to_dict`; it must describe an event of this class.

        Raises:
            SerializationError: unknown type or version, missing, extra or invalid fields.
        """
        event = event_from_dict(data)
        if cls is not DpEvent and not isinstance(event, cls):
            raise SerializationError(f"expected a {cls.kind!r} event, got {event.kind!r}")
        return event


@dataclass(frozen=True, slots=True)
class Gaussian(DpEvent):
    """The Gaussian mechanism: noise N(0, (noise_multiplier * L2 sensitivity)^2).

    Args:
        noise_multiplier: standard deviation over L2 sensitivity, > 0.
    """

    noise_multiplier: float
    kind: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive_real("noise_multiplier", self.noise_multiplier)
        )

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"noise_multiplier": self.noise_multiplier}


@dataclass(frozen=True, slots=True)
class Laplace(DpEvent):
    """The Laplace mechanism: noise Lap(scale * L1 sensitivity); pure (1/scale)-DP.

    Args:
        scale: Laplace scale parameter over L1 sensitivity, > 0.
    """

    scale: float
    kind: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive_real("scale", self.scale))

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale}


@dataclass(frozen=True, slots=True)
class DiscreteLaplace(DpEvent):
    """The discrete Laplace mechanism on an integer-valued query (pure DP).

    Noise ``P(k) ∝ exp(-|k| / scale)`` on the integers (Canonne, Kamath, Steinke 2020,
    Definition 28), added to a query whose values move by at most ``sensitivity`` (an
    integer, in L1) between neighbouring datasets: ``sensitivity / scale``-DP, with an
    exact privacy loss distribution that is not the continuous Laplace one.

    Args:
        scale: the discrete Laplace scale in integer units, > 0.
        sensitivity: the integer L1 sensitivity of the query, >= 1.
    """

    scale: float
    sensitivity: int = 1
    kind: ClassVar[str] = "discrete_laplace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive_real("scale", self.scale))
        object.__setattr__(self, "sensitivity", _positive_int("sensitivity", self.sensitivity))

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "sensitivity": self.sensitivity}


@dataclass(frozen=True, slots=True)
class DiscreteGaussian(DpEvent):
    """The (multivariate) discrete Gaussian mechanism on an integer-valued query.

    Independent N_Z(0, sigma^2) noise per coordinate is
    ``sensitivity_l2**2 / (2 sigma**2)``-zCDP (Canonne, Kamath, Steinke 2020, Theorem 14).

    Args:
        sigma: scale parameter of the discrete Gaussian (in integer units), > 0.
        sensitivity_l2: L2 sensitivity of the integer query, > 0.
    """

    sigma: float
    sensitivity_l2: float = 1.0
    kind: ClassVar[str] = "discrete_gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _positive_real("sigma", self.sigma))
        object.__setattr__(
            self, "sensitivity_l2", _positive_real("sensitivity_l2", self.sensitivity_l2)
        )

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "sensitivity_l2": self.sensitivity_l2}


@dataclass(frozen=True, slots=True)
class Skellam(DpEvent):
    """The multivariate Skellam mechanism (Agarwal, Kairouz, Liu 2021).

    Each coordinate gets independent Skellam noise ``Poisson(mu) - Poisson(mu)`` (variance
    ``2 mu``).

    Args:
        mu: Poisson parameter of each of the two Poisson variables, > 0.
        sensitivity_l1: L1 sensitivity of the integer query, > 0.
        sensitivity_l2: L2 sensitivity of the integer query, > 0.
    """

    mu: float
    sensitivity_l1: float
    sensitivity_l2: float
    kind: ClassVar[str] = "skellam"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _positive_real("mu", self.mu))
        l1, l2 = _sensitivities(self.sensitivity_l1, self.sensitivity_l2)
        object.__setattr__(self, "sensitivity_l1", l1)
        object.__setattr__(self, "sensitivity_l2", l2)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {
            "mu": self.mu,
            "sensitivity_l1": self.sensitivity_l1,
            "sensitivity_l2": self.sensitivity_l2,
        }


@dataclass(frozen=True, slots=True)
class DistributedDiscreteGaussian(DpEvent):
    """The distributed discrete Gaussian (Kairouz, Liu, Steinke 2021).

    At least ``n_min`` clients each add independent N_Z(0, sigma^2) noise to every one of
    ``dimension`` coordinates of an integer query; the server sees only the (securely
    aggregated) sum. The sum is not a discrete Gaussian; its zCDP bound carries the
    correction ``tau`` of Kairouz et al. 2021, Theorem 1.

    The noise is added by the clients, the target among them, so the number of shares in
    the sum must not differ between neighbouring datasets: the accountants take this event
    under ``zero_out`` and ``replace_one``, and under ``add_remove`` only inside a
    fixed-size cohort (:class:`SampledWithoutReplacement`); Poisson sampling of it is
    refused under every relation (the target's share would come and go with its coin,
    changing the noise variance, which no shift pair covers).

    Args:
        sigma: per-client discrete Gaussian scale, >= 0.5 (the theorem's domain).
        n_min: number of honest clients whose noise is guaranteed in the sum, >= 1.
        dimension: number of coordinates d, >= 1.
        sensitivity_l1: L1 sensitivity of the (integer) sum query, > 0.
        sensitivity_l2: L2 sensitivity of the (integer) sum query, > 0.
    """

    sigma: float
    n_min: int
    dimension: int
    sensitivity_l1: float
    sensitivity_l2: float
    kind: ClassVar[str] = "distributed_discrete_gaussian"

    def __post_init__(self) -> None:
        sigma = _positive_real("sigma", self.sigma)
        if sigma < 0.5:
            raise InvalidArgument("sigma must be >= 0.5 (Kairouz et al. 2021, Theorem 1)")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "n_min", _positive_int("n_min", self.n_min))
        object.__setattr__(self, "dimension", _positive_int("dimension", self.dimension))
        l1, l2 = _sensitivities(self.sensitivity_l1, self.sensitivity_l2)
        object.__setattr__(self, "sensitivity_l1", l1)
        object.__setattr__(self, "sensitivity_l2", l2)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {
            "sigma": self.sigma,
            "n_min": self.n_min,
            "dimension": self.dimension,
            "sensitivity_l1": self.sensitivity_l1,
            "sensitivity_l2": self.sensitivity_l2,
        }


@dataclass(frozen=True, slots=True)
class ZCDP(DpEvent):
    """A mechanism known only to be rho-zCDP (Bun and Steinke 2016): RDP alpha * rho.

    Args:
        rho: the zCDP parameter, > 0.
    """

    rho: float
    kind: ClassVar[str] = "zcdp"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rho", _positive_real("rho", self.rho))

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"rho": self.rho}


MATRIX_FACTORIZATION_STRATEGIES = ("blt", "banded", "tree", "other")
"""The strategy names a :class:`MatrixFactorizationGaussian` event records (for reports)."""

_INCREMENT_FLOOR = 1e-6
"""Relative floor of an entry's sensitivity increment (see :class:`MatrixFactorizationGaussian`)."""


@dataclass(frozen=True, slots=True)
class MatrixFactorizationGaussian(DpEvent):
    """Rounds of a matrix-factorisation (DP-FTRL) Gaussian mechanism under a participation schema.

    The mechanism releases ``C x + z`` (equivalently ``x + C^-1 z`` round by round), with
    ``x`` the stream of per-round sums of clipped contributions, ``C`` a lower-triangular
    strategy (tree aggregation, banded or BLT) and ``z`` i.i.d. Gaussian noise of standard
    deviation ``noise_multiplier * C_clip`` per coordinate. Its guarantee needs no
    sampling, only the *participation schema*: each client takes part in at most
    ``max_participations`` of the ``rounds`` rounds, at least ``min_separation`` rounds
    apart. Under that schema the mechanism, even on adaptively chosen inputs, is the
    Gaussian mechanism with L2 sensitivity ``C_clip * sens(C)`` (Denisov, McMahan, Rush,
    Smith, Thakurta 2022, Theorem 2.1; Choquette-Choo et al. 2023, "Multi-epoch matrix
    factorization mechanisms", Theorem 2.1 for several participations; Kairouz et al.
    2021 for tree aggregation), i.e. ``rho = sens^2 / (2 noise_multiplier^2)``-zCDP.

    One ledger entry may describe the whole run (``prior_sensitivity = 0``,
    ``sensitivity = sens(C)``) or, round by round, the growth of the released prefix: the
    first ``t`` outputs depend on the first ``t`` rows of ``C`` only, a Gaussian mechanism
    of sensitivity ``s_t`` (non-decreasing in ``t``). The entry for round ``t`` then holds
    ``prior_sensitivity = s_{t-1}`` and ``sensitivity = s_t`` and is accounted as the
    Gaussian with ``mu^2 = (s_t^2 - s_{t-1}^2) / noise_multiplier^2``: Gaussian mechanisms
    compose exactly in quadrature (Dong, Roth, Su 2022, Corollary 3.3: ``G_a (x) G_b =
    G_sqrt(a^2+b^2)``), so a ledger of such entries has, after round ``t``, exactly the
    privacy profile of the prefix mechanism, for both accountants (both are exact on
    un-sampled Gaussians). An increment below ``1e-6 * sensitivity`` (a banded strategy
    whose columns stop growing) is accounted at that floor, a conservative rounding.

    The event holds under the ``zero_out`` relation (one client's contributions replaced by
    zero; the relation of Kairouz et al. 2021 and Choquette-Choo et al. 2023) at
    sensitivity ``sens(C)`` and under ``replace_one`` at ``2 sens(C)``. It is refused under
    ``add_remove``: without sampling, who else takes part can depend on whether a client is
    present (a displaced client takes part later, shifting every later round), which the
    schema's sensitivity does not cover; and under any sampling event (amplified banded
    factorisation is not accounted here).

    Args:
        noise_multiplier: the standard deviation of ``z`` over the clip norm, > 0.
        sensitivity: ``sens(C)`` (of the prefix through this entry) for contributions of
            norm at most 1 under the schema, > 0.
        prior_sensitivity: the prefix sensitivity already accounted by earlier entries,
            ``0 <= prior_sensitivity <= sensitivity``.
        rounds: the schema's number of rounds ``n``, >= 1.
        max_participations: the schema's ``k``, ``1 <= k <= rounds``.
        min_separation: the schema's ``b``, >= 1 (rounds between two participations).
        strategy: one of :data:`MATRIX_FACTORIZATION_STRATEGIES` (``"blt"``, ``"banded"``,
            ``"tree"``, ``"other"``); informational, for reports.

    Raises:
        InvalidArgument: a parameter outside its domain.
    """

    noise_multiplier: float
    sensitivity: float
    rounds: int
    max_participations: int = 1
    min_separation: int = 1
    prior_sensitivity: float = 0.0
    strategy: str = "other"
    kind: ClassVar[str] = "matrix_factorization_gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive_real("noise_multiplier", self.noise_multiplier)
        )
        sensitivity = _positive_real("sensitivity", self.sensitivity)
        prior = _nonnegative_real("prior_sensitivity", self.prior_sensitivity)
        if prior > sensitivity:
            raise InvalidArgument(
                f"prior_sensitivity {prior!r} exceeds sensitivity {sensitivity!r}: a prefix "
                "sensitivity never decreases"
            )
        object.__setattr__(self, "sensitivity", sensitivity)
        object.__setattr__(self, "prior_sensitivity", prior)
        rounds = _positive_int("rounds", self.rounds)
        participations = _positive_int("max_participations", self.max_participations)
        if participations > rounds:
            raise InvalidArgument("max_participations cannot exceed rounds")
        _positive_int("min_separation", self.min_separation)
        if not isinstance(self.strategy, str) or self.strategy not in (
            MATRIX_FACTORIZATION_STRATEGIES
        ):
            raise InvalidArgument(
                f"strategy must be one of {', '.join(MATRIX_FACTORIZATION_STRATEGIES)}, "
                f"got {self.strategy!r}"
            )

    def gaussian_noise_multiplier(self, scale: float = 1.0) -> float:
        """The noise multiplier of the Gaussian this entry is accounted as.

        ``noise_multiplier / (scale * sqrt(s^2 - prior^2))``, the increment floored at
        ``1e-6 * s`` (see the class docstring); ``scale`` is 1 under zero-out and 2 under
        replace-one.
        """
        s, p = self.sensitivity, self.prior_sensitivity
        increment = math.sqrt(max((s - p) * (s + p), 0.0))
        increment = max(increment, _INCREMENT_FLOOR * s)
        return self.noise_multiplier / (scale * increment)

    def rho(self, scale: float = 1.0) -> float:
        """The zCDP ``rho`` this entry adds: ``1 / (2 g^2)`` for ``g`` as accounted.

        ``scale`` is 1 under zero-out and 2 under replace-one (Bun and Steinke 2016,
        Proposition 1.6: the Gaussian mechanism of sensitivity ``D`` and noise ``sigma``
        is ``D^2 / (2 sigma^2)``-zCDP).
        """
        g = self.gaussian_noise_multiplier(scale)
        return 0.5 / (g * g)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {
            "noise_multiplier": self.noise_multiplier,
            "sensitivity": self.sensitivity,
            "prior_sensitivity": self.prior_sensitivity,
            "rounds": self.rounds,
            "max_participations": self.max_participations,
            "min_separation": self.min_separation,
            "strategy": self.strategy,
        }


@dataclass(frozen=True, slots=True)
class PoissonSampled(DpEvent):
    """Run ``event`` on a Poisson sample: each record (client) is included w.p. ``rate``.

    Args:
        rate: inclusion probability, in (0, 1].
        event: the mechanism applied to the sample.
    """

    rate: float
    event: DpEvent
    kind: ClassVar[str] = "poisson_sampled"

    def __post_init__(self) -> None:
        rate = _positive_real("rate", self.rate)
        if rate > 1.0:
            raise InvalidArgument(f"rate must be <= 1, got {rate}")
        object.__setattr__(self, "rate", rate)
        _event("event", self.event)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "event": self.event.to_dict()}


@dataclass(frozen=True, slots=True)
class SampledWithoutReplacement(DpEvent):
    """Run ``event`` on a uniformly random subset of fixed size ``sample_size``.

    Fixed-size selection is not Poisson sampling and is accounted with its own bound
    (Wang, Balle, Kasiviswanathan 2019).

    Args:
        population: number of records (clients) sampled from, >= 1.
        sample_size: size of the sample, 1 <= sample_size <= population.
        event: the mechanism applied to the sample.
    """

    population: int
    sample_size: int
    event: DpEvent
    kind: ClassVar[str] = "sampled_without_replacement"

    def __post_init__(self) -> None:
        population = _positive_int("population", self.population)
        sample_size = _positive_int("sample_size", self.sample_size)
        if sample_size > population:
            raise InvalidArgument("sample_size cannot exceed population")
        _event("event", self.event)

    @property
    def rate(self) -> float:
        """The sampling fraction ``sample_size / population``."""
        return self.sample_size / self.population

    def _fields_to_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "sample_size": self.sample_size,
            "event": self.event.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class SelfComposed(DpEvent):
    """``event`` run ``count`` times on the same data (adaptive composition).

    Args:
        event: the repeated mechanism.
        count: number of repetitions, >= 1.
    """

    event: DpEvent
    count: int
    kind: ClassVar[str] = "self_composed"

    def __post_init__(self) -> None:
        _event("event", self.event)
        _positive_int("count", self.count)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"event": self.event.to_dict(), "count": self.count}


@dataclass(frozen=True, slots=True)
class Composed(DpEvent):
    """The adaptive composition of several events, in any order (order does not matter).

    Args:
        events: the composed events (a non-empty sequence; stored as a tuple).
    """

    events: tuple[DpEvent, ...]
    kind: ClassVar[str] = "composed"

    def __post_init__(self) -> None:
        raw: object = self.events
        if isinstance(raw, (str, bytes, DpEvent, Mapping)) or not isinstance(raw, Iterable):
            raise InvalidArgument("events must be a sequence of events")
        events = tuple(raw)
        if not events:
            raise InvalidArgument("events must not be empty")
        for index, item in enumerate(events):
            _event(f"events[{index}]", item)
        object.__setattr__(self, "events", events)

    def _fields_to_dict(self) -> dict[str, Any]:
        return {"events": [event.to_dict() for event in self.events]}


def _read_real(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SerializationError(f"field {key!r} must be a number")
    try:
        return float(value)
    except OverflowError:
        raise SerializationError(f"field {key!r} is too large for a float") from None


def _read_int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise SerializationError(f"field {key!r} must be an int")
    return value


def _read_str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise SerializationError(f"field {key!r} must be a string")
    return value


def _read_event(data: Mapping[str, Any], key: str) -> DpEvent:
    return _event_from_dict(data[key])


def _read_events(data: Mapping[str, Any], key: str) -> tuple[DpEvent, ...]:
    value = data[key]
    if not isinstance(value, list):
        raise SerializationError(f"field {key!r} must be a list of events")
    return tuple(_event_from_dict(item) for item in value)


_PARSERS: dict[str, tuple[type[DpEvent], dict[str, Callable[[Mapping[str, Any], str], Any]]]] = {
    Gaussian.kind: (Gaussian, {"noise_multiplier": _read_real}),
    Laplace.kind: (Laplace, {"scale": _read_real}),
    DiscreteLaplace.kind: (DiscreteLaplace, {"scale": _read_real, "sensitivity": _read_int}),
    DiscreteGaussian.kind: (DiscreteGaussian, {"sigma": _read_real, "sensitivity_l2": _read_real}),
    Skellam.kind: (
        Skellam,
        {"mu": _read_real, "sensitivity_l1": _read_real, "sensitivity_l2": _read_real},
    ),
    DistributedDiscreteGaussian.kind: (
        DistributedDiscreteGaussian,
        {
            "sigma": _read_real,
            "n_min": _read_int,
            "dimension": _read_int,
            "sensitivity_l1": _read_real,
            "sensitivity_l2": _read_real,
        },
    ),
    ZCDP.kind: (ZCDP, {"rho": _read_real}),
    MatrixFactorizationGaussian.kind: (
        MatrixFactorizationGaussian,
        {
            "noise_multiplier": _read_real,
            "sensitivity": _read_real,
            "prior_sensitivity": _read_real,
            "rounds": _read_int,
            "max_participations": _read_int,
            "min_separation": _read_int,
            "strategy": _read_str,
        },
    ),
    PoissonSampled.kind: (PoissonSampled, {"rate": _read_real, "event": _read_event}),
    SampledWithoutReplacement.kind: (
        SampledWithoutReplacement,
        {"population": _read_int, "sample_size": _read_int, "event": _read_event},
    ),
    SelfComposed.kind: (SelfComposed, {"event": _read_event, "count": _read_int}),
    Composed.kind: (Composed, {"events": _read_events}),
}


MAX_EVENT_NESTING = 64
"""Deepest nesting of JSON containers :func:`event_from_dict` reads (no real event nears it)."""


def _check_nesting(data: object, limit: int) -> None:
    """Refuse JSON-like data nested deeper than ``limit`` containers (iteratively, no recursion)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise SerializationError(f"event nesting deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def event_from_dict(data: object) -> DpEvent:
    """Parse an event written by :meth:`DpEvent.to_dict` (any event class).

    Checks the ``type`` tag, the ``version``, that exactly the expected fields are present
    with the right JSON types, and re-validates every parameter.

    Raises:
        SerializationError: unknown type or version, missing, extra or invalid fields, or
            nesting deeper than :data:`MAX_EVENT_NESTING`.
    """
    _check_nesting(data, MAX_EVENT_NESTING)
    return _event_from_dict(data)


def _event_from_dict(data: object) -> DpEvent:
    if not isinstance(data, Mapping):
        raise SerializationError(f"an event must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _PARSERS:
        raise SerializationError(f"unknown event type {kind!r}")
    version = data.get("version")
    if isinstance(version, bool) or version != EVENT_FORMAT_VERSION:
        raise SerializationError(f"unsupported event version {version!r} for {kind!r}")
    cls, fields = _PARSERS[kind]
    expected = {"type", "version", *fields}
    if set(data) != expected:
        raise SerializationError(
            f"{kind!r} event needs fields {sorted(expected)}, got {sorted(map(str, data))}"
        )
    try:
        values = {key: read(data, key) for key, read in fields.items()}
        return cls(**values)
    except SerializationError:
        raise
    except InvalidArgument as error:
        raise SerializationError(f"invalid {kind!r} event: {error}") from error
