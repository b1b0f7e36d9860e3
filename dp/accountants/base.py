"""The interface every accountant shares, and the versioned ledger format.

An accountant keeps a *ledger*: one ``(event, count)`` entry per :meth:`compose` call. Each
call is one *round* (a federated round, or a training step when composing per step); the
epsilon curve has one value per round, the privacy spent after that round.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from dp.errors import InvalidArgument, SerializationError, UnsupportedEvent
from dp.events import DpEvent, event_from_dict

__all__ = [
    "LEDGER_FORMAT_VERSION",
    "Bound",
    "PrivacyAccountant",
    "ledger_to_dict",
    "ledger_from_dict",
    "check_delta",
    "check_epsilon",
]

LEDGER_FORMAT_VERSION = 1
"""Version written by :func:`ledger_to_dict`; :func:`ledger_from_dict` refuses others."""

Bound = Literal["upper", "lower"]
"""Which side of the true epsilon a query returns; accountants default to ``"upper"``."""

LedgerEntry = tuple[DpEvent, int]

_AccountantT = TypeVar("_AccountantT", bound="PrivacyAccountant")


def check_delta(delta: object) -> float:
    """Return ``delta`` as a float in (0, 1), or raise :class:`InvalidArgument`."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise InvalidArgument(f"delta must be a real number, got {type(delta).__name__}")
    value = float(delta)
    if not 0.0 < value < 1.0:
        raise InvalidArgument(f"delta must be in (0, 1), got {delta!r}")
    return value


def check_epsilon(epsilon: object) -> float:
    """Return ``epsilon`` as a finite float >= 0, or raise :class:`InvalidArgument`."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise InvalidArgument(f"epsilon must be a real number, got {type(epsilon).__name__}")
    value = float(epsilon)
    if not math.isfinite(value) or value < 0.0:
        raise InvalidArgument(f"epsilon must be finite and >= 0, got {epsilon!r}")
    return value


def _check_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidArgument(f"count must be an int, got {type(count).__name__}")
    if count < 1:
        raise InvalidArgument(f"count must be >= 1, got {count}")
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

    The guarantees hold for the add/remove-one (equivalently zero-out) neighbouring
    relation of one record, or one client for user-level DP.
    """

    def __init__(self) -> None:
        self._ledger: list[LedgerEntry] = []

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """The ``(event, count)`` entries composed so far, one per :meth:`compose` call."""
        return tuple(self._ledger)

    @property
    def rounds(self) -> int:
        """Number of :meth:`compose` calls so far (the length of :meth:`epsilon_curve`)."""
        return len(self._ledger)

    @abc.abstractmethod
    def supports(self, event: DpEvent) -> bool:
        """Whether this accountant can bound ``event`` soundly."""

    def compose(self: _AccountantT, event: DpEvent, count: int = 1) -> _AccountantT:
        """Record one round: ``event`` run ``count`` times. Returns ``self`` for chaining.

        The accountant's state is left unchanged if the event is refused.

        Raises:
            InvalidArgument: ``event`` is not an event or ``count`` is not an int >= 1.
            UnsupportedEvent: this accountant cannot bound ``event``.
        """
        if not isinstance(event, DpEvent):
            raise InvalidArgument(f"event must be a dp event, got {type(event).__name__}")
        count = _check_count(count)
        if not self.supports(event):
            raise UnsupportedEvent(f"{type(self).__name__} cannot account for {event!r}")
        self._compose(event, count)
        self._ledger.append((event, count))
        return self

    def compose_ledger(self: _AccountantT, ledger: Iterable[LedgerEntry]) -> _AccountantT:
        """Compose every ``(event, count)`` entry of a ledger, each as one round.

        All entries are checked before any is composed, so a refused ledger leaves the
        accountant unchanged.
        """
        entries = [(event, _check_count(count)) for event, count in ledger]
        for event, _ in entries:
            if not isinstance(event, DpEvent):
                raise InvalidArgument("ledger entries must hold dp events")
            if not self.supports(event):
                raise UnsupportedEvent(f"{type(self).__name__} cannot account for {event!r}")
        for event, count in entries:
            self.compose(event, count)
        return self

    @abc.abstractmethod
    def _compose(self, event: DpEvent, count: int) -> None:
        """Update the internal state with a supported event (the ledger is updated after)."""

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
        """This accountant's ledger as versioned JSON (see :func:`ledger_to_dict`)."""
        return ledger_to_dict(self._ledger)

    @classmethod
    def from_ledger_dict(
        cls: type[_AccountantT], data: Mapping[str, Any], **options: Any
    ) -> _AccountantT:
        """A new accountant (built with ``options``) that has composed a saved ledger."""
        return cls(**options).compose_ledger(ledger_from_dict(data))


def ledger_to_dict(ledger: Sequence[LedgerEntry]) -> dict[str, Any]:
    """Serialise a ledger (``(event, count)`` runs) to JSON-compatible, versioned form."""
    entries = []
    for event, count in ledger:
        if not isinstance(event, DpEvent):
            raise InvalidArgument("ledger entries must hold dp events")
        entries.append({"event": event.to_dict(), "count": _check_count(count)})
    return {"type": "ledger", "version": LEDGER_FORMAT_VERSION, "entries": entries}


def ledger_from_dict(data: object) -> list[LedgerEntry]:
    """Parse a ledger written by :func:`ledger_to_dict`.

    Raises:
        SerializationError: wrong type tag or version, malformed entries or events.
    """
    if not isinstance(data, Mapping):
        raise SerializationError("a ledger must be a JSON object")
    if set(data) != {"type", "version", "entries"} or data.get("type") != "ledger":
        raise SerializationError("a ledger needs exactly the fields type, version, entries")
    version = data["version"]
    if isinstance(version, bool) or version != LEDGER_FORMAT_VERSION:
        raise SerializationError(f"unsupported ledger version {version!r}")
    raw_entries = data["entries"]
    if not isinstance(raw_entries, list):
        raise SerializationError("ledger entries must be a list")
    ledger: list[LedgerEntry] = []
    for raw in raw_entries:
        if not isinstance(raw, Mapping) or set(raw) != {"event", "count"}:
            raise SerializationError("a ledger entry needs exactly the fields event, count")
        count = raw["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SerializationError(f"ledger count must be an int >= 1, got {count!r}")
        ledger.append((event_from_dict(raw["event"]), count))
    return ledger
