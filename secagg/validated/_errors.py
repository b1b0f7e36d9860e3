"""The error types of :mod:`secagg.validated` beyond those of :mod:`secagg.errors`.

A report that fails validation is an :class:`~secagg.errors.InvalidProof` (a malicious or
faulty client, not a protocol failure of the aggregators); a message that cannot be parsed is
a :class:`~secagg.errors.DeserializationError`; a message that parses but must not be acted on
(another session, a replayed nonce, a wrong step) is a :class:`~secagg.errors.ProtocolError`.
"""

from __future__ import annotations

from secagg.errors import InvalidProof, ProtocolError

__all__ = [
    "VerificationFailed",
    "JointRandMismatch",
    "ReplayedReport",
    "WrongSession",
    "AggregatorMismatch",
]


class VerificationFailed(InvalidProof):
    """The combined verifier rejects: the measurement is invalid or the proof malformed.

    Draft-irtf-cfrg-vdaf-07, section 7.2.2 (``prep_shares_to_prep``: ``ERR_VERIFY``).
    """


class JointRandMismatch(VerificationFailed):
    """The client's joint randomness hint disagrees with the aggregators' shares.

    Draft section 7.2.2 (``prep_next``): the client lied about a joint randomness part, or the
    shares it sent are not the ones it derived the joint randomness from.
    """


class ReplayedReport(ProtocolError):
    """A report whose nonce an aggregator has already prepared.

    Draft section 9.2: a nonce and its input shares must be used once.
    """


class WrongSession(ProtocolError):
    """A message for another configuration (digest) or round."""


class AggregatorMismatch(ProtocolError):
    """The two aggregators disagree: on the reports in a round, or in the order of results."""
