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

PINE (:mod:`secagg.validated._pine`; ROCT23, draft-chen-cfrg-vdaf-pine) adds two terms. An
invalid gradient (``||x||^2 > B``) is accepted only if (i) its norm-equality proofs are all
fooled although ``v != sum x_i^2 mod p`` (``f_ne^m`` for ``m`` proofs: no joint randomness, not
grindable), or (ii) some check of the main circuit fails but passes (the bound above), or (iii)
every check holds, so ``sum x_i^2 = v (mod p)`` with ``v <= B`` while ``sum x_i^2 > B`` over the
integers, i.e. the norm wrapped around ``p``, and every wraparound test still passed: at most
``2^-num_wr_checks`` per wraparound seed (PINE draft section 3, after ROCT23), and the seed
is Fiat-Shamir, so ``Q`` times that. The union bound adds the three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from secagg.errors import InvalidArgument
from secagg.validated._flp import Valid, flp_error
from secagg.validated._pine import PineValid

__all__ = ["SoundnessBound", "soundness_bound"]


@dataclass(frozen=True, slots=True)
class SoundnessBound:
    """The terms of the soundness error of one report and their total."""

    flp: Fraction
    circuit: Fraction
    xof_queries: int
    proofs: int = 1
    wraparound: Fraction = Fraction(0)
    """PINE: probability that a wrapped gradient passes the wraparound tests (per seed)."""
    norm_equality: Fraction = Fraction(0)
    """PINE: the FLP error of one norm-equality proof."""
    norm_proofs: int = 0
    """PINE: how many norm-equality proofs (0 for circuits without one)."""

    @property
    def total(self) -> Fraction:
        """``Q * ((circuit + flp)^k - flp^k) + flp^k`` for ``k`` proofs and ``Q`` queries.

        Plus, for PINE, ``Q * wraparound + norm_equality^m`` (``m`` norm-equality proofs).
        """
        k = self.proofs
        both = (self.circuit + self.flp) ** k
        total = self.xof_queries * (both - self.flp**k) + self.flp**k
        total += self.xof_queries * self.wraparound
        if self.norm_proofs:
            total += self.norm_equality**self.norm_proofs
        return total

    @property
    def log2(self) -> float:
        """``log2(total)`` (``-inf`` when the total is zero)."""
        t = self.total
        return math.log2(t) if t else -math.inf


def soundness_bound(
    valid: Valid, *, xof_queries: int = 2**40, proofs: int = 1, norm_proofs: int = 1
) -> SoundnessBound:
    """The soundness error of one report.

    For ``proofs`` proofs, against a client making ``xof_queries`` XOF calls; for PINE's main
    circuit (:class:`~secagg.validated._pine.PineValid`), with ``norm_proofs`` norm-equality
    proofs and the wraparound term.
    """
    if isinstance(valid, PineValid):
        if isinstance(norm_proofs, bool) or not isinstance(norm_proofs, int) or norm_proofs < 1:
            raise InvalidArgument("norm_proofs must be an int >= 1")
        return SoundnessBound(
            flp_error(valid),
            valid.circuit_error(),
            xof_queries,
            proofs,
            valid.wraparound_error(),
            flp_error(valid.norm_equality()),
            norm_proofs,
        )
    return SoundnessBound(flp_error(valid), valid.circuit_error(), xof_queries, proofs)
