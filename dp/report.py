"""Privacy budget reports: what a run spent, in a form a paper, an auditor or a regulator reads.

A :class:`PrivacyReport` is computed from an accountant's ledger plus the run's metadata:
the privacy unit and the neighbouring relation (the accountants are built for it, so every
number is for the relation the report names), the sampling scheme actually used, the
threat model in force (with the colluders assumed under distributed DP), the clip norm and
noise multiplier in the user's units, what was released, and the target budget. It holds
the epsilon curve at the chosen delta (and, as a comparison, at ``delta = 1/N``), the tight
PLD epsilon with its certified lower bound next to the fast RDP epsilon, and warnings for
anything that may make the statement weaker than it reads (e.g. a fixed-size or shuffled
selection accounted as Poisson sampling; Lebeda, Regehr, Kamath and Steinke 2024,
"Avoiding Pitfalls for Privacy Accounting of Subsampled Mechanisms under Composition").

Ledgers are run-length ``(event, count)`` lists and reports compose them *by counts*: the
curve is evaluated at checkpoints in round space, each stretch between checkpoints composed
as one ``compose(event, k)`` (repeated squaring in the PLD, a product in the RDP), so a
report over 10^12 rounds costs a few dozen compositions and bounded memory.

Outputs: versioned JSON (:meth:`PrivacyReport.to_dict`, schema in ``docs/dp/reports.md``),
Markdown, a self-contained HTML page with an embedded PNG plot, a plain-text table, and a
PNG plot (matplotlib from the ``plot`` extra, imported only when plotting).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from dp._bounded_json import check_depth, loads_bounded
from dp.accountants import PldAccountant, RdpAccountant
from dp.accountants.base import (
    PrivacyAccountant,
    check_delta,
    ledger_from_dict,
    ledger_neighbouring,
    ledger_to_dict,
)
from dp.errors import DPError, InvalidArgument, SerializationError, UnsupportedEvent
from dp.events import (
    Composed,
    DistributedDiscreteGaussian,
    DpEvent,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
    Skellam,
)
from dp.neighbouring import Neighbouring, check_neighbouring

__all__ = [
    "REPORT_FORMAT_VERSION",
    "MAX_ROUNDS",
    "PLD_EPSILON_LIMIT",
    "DEFAULT_RELEASED",
    "MAX_CURVE_POINTS",
    "PrivacyUnit",
    "Neighbouring",
    "SamplingScheme",
    "ThreatKind",
    "ThreatModel",
    "CurvePoint",
    "PrivacyReport",
    "describe_event",
]

REPORT_FORMAT_VERSION = 2
"""Version of the JSON written by :meth:`PrivacyReport.to_dict`.

Version 2 added ``clip_norm``, ``noise_multiplier``, ``released``, the threat model's
``colluders`` and the ``replace_one`` relation, and counts rounds as compositions (the sum
of the ledger's counts). Readers accept versions 1 and 2 and refuse others.
"""

_READABLE_VERSIONS = (1, 2)

MAX_ROUNDS = 2**53
"""Most rounds (sum of ledger counts) a report accounts; beyond, counts lose exactness."""

PLD_EPSILON_LIMIT = 200.0
"""RDP epsilon above which the PLD accountant is skipped (its loss grid would need tens of
millions of points; the RDP bound, an upper bound too, is reported and a warning says so)."""

DEFAULT_RELEASED = "every round's noised aggregate (and everything computed from it)"
"""What the adversary sees, unless the caller says otherwise."""

PrivacyUnit = Literal["example", "client"]
SamplingScheme = Literal["poisson", "fixed_size", "shuffled", "full_batch"]
ThreatKind = Literal["trusted_server", "distributed"]

_UNITS = ("example", "client")
_SCHEMES = ("poisson", "fixed_size", "shuffled", "full_batch")
_THREATS = ("trusted_server", "distributed")
Ledger = Sequence[tuple[DpEvent, int]]

#: ``curve_points=None`` evaluates every round up to this many rounds, else
#: :data:`_DEFAULT_CHECKPOINTS` evenly spaced rounds.
_EVERY_ROUND_LIMIT = 1000
_DEFAULT_CHECKPOINTS = 100

MAX_CURVE_POINTS = 10_000
"""Most curve points a report evaluates (each one is an accountant query)."""


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _optional_int(name: str, value: object, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgument(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _optional_positive(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidArgument(f"{name} is too large for a float") from None
    if not (math.isfinite(number) and number > 0):
        raise InvalidArgument(f"{name} must be finite and > 0, got {value!r}")
    return number


def _unit_word(unit: str) -> str:
    return "client" if unit == "client" else "record"


def _relation_label(relation: str, unit: str) -> str:
    """How a rendering names the relation: the zero-out choice is always spelled out."""
    who = _unit_word(unit)
    if relation == "zero_out":
        return (
            f"zero-out (explicit choice, not add/remove: one {who}'s data replaced by a null "
            f"{who} contributing zero)"
        )
    if relation == "replace_one":
        return f"replace-one (one {who} replaced by any other)"
    return f"add/remove (one {who} added or removed)"


@dataclass(frozen=True, slots=True)
class ThreatModel:
    """Who is trusted with what (see ``docs/threat-model.md``).

    Args:
        kind: ``"trusted_server"`` (central noise, the server sees the un-noised sum) or
            ``"distributed"`` (noise shares under secure aggregation).
        n_min: distributed only: the fewest honest survivors the noise is sized for.
        min_survivors: distributed only: the fewest survivors actually seen in a round.
        dropouts: whether clients may drop out mid-round.
        colluders: distributed only: how many clients may collude with the server. A
            colluding client knows, and can subtract, its own noise share, so the
            accounting must use the honest survivors' noise only; ``None`` means the
            number was not stated (the report then warns that none is assumed).

    Raises:
        InvalidArgument: an unknown kind, a bad count, or a distributed-only field on a
            trusted server.
    """

    kind: ThreatKind = "trusted_server"
    n_min: int | None = None
    min_survivors: int | None = None
    dropouts: bool = False
    colluders: int | None = None

    def __post_init__(self) -> None:
        _choice("threat model", self.kind, _THREATS)
        _optional_int("n_min", self.n_min, 1)
        _optional_int("min_survivors", self.min_survivors, 1)
        _optional_int("colluders", self.colluders, 0)
        if not isinstance(self.dropouts, bool):
            raise InvalidArgument("dropouts must be a bool")
        if self.kind == "trusted_server" and (
            self.n_min is not None or self.min_survivors is not None or self.colluders is not None
        ):
            raise InvalidArgument(
                "n_min, min_survivors and colluders apply to the distributed model only"
            )

    def describe(self) -> str:
        """A few sentences for humans, stating every assumption."""
        if self.kind == "trusted_server":
            text = (
                "Central DP: the server is trusted with the un-noised aggregate and adds the "
                "noise itself."
            )
        else:
            text = (
                "Distributed DP: every client adds a noise share before secure aggregation; "
                "the server only sees the noised sum"
            )
            if self.n_min is not None:
                text += f", and the noise reaches its target with at least {self.n_min} "
                text += "honest surviving clients"
            text += "."
            if self.colluders is None:
                text += (
                    " The number of clients that may collude with the server is not stated: "
                    "the accounting assumes that none does (a colluding client knows, and "
                    "can subtract, its own noise share)."
                )
            elif self.colluders == 0:
                text += " No client is assumed to collude with the server."
            else:
                text += (
                    f" Up to {self.colluders} clients may collude with the server; they know, "
                    "and can subtract, their own noise shares, so the accounting uses the "
                    "noise of the honest survivors only."
                )
            if self.min_survivors is not None:
                text += f" The fewest survivors in a round was {self.min_survivors}."
        if self.dropouts:
            text += " Clients may drop out; accounting uses the clients that survived."
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "kind": self.kind,
            "n_min": self.n_min,
            "min_survivors": self.min_survivors,
            "dropouts": self.dropouts,
            "colluders": self.colluders,
        }


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Epsilon after ``round`` rounds (``None`` where the accountant does not apply)."""

    round: int
    epsilon_rdp: float
    epsilon_pld: float | None
    epsilon_rdp_at_inverse_n: float | None
    epsilon_pld_at_inverse_n: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (infinite epsilons as the string ``"inf"``)."""
        return {
            "round": self.round,
            "epsilon_rdp": _dump_float(self.epsilon_rdp),
            "epsilon_pld": _dump_float(self.epsilon_pld),
            "epsilon_rdp_at_inverse_n": _dump_float(self.epsilon_rdp_at_inverse_n),
            "epsilon_pld_at_inverse_n": _dump_float(self.epsilon_pld_at_inverse_n),
        }


def _dump_float(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if math.isfinite(value) else "inf"


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
    if isinstance(ledger, str | bytes | Mapping) or not isinstance(ledger, Sequence):
        raise InvalidArgument("the ledger must be a sequence of (event, count) pairs")
    entries = []
    for entry in ledger:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise InvalidArgument("ledger entries must be (event, count) pairs")
        event, count = entry
        if not isinstance(event, DpEvent):
            raise InvalidArgument(f"ledger events must be dp events, got {type(event).__name__}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"ledger counts must be ints >= 1, got {count!r}")
        entries.append((event, count))
    return tuple(entries)


#: Rendered curve tables (Markdown, HTML) show at most this many rounds; JSON and the plot
#: keep every evaluated round.
_DISPLAYED_CURVE_ROWS = 50


def _walk(event: DpEvent) -> list[DpEvent]:
    """The event and every event nested in it."""
    out = [event]
    if isinstance(event, PoissonSampled | SampledWithoutReplacement | SelfComposed):
        out += _walk(event.event)
    elif isinstance(event, Composed):
        for inner in event.events:
            out += _walk(inner)
    return out


def describe_event(event: DpEvent) -> str:
    """A compact description, e.g. ``poisson_sampled(rate=0.01) of gaussian(...)``."""
    fields = {k: v for k, v in event.to_dict().items() if k not in ("type", "version")}
    inner = fields.pop("event", None)
    nested = fields.pop("events", None)
    params = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in fields.items())
    text = f"{event.kind}({params})"
    if inner is not None:
        text += " of " + describe_event(event.event)  # type: ignore[attr-defined]
    if nested is not None:
        text += " of [" + "; ".join(describe_event(e) for e in event.events) + "]"  # type: ignore[attr-defined]
    return text


def _nan_for_none(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return "inf"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    """A run's privacy budget: parameters, epsilon curve, bounds, threat model, warnings.

    Build it with :meth:`from_ledger`; serialise with :meth:`to_dict` / :meth:`to_json`;
    render with :meth:`to_markdown`, :meth:`to_html`, :meth:`to_table` and :meth:`plot`.
    A *round* is one composition of an event: a ledger entry ``(event, count)`` is
    ``count`` rounds, and :attr:`rounds` is the sum of the counts.

    Example:
        >>> import dp
        >>> from dp.report import PrivacyReport
        >>> ledger = [(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 20)]
        >>> report = PrivacyReport.from_ledger(ledger, delta=1e-5, population=60_000)
        >>> report.rounds, report.neighbouring
        (20, 'add_remove')
    """

    title: str
    privacy_unit: PrivacyUnit
    neighbouring: Neighbouring
    sampling: SamplingScheme
    delta: float
    population: int | None
    rounds: int
    ledger: tuple[tuple[DpEvent, int], ...]
    curve: tuple[CurvePoint, ...]
    epsilon_rdp: float
    epsilon_pld: float | None
    epsilon_pld_lower: float | None
    target_epsilon: float | None
    threat_model: ThreatModel
    warnings: tuple[str, ...]
    library_version: str
    created: str
    clip_norm: float | None = None
    noise_multiplier: float | None = None
    released: str | None = DEFAULT_RELEASED

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_ledger(
        cls,
        ledger: Ledger,
        *,
        delta: float,
        privacy_unit: PrivacyUnit = "example",
        neighbouring: Neighbouring = "add_remove",
        sampling: SamplingScheme = "poisson",
        population: int | None = None,
        target_epsilon: float | None = None,
        threat_model: ThreatModel | None = None,
        clip_norm: float | None = None,
        noise_multiplier: float | None = None,
        released: str | None = DEFAULT_RELEASED,
        title: str = "Privacy report",
        curve_points: int | None = None,
        tight: bool = True,
        library_version: str | None = None,
        created: str | None = None,
    ) -> PrivacyReport:
        """Account a ledger under ``neighbouring`` and assemble the report.

        Both accountants are built for ``neighbouring``, so the epsilons are for the
        relation the report names (e.g. fixed-size sampling under add/remove is accounted
        as the displacement pair; see :mod:`dp.neighbouring`). The curve is composed by
        counts: checkpoints in round space, each stretch one ``compose(event, k)``.

        Args:
            ledger: ``(event, count)`` runs (an accountant's ``ledger``): ``count`` rounds
                of ``event`` each.
            delta: the delta at which epsilon is reported, in (0, 1).
            privacy_unit: ``"example"`` or ``"client"`` (user-level DP).
            neighbouring: ``"add_remove"`` (default), ``"zero_out"`` (an explicit,
                labelled choice) or ``"replace_one"``.
            sampling: how participants were actually selected each round.
            population: ``N`` (examples or clients); adds, as a comparison, epsilon at
                ``delta = 1/N``.
            target_epsilon: the budget; the report shows what is left.
            threat_model: defaults to a trusted server.
            clip_norm: the L2 bound on one record's (client's) contribution, in the
                user's units.
            noise_multiplier: the noise standard deviation over ``clip_norm``, in the
                user's units (not grid units).
            released: what the adversary sees; ``None`` for "not stated".
            title: heading of the rendered report.
            curve_points: evaluate the curve at this many rounds (evenly spaced, always the
                first and the last); ``None`` evaluates every round up to 1000 rounds and
                100 evenly spaced rounds beyond; at most :data:`MAX_CURVE_POINTS`.
            tight: also run the PLD accountant when it supports every event (skipped, with
                a warning, when the RDP epsilon exceeds :data:`PLD_EPSILON_LIMIT`).
            library_version: defaults to ``dp.__version__`` (injectable for golden tests).
            created: ISO-8601 timestamp; defaults to now in UTC (injectable likewise).

        Raises:
            InvalidArgument: bad metadata, an empty ledger or more than :data:`MAX_ROUNDS`
                rounds.
            UnsupportedEvent: an event the RDP accountant cannot bound under the relation
                (e.g. Poisson sampling under ``replace_one``).
        """
        delta = check_delta(delta)
        relation = check_neighbouring(neighbouring)
        entries = _check_ledger(ledger)
        if not entries:
            raise InvalidArgument("the ledger is empty: nothing to report")
        total = sum(count for _, count in entries)
        if total > MAX_ROUNDS:
            raise InvalidArgument(f"the ledger holds {total} rounds, over the limit {MAX_ROUNDS}")
        population = _optional_int("population", population, 2)
        target = _optional_positive("target_epsilon", target_epsilon)
        if curve_points is not None and (
            isinstance(curve_points, bool)
            or not isinstance(curve_points, int)
            or not 2 <= curve_points <= MAX_CURVE_POINTS
        ):
            raise InvalidArgument(
                f"curve_points must be None or an int in [2, {MAX_CURVE_POINTS}], "
                f"got {curve_points!r}"
            )
        threat = threat_model if threat_model is not None else ThreatModel()
        if not isinstance(threat, ThreatModel):
            raise InvalidArgument("threat_model must be a ThreatModel")
        if not isinstance(title, str):
            raise InvalidArgument("title must be a string")

        runs = _consecutive_runs(entries)
        if curve_points is None:
            points = total if total <= _EVERY_ROUND_LIMIT else _DEFAULT_CHECKPOINTS
        else:
            points = curve_points
        marks = _checkpoints(total, points)
        pieces = _chunks(runs, marks)
        deltas = [delta] if population is None else [delta, 1.0 / population]

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
                pld_note = (
                    f"The tight (PLD) accountant was skipped: the RDP epsilon "
                    f"{_fmt(epsilon_rdp)} exceeds {PLD_EPSILON_LIMIT:g}, where the PLD grid "
                    "would be too large; the RDP epsilon (an upper bound) is reported."
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
                    pld_lower, pld_upper = headline.get_epsilon_bounds(delta)
                    pld_values[-1] = [pld_upper] + [headline.get_epsilon(d) for d in deltas[1:]]
                except UnsupportedEvent as error:
                    pld_values = None
                    pld_lower = pld_upper = None
                    pld_note = (
                        f"The tight (PLD) accountant could not bound this ledger ({error}); "
                        "the RDP epsilon (an upper bound) is reported."
                    )

        curve = []
        for index, mark in enumerate(marks):
            rdp_at = rdp_values[index]
            pld_at = pld_values[index] if pld_values is not None else None
            curve.append(
                CurvePoint(
                    round=mark,
                    epsilon_rdp=rdp_at[0],
                    epsilon_pld=None if pld_at is None else pld_at[0],
                    epsilon_rdp_at_inverse_n=rdp_at[1] if population else None,
                    epsilon_pld_at_inverse_n=pld_at[1] if pld_at and population else None,
                )
            )

        if library_version is None:
            import dp

            library_version = dp.__version__
        if created is None:
            created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = cls(
            title=title,
            privacy_unit=privacy_unit,
            neighbouring=relation,
            sampling=sampling,
            delta=delta,
            population=population,
            rounds=total,
            ledger=entries,
            curve=tuple(curve),
            epsilon_rdp=epsilon_rdp,
            epsilon_pld=pld_upper,
            epsilon_pld_lower=pld_lower,
            target_epsilon=target,
            threat_model=threat,
            warnings=(),
            library_version=library_version,
            created=created,
            clip_norm=clip_norm,
            noise_multiplier=noise_multiplier,
            released=released,
        )
        derived = report._derive_warnings(tight and pld_note is None)
        if pld_note is not None:
            derived.insert(0, pld_note)
        object.__setattr__(report, "warnings", tuple(derived))
        return report

    def __post_init__(self) -> None:
        _choice("privacy_unit", self.privacy_unit, _UNITS)
        check_neighbouring(self.neighbouring)
        _choice("sampling", self.sampling, _SCHEMES)
        object.__setattr__(self, "clip_norm", _optional_positive("clip_norm", self.clip_norm))
        object.__setattr__(
            self,
            "noise_multiplier",
            _optional_positive("noise_multiplier", self.noise_multiplier),
        )
        if self.released is not None and not isinstance(self.released, str):
            raise InvalidArgument("released must be a string or None")

    def _derive_warnings(self, tight: bool) -> list[str]:
        events = [inner for event, _ in self.ledger for inner in _walk(event)]
        poisson = any(isinstance(e, PoissonSampled) for e in events)
        wor = [e for e in events if isinstance(e, SampledWithoutReplacement)]
        out = []
        if self.neighbouring == "zero_out":
            out.append(
                "This report is for the zero-out relation (one participant's data replaced "
                "by a null contribution), an explicit choice: it is not an add/remove "
                "guarantee."
            )
        if wor:
            sizes = ", ".join(sorted({f"{e.sample_size} of {e.population}" for e in wor}))
            if self.neighbouring == "add_remove":
                how = (
                    "as the add/remove displacement pair: Poisson sampling at rate m/N with "
                    "twice the sensitivity (an added participant that is selected displaces "
                    "another, moving the sum by up to twice the clip norm)"
                )
            else:
                how = (
                    "with the replace-one bound for sampling without replacement (Wang, "
                    "Balle, Kasiviswanathan 2019) at twice the sensitivity, by RDP only (the "
                    "PLD accountant has no sound pair for it)"
                )
            out.append(f"The ledger holds fixed-size cohorts ({sizes}); they are accounted {how}.")
        if poisson and self.sampling in ("fixed_size", "shuffled"):
            out.append(
                f"Participants were selected by {self.sampling.replace('_', '-')} sampling "
                "but accounted as Poisson sampling; the Poisson amplification bound does not "
                "hold for this selection and the reported epsilon may understate the loss "
                "(Lebeda et al. 2024). Account with SampledWithoutReplacement or use "
                "Poisson selection."
            )
        if poisson and self.sampling == "full_batch":
            out.append("The ledger claims Poisson subsampling but the run used full batches.")
        if wor and self.sampling == "shuffled":
            out.append(
                "Participants were selected by shuffling (a permutation split into batches), "
                "which is not sampling without replacement at every round; the accounted "
                "amplification may not hold."
            )
        if wor and self.sampling == "poisson":
            out.append(
                "The ledger accounts fixed-size sampling but the run used Poisson sampling; "
                "the accounting describes a different selection."
            )
        if self.epsilon_pld is None and tight:
            out.append(
                "No tight (PLD) bound: some event is only supported by the RDP accountant "
                "under this relation; the RDP epsilon is an upper bound and may be loose."
            )
        if self.population is not None and self.delta > 1.0 / self.population:
            out.append(
                f"delta = {self.delta:.3g} exceeds 1/N = {1.0 / self.population:.3g}: a "
                "mechanism could then reveal a record outright with that probability."
            )
        distributed = any(isinstance(e, DistributedDiscreteGaussian | Skellam) for e in events)
        if distributed and self.threat_model.kind == "trusted_server":
            out.append(
                "The ledger holds distributed-noise events but the threat model says "
                "trusted server."
            )
        tm = self.threat_model
        if tm.kind == "distributed" and tm.colluders is None:
            out.append(
                "Distributed DP without a stated number of colluding clients: the "
                "accounting assumes no client colludes with the server."
            )
        if tm.n_min is not None and tm.min_survivors is not None and tm.min_survivors < tm.n_min:
            out.append(
                f"Some round had {tm.min_survivors} survivors, fewer than n_min = {tm.n_min}: "
                "its noise was below target (accounted with the actual survivors)."
            )
        if self.target_epsilon is not None and self.epsilon > self.target_epsilon:
            out.append(
                f"The budget is exhausted: epsilon {self.epsilon:.4g} exceeds the target "
                f"{self.target_epsilon:.4g}."
            )
        return out

    # ----------------------------------------------------------------- derived values

    @property
    def epsilon(self) -> float:
        """The reported epsilon: the tight PLD bound when available, else RDP."""
        return self.epsilon_pld if self.epsilon_pld is not None else self.epsilon_rdp

    @property
    def budget_left(self) -> float | None:
        """``target_epsilon - epsilon`` (negative when over budget), or ``None``."""
        if self.target_epsilon is None:
            return None
        return self.target_epsilon - self.epsilon

    @property
    def epsilon_at_inverse_n(self) -> float | None:
        """Final epsilon at ``delta = 1/N`` (PLD when available), or ``None``.

        A comparison only: the guarantee is the epsilon at :attr:`delta`.
        """
        if not self.curve or self.population is None:
            return None
        last = self.curve[-1]
        return (
            last.epsilon_pld_at_inverse_n
            if last.epsilon_pld_at_inverse_n is not None
            else last.epsilon_rdp_at_inverse_n
        )

    # ------------------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (schema: ``docs/dp/reports.md``)."""
        return {
            "type": "privacy_report",
            "version": REPORT_FORMAT_VERSION,
            "title": self.title,
            "privacy_unit": self.privacy_unit,
            "neighbouring": self.neighbouring,
            "sampling": self.sampling,
            "delta": self.delta,
            "population": self.population,
            "rounds": self.rounds,
            "ledger": ledger_to_dict(self.ledger, neighbouring=self.neighbouring),
            "curve": [p.to_dict() for p in self.curve],
            "epsilon_rdp": _dump_float(self.epsilon_rdp),
            "epsilon_pld": _dump_float(self.epsilon_pld),
            "epsilon_pld_lower": _dump_float(self.epsilon_pld_lower),
            "target_epsilon": self.target_epsilon,
            "threat_model": self.threat_model.to_dict(),
            "clip_norm": self.clip_norm,
            "noise_multiplier": self.noise_multiplier,
            "released": self.released,
            "warnings": list(self.warnings),
            "library_version": self.library_version,
            "created": self.created,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> PrivacyReport:
        """Parse and validate a dict written by :meth:`to_dict` (version 1 or 2).

        A version 1 report is read with the defaults of its time (rounds counted as
        compositions, no clip norm, noise multiplier or colluders, release not stated).

        Raises:
            SerializationError: wrong type tag or version, missing or extra fields, a
                field of the wrong type or range, or nesting deeper than 64.
        """
        check_depth(data, what="a privacy report")
        return _parse_report(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> PrivacyReport:
        """Parse :meth:`to_json` output (``str``, or UTF-8 ``bytes``).

        Size and nesting depth are checked before parsing, so hostile input costs bounded
        time and memory (:func:`dp._bounded_json.loads_bounded`).

        Raises:
            SerializationError: not UTF-8, not JSON, too large or too deep, or not a valid
                report.
        """
        return _parse_report(loads_bounded(text, what="a privacy report"))

    # -------------------------------------------------------------------- rendering

    def _summary_rows(self) -> list[tuple[str, str]]:
        who = _unit_word(self.privacy_unit)
        rows = [
            ("privacy unit", self.privacy_unit),
            ("neighbouring relation", _relation_label(self.neighbouring, self.privacy_unit)),
            ("sampling", self.sampling.replace("_", " ")),
            ("released", self.released if self.released is not None else "not stated"),
        ]
        if self.clip_norm is not None:
            rows.append((f"clip norm (L2 bound per {who})", _fmt(self.clip_norm)))
        if self.noise_multiplier is not None:
            rows.append(("noise multiplier (noise std / clip norm)", _fmt(self.noise_multiplier)))
        rows += [
            ("rounds", str(self.rounds)),
            ("delta", f"{self.delta:.3g}"),
            ("epsilon (PLD, tight)", _fmt(self.epsilon_pld)),
            ("epsilon (PLD, lower bound)", _fmt(self.epsilon_pld_lower)),
            ("epsilon (RDP, fast)", _fmt(self.epsilon_rdp)),
        ]
        if self.target_epsilon is not None:
            rows.append(("target epsilon", _fmt(self.target_epsilon)))
            rows.append(("budget left", _fmt(self.budget_left)))
        if self.population is not None:
            rows.append(
                (
                    f"comparison only: epsilon at delta = 1/N (N = {self.population})",
                    _fmt(self.epsilon_at_inverse_n),
                )
            )
        rows.append(("threat model", self.threat_model.kind.replace("_", " ")))
        if self.threat_model.kind == "distributed":
            colluders = self.threat_model.colluders
            rows.append(
                (
                    "clients colluding with the server",
                    "not stated (none assumed)" if colluders is None else str(colluders),
                )
            )
        rows.append(("library version", self.library_version))
        rows.append(("created", self.created))
        return rows

    def _mechanism_rows(self) -> list[tuple[str, str]]:
        return [(str(count), describe_event(event)) for event, count in _grouped(self.ledger)]

    def _curve_rows(self) -> list[tuple[str, ...]]:
        shown = set(_checkpoints(len(self.curve), _DISPLAYED_CURVE_ROWS))
        rows = []
        for index, p in enumerate(self.curve, start=1):
            if index not in shown:
                continue
            row = [str(p.round), _fmt(p.epsilon_pld), _fmt(p.epsilon_rdp)]
            if self.population is not None:
                row += [_fmt(p.epsilon_pld_at_inverse_n), _fmt(p.epsilon_rdp_at_inverse_n)]
            rows.append(tuple(row))
        return rows

    def _curve_header(self) -> tuple[str, ...]:
        head = ["round", "epsilon PLD", "epsilon RDP"]
        if self.population is not None:
            head += ["PLD at 1/N (comparison)", "RDP at 1/N (comparison)"]
        return tuple(head)

    def to_markdown(self) -> str:
        """A Markdown report (tables for the summary, the mechanisms and the curve)."""
        lines = [f"# {self.title}", ""]
        lines += ["| quantity | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in self._summary_rows()]
        lines += ["", "## Threat model", "", self.threat_model.describe(), ""]
        lines += ["## Mechanisms", "", "| rounds | mechanism |", "| --- | --- |"]
        lines += [f"| {n} | `{d}` |" for n, d in self._mechanism_rows()]
        lines += ["", f"## Epsilon after each round (delta = {self.delta:.3g})", ""]
        head = self._curve_header()
        lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self._curve_rows()]
        lines += ["", "## Warnings", ""]
        lines += [f"- {w}" for w in self.warnings] if self.warnings else ["None."]
        return "\n".join(lines) + "\n"

    def to_table(self) -> str:
        """A plain-text summary for terminals."""
        rows = self._summary_rows()
        width = max(len(k) for k, _ in rows)
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
        lines += ["", "mechanisms:"] + [f"  {n} x {d}" for n, d in self._mechanism_rows()]
        if self.warnings:
            lines += ["", "warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"

    def to_html(self, *, include_plot: bool = True, include_inverse_n: bool = False) -> str:
        """A self-contained HTML page; the plot is an embedded base64 PNG.

        Without matplotlib the page says so in place of the plot. ``include_inverse_n``
        adds the ``delta = 1/N`` comparison curve to the plot (off by default).
        """
        esc = html.escape

        def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
            out = "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
            out += "</tr></thead><tbody>"
            for row in rows:
                out += "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
            return out + "</tbody></table>"

        figure = ""
        if include_plot:
            try:
                png = self.plot_png(include_inverse_n=include_inverse_n)
                data = base64.b64encode(png).decode("ascii")
                figure = f'<img alt="epsilon against rounds" src="data:image/png;base64,{data}">'
            except DPError as exc:
                figure = f"<p><em>{esc(str(exc))}</em></p>"
        warnings = (
            "<ul>" + "".join(f"<li>{esc(w)}</li>" for w in self.warnings) + "</ul>"
            if self.warnings
            else "<p>None.</p>"
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(self.title)}</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:2em auto;}"
            "table{border-collapse:collapse;margin:1em 0;}"
            "td,th{border:1px solid #999;padding:.25em .6em;text-align:left;}"
            "</style></head><body>"
            f"<h1>{esc(self.title)}</h1>"
            + table(("quantity", "value"), self._summary_rows())
            + f"<h2>Threat model</h2><p>{esc(self.threat_model.describe())}</p>"
            + "<h2>Mechanisms</h2>"
            + table(("rounds", "mechanism"), self._mechanism_rows())
            + f"<h2>Epsilon after each round (delta = {self.delta:.3g})</h2>"
            + figure
            + table(self._curve_header(), self._curve_rows())
            + "<h2>Warnings</h2>"
            + warnings
            + "</body></html>\n"
        )

    def plot_png(self, *, include_inverse_n: bool = False) -> bytes:
        """The epsilon-against-rounds plot as PNG bytes (needs matplotlib).

        The plot shows the guarantee (epsilon at :attr:`delta`); ``include_inverse_n`` adds
        the ``delta = 1/N`` curve, labelled as a comparison.

        Raises:
            DPError: matplotlib is not installed (``pip install 'fedcrypt[plot]'``).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise DPError("plotting needs matplotlib: pip install 'fedcrypt[plot]'") from exc
        fig = Figure(figsize=(6.4, 4.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        rounds = [p.round for p in self.curve]
        if any(p.epsilon_pld is not None for p in self.curve):
            ax.plot(rounds, _nan_for_none([p.epsilon_pld for p in self.curve]), label="PLD (tight)")
        ax.plot(rounds, [p.epsilon_rdp for p in self.curve], "--", label="RDP")
        if include_inverse_n and self.population is not None:
            ax.plot(
                rounds,
                _nan_for_none(
                    [
                        p.epsilon_pld_at_inverse_n
                        if p.epsilon_pld_at_inverse_n is not None
                        else p.epsilon_rdp_at_inverse_n
                        for p in self.curve
                    ]
                ),
                ":",
                label=f"comparison: delta = 1/N = {1 / self.population:.2g}",
            )
        if self.target_epsilon is not None:
            ax.axhline(self.target_epsilon, color="red", linewidth=1, label="target")
        ax.set_xlabel("round")
        ax.set_ylabel("epsilon")
        relation = self.neighbouring.replace("_", "/" if self.neighbouring == "add_remove" else "-")
        heading = f"{self.title} (delta = {self.delta:.2g}, {relation})"
        ax.set_title(textwrap.fill(heading, width=70), fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def plot(self, path: str | Path, *, include_inverse_n: bool = False) -> None:
        """Write the epsilon-against-rounds plot to a PNG file (needs matplotlib)."""
        png = self.plot_png(include_inverse_n=include_inverse_n)
        Path(path).write_bytes(png)


# ---------------------------------------------------------------------------- parsing

_V1_REPORT_KEYS = frozenset(
    {
        "type",
        "version",
        "title",
        "privacy_unit",
        "neighbouring",
        "sampling",
        "delta",
        "population",
        "rounds",
        "ledger",
        "curve",
        "epsilon_rdp",
        "epsilon_pld",
        "epsilon_pld_lower",
        "target_epsilon",
        "threat_model",
        "warnings",
        "library_version",
        "created",
    }
)
_REPORT_KEYS = _V1_REPORT_KEYS | {"clip_norm", "noise_multiplier", "released"}
_CURVE_KEYS = frozenset(
    {
        "round",
        "epsilon_rdp",
        "epsilon_pld",
        "epsilon_rdp_at_inverse_n",
        "epsilon_pld_at_inverse_n",
    }
)
_V1_THREAT_KEYS = frozenset({"kind", "n_min", "min_survivors", "dropouts"})
_THREAT_KEYS = _V1_THREAT_KEYS | {"colluders"}
_V1_RELATIONS = ("add_remove", "zero_out")

_V1_FIXED_SIZE_NOTE = (
    "Read from a version 1 report, whose epsilons for fixed-size cohorts used the "
    "sampling-without-replacement bound at the add/remove sensitivity, which understates "
    "the add/remove loss (displacement): recompute with PrivacyReport.from_ledger."
)


def _load_float(value: object, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if value == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SerializationError(f"{name} must be a number")
    try:
        out = float(value)
    except OverflowError:
        raise SerializationError(f"{name} is too large for a float") from None
    if math.isnan(out) or out < 0:
        raise SerializationError(f"{name} must be >= 0")
    return out


def _exact_keys(data: object, keys: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SerializationError(f"{what} must be a JSON object")
    if set(data) != keys:
        missing = sorted(keys - set(data))
        extra = sorted(str(k)[:40] for k in set(data) - keys)[:5]
        raise SerializationError(f"{what}: missing fields {missing}, unknown fields {extra}")
    return data


def _parse_curve(raw: object) -> list[CurvePoint]:
    if not isinstance(raw, list):
        raise SerializationError("the curve must be a list")
    curve: list[CurvePoint] = []
    for item in raw:
        point = _exact_keys(item, _CURVE_KEYS, "a curve point")
        rnd = point["round"]
        if isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 1:
            raise SerializationError("curve rounds must be ints >= 1")
        if curve and rnd <= curve[-1].round:
            raise SerializationError("curve rounds must be strictly increasing")
        curve.append(
            CurvePoint(
                round=rnd,
                epsilon_rdp=cast(float, _load_float(point["epsilon_rdp"], "epsilon_rdp")),
                epsilon_pld=_load_float(point["epsilon_pld"], "epsilon_pld", optional=True),
                epsilon_rdp_at_inverse_n=_load_float(
                    point["epsilon_rdp_at_inverse_n"], "epsilon", optional=True
                ),
                epsilon_pld_at_inverse_n=_load_float(
                    point["epsilon_pld_at_inverse_n"], "epsilon", optional=True
                ),
            )
        )
    return curve


def _parse_report(data: object) -> PrivacyReport:
    if not isinstance(data, Mapping):
        raise SerializationError("a privacy report must be a JSON object")
    version = data.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or version not in (_READABLE_VERSIONS)
    ):
        raise SerializationError(f"unsupported report version {str(version)[:40]!r}")
    v1 = version == 1
    raw = _exact_keys(data, _V1_REPORT_KEYS if v1 else _REPORT_KEYS, "a privacy report")
    if raw["type"] != "privacy_report":
        raise SerializationError("not a privacy report (type tag)")
    try:
        return _build_report(raw, v1)
    except SerializationError:
        raise
    except DPError as exc:  # InvalidArgument, UnsupportedEvent from nested validation
        raise SerializationError(f"invalid report field: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise SerializationError(f"malformed report: {type(exc).__name__}") from None


def _build_report(raw: Mapping[str, Any], v1: bool) -> PrivacyReport:
    curve = _parse_curve(raw["curve"])
    threat_raw = _exact_keys(
        raw["threat_model"], _V1_THREAT_KEYS if v1 else _THREAT_KEYS, "the threat model"
    )
    threat = ThreatModel(
        kind=threat_raw["kind"],
        n_min=threat_raw["n_min"],
        min_survivors=threat_raw["min_survivors"],
        dropouts=threat_raw["dropouts"],
        colluders=None if v1 else threat_raw["colluders"],
    )
    relation = raw["neighbouring"]
    if v1:
        _choice("neighbouring", relation, _V1_RELATIONS)
    relation = check_neighbouring(relation)
    ledger = tuple(ledger_from_dict(raw["ledger"]))
    if not ledger:
        raise SerializationError("the ledger is empty")
    if not v1 and ledger_neighbouring(raw["ledger"]) != relation:
        raise SerializationError("the ledger's relation differs from the report's")
    total = sum(count for _, count in ledger)
    if total > MAX_ROUNDS:
        raise SerializationError(f"the ledger holds more than {MAX_ROUNDS} rounds")
    rounds = raw["rounds"]
    if isinstance(rounds, bool) or not isinstance(rounds, int):
        raise SerializationError("rounds must be an int")
    warnings = raw["warnings"]
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise SerializationError("warnings must be a list of strings")
    if v1:
        # Version 1 counted ledger entries as rounds; map its curve onto compositions.
        if rounds != len(ledger):
            raise SerializationError("rounds must equal the number of ledger entries")
        if curve and curve[-1].round > rounds:
            raise SerializationError("the curve runs past the last round")
        ends = []
        position = 0
        for _, count in ledger:
            position += count
            ends.append(position)
        curve = [
            CurvePoint(
                round=ends[p.round - 1],
                epsilon_rdp=p.epsilon_rdp,
                epsilon_pld=p.epsilon_pld,
                epsilon_rdp_at_inverse_n=p.epsilon_rdp_at_inverse_n,
                epsilon_pld_at_inverse_n=p.epsilon_pld_at_inverse_n,
            )
            for p in curve
        ]
        rounds = total
        events = [inner for event, _ in ledger for inner in _walk(event)]
        if any(isinstance(e, SampledWithoutReplacement) for e in events):
            warnings = [_V1_FIXED_SIZE_NOTE, *warnings]
    elif rounds != total:
        raise SerializationError("rounds must equal the sum of the ledger's counts")
    if curve and curve[-1].round > rounds:
        raise SerializationError("the curve runs past the last round")
    for key in ("title", "library_version", "created"):
        if not isinstance(raw[key], str):
            raise SerializationError(f"{key} must be a string")
    released = None if v1 else raw["released"]
    if released is not None and not isinstance(released, str):
        raise SerializationError("released must be a string or null")
    delta = _load_float(raw["delta"], "delta")
    if delta is None or not 0 < delta < 1:
        raise SerializationError("delta must be in (0, 1)")
    return PrivacyReport(
        title=raw["title"],
        privacy_unit=raw["privacy_unit"],
        neighbouring=relation,
        sampling=raw["sampling"],
        delta=delta,
        population=_optional_int("population", raw["population"], 2),
        rounds=rounds,
        ledger=ledger,
        curve=tuple(curve),
        epsilon_rdp=cast(float, _load_float(raw["epsilon_rdp"], "epsilon_rdp")),
        epsilon_pld=_load_float(raw["epsilon_pld"], "epsilon_pld", optional=True),
        epsilon_pld_lower=_load_float(raw["epsilon_pld_lower"], "epsilon_pld_lower", optional=True),
        target_epsilon=_optional_positive("target_epsilon", raw["target_epsilon"]),
        threat_model=threat,
        warnings=tuple(warnings),
        library_version=raw["library_version"],
        created=raw["created"],
        clip_norm=None if v1 else _optional_positive("clip_norm", raw["clip_norm"]),
        noise_multiplier=(
            None if v1 else _optional_positive("noise_multiplier", raw["noise_multiplier"])
        ),
        released=released,
    )
