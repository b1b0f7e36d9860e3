"""The exceptions of :mod:`secagg`: one root, typed subclasses, nothing silent.

Every error the package raises on purpose derives from :class:`SecAggError`, so a caller can
catch the package's failures in one clause. Errors about bad arguments also derive from
:class:`ValueError`, following the habit of ``cryptography`` and ``hypothesis``.
"""

from __future__ import annotations

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


class SecAggError(Exception):
    """Root of every error raised by :mod:`secagg`."""


class InvalidArgument(SecAggError, ValueError):
    """An argument has the wrong type, shape, range or value."""


class InsecureParameters(InvalidArgument):
    """Parameters below the safe minimum (e.g. a short Paillier key) without an explicit opt-in."""


class KeyMismatch(InvalidArgument):
    """Objects that belong to different keys (or sessions) were combined."""


class EncodingMismatch(InvalidArgument):
    """Encrypted vectors with different scales, shapes or packings were combined."""


class PlaintextOverflow(SecAggError, OverflowError):
    """A value, a sum or a slot exceeds the range the encoding can represent exactly."""


class DeserializationError(InvalidArgument):
    """Bytes or JSON that fail validation: version, length, range or group membership."""


class ProtocolError(SecAggError):
    """A protocol party received a message it must not act on."""


class ProtocolAbort(ProtocolError):
    """A party aborted the round to protect a client (e.g. a request for both shares)."""


class InsufficientShares(ProtocolError):
    """Fewer valid shares than the threshold are available."""


class InvalidShare(ProtocolError):
    """A secret share (or decryption share) failed its integrity or consistency check."""

    def __init__(self, message: str, *, party: int | None = None) -> None:
        super().__init__(message)
        self.party = party


class InvalidProof(InvalidShare):
    """A zero-knowledge proof attached to a share does not verify."""


class DecryptionFailure(ProtocolError):
    """An authenticated ciphertext did not decrypt (wrong key, associated data or bytes)."""
