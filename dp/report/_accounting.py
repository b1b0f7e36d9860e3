"""Accounting a report's ledger *by counts*: checkpoints, pieces and the two accountants.

A ledger is run-length: ``(event, count)`` entries. The report's curve is evaluated at
checkpoint rounds; the ledger's runs are split at the checkpoints and each piece is composed
as one ``compose(event, k)`` (repeated squaring in the PLD, a product in the RDP), so the
cost depends on the number of runs and checkpoints, never on the number of rounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dp.accountants import PldAccountant, RdpAccountant
from dp.accountants.base import PrivacyAccountant
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import Composed, DpEvent, PoissonSampled, SampledWithoutReplacement, SelfComposed
from dp.neighbouring import Neighbouring

__all__ = ["MAX_ROUNDS", "PLD_EPSILON_LIMIT", "MAX_CURVE_POINTS", "Accounting", "account"]

MAX_ROUNDS = 2**53
"""Most rounds (sum of ledger counts) a report accounts; beyond, counts lose exactness."""

PLD_EPSILON_LIMIT = 200.0
"""RDP epsilon above which the PLD accountant is skipped (its loss grid would need tens of
millions of points; the RDP bound, an upper bound too, is reported and a warning says so)."""

MAX_CURVE_POINTS = 10_000
"""Most curve points a report evaluates (each one is an accountant query)."""

#: ``curve_points=None`` evaluates every round up to this many rounds, else
#: :data:`_DEFAULT_CHECKPOINTS` evenly spaced rounds.
_EVERY_ROUND_LIMIT = 1000
_DEFAULT_CHECKPOINTS = 100

Ledger = Sequence[tuple[DpEvent, int]]


def _checkpoints(rounds: int, points: int) -> list[int]:
    """``points`` rounds evenly spaced over ``1..rounds`` (exact integers), first and last."""
    if rounds <= points:
        return list(range(1, rounds + 1))
    return sorted({1 + (rounds - 1) * i // (points - 1) for i in range(points)})


def _grouped(ledger: Ledger) -> list[tuple[DpEvent, int]]:
    """Total count per distinct event, in order of first use (composition is commutative)."""
    totals: dict[DpEvent, int] = {}
    for event, count in ledger:
        totals[event] = totals.get(event, 0) + count
    return list(totals.items())


def _consecutive_runs(ledger: Ledger) -> list[tuple[DpEvent, int]]:
    """Merge consecutive identical rounds into one ``(event, count)`` run.

    The headline PLD figures then equal what ``compose(event, count)`` gives a user for the
    same run (self-composition by squaring discretises slightly differently from round by
    round composition; both are upper bounds).
    """
    runs: list[tuple[DpEvent, int]] = []
    for event, count in ledger:
        if runs and runs[-1][0] == event:
            runs[-1] = (event, runs[-1][1] + count)
        else:
            runs.append((event, count))
    return runs


def _chunks(runs: Ledger, marks: Sequence[int]) -> list[tuple[DpEvent, int, bool]]:
    """Split the runs at the checkpoint rounds ``marks`` (sorted, within the total).

    Returns ``(event, count, ends_at_checkpoint)`` pieces, at most ``len(runs) +
    len(marks)`` of them, whose counts sum to the total: composing them in order and
    querying after each flagged piece evaluates the curve at every mark, each stretch
    composed by counts (never round by round).
    """
    pieces: list[tuple[DpEvent, int, bool]] = []
    position = 0
    index = 0
    for event, count in runs:
        end = position + count
        while index < len(marks) and marks[index] <= end:
            pieces.append((event, marks[index] - position, True))
            position = marks[index]
            index += 1
        if end > position:
            pieces.append((event, end - position, False))
            position = end
    return [(event, count, mark) for event, count, mark in pieces if count > 0]


def _trace(
    accountant: PrivacyAccountant,
    pieces: Sequence[tuple[DpEvent, int, bool]],
    deltas: Sequence[float],
) -> list[list[float]]:
    """Compose ``pieces`` in order; epsilon at each delta after every checkpoint piece."""
    values: list[list[float]] = []
    for event, count, mark in pieces:
        accountant.compose(event, count)
        if mark:
            values.append([accountant.get_epsilon(d) for d in deltas])
    return values


def _check_ledger(ledger: object) -> tuple[tuple[DpEvent, int], ...]:
    """The ledger as a tuple of checked ``(event, count)`` pairs (any iterable of pairs)."""
    if isinstance(ledger, str | bytes | Mapping) or not isinstance(ledger, Iterable):
        raise InvalidArgument("the ledger must be an iterable of (event, count) pairs")
    entries = []
    for entry in ledger:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise InvalidArgument("ledger entries must be (event, count) pairs")
        event, count = entry
        if not isinstance(event, DpEvent):
            raise InvalidArgument(f"ledger events must be dp events, got {type(event).__name__}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"ledger counts must be ints >= 1, got {repr(count)[:40]}")
        entries.append((event, count))
    return tuple(entries)


def _walk(event: DpEvent) -> list[DpEvent]:
    """The event and every event nested in it."""
    out = [event]
    if isinstance(event, PoissonSampled | SampledWithoutReplacement | SelfComposed):
        out += _walk(event.event)
    elif isinstance(event, Composed):
        for inner in event.events:
            out += _walk(inner)
    return out


def _is_sampled(event: DpEvent) -> bool:
    """Whether every mechanism in ``event`` runs on a sample (Poisson or fixed-size)."""
    if isinstance(event, PoissonSampled | SampledWithoutReplacement):
        return True
    if isinstance(event, SelfComposed):
        return _is_sampled(event.event)
    if isinstance(event, Composed):
        return all(_is_sampled(inner) for inner in event.events)
    return False


@dataclass(frozen=True, slots=True)
class Accounting:
    """What the accountants said about a ledger.

    ``rdp`` and ``pld`` hold, per checkpoint in ``marks``, the epsilon at each requested
    delta (``pld`` is ``None`` without a tight bound; ``pld_note`` then says why, when the
    PLD was skipped or refused rather than unsupported).
    """

    marks: list[int]
    rdp: list[list[float]]
    pld: list[list[float]] | None
    pld_lower: float | None
    pld_upper: float | None
    pld_note: str | None

    @property
    def epsilon_rdp(self) -> float:
        """The final RDP epsilon at the first delta."""
        return self.rdp[-1][0]


def account(
    entries: Ledger,
    *,
    relation: Neighbouring,
    deltas: Sequence[float],
    curve_points: int | None,
    tight: bool,
) -> Accounting:
    """Account ``entries`` under ``relation`` at every delta in ``deltas``, by counts.

    Raises:
        UnsupportedEvent: an event the RDP accountant cannot bound under ``relation``.
    """
    total = sum(count for _, count in entries)
    runs = _consecutive_runs(entries)
    if curve_points is None:
        points = total if total <= _EVERY_ROUND_LIMIT else _DEFAULT_CHECKPOINTS
    else:
        points = curve_points
    marks = _checkpoints(total, points)
    pieces = _chunks(runs, marks)

    rdp = RdpAccountant(neighbouring=relation)
    for event, _ in runs:
        if not rdp.supports(event):
            raise UnsupportedEvent(f"no sound bound for {event!r} under {relation}")
    rdp_values = _trace(rdp, pieces, deltas)
    epsilon_rdp = rdp_values[-1][0]

    pld_values: list[list[float]] | None = None
    pld_lower = pld_upper = None
    pld_note = None
    if tight and all(PldAccountant(neighbouring=relation).supports(e) for e, _ in runs):
        if epsilon_rdp > PLD_EPSILON_LIMIT:
            shown = f"{epsilon_rdp:.4g}" if math.isfinite(epsilon_rdp) else "inf"
            pld_note = (
                f"The tight (PLD) accountant was skipped: the RDP epsilon {shown} exceeds "
                f"{PLD_EPSILON_LIMIT:g}, where the PLD grid would be too large; the RDP "
                "epsilon (an upper bound) is reported."
            )
        else:
            try:
                trace_acc = PldAccountant(neighbouring=relation)
                pld_values = _trace(trace_acc, pieces, deltas)
                # The headline is the runs composed by counts, as compose(event, count)
                # gives a user; when no checkpoint splits a run it is the same composition.
                headline = (
                    trace_acc
                    if len(pieces) == len(runs)
                    else PldAccountant(neighbouring=relation).compose_ledger(runs)
                )
                pld_lower, pld_upper = headline.get_epsilon_bounds(deltas[0])
                pld_values[-1] = [pld_upper] + [headline.get_epsilon(d) for d in deltas[1:]]
            except UnsupportedEvent as error:
                pld_values = None
                pld_lower = pld_upper = None
                pld_note = (
                    f"The tight (PLD) accountant could not bound this ledger ({error}); "
                    "the RDP epsilon (an upper bound) is reported."
                )
    return Accounting(marks, rdp_values, pld_values, pld_lower, pld_upper, pld_note)
