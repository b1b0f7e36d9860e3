"""The participation schema: how often, and how far apart, one client may take part.

DP-FTRL needs no sampling; its guarantee rests on a bound on participation instead
(Kairouz, McMahan, Song, Thakkar, Thakurta and Xu 2021; Choquette-Choo, McMahan, Rush and
Thakurta 2023, "Multi-epoch matrix factorization mechanisms for private machine learning",
the "(k, b)-participation" of their section 2). Over ``rounds`` rounds a client contributes
in at most ``max_participations`` of them, any two at least ``min_separation`` rounds apart.
``max_participations = 1`` is single participation, where the separation is irrelevant.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dp.errors import InvalidArgument, SerializationError

__all__ = ["SCHEMA_FORMAT_VERSION", "ParticipationSchema"]

SCHEMA_FORMAT_VERSION = 1
"""Version written by :meth:`ParticipationSchema.to_dict`."""

#: The largest number of rounds accepted: the dense analyses hold n x n float64 matrices.
MAX_ROUNDS = 100_000


def _int_field(name: str, value: object, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    out = int(value)
    if not minimum <= out <= maximum:
        raise InvalidArgument(f"{name} must be in [{minimum}, {maximum}], got {out}")
    return out


@dataclass(frozen=True, slots=True)
class ParticipationSchema:
    """At most ``max_participations`` rounds out of ``rounds``, pairwise ``min_separation`` apart.

    ``min_separation = b`` means two participations of one client in rounds ``i < j`` satisfy
    ``j - i >= b`` (Choquette-Choo et al. 2023, "b-min-separation"). A ``max_participations``
    larger than fits (``(k - 1) * b >= rounds``) is accepted: it only means the schema binds
    through the separation; :attr:`effective_participations` is the number that fits.

    Raises:
        InvalidArgument: a field is not an int or is out of range.
    """

    rounds: int
    max_participations: int = 1
    min_separation: int = 1

    def __post_init__(self) -> None:
        _int_field("rounds", self.rounds, 1, MAX_ROUNDS)
        _int_field("max_participations", self.max_participations, 1, MAX_ROUNDS)
        _int_field("min_separation", self.min_separation, 1, MAX_ROUNDS)
        # Normalise numpy integers to int so equality, hashing and JSON behave.
        object.__setattr__(self, "rounds", int(self.rounds))
        object.__setattr__(self, "max_participations", int(self.max_participations))
        object.__setattr__(self, "min_separation", int(self.min_separation))

    @property
    def effective_participations(self) -> int:
        """The most participations that fit: ``min(k, floor((n - 1) / b) + 1)``."""
        fits = (self.rounds - 1) // self.min_separation + 1
        return min(self.max_participations, fits)

    @property
    def single_participation(self) -> bool:
        """Whether a client can take part at most once."""
        return self.effective_participations == 1

    def allows(self, participation_rounds: list[int] | tuple[int, ...]) -> bool:
        """Whether the sorted 0-based rounds in ``participation_rounds`` obey this schema."""
        rounds = list(participation_rounds)
        if len(rounds) > self.max_participations:
            return False
        if any(not 0 <= r < self.rounds for r in rounds):
            return False
        return all(b - a >= self.min_separation for a, b in itertools.pairwise(rounds))

    def cache_key(self) -> str:
        """A short file-name-safe key, e.g. ``n2000-k4-b500`` (k and b normalised for k = 1)."""
        k = self.effective_participations
        b = self.min_separation if k > 1 else self.rounds
        return f"n{self.rounds}-k{k}-b{b}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, read back by :meth:`from_dict`."""
        return {
            "version": SCHEMA_FORMAT_VERSION,
            "rounds": self.rounds,
            "max_participations": self.max_participations,
            "min_separation": self.min_separation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParticipationSchema:
        """Rebuild a schema from :meth:`to_dict` output.

        Raises:
            SerializationError: unknown version, missing or malformed fields.
        """
        if not isinstance(data, Mapping) or data.get("version") != SCHEMA_FORMAT_VERSION:
            raise SerializationError("not a version-1 participation schema")
        try:
            return cls(
                rounds=data["rounds"],
                max_participations=data["max_participations"],
                min_separation=data["min_separation"],
            )
        except KeyError as exc:
            raise SerializationError(f"participation schema lacks {exc.args[0]!r}") from None
        except InvalidArgument as exc:
            raise SerializationError(f"malformed participation schema: {exc}") from None
