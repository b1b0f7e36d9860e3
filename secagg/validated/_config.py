"""The configuration of validated aggregation: what clients and both aggregators agree on.

Its digest is bound into every message and into the associated data of the helper's sealed
share, so parties that disagree on any field (the update's shape, the norm bound, the helper's
key or the round) never accept each other's messages.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cached_property

from secagg.errors import DeserializationError, InsecureParameters, InvalidArgument
from secagg.validated._field import Field64, Field128
from secagg.validated._flp import Valid
from secagg.validated._l2 import BOUNDED_L2_FIELD64_ID, BOUNDED_L2_ID, BoundedL2
from secagg.validated._pine import PINE_FIELD64_ID, PINE_FIELD128_ID, Pine, PineValid
from secagg.validated._prio3 import Prio3
from secagg.validated._seal import KEY_BYTES
from secagg.validated._soundness import SoundnessBound, soundness_bound
from secagg.validated._xof import VERSION as DRAFT_VERSION

__all__ = ["ValidatedConfig", "DIGEST_BYTES", "SOUNDNESS_TARGET_LOG2", "XOF_QUERIES"]

SOUNDNESS_TARGET_LOG2 = -64
"""Configurations whose soundness bound exceeds ``2^-64`` are refused unless opted in."""
XOF_QUERIES = 2**40
"""The offline work (XOF calls) we assume a malicious client can spend grinding one report."""
_FIELDS = {"Field64": Field64, "Field128": Field128}
_ALGOS = {
    ("pine", "Field64"): PINE_FIELD64_ID,
    ("pine", "Field128"): PINE_FIELD128_ID,
    ("bits", "Field64"): BOUNDED_L2_FIELD64_ID,
    ("bits", "Field128"): BOUNDED_L2_ID,
}
_NORM_PROOFS = {"Field64": 2, "Field128": 1}
"""PINE's norm-equality proofs: ``f_ne^m <= 2^-100`` up to ``d = 10^6`` (not grindable)."""

DIGEST_BYTES = 32
_DOMAIN = b"fedcrypt/secagg-validated/config/v1"
_LAYOUT = ">BIIIQBB"


@dataclass(frozen=True)
class ValidatedConfig:
    """Everything the client, the leader and the helper of one round must agree on.

    Attributes:
        length: coordinates per update.
        bits: each coordinate lies in ``[-2^(bits-1), 2^(bits-1))`` (2 to 32).
        norm_bound: ``B``; the squared L2 norm of every accepted update is at most ``B``.
        helper_public_key: the helper's X25519 key (32 raw bytes) that clients seal to.
        round_number: the federated round; bound into every message and sealed share.
        field: "Field64" (the default: vectorised ``uint64`` arithmetic, 8-byte elements) or
            "Field128" (draft 07's single-proof choice, 16-byte elements).
        proofs: how many independent proofs the client sends (draft 08's multiple proofs);
            3 on Field64 and 1 on Field128 meet the ``2^-64`` target up to ``d = 10^6``.
            Under PINE, the proofs of its main circuit (the norm-equality circuit gets 2 on
            Field64 and 1 on Field128).
        allow_weak_soundness: accept a configuration whose soundness bound (against
            ``2^40`` XOF calls) is above ``2^-64``; otherwise InsecureParameters.
        circuit: "pine" (the default: PINE's exact L2 check, draft-chen-cfrg-vdaf-pine; the
            upload is about one field vector; coordinates are bounded through the norm,
            ``|v_i| <= sqrt(norm_bound)``, and the client refuses any outside ``bits``) or
            "bits" (every coordinate bit-decomposed and range-checked, then the norm; the
            upload is ``bits`` field elements per coordinate).
    """

    length: int
    bits: int
    norm_bound: int
    helper_public_key: bytes
    round_number: int = 0
    field: str = "Field64"
    proofs: int = 3
    allow_weak_soundness: bool = False
    circuit: str = "pine"
    _digest: bytes = dataclass_field(init=False, repr=False, compare=False, default=b"")

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
        if self.field not in _FIELDS:
            raise InvalidArgument("field must be 'Field64' or 'Field128'")
        if self.circuit not in ("pine", "bits"):
            raise InvalidArgument("circuit must be 'pine' or 'bits'")
        if isinstance(self.proofs, bool) or not isinstance(self.proofs, int):
            raise InvalidArgument("proofs must be an int")
        if not 1 <= self.proofs < 256:
            raise InvalidArgument("proofs must lie in [1, 256)")
        bound = self.soundness  # refuses parameters that could wrap around the field
        if bound.log2 > SOUNDNESS_TARGET_LOG2 and not self.allow_weak_soundness:
            raise InsecureParameters(
                f"soundness error 2^{bound.log2:.1f} exceeds 2^{SOUNDNESS_TARGET_LOG2}: "
                "more proofs, Field128, or allow_weak_soundness=True"
            )
        object.__setattr__(self, "_digest", hashlib.sha256(self.to_bytes()).digest())

    @property
    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding (domain, draft version, algorithm, fields)."""
        return self._digest

    def _valid(self) -> Valid:
        field = _FIELDS[self.field]
        if self.circuit == "pine":
            return PineValid(field, self.length, self.norm_bound)
        return BoundedL2(self.length, self.bits, self.norm_bound, field=field)

    @property
    def norm_proofs(self) -> int:
        """PINE's norm-equality proofs (2 on Field64, 1 on Field128; 0 for "bits")."""
        return _NORM_PROOFS[self.field] if self.circuit == "pine" else 0

    @property
    def soundness(self) -> SoundnessBound:
        """The soundness bound of one report (:func:`soundness_bound`, ``2^40`` XOF calls)."""
        return soundness_bound(
            self._valid(),
            xof_queries=XOF_QUERIES,
            proofs=self.proofs,
            norm_proofs=max(1, self.norm_proofs),
        )

    @cached_property
    def vdaf(self) -> Prio3:
        """Prio3 (or PINE, a Prio3 subclass) over this configuration's circuit (two aggregators)."""
        algo = _ALGOS[(self.circuit, self.field)]
        valid = self._valid()
        if isinstance(valid, PineValid):
            return Pine(valid, algo, 2, self.proofs, self.norm_proofs)
        return Prio3(valid, algo, 2, self.proofs)

    def to_bytes(self) -> bytes:
        """Canonical, versioned encoding (the algorithm id names the field)."""
        algo = _ALGOS[(self.circuit, self.field)]
        head = struct.pack(
            _LAYOUT,
            DRAFT_VERSION,
            algo,
            self.length,
            self.bits,
            self.round_number,
            self.proofs,
            int(self.allow_weak_soundness),
        )
        return b"".join(
            [_DOMAIN, head, self.norm_bound.to_bytes(12, "big"), self.helper_public_key]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ValidatedConfig:
        """Inverse of :meth:`to_bytes`; raises DeserializationError on anything else."""
        size = len(_DOMAIN) + struct.calcsize(_LAYOUT) + 12 + KEY_BYTES
        if not isinstance(data, bytes) or len(data) != size or not data.startswith(_DOMAIN):
            raise DeserializationError("not a validated-aggregation configuration")
        offset = len(_DOMAIN)
        version, algo, length, bits, rnd, proofs, weak = struct.unpack_from(_LAYOUT, data, offset)
        names = {a: key for key, a in _ALGOS.items()}
        if version != DRAFT_VERSION or algo not in names or weak not in (0, 1):
            raise DeserializationError("configuration for another draft or algorithm")
        offset += struct.calcsize(_LAYOUT)
        bound = int.from_bytes(data[offset : offset + 12], "big")
        key = data[offset + 12 :]
        try:
            circuit, field = names[algo]
            return cls(length, bits, bound, key, rnd, field, proofs, bool(weak), circuit)
        except InvalidArgument as exc:
            raise DeserializationError(str(exc)) from exc
