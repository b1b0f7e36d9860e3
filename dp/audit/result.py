"""The audit record: what was measured, by which method, next to what was claimed.

:class:`AuditResult` is the one value every audit in :mod:`dp.audit` returns, and the one
the runner, the privacy report and the ``python -m dp audit`` command will store and read.
Like the events of :mod:`dp.events` it is frozen, versioned and validated on the way in:
:meth:`AuditResult.from_dict` refuses unknown versions, missing, extra or ill-typed fields
and inconsistent counts with :class:`dp.SerializationError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, get_args

from dp.errors import InvalidArgument, SerializationError

__all__ = ["AUDIT_FORMAT_VERSION", "AuditMethod", "AuditResult"]

#: Version of :meth:`AuditResult.to_dict`'s layout; bump on any incompatible change.
AUDIT_FORMAT_VERSION: Final = 1

#: The methods an :class:`AuditResult` can come from.
AuditMethod = Literal[
    "one_run",  # Steinke, Nasr, Jagielski 2023: (epsilon, delta) lower bound from guesses
    "one_run_gdp",  # Mahloujifar, Melis, Chaudhuri 2024: Gaussian-DP refinement
    "canary_clients",  # Andrew et al. 2024: one-shot estimate from canary cosines
    "clopper_pearson",  # hypothesis test over repeated runs with exact binomial intervals
]
_METHODS: Final = frozenset(get_args(AuditMethod))
_TYPE_TAG: Final = "audit_result"
_MAX_COUNT: Final = 2**62


def _finite_nonneg(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidArgument(f"{name} must be finite and >= 0, got {value!r}")


def _count(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= _MAX_COUNT:
        raise InvalidArgument(f"{name} must be in [0, 2**62], got a value out of range")


@dataclass(frozen=True, slots=True)
class AuditResult:
    """An empirical privacy measurement, validated on construction.

    Attributes:
        method: which published method produced it (see :data:`AuditMethod`).
        delta: the ``delta`` at which every epsilon in the record is stated.
        epsilon_lower_bound: a lower bound on the true epsilon holding with probability at
            least ``confidence`` over the audit's own randomness, or ``None`` for an
            estimate-only method (``canary_clients``).
        confidence: the confidence of the lower bound (``None`` iff there is no bound).
        epsilon_estimate: a point estimate of epsilon from a Gaussian fit of the scores
            (Andrew et al. 2024), or ``None``. Not a bound: it may exceed the truth.
        mu_lower_bound: for ``one_run_gdp``, the largest ``mu`` whose ``mu``-GDP claim the
            observation rejects (else ``None``).
        mu_estimate: the fitted Gaussian-DP ``mu`` behind ``epsilon_estimate`` (or ``None``).
        claimed_epsilon: the accountant's epsilon at ``delta`` for the audited mechanism,
            when known.
        canaries: number of canaries (one-run, canary clients) or trials (Clopper-Pearson).
        guesses: guesses made (one-run methods; the rest abstained) or ``None``.
        correct: correct guesses (one-run methods) or ``None``.
    """

    method: AuditMethod
    delta: float
    epsilon_lower_bound: float | None
    confidence: float | None
    epsilon_estimate: float | None
    mu_lower_bound: float | None
    mu_estimate: float | None
    claimed_epsilon: float | None
    canaries: int
    guesses: int | None = None
    correct: int | None = None

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise InvalidArgument(f"unknown audit method {self.method!r}")
        _finite_nonneg("delta", self.delta, optional=False)
        if not 0.0 < self.delta < 1.0:
            raise InvalidArgument(f"delta must be in (0, 1), got {self.delta!r}")
        for name in (
            "epsilon_lower_bound",
            "epsilon_estimate",
            "mu_lower_bound",
            "mu_estimate",
            "claimed_epsilon",
        ):
            _finite_nonneg(name, getattr(self, name), optional=True)
        if (self.epsilon_lower_bound is None) != (self.confidence is None):
            raise InvalidArgument("a lower bound and its confidence come together")
        if self.confidence is not None:
            _finite_nonneg("confidence", self.confidence, optional=False)
            if not 0.0 < self.confidence < 1.0:
                raise InvalidArgument(f"confidence must be in (0, 1), got {self.confidence!r}")
        _count("canaries", self.canaries, optional=False)
        _count("guesses", self.guesses, optional=True)
        _count("correct", self.correct, optional=True)
        if self.guesses is not None and self.guesses > self.canaries:
            raise InvalidArgument("more guesses than canaries")
        if self.correct is not None and (self.guesses is None or self.correct > self.guesses):
            raise InvalidArgument("more correct guesses than guesses")

    @property
    def violation(self) -> bool:
        """True when the lower bound exceeds the claimed epsilon: the claim is refuted.

        With probability at least ``confidence`` this never happens to a correct mechanism
        and accountant, so it is a check that can fail.
        """
        return (
            self.epsilon_lower_bound is not None
            and self.claimed_epsilon is not None
            and self.epsilon_lower_bound > self.claimed_epsilon
        )

    def describe(self) -> str:
        """One line for a log, a report or the command line, e.g.

        ``one_run_gdp, 10000 canaries: epsilon >= 2.781 (95% confidence), estimate 4.362,
        claimed 4.377 at delta 1e-05: consistent``.
        """
        unit = "runs" if self.method == "clopper_pearson" else "canaries"
        findings = []
        if self.epsilon_lower_bound is not None and self.confidence is not None:
            findings.append(
                f"epsilon >= {self.epsilon_lower_bound:.3f} ({self.confidence:.0%} confidence)"
            )
        if self.epsilon_estimate is not None:
            findings.append(f"estimate {self.epsilon_estimate:.3f}")
        if self.claimed_epsilon is not None:
            findings.append(f"claimed {self.claimed_epsilon:.3f}")
        line = (
            f"{self.method}, {self.canaries} {unit}: {', '.join(findings)} at delta {self.delta:g}"
        )
        if self.claimed_epsilon is not None and self.epsilon_lower_bound is not None:
            line += ": CLAIM REFUTED" if self.violation else ": consistent"
        return line

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict tagged with ``type`` and ``version``."""
        payload: dict[str, Any] = {"type": _TYPE_TAG, "version": AUDIT_FORMAT_VERSION}
        for field in fields(self):
            payload[field.name] = getattr(self, field.name)
        return payload

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Rebuild a record written by :meth:`to_dict`, checking every field.

        Raises:
            SerializationError: not a mapping, wrong ``type`` or ``version``, missing or
                extra fields, a field of the wrong type or out of range.
        """
        if not isinstance(data, Mapping):
            raise SerializationError(
                f"an audit result must be a JSON object, got {type(data).__name__}"
            )
        if data.get("type") != _TYPE_TAG:
            raise SerializationError(f"expected type {_TYPE_TAG!r}")
        version = data.get("version")
        if isinstance(version, bool) or version != AUDIT_FORMAT_VERSION:
            raise SerializationError(f"unsupported audit result version {version!r}")
        names = [field.name for field in fields(cls)]
        expected = {"type", "version", *names}
        if set(data) != expected:
            missing = sorted(expected - set(data))
            extra = sorted(str(key)[:40] for key in set(data) - expected)
            raise SerializationError(f"audit result fields: missing {missing}, extra {extra}")
        try:
            return cls(**{name: data[name] for name in names})
        except InvalidArgument as error:
            raise SerializationError(f"invalid audit result: {error}") from error
        except (TypeError, OverflowError) as error:
            raise SerializationError("invalid audit result field") from error
