"""Convert events between :mod:`dp` and Google's ``dp_accounting``, in both directions.

A ``dp_accounting`` user hands a ``DpEvent`` to our accountants with
:func:`from_dp_accounting` (or :func:`accountant_from_dp_accounting`, which also builds the
accountant for the right relation); a ``dp`` user checks our numbers against theirs with
:func:`to_dp_accounting` (or :func:`dp_accounting_accountant`, which composes a whole
ledger into theirs). ``dp_accounting`` is imported only when one of these is called
(``pip install 'fedcrypt[interop]'``, tested with ``dp-accounting==0.6.0``).

Semantics. Both libraries state a Gaussian's noise multiplier as ``s / C``, with ``C`` the
bound on one record's contribution (``GaussianDpEvent``'s docstring: ``||v_i|| <= C``), and
the same holds for the Laplace scale and the discrete Laplace sensitivity; both name the
neighbouring relation on the *accountant*, not the event. So these events map one to one
and the relation travels beside them: every function here takes it (ours or
``dp_accounting.NeighboringRelation``; ``add_remove`` = ``ADD_OR_REMOVE_ONE``, ``zero_out``
= ``REPLACE_SPECIAL``, ``replace_one`` = ``REPLACE_ONE``). It changes one parameter: a
``ZCDpEvent``'s ``rho`` holds under the accountant's relation, whereas our
:class:`~dp.ZCDP` holds under add/remove and costs ``4 rho`` under replace-one (group
privacy), so ``rho`` is multiplied by 4 on the way to ``REPLACE_ONE`` and divided on the
way back. A converted event is accounted as the original only under the relation it was
converted for.

``dp_accounting`` 0.6.0's own accountants disagree under ``REPLACE_ONE``: its PLD
accountant accounts a ``GaussianDpEvent`` at distance ``2C`` (as we do), its RDP
accountant at ``C``, including the base of ``SampledWithoutReplacementDpEvent``, the only
fixed-size sampling it supports, under ``REPLACE_ONE`` only (its issue #378). See
``docs/dp/interop.md`` for the measured consequences.

Every conversion is exact except the discrete Laplace parameter (theirs ``a``, ``P(k) ∝
exp(-a|k|)``; ours the scale ``1/a``), whose reciprocal is rounded towards less noise, so a
converted event never claims more privacy than the original (a round trip moves the scale
down by at most two units in the last place).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from fractions import Fraction
from types import ModuleType
from typing import Any, Literal

from dp.accountants import PldAccountant, PrivacyAccountant, RdpAccountant
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import (
    ZCDP,
    Composed,
    DiscreteLaplace,
    DpEvent,
    Gaussian,
    Laplace,
    MatrixFactorizationGaussian,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
)
from dp.interop._imports import import_peer
from dp.neighbouring import Neighbouring, check_neighbouring

__all__ = [
    "AccountantKind",
    "to_dp_accounting",
    "from_dp_accounting",
    "dp_accounting_relation",
    "neighbouring_from_dp_accounting",
    "dp_accounting_accountant",
    "accountant_from_dp_accounting",
]

AccountantKind = Literal["pld", "rdp"]
"""Which accountant to build: privacy loss distributions or Renyi DP."""

_RELATION_NAMES: dict[Neighbouring, str] = {
    "add_remove": "ADD_OR_REMOVE_ONE",
    "zero_out": "REPLACE_SPECIAL",
    "replace_one": "REPLACE_ONE",
}
"""Our relation -> the name of ``dp_accounting.NeighboringRelation``'s member."""


def _peer() -> ModuleType:
    return import_peer("dp_accounting", "converting events to or from dp_accounting")


def _neighbouring(value: object) -> Neighbouring:
    """Our relation for ``value``: one of our names or a ``dp_accounting.NeighboringRelation``."""
    if isinstance(value, str):
        return check_neighbouring(value)
    relation_type = _peer().NeighboringRelation
    if isinstance(value, relation_type):
        for ours, name in _RELATION_NAMES.items():
            if value is relation_type[name]:
                return ours
    raise InvalidArgument(
        f"neighbouring must be a dp relation name or a dp_accounting.NeighboringRelation "
        f"it maps to, got {value!r}"
    )


def dp_accounting_relation(neighbouring: object) -> Any:
    """``dp_accounting.NeighboringRelation`` for a relation (ours or theirs).

    ``add_remove`` is ``ADD_OR_REMOVE_ONE``, ``zero_out`` is ``REPLACE_SPECIAL`` (a record
    replaced by a null one, Kairouz et al. 2021) and ``replace_one`` is ``REPLACE_ONE``.

    Raises:
        InvalidArgument: not a relation.
        InteropNotInstalled: dp_accounting is not installed.
    """
    return _peer().NeighboringRelation[_RELATION_NAMES[_neighbouring(neighbouring)]]


def neighbouring_from_dp_accounting(relation: object) -> Neighbouring:
    """Our relation for a ``dp_accounting.NeighboringRelation`` (or one of our names).

    Raises:
        InvalidArgument: not a relation.
    """
    return _neighbouring(relation)


def _reciprocal(value: float, *, up: bool) -> float:
    """``1 / value`` rounded up (``up``) or down, exactly, for the discrete Laplace parameter.

    Raises:
        InvalidArgument: rounded up, the reciprocal is beyond the largest float.
    """
    result = 1.0 / value
    if math.isinf(result):
        if up:
            raise InvalidArgument(f"1/{value!r} is too large for a float")
        return sys.float_info.max
    exact = 1 / Fraction(value)
    if up and Fraction(result) < exact:
        result = math.nextafter(result, math.inf)
    elif not up and Fraction(result) > exact:
        result = math.nextafter(result, 0.0)
    return result


def _zcdp_factor(relation: Neighbouring) -> float:
    """Their ``rho`` over ours: replace-one costs 4 rho (Bun and Steinke 2016, Prop. 27)."""
    return 4.0 if relation == "replace_one" else 1.0


def to_dp_accounting(event: DpEvent, neighbouring: object = "add_remove") -> Any:
    """The ``dp_accounting.DpEvent`` describing ``event`` for accounting under ``neighbouring``.

    Gaussian, Laplace, discrete Laplace, zCDP, Poisson-sampled, sampled-without-replacement,
    self-composed and composed events map to their counterparts (see the module docstring
    for the parameters); a DP-FTRL ``MatrixFactorizationGaussian`` entry maps to the
    Gaussian it is accounted as (under zero_out and replace_one only). Account the result
    with a ``dp_accounting`` accountant built for :func:`dp_accounting_relation`
    ``(neighbouring)``.

    Raises:
        UnsupportedEvent: ``event`` holds a mechanism dp_accounting has no event for
            (discrete Gaussian, Skellam, distributed discrete Gaussian), named in the
            message.
        InvalidArgument: ``event`` is not an event or ``neighbouring`` not a relation.
        InteropNotInstalled: dp_accounting is not installed.
    """
    relation = _neighbouring(neighbouring)
    if not isinstance(event, DpEvent):
        raise InvalidArgument(f"event must be a dp event, got {type(event).__name__}")
    peer = _peer()
    try:
        return _to_peer(peer, event, relation)
    except RecursionError:
        raise UnsupportedEvent("event nesting too deep to convert") from None


def _to_peer(peer: ModuleType, event: DpEvent, relation: Neighbouring) -> Any:
    if isinstance(event, Gaussian):
        return peer.dp_event.GaussianDpEvent(event.noise_multiplier)
    if isinstance(event, Laplace):
        return peer.dp_event.LaplaceDpEvent(event.scale)
    if isinstance(event, DiscreteLaplace):
        try:
            parameter = _reciprocal(event.scale, up=True)
        except InvalidArgument as error:
            raise InvalidArgument(f"cannot convert {event!r}: {error}") from None
        return peer.dp_event.DiscreteLaplaceDpEvent(parameter, event.sensitivity)
    if isinstance(event, ZCDP):
        rho = event.rho * _zcdp_factor(relation)
        if not math.isfinite(rho):
            raise InvalidArgument(f"{event!r}: rho under {relation} is too large for a float")
        return peer.dp_event.ZCDpEvent(rho)
    if isinstance(event, MatrixFactorizationGaussian):
        # One round of a DP-FTRL prefix ledger is accounted as a Gaussian (quadrature
        # increment, see the event); the relation's factor is applied by their accountant.
        if relation == "add_remove":
            raise UnsupportedEvent(
                f"{event!r} holds under zero_out or replace_one only, not add_remove"
            )
        return peer.dp_event.GaussianDpEvent(event.gaussian_noise_multiplier())
    if isinstance(event, PoissonSampled):
        return peer.dp_event.PoissonSampledDpEvent(
            event.rate, _to_peer(peer, event.event, relation)
        )
    if isinstance(event, SampledWithoutReplacement):
        inner = _to_peer(peer, event.event, relation)
        return peer.dp_event.SampledWithoutReplacementDpEvent(
            event.population, event.sample_size, inner
        )
    if isinstance(event, SelfComposed):
        return peer.dp_event.SelfComposedDpEvent(_to_peer(peer, event.event, relation), event.count)
    if isinstance(event, Composed):
        return peer.dp_event.ComposedDpEvent(
            [_to_peer(peer, inner, relation) for inner in event.events]
        )
    raise UnsupportedEvent(
        f"{event!r}: dp_accounting has no {type(event).__name__} event; account it with "
        "dp.RdpAccountant"
    )


def from_dp_accounting(event: Any, neighbouring: object = "add_remove") -> DpEvent:
    """Our event describing a ``dp_accounting.DpEvent`` meant for ``neighbouring``.

    ``neighbouring`` is the relation the event was (or would be) accounted under in
    dp_accounting; account the result with one of our accountants built for the same
    relation (:func:`accountant_from_dp_accounting` does both). Parts without privacy
    cost (``NoOpDpEvent``, sampling probability 0, count 0) are dropped.

    Raises:
        UnsupportedEvent: the event holds something we have no event for (named in the
            message: randomized response, tree aggregation, mixtures of Gaussians,
            sampling with replacement, ``NonPrivateDpEvent`` or a mechanism without noise,
            ``ZCDpEvent`` with ``xi != 0``, ...), or the whole event is a no-op.
        InvalidArgument: a parameter is out of range (negative noise, rate above 1, ...)
            or ``neighbouring`` is not a relation.
        InteropNotInstalled: dp_accounting is not installed.
    """
    relation = _neighbouring(neighbouring)
    peer = _peer()
    if not isinstance(event, peer.dp_event.DpEvent):
        raise InvalidArgument(f"event must be a dp_accounting.DpEvent, got {type(event).__name__}")
    converted = _from_peer_checked(peer, event, relation)
    if converted is None:
        raise UnsupportedEvent(
            f"{event!r} has no privacy cost; dp has no empty event (compose nothing)"
        )
    return converted


def _from_peer_checked(peer: ModuleType, event: Any, relation: Neighbouring) -> DpEvent | None:
    try:
        return _from_peer(peer, event, relation)
    except RecursionError:
        raise UnsupportedEvent("event nesting too deep to convert") from None


def _make(source: Any, build: Callable[..., DpEvent], *args: Any) -> DpEvent:
    """``build(*args)``, naming ``source`` in the error if a parameter is out of range."""
    try:
        return build(*args)
    except InvalidArgument as error:
        raise InvalidArgument(f"cannot convert {source!r}: {error}") from error


def _no_noise(event: Any) -> UnsupportedEvent:
    return UnsupportedEvent(f"{event!r} adds no noise: it is not differentially private")


def _from_peer(peer: ModuleType, event: Any, relation: Neighbouring) -> DpEvent | None:
    """Our event for ``event``, or None when it has no privacy cost."""
    if isinstance(event, peer.dp_event.NoOpDpEvent):
        return None
    if isinstance(event, peer.dp_event.GaussianDpEvent):
        if event.noise_multiplier == 0:
            raise _no_noise(event)
        return _make(event, Gaussian, event.noise_multiplier)
    if isinstance(event, peer.dp_event.LaplaceDpEvent):
        if event.noise_multiplier == 0:
            raise _no_noise(event)
        return _make(event, Laplace, event.noise_multiplier)
    if isinstance(event, peer.dp_event.DiscreteLaplaceDpEvent):
        if event.noise_parameter == 0:
            raise _no_noise(event)
        # Validated as a Laplace scale would be (a finite float > 0) before inverting it.
        parameter = _make(event, Laplace, event.noise_parameter)
        assert isinstance(parameter, Laplace)
        scale = _reciprocal(parameter.scale, up=False)
        return _make(event, DiscreteLaplace, scale, event.sensitivity)
    if isinstance(event, peer.dp_event.ZCDpEvent):
        if event.xi != 0:
            raise UnsupportedEvent(f"{event!r}: dp has no (xi, rho)-zCDP event with xi != 0")
        if event.rho == 0:
            return None
        given = _make(event, ZCDP, event.rho)
        assert isinstance(given, ZCDP)
        factor = _zcdp_factor(relation)
        rho = given.rho / factor
        if rho * factor < given.rho:  # an underflowed quotient: round towards more loss
            rho = math.nextafter(rho, math.inf)
        return _make(event, ZCDP, rho)
    if isinstance(event, peer.dp_event.PoissonSampledDpEvent):
        inner = _from_peer(peer, event.event, relation)
        if inner is None or event.sampling_probability == 0:
            return None
        return _make(event, PoissonSampled, event.sampling_probability, inner)
    if isinstance(event, peer.dp_event.SampledWithoutReplacementDpEvent):
        inner = _from_peer(peer, event.event, relation)
        if inner is None or event.sample_size == 0:
            return None
        return _make(
            event, SampledWithoutReplacement, event.source_dataset_size, event.sample_size, inner
        )
    if isinstance(event, peer.dp_event.SelfComposedDpEvent):
        inner = _from_peer(peer, event.event, relation)
        if inner is None or event.count == 0:
            return None
        return _make(event, SelfComposed, inner, event.count)
    if isinstance(event, peer.dp_event.ComposedDpEvent):
        parts = [_from_peer(peer, inner, relation) for inner in event.events]
        kept = tuple(part for part in parts if part is not None)
        return _make(event, Composed, kept) if kept else None
    if isinstance(event, peer.dp_event.NonPrivateDpEvent):
        raise UnsupportedEvent(f"{event!r} is not differentially private (no finite epsilon)")
    raise UnsupportedEvent(f"dp has no event for dp_accounting's {type(event).__name__}: {event!r}")


def _accountant_class(kind: object) -> type[PldAccountant] | type[RdpAccountant]:
    if kind == "pld":
        return PldAccountant
    if kind == "rdp":
        return RdpAccountant
    raise InvalidArgument(f"kind must be 'pld' or 'rdp', got {kind!r}")


def accountant_from_dp_accounting(
    event: Any,
    neighbouring: object = "add_remove",
    kind: AccountantKind = "pld",
    *,
    count: int = 1,
    **options: Any,
) -> PrivacyAccountant:
    """One of our accountants, built for ``neighbouring``, that has composed a dp_accounting event.

    The relation is the one ``event`` is meant for (``dp_accounting``'s
    ``NeighboringRelation`` or our name); the accountant is built for it, so the event is
    accounted exactly as it was described. A no-op event leaves it empty.

    Args:
        event: a ``dp_accounting.DpEvent``.
        neighbouring: its relation; ``dp_accounting``'s accountants default to
            ``ADD_OR_REMOVE_ONE``, and so does this.
        kind: ``"pld"`` (:class:`~dp.PldAccountant`) or ``"rdp"`` (:class:`~dp.RdpAccountant`).
        count: how many times the event runs (one :meth:`~dp.PrivacyAccountant.compose`).
        **options: passed to the accountant's constructor.

    Raises:
        UnsupportedEvent: the event cannot be converted (:func:`from_dp_accounting`) or
            this accountant cannot bound it under the relation.
    """
    relation = _neighbouring(neighbouring)
    accountant = _accountant_class(kind)(neighbouring=relation, **options)
    peer = _peer()
    if not isinstance(event, peer.dp_event.DpEvent):
        raise InvalidArgument(f"event must be a dp_accounting.DpEvent, got {type(event).__name__}")
    converted = _from_peer_checked(peer, event, relation)
    if converted is not None:
        accountant.compose(converted, count)
    return accountant


def dp_accounting_accountant(
    accountant: PrivacyAccountant, kind: AccountantKind = "pld", **options: Any
) -> Any:
    """A dp_accounting accountant, built for ``accountant``'s relation, that holds its ledger.

    Every ledger entry ``(event, count)`` is converted with :func:`to_dp_accounting` and
    composed ``count`` times, so ``theirs.get_epsilon(delta)`` can be set beside
    ``accountant.get_epsilon(delta)``. Under ``replace_one`` dp_accounting 0.6.0's RDP
    accountant reads Gaussian noise at half our sensitivity (module docstring).

    Args:
        accountant: one of ours.
        kind: ``"pld"`` (``dp_accounting.pld.PLDAccountant``) or ``"rdp"``
            (``dp_accounting.rdp.RdpAccountant``).
        **options: passed to their constructor (e.g. ``value_discretization_interval``).

    Raises:
        UnsupportedEvent: an event cannot be converted, or their accountant does not
            support it under the relation (both named in the message).
        InteropNotInstalled: dp_accounting is not installed.
    """
    if not isinstance(accountant, PrivacyAccountant):
        raise InvalidArgument(
            f"accountant must be a dp accountant, got {type(accountant).__name__}"
        )
    if kind not in ("pld", "rdp"):
        raise InvalidArgument(f"kind must be 'pld' or 'rdp', got {kind!r}")
    peer = _peer()
    relation = dp_accounting_relation(accountant.neighbouring)
    cls = peer.pld.PLDAccountant if kind == "pld" else peer.rdp.RdpAccountant
    theirs = cls(neighboring_relation=relation, **options)
    entries = [
        (to_dp_accounting(event, accountant.neighbouring), count)
        for event, count in accountant.ledger
    ]
    for converted, _ in entries:
        if not theirs.supports(converted):
            raise UnsupportedEvent(
                f"dp_accounting's {cls.__name__} does not support {converted!r} under "
                f"{relation.name}"
            )
    for converted, count in entries:
        theirs.compose(converted, count)
    return theirs
