"""Reading a privacy report's JSON: version 3, and versions 1 and 2 with the defaults of their time.

Every field is checked (exact key sets, types, ranges, the ledger's relation against the
report's, each audit by :meth:`~dp.audit.AuditResult.from_dict`); anything else is one
:class:`~dp.errors.SerializationError`. Hostile text is bounded before parsing by
:mod:`dp._bounded_json`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from dp.accountants.base import ledger_from_dict, ledger_neighbouring
from dp.errors import DPError, SerializationError
from dp.events import SampledWithoutReplacement
from dp.neighbouring import check_neighbouring
from dp.report._accounting import MAX_ROUNDS, _walk
from dp.report._model import (
    _READABLE_VERSIONS,
    MAX_AUDITS,
    CurvePoint,
    PrivacyReport,
    ThreatModel,
    _choice,
    _optional_int,
    _optional_positive,
    _show,
)

if TYPE_CHECKING:
    from dp.audit.result import AuditResult

__all__ = ["parse_report"]

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
_V2_REPORT_KEYS = _V1_REPORT_KEYS | {"clip_norm", "noise_multiplier", "released"}
_REPORT_KEYS = _V2_REPORT_KEYS | {"audits"}
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


def _parse_audits(raw: object) -> tuple[AuditResult, ...]:
    """A version 3 report's ``audits``: a list of at most :data:`MAX_AUDITS` records."""
    if not isinstance(raw, list):
        raise SerializationError("audits must be a list")
    if len(raw) > MAX_AUDITS:
        raise SerializationError(f"a report holds at most {MAX_AUDITS} audits")
    if not raw:
        return ()
    from dp.audit.result import AuditResult  # only now: dp.audit imports scipy.stats

    return tuple(AuditResult.from_dict(item) for item in raw)


def parse_report(data: object) -> PrivacyReport:
    """Validate a parsed report (versions 1 to 3) and build it.

    Raises:
        SerializationError: anything malformed.
    """
    if not isinstance(data, Mapping):
        raise SerializationError("a privacy report must be a JSON object")
    version = data.get("version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or version not in (_READABLE_VERSIONS)
    ):
        raise SerializationError(f"unsupported report version {_show(version)}")
    v1 = version == 1
    keys = {1: _V1_REPORT_KEYS, 2: _V2_REPORT_KEYS}.get(version, _REPORT_KEYS)
    raw = _exact_keys(data, keys, "a privacy report")
    if raw["type"] != "privacy_report":
        raise SerializationError("not a privacy report (type tag)")
    try:
        audits = _parse_audits(raw["audits"]) if version >= 3 else ()
        return _build_report(raw, v1, audits)
    except SerializationError:
        raise
    except DPError as exc:  # InvalidArgument, UnsupportedEvent from nested validation
        raise SerializationError(f"invalid report field: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise SerializationError(f"malformed report: {type(exc).__name__}") from None


def _build_report(
    raw: Mapping[str, Any], v1: bool, audits: tuple[AuditResult, ...]
) -> PrivacyReport:
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
        audits=audits,
    )
