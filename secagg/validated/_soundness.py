"""The soundness error of one report: what a malicious client's invalid input gets past.

Two independent sources, bounded separately (BBCGGI19 Theorems 4.3 and 5.2; draft-irtf-cfrg-
vdaf-07 section 9, "Security Considerations"):

* the FLP check at the verifier's secret query point (derived from the aggregators'
  verification key, so the client cannot search over it): :func:`flp_error`;
* the circuit's random linear combination, whose joint randomness is derived from the client's
  own shares by Fiat-Shamir, so an *adaptive* client can re-randomise its shares and try again
  offline: each XOF evaluation is one more try, hence the factor ``xof_queries``.

The bound for one report with one proof is ``Q * circuit_error + flp_error`` (``Q`` the XOF
queries). With ``k`` proofs (draft-irtf-cfrg-vdaf-08 section 7.1.1, "Multiple proofs"), each
with its own joint randomness and query point, a report passes only if every proof does; proof
``i`` passes only if its circuit vanishes at ``r_i`` (probability ``c``, which grinding
multiplies by ``Q``) or its gadget check is fooled at ``t_i`` (probability ``f``, not
grindable). Summing over which proofs are passed by the circuit gives
``Q * ((c + f)^k - f^k) + f^k``, which is the one-proof bound at ``k = 1``.
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
    proofs: int = 1

    @property
    def total(self) -> Fraction:
        """``Q * ((circuit + flp)^k - flp^k) + flp^k`` for ``k`` proofs and ``Q`` queries."""
        k = self.proofs
        both = (self.circuit + self.flp) ** k
        return self.xof_queries * (both - self.flp**k) + self.flp**k

    @property
    def log2(self) -> float:
        """``log2(total)`` (``-inf`` when the total is zero)."""
        t = self.total
        return math.log2(t) if t else -math.inf


def soundness_bound(valid: Valid, *, xof_queries: int = 2**40, proofs: int = 1) -> SoundnessBound:
    """The soundness error of one report.

    For ``proofs`` proofs, against a client making ``xof_queries`` XOF calls.
    """
    return SoundnessBound(flp_error(valid), valid.circuit_error(), xof_queries, proofs)
