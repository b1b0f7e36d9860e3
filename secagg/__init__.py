"""Secure aggregation: Paillier homomorphic encryption and SecAgg+ pairwise masking.

The server of a federated round must only ever see encrypted or masked sums. This package
provides both routes: :mod:`secagg.paillier` (packed, vectorised, threshold-decryptable
Paillier) and :mod:`secagg.masking` (Bonawitz et al. 2017 / Bell et al. 2020 SecAgg+).
"""

from __future__ import annotations

from secagg.errors import (
    DecryptionFailure,
    DeserializationError,
    EncodingMismatch,
    InsecureParameters,
    InsufficientShares,
    InvalidArgument,
    InvalidProof,
    InvalidShare,
    KeyMismatch,
    PlaintextOverflow,
    ProtocolAbort,
    ProtocolError,
    SecAggError,
)

__version__ = "0.1.0"

__all__ = [
    "SecAggError",
    "InvalidArgument",
    "InsecureParameters",
    "KeyMismatch",
    "EncodingMismatch",
    "PlaintextOverflow",
    "DeserializationError",
    "ProtocolError",
    "ProtocolAbort",
    "InsufficientShares",
    "InvalidShare",
    "InvalidProof",
    "DecryptionFailure",
]
