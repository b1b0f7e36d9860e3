"""A single Paillier ciphertext bound to its public key, with the homomorphic operators."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gmpy2  # type: ignore[import-untyped]
import numpy as np

from secagg.errors import DeserializationError, InvalidArgument, KeyMismatch, PlaintextOverflow
from secagg.paillier import hazmat
from secagg.paillier._wire import seal, unseal

if TYPE_CHECKING:
    from secagg.paillier._keys import PublicKey

__all__ = ["Ciphertext"]

_MAGIC = b"FCCT"
_VERSION = 1
_MPZ = type(gmpy2.mpz(0))


def _is_integer(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer | _MPZ)


@dataclass(frozen=True, slots=True, eq=True)
class Ciphertext:
    """A Paillier ciphertext ``c`` in ``[1, n^2)`` of one public key.

    Operators: ``c1 + c2``, ``c + int``, ``c - c2``, ``c * int`` (any sign), ``-c``. Results
    of ``+`` and ``*`` are not re-randomised; call :meth:`rerandomize` before revealing a
    derived ciphertext to someone who saw its inputs.

    Attributes:
        public_key: The key this ciphertext belongs to.
        value: The raw ciphertext integer (a ``gmpy2.mpz``).
    """

    public_key: PublicKey
    value: Any

    def __post_init__(self) -> None:
        if not _is_integer(self.value):
            raise InvalidArgument("a ciphertext value must be an integer")
        value = gmpy2.mpz(self.value)
        if not 0 < value < self.public_key._nsquare:
            raise InvalidArgument("a ciphertext value must lie in [1, n^2)")
        object.__setattr__(self, "value", value)

    def __repr__(self) -> str:
        return f"Ciphertext(key={self.public_key.fingerprint_hex}, value=0x{int(self.value):x})"

    def _wrap(self, value: int) -> Ciphertext:
        return Ciphertext(self.public_key, value)

    def __add__(self, other: Ciphertext | int) -> Ciphertext:
        if isinstance(other, Ciphertext):
            if other.public_key is not self.public_key:
                self.public_key.check_same(other.public_key)
            return self._wrap(hazmat.raw_add(self.public_key, self.value, other.value))
        if _is_integer(other):
            plaintext = self.public_key._encode_scalar(int(other))
            return self._wrap(hazmat.raw_add_plain(self.public_key, self.value, plaintext))
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Ciphertext:
        return self._wrap(hazmat.raw_negate(self.public_key, self.value))

    def __sub__(self, other: Ciphertext | int) -> Ciphertext:
        if isinstance(other, Ciphertext):
            return self + (-other)
        if _is_integer(other):
            return self + (-int(other))
        return NotImplemented

    def __rsub__(self, other: int) -> Ciphertext:
        if _is_integer(other):
            return (-self) + int(other)
        return NotImplemented

    def __mul__(self, scalar: int) -> Ciphertext:
        if not _is_integer(scalar):
            return NotImplemented
        k = int(scalar)
        if abs(k) > self.public_key.max_int:
            raise PlaintextOverflow("|scalar| exceeds max_int = n // 3 - 1")
        base = self.value if k >= 0 else hazmat.raw_negate(self.public_key, self.value)
        return self._wrap(hazmat.raw_scalar_mul(self.public_key, base, abs(k)))

    __rmul__ = __mul__

    def rerandomize(self) -> Ciphertext:
        """Return a fresh, unlinkable ciphertext of the same plaintext."""
        return self._wrap(hazmat.raw_rerandomize(self.public_key, self.value))

    def to_bytes(self) -> bytes:
        """Serialise: ``b"FCCT" | version | key fingerprint (8) | c (fixed width) | checksum``."""
        width = self.public_key.ciphertext_bytes
        return seal(
            _MAGIC
            + struct.pack(">B", _VERSION)
            + self.public_key.fingerprint
            + int(self.value).to_bytes(width, "big")
        )

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicKey) -> Ciphertext:
        """Load a ciphertext of ``public_key`` written by :meth:`to_bytes`.

        Raises:
            DeserializationError: Wrong checksum, magic, version or length; ``c`` not in
                ``[1, n^2)`` or not prime to ``n``.
            KeyMismatch: The fingerprint is not ``public_key``'s.
        """
        data = unseal(data)
        header = len(_MAGIC) + 1 + len(public_key.fingerprint)
        if data[:4] != _MAGIC:
            raise DeserializationError("not a fedcrypt Paillier ciphertext")
        if len(data) < 5 or data[4] != _VERSION:
            raise DeserializationError("unsupported ciphertext format version")
        if len(data) != header + public_key.ciphertext_bytes:
            raise DeserializationError("ciphertext length does not match the key size")
        if data[5:header] != public_key.fingerprint:
            raise KeyMismatch("the ciphertext was made under a different key")
        value = gmpy2.mpz(int.from_bytes(data[header:], "big"))
        check_ciphertext_value(public_key, value)
        return cls(public_key, value)


def check_ciphertext_value(public_key: PublicKey, value: int) -> None:
    """Raise :class:`DeserializationError` unless ``0 < c < n^2`` and ``gcd(c, n) = 1``."""
    if not 0 < value < public_key._nsquare:
        raise DeserializationError("ciphertext value out of range [1, n^2)")
    if gmpy2.gcd(value, public_key._n) != 1:
        raise DeserializationError("ciphertext value is not invertible modulo n")
