"""The interface every accountant shares, and the versioned ledger format.

An accountant keeps a *ledger*: one ``(event, count)`` entry per :meth:`compose` call. Each
call is one *round* (a federated round, or a training step when composing per step); the
epsilon curve has one value per round, the privacy spent after that round. Every
accountant is built for one neighbouring relation (:mod:`dp.neighbouring`), which its
ledger records.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from dp.accountants._relations import accounting_form
from dp.errors import InvalidArgument, SerializationError, UnsupportedEvent
from dp.events import DpEvent, event_from_dict
from dp.neighbouring import NEIGHBOURING_RELATIONS, Neighbouring, check_neighbouring

__all__ = [
    "LEDGER_FORMAT_VERSION",
    "Bound",
    "PrivacyAccountant",
    "ledger_to_dict",
    "ledger_from_dict",
    "ledger_neighbouring",
    "check_delta",
    "check_epsilon",
]

LEDGER_FORMAT_VERSION = 2
"""Version written by :func:`ledger_to_dict` (2 adds the neighbouring relation).

:func:`ledger_from_dict` also reads version 1, whose ledgers were written under add/remove.
"""

_LEDGER_VERSIONS = (1, 2)

Bound = Literal["upper", "lower"]
"""Which side of the true epsilon a query returns; accountants default to ``"upper"``."""

LedgerEntry = tuple[DpEvent, int]

_AccountantT = TypeVar("_AccountantT", bound="PrivacyAccountant")


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidArgument(f"{name} is too large for a float") from None


def check_delta(delta: object) -> float:
    """Return ``delta`` as a float in (0, 1), or raise :class:`InvalidArgument`."""
    value = _real("delta", delta)
    if not 0.0 < value < 1.0:
        raise InvalidArgument(f"delta must be in (0, 1), got {delta!r}")
    return value


def check_epsilon(epsilon: object) -> float:
    """Return ``epsilon`` as a finite float >= 0, or raise :class:`InvalidArgument`."""
    value = _real("epsilon", epsilon)
    if not math.isfinite(value) or value < 0.0:
        raise InvalidArgument(f"epsilon must be finite and >= 0, got {epsilon!r}")
    return value


MAX_COUNT = 1 << 62
"""The largest repetition count of one ledger entry (far beyond any training run)."""


def _check_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidArgument(f"count must be an int, got {type(count).__name__}")
    if not 1 <= count <= MAX_COUNT:
        shown = count if count.bit_length() <= 64 else f"an int of {count.bit_length()} bits"
        raise InvalidArgument(f"count must be in [1, 2**62], got {shown}")
    return count


def _check_bound(bound: object) -> Bound:
    if bound == "upper":
        return "upper"
    if bound == "lower":
        return "lower"
    raise InvalidArgument(f"bound must be 'upper' or 'lower', got {bound!r}")


class PrivacyAccountant(abc.ABC):
    """Composes events and answers (epsilon, delta) queries about the composition.

    Accountants are conservative: an upper-bound answer is never below the true epsilon
    (or delta) of the composed mechanisms. An event the accountant cannot bound soundly is
    refused with :class:`dp.UnsupportedEvent` instead of being approximated.

    The guarantees hold for the accountant's :attr:`neighbouring` relation of one record
    (one client for user-level DP): ``"add_remove"`` by default, ``"zero_out"`` or
    ``"replace_one"`` when asked; each event is rewritten for it first (an event with no
    sound bound under the relation is refused).

    Args:
        neighbouring: the relation every answer is for (:mod:`dp.neighbouring`).
    """

    def __init__(self, neighbouring: Neighbouring = "add_remove") -> None:
        self._neighbouring: Neighbouring = check_neighbouring(neighbouring)
        self._ledger: list[LedgerEntry] = []
        self._forms: list[LedgerEntry] = []

    @property
    def neighbouring(self) -> Neighbouring:
        """The neighbouring relation this accountant's answers are for."""
        return self._neighbouring

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """The ``(event, count)`` entries composed so far, one per :meth:`compose` call."""
        return tuple(self._ledger)

    @property
    def rounds(self) -> int:
        """Number of :meth:`compose` calls so far (the length of :meth:`epsilon_curve`)."""
        return len(self._ledger)

    def supports(self, event: DpEvent) -> bool:
        """Whether this accountant can bound ``event`` soundly under its relation."""
        try:
            self._form(event, suggest=False)
        except UnsupportedEvent:
            return False
        return True

    def _form(self, event: DpEvent, *, suggest: bool = True) -> DpEvent:
        """The accounting form of ``event`` under this relation, if this accountant bounds it.

        Raises:
            UnsupportedEvent: no sound bound for ``event`` here; with ``suggest`` the message
                names the accountants (and relations) that do support it.
        """
        if not isinstance(event, DpEvent):
            raise InvalidArgument(f"event must be a dp event, got {type(event).__name__}")
        try:
            form = accounting_form(event, self._neighbouring)
        except RecursionError:
            raise UnsupportedEvent("event nesting too deep") from None
        except UnsupportedEvent as error:
            if not suggest:
                raise
            raise UnsupportedEvent(f"{error}{self._alternatives(event)}") from error
        if not self._supports_form(form):
            message = (
                f"{type(self).__name__} cannot account for {event!r} under {self._neighbouring}"
            )
            raise UnsupportedEvent(message + (self._alternatives(event) if suggest else ""))
        return form

    def _alternatives(self, event: DpEvent) -> str:
        """A sentence naming the accountants that support ``event`` (same relation first)."""
        from dp.accountants.pld import PldAccountant
        from dp.accountants.rdp import RdpAccountant

        classes: tuple[type[PldAccountant] | type[RdpAccountant], ...] = (
            PldAccountant,
            RdpAccountant,
        )
        same = [
            cls.__name__
            for cls in classes
            if cls is not type(self) and cls(neighbouring=self._neighbouring).supports(event)
        ]
        if same:
            return f"; use {' or '.join(same)}, which supports it under {self._neighbouring}"
        other = [
            f"{cls.__name__}(neighbouring={relation!r})"
            for relation in NEIGHBOURING_RELATIONS
            if relation != self._neighbouring
            for cls in classes
            if cls(neighbouring=relation).supports(event)
        ]
        if other:
            return (
                f"; no accountant supports it under {self._neighbouring}, but "
                f"{' and '.join(other)} do (a guarantee for that relation instead)"
            )
        return "; no accountant in dp supports it under any neighbouring relation"

    @abc.abstractmethod
    def _supports_form(self, form: DpEvent) -> bool:
        """Whether this accountant can bound an event in accounting form."""

    def compose(self: _AccountantT, event: DpEvent, count: int = 1) -> _AccountantT:
        """Record one round: ``event`` run ``count`` times. Returns ``self`` for chaining.

        The accountant's state is left unchanged if the event is refused.

        Raises:
            InvalidArgument: ``event`` is not an event or ``count`` is not an int >= 1.
            UnsupportedEvent: this accountant cannot bound ``event`` under its relation.
        """
        count = _check_count(count)
        form = self._form(event)
        self._compose(form, count)
        self._ledger.append((event, count))
        self._forms.append((form, count))
        return self

    def compose_ledger(self: _AccountantT, ledger: Iterable[LedgerEntry]) -> _AccountantT:
        """Compose every ``(event, count)`` entry of a ledger, each as one round.

        All entries are checked before any is composed, so a refused ledger leaves the
        accountant unchanged.
        """
        entries = [(event, _check_count(count)) for event, count in ledger]
        for event, _ in entries:
            self._form(event)
        for event, count in entries:
            self.compose(event, count)
        return self

    @abc.abstractmethod
    def _compose(self, form: DpEvent, count: int) -> None:
        """Update the internal state with an event in accounting form (the ledger after)."""

    @abc.abstractmethod
    def get_epsilon(self, delta: float, *, bound: Bound = "upper") -> float:
        """The smallest epsilon such that the composition is (epsilon, delta)-DP.

        Args:
            delta: target delta in (0, 1).
            bound: ``"upper"`` (default, never below the truth) or ``"lower"`` (never above
                it, to show how tight the upper bound is).

        Returns:
            epsilon >= 0; ``inf`` if no finite epsilon reaches ``delta``; 0 if nothing has
            been composed.
        """

    @abc.abstractmethod
    def get_delta(self, epsilon: float, *, bound: Bound = "upper") -> float:
        """The smallest delta such that the composition is (epsilon, delta)-DP."""

    def get_epsilon_bounds(self, delta: float) -> tuple[float, float]:
        """``(lower, upper)`` bounds on the true epsilon at ``delta``."""
        return self.get_epsilon(delta, bound="lower"), self.get_epsilon(delta, bound="upper")

    @abc.abstractmethod
    def epsilon_curve(self, delta: float) -> NDArray[np.float64]:
        """Upper-bound epsilon after each round (each :meth:`compose` call), in order."""

    def ledger_to_dict(self) -> dict[str, Any]:
        """This accountant's ledger and relation as versioned JSON (:func:`ledger_to_dict`)."""
        return ledger_to_dict(self._ledger, neighbouring=self._neighbouring)

    @classmethod
    def from_ledger_dict(
        cls: type[_AccountantT], data: Mapping[str, Any], **options: Any
    ) -> _AccountantT:
        """A new accountant (built with ``options``) that has composed a saved ledger.

        The accountant is built for the ledger's relation.

        Raises:
            SerializationError: a malformed ledger.
            InvalidArgument: ``options`` name a different relation than the ledger's.
        """
        relation = ledger_neighbouring(data)
        if options.get("neighbouring", relation) != relation:
            raise InvalidArgument(
                f"the ledger was written under {relation}, not {options['neighbouring']!r}"
            )
        options["neighbouring"] = relation
        return cls(**options).compose_ledger(ledger_from_dict(data))


def ledger_to_dict(
    ledger: Sequence[LedgerEntry], neighbouring: Neighbouring = "add_remove"
) -> dict[str, Any]:
    """Serialise a ledger (``(event, count)`` runs) and its relation to versioned JSON."""
    relation = check_neighbouring(neighbouring)
    entries = []
    for event, count in ledger:
        if not isinstance(event, DpEvent):
            raise InvalidArgument("ledger entries must hold dp events")
        entries.append({"event": event.to_dict(), "count": _check_count(count)})
    return {
        "type": "ledger",
        "version": LEDGER_FORMAT_VERSION,
        "neighbouring": relation,
        "entries": entries,
    }


def _ledger_header(data: object) -> tuple[Mapping[str, Any], Neighbouring]:
    """Check a ledger's tag, version and fields; return it with its relation."""
    if not isinstance(data, Mapping):
        raise SerializationError("a ledger must be a JSON object")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in _LEDGER_VERSIONS:
        raise SerializationError(f"unsupported ledger version {version!r}")
    fields = {"type", "version", "entries"} | ({"neighbouring"} if version >= 2 else set())
    if set(data) != fields or data.get("type") != "ledger":
        raise SerializationError(
            f"a version {version} ledger needs exactly the fields {', '.join(sorted(fields))}"
        )
    if version == 1:
        return data, "add_remove"
    try:
        return data, check_neighbouring(data["neighbouring"])
    except InvalidArgument as error:
        raise SerializationError(f"ledger: {error}") from None


def ledger_neighbouring(data: object) -> Neighbouring:
    """The neighbouring relation a saved ledger was written under (add/remove for version 1).

    Raises:
        SerializationError: not a ledger of a known version.
    """
    return _ledger_header(data)[1]


def ledger_from_dict(data: object) -> list[LedgerEntry]:
    """Parse the ``(event, count)`` entries of a ledger written by :func:`ledger_to_dict`.

    Its relation is read by :func:`ledger_neighbouring`.

    Raises:
        SerializationError: wrong type tag or version, malformed entries or events.
    """
    data, _ = _ledger_header(data)
    raw_entries = data["entries"]
    if not isinstance(raw_entries, list):
        raise SerializationError("ledger entries must be a list")
    ledger: list[LedgerEntry] = []
    for raw in raw_entries:
        if not isinstance(raw, Mapping) or set(raw) != {"event", "count"}:
            raise SerializationError("a ledger entry needs exactly the fields event, count")
        count = raw["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise SerializationError("ledger count must be an int in [1, 2**62]")
        ledger.append((event_from_dict(raw["event"]), count))
    return ledger
