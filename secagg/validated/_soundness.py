"""The soundness error of one report: what a malicious client's invalid input gets past.

Two independent sources, bounded separately (BBCGGI19 Theorems 4.3 and 5.2; draft-irtf-cfrg-
vdaf-07 section 9, "Security Considerations"):

* the FLP check at the verifier's secret query point (derived from the aggregators'
  verification key, so the client cannot search over it): :func:`flp_error`;
* the circuit's random linear combination, whose joint randomness is derived from the client's
  own shares by Fiat-Shamir, so an *adaptive* client can re-randomise its shares and try again
  offline: each XOF evaluation is one more try, hence the factor ``xof_queries``.

The bound for one report is ``xof_queries * circuit_error + flp_error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from secagg.validated._flp import Valid, flp_error

__all__ = ["SoundnessBound", "soundness_bound"]


@dataclass(frozen=True, slots=True)
class SoundnessBound:
    """The terms of the soundness error of one report and their total."""

    flp: Fraction
    circuit: Fraction
    xof_queries: int

    @property
    def total(self) -> Fraction:
        """``xof_queries * circuit + flp``."""
        return self.xof_queries * self.circuit + self.flp

    @property
    def log2(self) -> float:
        """``log2(total)`` (``-inf`` when the total is zero)."""
        t = self.total
        return math.log2(t) if t else -math.inf


def soundness_bound(valid: Valid, *, xof_queries: int = 2**40) -> SoundnessBound:
    """The soundness error of one report against a client making ``xof_queries`` XOF calls."""
    return SoundnessBound(flp_error(valid), valid.circuit_error(), xof_queries)
