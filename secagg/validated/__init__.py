"""Validated aggregation: clients prove their updates valid, aggregators check without seeing.

Prio3 (draft-irtf-cfrg-vdaf-07, section 7) over the fully linear proofs of Boneh, Boyle,
Corrigan-Gibbs, Gilboa and Ishai (CRYPTO 2019): a client splits its encoded measurement into
additive shares over a prime field (the helper's share is a 16-byte seed) and attaches shares
of a proof that the measurement satisfies a validity circuit; the aggregators exchange short
verifier shares, decide, and add up only valid shares. Neither aggregator alone learns anything
about a measurement but its validity.

Draft 07 is followed exactly (it is the newest version whose XOF, SHAKE128, ``hashlib``
provides) and its published test vectors pass (tests/vectors/vdaf07/). Bounded-L2 updates
are checked by PINE (Rothblum, Omri, Chen, Talwar 2023; draft-chen-cfrg-vdaf-pine) by
default: the update travels as one field vector, with ``O(sqrt(d))`` proofs of an exact L2
bound (norm equality, a bit-checked norm range and 128 wraparound tests); the bit-decomposed
circuit (every coordinate range-checked) stays available as ``circuit="bits"``. Both add
draft 08's multiple proofs (Field64 with 3 proofs by default). PINE's own published test
vectors pass too (tests/vectors/pine01/, with its draft's TurboSHAKE128: ``draft_xof=True``).
The parties (:class:`Client`, :class:`Leader`, :class:`Helper`) are pure state machines exchanging
versioned messages; see docs/secagg/validated.md for the call sequence and the soundness
error. Raw primitives (the FLP, gadgets, circuits, XOF, NTT) are in
:mod:`secagg.validated.hazmat`.
"""

from __future__ import annotations

from secagg.validated._config import ValidatedConfig
from secagg.validated._errors import (
    AggregatorMismatch,
    JointRandMismatch,
    ReplayedReport,
    VerificationFailed,
    WrongSession,
)
from secagg.validated._field import Field, Field64, Field128
from secagg.validated._l2 import BOUNDED_L2_ID, BoundedL2, prio3_bounded_l2
from secagg.validated._messages import (
    AggregateShare,
    PrepareItem,
    PrepareRequest,
    PrepareResponse,
    PrepareResult,
    RejectReason,
    Report,
)
from secagg.validated._parties import Client, Helper, Leader, Rejection, RoundResult
from secagg.validated._pine import Pine, PineValid, WraparoundRetry, pine_bounded_l2
from secagg.validated._prio3 import (
    HelperShare,
    InputShare,
    LeaderShare,
    PrepShare,
    PrepState,
    Prio3,
    prio3_count,
    prio3_histogram,
    prio3_sum,
    prio3_sumvec,
)
from secagg.validated._seal import HelperKeyPair
from secagg.validated._simulate import SimulatedRound, run_round
from secagg.validated._soundness import SoundnessBound, soundness_bound

__all__ = [
    "ValidatedConfig",
    "run_round",
    "SimulatedRound",
    "Client",
    "Leader",
    "Helper",
    "HelperKeyPair",
    "RoundResult",
    "Rejection",
    "RejectReason",
    "Report",
    "PrepareItem",
    "PrepareRequest",
    "PrepareResult",
    "PrepareResponse",
    "AggregateShare",
    "WrongSession",
    "AggregatorMismatch",
    "Prio3",
    "prio3_bounded_l2",
    "BoundedL2",
    "Pine",
    "PineValid",
    "pine_bounded_l2",
    "WraparoundRetry",
    "BOUNDED_L2_ID",
    "soundness_bound",
    "SoundnessBound",
    "prio3_count",
    "prio3_sum",
    "prio3_sumvec",
    "prio3_histogram",
    "LeaderShare",
    "HelperShare",
    "InputShare",
    "PrepShare",
    "PrepState",
    "Field",
    "Field64",
    "Field128",
    "VerificationFailed",
    "JointRandMismatch",
    "ReplayedReport",
]
