"""The privacy report's model: its fields, how it is accounted, its warnings, its JSON.

:class:`PrivacyReport` holds the numbers and the metadata; :mod:`dp.report._accounting`
computes the numbers by counts, :mod:`dp.report._render` and :mod:`dp.report._plot` render
them, and :mod:`dp.report._json` reads them back.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dp._bounded_json import check_depth, loads_bounded
from dp.accountants.base import check_delta, ledger_to_dict
from dp.errors import InvalidArgument
from dp.events import (
    DistributedDiscreteGaussian,
    DpEvent,
    MatrixFactorizationGaussian,
    PoissonSampled,
    SampledWithoutReplacement,
    Skellam,
)
from dp.neighbouring import Neighbouring, check_neighbouring
from dp.report import _plot, _render
from dp.report._accounting import (
    MAX_CURVE_POINTS,
    MAX_ROUNDS,
    _check_ledger,
    _is_sampled,
    _walk,
    account,
)

if TYPE_CHECKING:
    # Imported at run time only when a report holds audits: dp.audit needs scipy.stats,
    # which a report without audits does not.
    from dp.audit.result import AuditResult

__all__ = [
    "REPORT_FORMAT_VERSION",
    "DEFAULT_RELEASED",
    "PrivacyUnit",
    "SamplingScheme",
    "ThreatKind",
    "ThreatModel",
    "CurvePoint",
    "PrivacyReport",
]

REPORT_FORMAT_VERSION = 3
"""Version of the JSON written by :meth:`PrivacyReport.to_dict`.

Version 2 added ``clip_norm``, ``noise_multiplier``, ``released``, the threat model's
``colluders`` and the ``replace_one`` relation, and counts rounds as compositions (the sum
of the ledger's counts). Version 3 added ``audits``, the run's empirical privacy audits
(:class:`~dp.audit.AuditResult` records). Readers accept versions 1 to 3 and refuse others.
"""

_READABLE_VERSIONS = (1, 2, 3)

MAX_AUDITS = 1000
"""Most audit records a report holds (a run has one or a few)."""

REFUTED_WARNING = (
    "the empirical lower bound exceeds the claimed epsilon: the accounting or the "
    "implementation is wrong"
)
"""The words every rendering uses for a refuted claim (:attr:`AuditResult.violation`)."""


def refuted_warning(audit: AuditResult) -> str:
    """The loud warning of a refuted claim, with the audit's numbers.

    A correct mechanism and accountant give such a bound with probability at most
    ``1 - confidence``, so it is a finding, not noise to be rerun away.
    """
    return (
        f"AUDIT REFUTES THE CLAIM ({audit.method}): {REFUTED_WARNING} (epsilon >= "
        f"{audit.epsilon_lower_bound:.4g} at {audit.confidence:.0%} confidence, claimed "
        f"{audit.claimed_epsilon:.4g} at delta {audit.delta:.3g})."
    )


def check_audits(audits: object) -> tuple[AuditResult, ...]:
    """The audits as a tuple of :class:`AuditResult`, or :class:`InvalidArgument`."""
    if isinstance(audits, str | bytes | Mapping) or not isinstance(audits, Iterable):
        raise InvalidArgument("audits must be a sequence of AuditResult")
    out = tuple(audits)
    if len(out) > MAX_AUDITS:
        raise InvalidArgument(f"a report holds at most {MAX_AUDITS} audits, got {len(out)}")
    if not out:
        return out
    from dp.audit.result import AuditResult

    for audit in out:
        if not isinstance(audit, AuditResult):
            raise InvalidArgument(f"audits must be AuditResult records, got {type(audit).__name__}")
    return out


DEFAULT_RELEASED = "every round's noised aggregate (and everything computed from it)"
"""What the adversary sees, unless the caller says otherwise."""

PrivacyUnit = Literal["example", "client"]
SamplingScheme = Literal["poisson", "fixed_size", "shuffled", "full_batch", "participation_schema"]
ThreatKind = Literal["trusted_server", "distributed", "two_aggregators"]

_UNITS = ("example", "client")
_SCHEMES = ("poisson", "fixed_size", "shuffled", "full_batch", "participation_schema")
_THREATS = ("trusted_server", "distributed", "two_aggregators")
Ledger = Iterable[tuple[DpEvent, int]]


_MAX_INT = 2**53
"""Largest population or client count accepted (exact in a float)."""


def _show(value: object) -> str:
    """A bad value for an error message: short, and never a huge int's decimal string."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}; got {_show(value)}")
    return value


def _optional_int(name: str, value: object, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= _MAX_INT:
        raise InvalidArgument(f"{name} must be an int in [{low}, 2^53], got {_show(value)}")
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
        raise InvalidArgument(f"{name} must be finite and > 0, got {_show(value)}")
    return number


@dataclass(frozen=True, slots=True)
class ThreatModel:
    """Who is trusted with what (see ``docs/threat-model.md``).

    Args:
        kind: ``"trusted_server"`` (central noise, the server sees the un-noised sum),
            ``"distributed"`` (noise shares under secure aggregation) or
            ``"two_aggregators"`` (validated aggregation: two non-colluding aggregators each
            hold one share of the sum and each add the whole noise to it, so the release is
            protected even if one of them colludes with the analyst).
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
        if self.kind != "distributed" and (
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
        elif self.kind == "two_aggregators":
            text = (
                "Central DP over validated aggregation: two aggregators (the server and a "
                "helper) each hold one additive share of the sum and each add the whole noise "
                "to their share; neither alone sees an update or the un-noised sum, and the "
                "accounting uses one aggregator's noise, so the claim holds if either one "
                "colludes with the analyst (not if both do)."
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
    audits: tuple[AuditResult, ...] = ()

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
        audits: Sequence[AuditResult] = (),
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
            audits: the run's empirical privacy audits (:mod:`dp.audit`), shown in their
                own section; a refuted claim (:attr:`AuditResult.violation`) also adds a
                warning, first in the list.

        Raises:
            InvalidArgument: bad metadata, an empty ledger, more than :data:`MAX_ROUNDS`
                rounds, or audits that are not :class:`AuditResult` records.
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
                f"got {_show(curve_points)}"
            )
        threat = threat_model if threat_model is not None else ThreatModel()
        if not isinstance(threat, ThreatModel):
            raise InvalidArgument("threat_model must be a ThreatModel")
        if not isinstance(title, str):
            raise InvalidArgument("title must be a string")
        audit_records = check_audits(audits)

        deltas = [delta] if population is None else [delta, 1.0 / population]
        result = account(
            entries, relation=relation, deltas=deltas, curve_points=curve_points, tight=tight
        )

        curve = []
        for index, mark in enumerate(result.marks):
            rdp_at = result.rdp[index]
            pld_at = result.pld[index] if result.pld is not None else None
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
            epsilon_rdp=result.epsilon_rdp,
            epsilon_pld=result.pld_upper,
            epsilon_pld_lower=result.pld_lower,
            target_epsilon=target,
            threat_model=threat,
            warnings=(),
            library_version=library_version,
            created=created,
            clip_norm=clip_norm,
            noise_multiplier=noise_multiplier,
            released=released,
            audits=audit_records,
        )
        derived = report._derive_warnings(tight and result.pld_note is None)
        if result.pld_note is not None:
            derived.insert(0, result.pld_note)
        # A refuted claim outranks every other warning: it says the numbers above are wrong.
        derived[:0] = [refuted_warning(a) for a in audit_records if a.violation]
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
        object.__setattr__(self, "audits", check_audits(self.audits))

    def _derive_warnings(self, tight: bool) -> list[str]:
        events = [inner for event, _ in self.ledger for inner in _walk(event)]
        poisson = any(isinstance(e, PoissonSampled) for e in events)
        wor = [e for e in events if isinstance(e, SampledWithoutReplacement)]
        out = _schema_statements(events, self.sampling)
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
        unsampled = not all(_is_sampled(event) for event, _ in self.ledger)
        if unsampled and self.sampling == "fixed_size" and self.neighbouring == "add_remove":
            out.append(
                "Participants were selected as fixed-size cohorts but some rounds are "
                "accounted without sampling, at one participant's sensitivity: under "
                "add/remove an added participant that is selected displaces another, moving "
                "the sum by up to twice the clip norm, so those rounds may be understated. "
                "Account them with SampledWithoutReplacement."
            )
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
        if self.epsilon_pld is not None and self.epsilon_pld > self.epsilon_rdp:
            out.append(
                f"The PLD upper bound ({self.epsilon_pld:.4g}) is looser than the RDP bound "
                f"({self.epsilon_rdp:.4g}) for this ledger (its loss grid does not resolve "
                "it); the reported epsilon is the smaller, RDP, and the PLD lower bound is "
                "not informative here."
            )
        if self.epsilon_pld is None and tight:
            out.append(
                "No tight (PLD) bound: some event is only supported by the RDP accountant "
                "under this relation; the RDP epsilon is an upper bound and may be loose."
                + _no_pld_reason(events)
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
    def zcdp_rho(self) -> float | None:
        """The zCDP ``rho`` of a ledger of DP-FTRL entries and un-sampled Gaussians.

        ``None`` when some event has no exact Gaussian rho (sampled or other mechanisms)
        or under add/remove; see :func:`dp.ftrl_accounting.zcdp_rho`.
        """
        if self.neighbouring == "add_remove":
            return None
        scale = 2.0 if self.neighbouring == "replace_one" else 1.0
        total = 0.0
        for event, count in self.ledger:
            rho = _gaussian_rho(event, scale)
            if rho is None:
                return None
            total += count * rho
        return total

    @property
    def epsilon(self) -> float:
        """The reported epsilon: the smaller of the upper bounds (PLD and RDP).

        Both are upper bounds on the truth, so the smaller is one too. The tight PLD bound
        is the smaller except where its grid cannot resolve the loss (a warning says so).
        """
        if self.epsilon_pld is None:
            return self.epsilon_rdp
        return min(self.epsilon_pld, self.epsilon_rdp)

    @property
    def budget_left(self) -> float | None:
        """``target_epsilon - epsilon`` (negative when over budget), or ``None``."""
        if self.target_epsilon is None:
            return None
        return self.target_epsilon - self.epsilon

    @property
    def epsilon_at_inverse_n(self) -> float | None:
        """Final epsilon at ``delta = 1/N`` (the smaller upper bound), or ``None``.

        A comparison only: the guarantee is the epsilon at :attr:`delta`.
        """
        if not self.curve or self.population is None:
            return None
        last = self.curve[-1]
        bounds = [
            value
            for value in (last.epsilon_pld_at_inverse_n, last.epsilon_rdp_at_inverse_n)
            if value is not None
        ]
        return min(bounds) if bounds else None

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
            "audits": [audit.to_dict() for audit in self.audits],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> PrivacyReport:
        """Parse and validate a dict written by :meth:`to_dict` (versions 1 to 3).

        A version 1 report is read with the defaults of its time (rounds counted as
        compositions, no clip norm, noise multiplier or colluders, release not stated);
        versions 1 and 2 have no audits. Each audit is checked by
        :meth:`AuditResult.from_dict`.

        Raises:
            SerializationError: wrong type tag or version, missing or extra fields, a
                field of the wrong type or range, or nesting deeper than 64.
        """
        from dp.report._json import parse_report

        check_depth(data, what="a privacy report")
        return parse_report(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> PrivacyReport:
        """Parse :meth:`to_json` output (``str``, or UTF-8 ``bytes``).

        Size and nesting depth are checked before parsing, so hostile input costs bounded
        time and memory (:func:`dp._bounded_json.loads_bounded`).

        Raises:
            SerializationError: not UTF-8, not JSON, too large or too deep, or not a valid
                report.
        """
        from dp.report._json import parse_report

        return parse_report(loads_bounded(text, what="a privacy report"))

    # -------------------------------------------------------------------- rendering

    def to_markdown(self) -> str:
        """A Markdown report (tables for the summary, the mechanisms and the curve)."""
        return _render.to_markdown(self)

    def to_table(self) -> str:
        """A plain-text summary for terminals."""
        return _render.to_table(self)

    def to_html(self, *, include_plot: bool = True, include_inverse_n: bool = False) -> str:
        """A self-contained HTML page; the plot is an embedded base64 PNG.

        Without matplotlib the page says so in place of the plot. ``include_inverse_n``
        adds the ``delta = 1/N`` comparison curve to the plot (off by default).
        """
        return _render.to_html(self, include_plot=include_plot, include_inverse_n=include_inverse_n)

    def plot_png(self, *, include_inverse_n: bool = False) -> bytes:
        """The epsilon-against-rounds plot as PNG bytes (needs matplotlib).

        The plot shows the guarantee (epsilon at :attr:`delta`); ``include_inverse_n`` adds
        the ``delta = 1/N`` curve, labelled as a comparison.

        Raises:
            DPError: matplotlib is not installed (``pip install 'fedcrypt[plot]'``).
        """
        return _plot.plot_png(self, include_inverse_n=include_inverse_n)

    def plot(self, path: str | Path, *, include_inverse_n: bool = False) -> None:
        """Write the epsilon-against-rounds plot to a PNG file (needs matplotlib)."""
        png = self.plot_png(include_inverse_n=include_inverse_n)
        Path(path).write_bytes(png)


def _no_pld_reason(events: Sequence[DpEvent]) -> str:
    """Why client-added noise has no PLD here, when the ledger holds some (else ``""``)."""
    if any(isinstance(e, Skellam) for e in events):
        return (
            " Skellam noise is accounted by RDP only: no dominating pair is known for it "
            "(docs/dp/accountant.md, 'Skellam stays on the RDP')."
        )
    if any(isinstance(e, DistributedDiscreteGaussian) for e in events):
        return (
            " The PLD bounds the distributed discrete Gaussian only with at least about 3.8 "
            "grid units of noise per share and n_min s^2 of about 740 grid units squared "
            "(docs/dp/accountant.md, 'Discrete Gaussians in the PLD accountant')."
        )
    return ""


def _gaussian_rho(event: DpEvent, scale: float) -> float | None:
    """An un-sampled Gaussian's or DP-FTRL entry's zCDP rho (Bun and Steinke 2016), else None."""
    from dp.events import Composed, Gaussian, SelfComposed

    if isinstance(event, MatrixFactorizationGaussian):
        return event.rho(scale)
    if isinstance(event, Gaussian):
        g = event.noise_multiplier / scale
        return 0.5 / (g * g)
    if isinstance(event, SelfComposed):
        inner = _gaussian_rho(event.event, scale)
        return None if inner is None else event.count * inner
    if isinstance(event, Composed):
        parts = [_gaussian_rho(e, scale) for e in event.events]
        return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
    return None


def _schema_statements(events: Sequence[DpEvent], sampling: str) -> list[str]:
    """The participation schema a DP-FTRL ledger assumes, stated as the report's first note."""
    schemas = sorted(
        {
            (e.rounds, e.max_participations, e.min_separation, e.strategy)
            for e in events
            if isinstance(e, MatrixFactorizationGaussian)
        }
    )
    out = []
    for rounds, k, b, strategy in schemas:
        times = "once" if k == 1 else f"in at most {k} rounds, at least {b} rounds apart"
        out.append(
            f"DP-FTRL ({strategy}): no sampling is assumed. The guarantee assumes the "
            f"participation schema: over {rounds} rounds each participant takes part {times} "
            "(enforced by the selection); it is accounted as one Gaussian mechanism with the "
            "strategy's sensitivity under that schema."
        )
    if schemas and sampling != "participation_schema":
        out.append(
            f"The ledger holds DP-FTRL entries but the selection is stated as {sampling!r}; "
            "their guarantee rests on the participation schema, not on that selection."
        )
    return out
