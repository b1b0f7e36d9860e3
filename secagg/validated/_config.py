"""The configuration of validated aggregation: what clients and both aggregators agree on.

Its digest is bound into every message and into the associated data of the helper's sealed
share, so parties that disagree on any field (the update's shape, the norm bound, the helper's
key or the round) never accept each other's messages.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import cached_property

from secagg.errors import DeserializationError, InvalidArgument
from secagg.validated._l2 import BOUNDED_L2_ID, BoundedL2
from secagg.validated._prio3 import Prio3
from secagg.validated._seal import KEY_BYTES
from secagg.validated._xof import VERSION as DRAFT_VERSION

__all__ = ["ValidatedConfig", "DIGEST_BYTES"]

DIGEST_BYTES = 32
_DOMAIN = b"fedcrypt/secagg-validated/config/v1"


@dataclass(frozen=True)
class ValidatedConfig:
    """Everything the client, the leader and the helper of one round must agree on.

    Attributes:
        length: coordinates per update.
        bits: each coordinate lies in ``[-2^(bits-1), 2^(bits-1))`` (2 to 32).
        norm_bound: ``B``; the squared L2 norm of every accepted update is at most ``B``.
        helper_public_key: the helper's X25519 key (32 raw bytes) that clients seal to.
        round_number: the federated round; bound into every message and sealed share.
    """

    length: int
    bits: int
    norm_bound: int
    helper_public_key: bytes
    round_number: int = 0
    _digest: bytes = field(init=False, repr=False, compare=False, default=b"")

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("length", self.length, 1, 2**31),
            ("bits", self.bits, 2, 33),
            ("norm_bound", self.norm_bound, 0, 2**96),
            ("round_number", self.round_number, 0, 2**64),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
                raise InvalidArgument(f"{name} must be an int in [{low}, {high})")
        key = self.helper_public_key
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise InvalidArgument("helper_public_key must be 32 bytes")
        BoundedL2(self.length, self.bits, self.norm_bound)  # refuses parameters that wrap
        object.__setattr__(self, "_digest", hashlib.sha256(self.to_bytes()).digest())

    @property
    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding (domain, draft version, algorithm, fields)."""
        return self._digest

    @cached_property
    def vdaf(self) -> Prio3:
        """Prio3 over the bounded-L2 circuit of this configuration (two aggregators)."""
        return Prio3(BoundedL2(self.length, self.bits, self.norm_bound), BOUNDED_L2_ID, 2)

    def to_bytes(self) -> bytes:
        """Canonical, versioned encoding."""
        return b"".join(
            [
                _DOMAIN,
                struct.pack(
                    ">BIIIQ",
                    DRAFT_VERSION,
                    BOUNDED_L2_ID,
                    self.length,
                    self.bits,
                    self.round_number,
                ),
                self.norm_bound.to_bytes(12, "big"),
                self.helper_public_key,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ValidatedConfig:
        """Inverse of :meth:`to_bytes`; raises DeserializationError on anything else."""
        size = len(_DOMAIN) + struct.calcsize(">BIIIQ") + 12 + KEY_BYTES
        if not isinstance(data, bytes) or len(data) != size or not data.startswith(_DOMAIN):
            raise DeserializationError("not a validated-aggregation configuration")
        offset = len(_DOMAIN)
        version, algo, length, bits, round_number = struct.unpack_from(">BIIIQ", data, offset)
        if version != DRAFT_VERSION or algo != BOUNDED_L2_ID:
            raise DeserializationError("configuration for another draft or algorithm")
        offset += struct.calcsize(">BIIIQ")
        bound = int.from_bytes(data[offset : offset + 12], "big")
        try:
            return cls(length, bits, bound, data[offset + 12 :], round_number)
        except InvalidArgument as exc:
            raise DeserializationError(str(exc)) from exc
