"""Privacy budget reports: what a run spent, in a form a paper, an auditor or a regulator reads.

A :class:`PrivacyReport` is computed from an accountant's ledger plus the run's metadata:
the privacy unit and neighbouring relation, the sampling scheme actually used, the threat
model in force, the target budget. It holds the epsilon after each round at the chosen
delta and at ``delta = 1/N``, the tight PLD epsilon (with its certified lower bound) next to
the fast RDP epsilon, and warnings for accounting shortcuts that may understate the loss
(e.g. a fixed-size or shuffled selection accounted as Poisson sampling; Lebeda, Regehr,
Kamath and Steinke 2024, "Avoiding Pitfalls for Privacy Accounting of Subsampled
Mechanisms under Composition").

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

import numpy as np
from numpy.typing import NDArray

from dp.accountants import PldAccountant, RdpAccountant
from dp.accountants.base import ledger_from_dict, ledger_to_dict
from dp.errors import DPError, InvalidArgument, SerializationError
from dp.events import (
    Composed,
    DistributedDiscreteGaussian,
    DpEvent,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
    Skellam,
)

__all__ = [
    "REPORT_FORMAT_VERSION",
    "PrivacyUnit",
    "Neighbouring",
    "SamplingScheme",
    "ThreatKind",
    "ThreatModel",
    "CurvePoint",
    "PrivacyReport",
]

REPORT_FORMAT_VERSION = 1
"""Version of the JSON written by :meth:`PrivacyReport.to_dict`; readers refuse others."""

PrivacyUnit = Literal["example", "client"]
Neighbouring = Literal["add_remove", "zero_out"]
SamplingScheme = Literal["poisson", "fixed_size", "shuffled", "full_batch"]
ThreatKind = Literal["trusted_server", "distributed"]

_UNITS = ("example", "client")
_RELATIONS = ("add_remove", "zero_out")
_SCHEMES = ("poisson", "fixed_size", "shuffled", "full_batch")
_THREATS = ("trusted_server", "distributed")
Ledger = Sequence[tuple[DpEvent, int]]


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
        raise InvalidArgument(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgument(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ThreatModel:
    """Who is trusted with what (see ``docs/threat-model.md``).

    Args:
        kind: ``"trusted_server"`` (central noise, the server sees the un-noised sum) or
            ``"distributed"`` (noise shares under secure aggregation).
        n_min: distributed only: the fewest honest survivors the noise is sized for.
        min_survivors: distributed only: the fewest survivors actually seen in a round.
        dropouts: whether clients may drop out mid-round.
    """

    kind: ThreatKind = "trusted_server"
    n_min: int | None = None
    min_survivors: int | None = None
    dropouts: bool = False

    def __post_init__(self) -> None:
        _choice("threat model", self.kind, _THREATS)
        _optional_int("n_min", self.n_min, 1)
        _optional_int("min_survivors", self.min_survivors, 1)
        if not isinstance(self.dropouts, bool):
            raise InvalidArgument("dropouts must be a bool")
        if self.kind == "trusted_server" and (self.n_min or self.min_survivors):
            raise InvalidArgument("n_min and min_survivors apply to the distributed model only")

    def describe(self) -> str:
        """One sentence for humans."""
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
    if rounds <= points:
        return list(range(1, rounds + 1))
    return sorted({round(float(v)) for v in np.linspace(1, rounds, points)})


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

    Example:
        >>> import dp
        >>> from dp.report import PrivacyReport
        >>> ledger = [(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 1)] * 20
        >>> report = PrivacyReport.from_ledger(ledger, delta=1e-5, population=60_000)
        >>> report.rounds
        20
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
        title: str = "Privacy report",
        curve_points: int | None = None,
        tight: bool = True,
        library_version: str | None = None,
        created: str | None = None,
    ) -> PrivacyReport:
        """Account a ledger and assemble the report.

        Args:
            ledger: ``(event, count)`` entries, one per round (an accountant's ``ledger``).
            delta: the delta at which epsilon is reported, in (0, 1).
            privacy_unit: ``"example"`` or ``"client"`` (user-level DP).
            neighbouring: the relation the accountants assume (add/remove or zero-out).
            sampling: how participants were actually selected each round.
            population: ``N`` (examples or clients); adds epsilon at ``delta = 1/N``.
            target_epsilon: the budget; the report shows what is left.
            threat_model: defaults to a trusted server.
            title: heading of the rendered report.
            curve_points: evaluate the curve at this many rounds (evenly spaced, always the
                first and the last); ``None`` (the default) evaluates every round.
            tight: also run the PLD accountant (slower) when it supports the events.
            library_version: defaults to ``dp.__version__`` (injectable for golden tests).
            created: ISO-8601 timestamp; defaults to now in UTC (injectable likewise).

        Raises:
            InvalidArgument: bad metadata or an empty ledger.
            UnsupportedEvent: an event the RDP accountant cannot bound.
        """
        from dp.accountants.base import check_delta

        delta = check_delta(delta)
        entries = tuple((event, count) for event, count in ledger)
        if not entries:
            raise InvalidArgument("the ledger is empty: nothing to report")
        population = _optional_int("population", population, 2)
        target = _optional_positive("target_epsilon", target_epsilon)
        if curve_points is not None and (
            isinstance(curve_points, bool) or not isinstance(curve_points, int) or curve_points < 2
        ):
            raise InvalidArgument("curve_points must be None or an int >= 2")
        threat = threat_model if threat_model is not None else ThreatModel()
        if not isinstance(threat, ThreatModel):
            raise InvalidArgument("threat_model must be a ThreatModel")
        if not isinstance(title, str):
            raise InvalidArgument("title must be a string")

        rdp = RdpAccountant().compose_ledger(entries)
        inverse_n = 1.0 / population if population else None
        rdp_curve = rdp.epsilon_curve(delta)
        rdp_curve_n = rdp.epsilon_curve(inverse_n) if inverse_n else None
        use_pld = tight and all(PldAccountant().supports(event) for event, _ in entries)
        pld_curve = pld_curve_n = None
        pld_upper = pld_lower = None
        if use_pld:
            # The accountant's incremental curve gives every round in one pass.
            per_round = PldAccountant().compose_ledger(entries)
            pld_curve = per_round.epsilon_curve(delta)
            pld_curve_n = per_round.epsilon_curve(inverse_n) if inverse_n else None
            headline = PldAccountant().compose_ledger(_consecutive_runs(entries))
            pld_lower, pld_upper = headline.get_epsilon_bounds(delta)

        def at(values: NDArray[np.float64] | None, k: int) -> float | None:
            return None if values is None else float(values[k - 1])

        curve = [
            CurvePoint(
                round=k,
                epsilon_rdp=float(rdp_curve[k - 1]),
                epsilon_pld=at(pld_curve, k),
                epsilon_rdp_at_inverse_n=at(rdp_curve_n, k),
                epsilon_pld_at_inverse_n=at(pld_curve_n, k),
            )
            for k in _checkpoints(len(entries), curve_points or len(entries))
        ]

        if library_version is None:
            import dp

            library_version = dp.__version__
        if created is None:
            created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = cls(
            title=title,
            privacy_unit=privacy_unit,
            neighbouring=neighbouring,
            sampling=sampling,
            delta=delta,
            population=population,
            rounds=len(entries),
            ledger=entries,
            curve=tuple(curve),
            epsilon_rdp=rdp.get_epsilon(delta),
            epsilon_pld=pld_upper,
            epsilon_pld_lower=pld_lower,
            target_epsilon=target,
            threat_model=threat,
            warnings=(),
            library_version=library_version,
            created=created,
        )
        object.__setattr__(report, "warnings", tuple(report._derive_warnings(tight)))
        return report

    def __post_init__(self) -> None:
        _choice("privacy_unit", self.privacy_unit, _UNITS)
        _choice("neighbouring", self.neighbouring, _RELATIONS)
        _choice("sampling", self.sampling, _SCHEMES)

    def _derive_warnings(self, tight: bool) -> list[str]:
        events = [inner for event, _ in self.ledger for inner in _walk(event)]
        poisson = any(isinstance(e, PoissonSampled) for e in events)
        wor = any(isinstance(e, SampledWithoutReplacement) for e in events)
        out = []
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
                "The ledger accounts sampling without replacement but the run used Poisson "
                "sampling; the accounting matches a different relation (substitution)."
            )
        if self.epsilon_pld is None and tight:
            out.append(
                "No tight (PLD) bound: some event is only supported by the RDP accountant; "
                "the RDP epsilon is an upper bound and may be loose."
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
        """Final epsilon at ``delta = 1/N`` (PLD when available), or ``None``."""
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
            "ledger": ledger_to_dict(self.ledger),
            "curve": [p.to_dict() for p in self.curve],
            "epsilon_rdp": _dump_float(self.epsilon_rdp),
            "epsilon_pld": _dump_float(self.epsilon_pld),
            "epsilon_pld_lower": _dump_float(self.epsilon_pld_lower),
            "target_epsilon": self.target_epsilon,
            "threat_model": self.threat_model.to_dict(),
            "warnings": list(self.warnings),
            "library_version": self.library_version,
            "created": self.created,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> PrivacyReport:
        """Parse and validate a dict written by :meth:`to_dict`.

        Raises:
            SerializationError: wrong type tag or version, missing or extra fields, or a
                field of the wrong type or range.
        """
        return _parse_report(data)

    @classmethod
    def from_json(cls, text: str) -> PrivacyReport:
        """Parse :meth:`to_json` output.

        Raises:
            SerializationError: not JSON, or not a valid report.
        """
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise SerializationError(f"not valid JSON: {exc}") from exc
        return _parse_report(data)

    # -------------------------------------------------------------------- rendering

    def _summary_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("privacy unit", self.privacy_unit),
            ("neighbouring relation", self.neighbouring.replace("_", "/")),
            ("sampling", self.sampling.replace("_", " ")),
            ("rounds", str(self.rounds)),
            ("delta", f"{self.delta:.3g}"),
            ("epsilon (PLD, tight)", _fmt(self.epsilon_pld)),
            ("epsilon (PLD, lower bound)", _fmt(self.epsilon_pld_lower)),
            ("epsilon (RDP, fast)", _fmt(self.epsilon_rdp)),
        ]
        if self.population is not None:
            rows.append(
                (f"epsilon at delta = 1/N (N = {self.population})", _fmt(self.epsilon_at_inverse_n))
            )
        if self.target_epsilon is not None:
            rows.append(("target epsilon", _fmt(self.target_epsilon)))
            rows.append(("budget left", _fmt(self.budget_left)))
        rows.append(("threat model", self.threat_model.kind.replace("_", " ")))
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
            head += ["PLD at 1/N", "RDP at 1/N"]
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

    def to_html(self, *, include_plot: bool = True) -> str:
        """A self-contained HTML page; the plot is an embedded base64 PNG.

        Without matplotlib the page says so in place of the plot.
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
                png = self.plot_png()
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

    def plot_png(self) -> bytes:
        """The epsilon-against-rounds plot as PNG bytes (needs matplotlib).

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
        if self.population is not None:
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
                label=f"delta = 1/N = {1 / self.population:.2g}",
            )
        if self.target_epsilon is not None:
            ax.axhline(self.target_epsilon, color="red", linewidth=1, label="target")
        ax.set_xlabel("round")
        ax.set_ylabel("epsilon")
        heading = f"{self.title} (delta = {self.delta:.2g})"
        ax.set_title(textwrap.fill(heading, width=70), fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def plot(self, path: str | Path) -> None:
        """Write the epsilon-against-rounds plot to a PNG file (needs matplotlib)."""
        png = self.plot_png()
        Path(path).write_bytes(png)


# ---------------------------------------------------------------------------- parsing

_REPORT_KEYS = frozenset(
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
_CURVE_KEYS = frozenset(
    {
        "round",
        "epsilon_rdp",
        "epsilon_pld",
        "epsilon_rdp_at_inverse_n",
        "epsilon_pld_at_inverse_n",
    }
)
_THREAT_KEYS = frozenset({"kind", "n_min", "min_survivors", "dropouts"})


def _load_float(value: object, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if value == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SerializationError(f"{name} must be a number")
    out = float(value)
    if math.isnan(out) or out < 0:
        raise SerializationError(f"{name} must be >= 0")
    return out


def _exact_keys(data: object, keys: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SerializationError(f"{what} must be a JSON object")
    if set(data) != keys:
        missing = sorted(keys - set(data))
        extra = sorted(set(data) - keys)
        raise SerializationError(f"{what}: missing fields {missing}, unknown fields {extra}")
    return data


def _parse_report(data: object) -> PrivacyReport:
    raw = _exact_keys(data, _REPORT_KEYS, "a privacy report")
    if raw["type"] != "privacy_report":
        raise SerializationError("not a privacy report (type tag)")
    version = raw["version"]
    if isinstance(version, bool) or version != REPORT_FORMAT_VERSION:
        raise SerializationError(f"unsupported report version {version!r}")
    try:
        curve = []
        for item in raw["curve"] if isinstance(raw["curve"], list) else [None]:
            point = _exact_keys(item, _CURVE_KEYS, "a curve point")
            rnd = point["round"]
            if isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 1:
                raise SerializationError("curve rounds must be ints >= 1")
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
        rounds_seen = [p.round for p in curve]
        if rounds_seen != sorted(set(rounds_seen)):
            raise SerializationError("curve rounds must be strictly increasing")
        threat_raw = _exact_keys(raw["threat_model"], _THREAT_KEYS, "the threat model")
        threat = ThreatModel(
            kind=threat_raw["kind"],
            n_min=threat_raw["n_min"],
            min_survivors=threat_raw["min_survivors"],
            dropouts=threat_raw["dropouts"],
        )
        ledger = tuple(ledger_from_dict(raw["ledger"]))
        rounds = raw["rounds"]
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds != len(ledger):
            raise SerializationError("rounds must equal the number of ledger entries")
        if curve and curve[-1].round > rounds:
            raise SerializationError("the curve runs past the last round")
        warnings = raw["warnings"]
        if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
            raise SerializationError("warnings must be a list of strings")
        for key in ("title", "library_version", "created"):
            if not isinstance(raw[key], str):
                raise SerializationError(f"{key} must be a string")
        delta = _load_float(raw["delta"], "delta")
        if delta is None or not 0 < delta < 1:
            raise SerializationError("delta must be in (0, 1)")
        return PrivacyReport(
            title=raw["title"],
            privacy_unit=raw["privacy_unit"],
            neighbouring=raw["neighbouring"],
            sampling=raw["sampling"],
            delta=delta,
            population=_optional_int("population", raw["population"], 2),
            rounds=rounds,
            ledger=ledger,
            curve=tuple(curve),
            epsilon_rdp=cast(float, _load_float(raw["epsilon_rdp"], "epsilon_rdp")),
            epsilon_pld=_load_float(raw["epsilon_pld"], "epsilon_pld", optional=True),
            epsilon_pld_lower=_load_float(
                raw["epsilon_pld_lower"], "epsilon_pld_lower", optional=True
            ),
            target_epsilon=_optional_positive("target_epsilon", raw["target_epsilon"]),
            threat_model=threat,
            warnings=tuple(warnings),
            library_version=raw["library_version"],
            created=raw["created"],
        )
    except SerializationError:
        raise
    except InvalidArgument as exc:
        raise SerializationError(f"invalid report field: {exc}") from exc
