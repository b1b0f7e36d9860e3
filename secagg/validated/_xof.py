"""XofShake128 and the domain separation tags of draft-irtf-cfrg-vdaf-07, sections 6.2-6.2.3.

The XOF is SHAKE128 (FIPS 202) over ``len(dst) || dst || seed || binder`` with 16-byte seeds;
``hashlib.shake_128`` provides it. Draft 07 is the newest version of the draft that uses
SHAKE128 (draft 08 moved to TurboSHAKE128, which ``hashlib`` lacks); see docs/secagg/validated.md.
"""

from __future__ import annotations

import hashlib

import numpy as np

from secagg.errors import InvalidArgument
from secagg.validated._field import Field, FieldVec

__all__ = ["SEED_SIZE", "VERSION", "XofShake128", "XofTurboShake128", "format_dst"]

SEED_SIZE = 16
VERSION = 7
"""The draft version bound into every domain separation tag (draft section 3)."""


def format_dst(algo_class: int, algo: int, usage: int) -> bytes:
    """The domain separation tag of draft section 6.2.3: version, class, algorithm id, usage."""
    return (
        VERSION.to_bytes(1, "big")
        + algo_class.to_bytes(1, "big")
        + algo.to_bytes(4, "big")
        + usage.to_bytes(2, "big")
    )


class XofShake128:
    """The extendable-output function XofShake128 (draft section 6.2.1).

    ``next`` continues one output stream; the draft's ``next_vec`` (rejection sampling of field
    elements, 6.2) is :meth:`next_vec`, vectorised: it reads whole blocks and keeps the
    candidates below ``p`` in stream order, which is exactly the draft's one-at-a-time loop.
    """

    __slots__ = ("_hash", "_offset")

    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InvalidArgument(f"an XofShake128 seed is {SEED_SIZE} bytes")
        if len(dst) > 255:
            raise InvalidArgument("a domain separation tag is at most 255 bytes")
        self._hash = hashlib.shake_128(bytes([len(dst)]) + dst + seed + binder)
        self._offset = 0

    def next(self, length: int) -> bytes:
        """The next ``length`` bytes of the output stream."""
        end = self._offset + length
        out = self._hash.digest(end)[self._offset :]
        self._offset = end
        return out

    def next_vec(self, field: Field, length: int) -> FieldVec:
        """The next ``length`` field elements, rejection-sampled (draft ``next_vec``).

        Both fields' moduli are just below a power of two of ``8 * ENCODED_SIZE`` bits, so the
        draft's mask ``next_power_of_2(p) - 1`` is all ones and is omitted.
        """
        size = field.ENCODED_SIZE
        parts: list[FieldVec] = []
        have = 0
        while have < length:
            values, ok = field.candidates(self.next((length - have) * size))
            kept = values[ok]
            parts.append(kept)
            have += len(kept)
        if not parts:
            return field.zeros(0)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @classmethod
    def derive_seed(cls, seed: bytes, dst: bytes, binder: bytes) -> bytes:
        """A fresh seed from ``seed`` (draft ``derive_seed``)."""
        return cls(seed, dst, binder).next(SEED_SIZE)

    @classmethod
    def expand_into_vec(
        cls, field: Field, seed: bytes, dst: bytes, binder: bytes, length: int
    ) -> FieldVec:
        """``length`` field elements expanded from ``seed`` (draft ``expand_into_vec``)."""
        return cls(seed, dst, binder).next_vec(field, length)


class XofTurboShake128(XofShake128):
    """XofTurboShake128 (draft-irtf-cfrg-vdaf-08 and later, section 6.2.1 there).

    TurboSHAKE128 (RFC 9861, Keccak-p[1600, 12]) with domain separation byte 1 over the same
    ``len(dst) || dst || seed || binder`` as XofShake128, from pycryptodome's C implementation
    (``Crypto.Hash.TurboSHAKE128``). Used only to check PINE against its draft's published
    test vectors; fedcrypt does not declare pycryptodome (it comes with ``flwr``), so this
    raises InvalidArgument where it is missing.
    """

    __slots__ = ("_turbo",)

    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None:
        try:
            from Crypto.Hash import TurboSHAKE128
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise InvalidArgument("XofTurboShake128 needs pycryptodome") from exc
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InvalidArgument(f"an XofTurboShake128 seed is {SEED_SIZE} bytes")
        if len(dst) > 255:
            raise InvalidArgument("a domain separation tag is at most 255 bytes")
        self._turbo = TurboSHAKE128.new(domain=1)
        self._turbo.update(bytes([len(dst)]) + dst + seed + binder)
        self._offset = 0

    def next(self, length: int) -> bytes:
        """The next ``length`` bytes of the output stream."""
        self._offset += length
        return bytes(self._turbo.read(length))
