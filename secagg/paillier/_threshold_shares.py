"""Decryption shares of threshold Paillier and their fixed-width serialisation (internal).

A decryption share is c^(2 Delta s_i) mod n^2 with a Fiat-Shamir proof (e, z) that it used
key share s_i (Shoup 2000, section 3; Damgard and Jurik 2001, section 4.1). The widths of
every field follow from the key and committee, so ``from_bytes`` takes the
:class:`~secagg.paillier.threshold.VerificationKeys` and refuses any message of the wrong
length before reading a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from secagg.errors import DeserializationError, InvalidArgument, KeyMismatch
from secagg.paillier._threshold_checks import (
    DIGEST_BYTES,
    FINGERPRINT_BYTES,
    MAX_KEY_HOLDERS,
    require_int,
    require_units,
    response_width,
)
from secagg.paillier._threshold_codec import FORMAT_VERSION, Reader, int_bytes, pack_int
from secagg.paillier._threshold_proof import CHALLENGE_BYTES

if TYPE_CHECKING:
    from secagg.paillier._threshold_keys import VerificationKeys

__all__ = ["DecryptionShare", "VectorDecryptionShare"]

_MAGIC_SHARE = b"FCTD"
_MAGIC_VECTOR_SHARE = b"FCTW"
_HEADER = 5 + 2 + FINGERPRINT_BYTES + DIGEST_BYTES
_MAX_RESPONSE_BITS = 1 << 18


def _check_fields(
    holder: object, key_fingerprint: object, digest: object, challenge: object, response: object
) -> None:
    require_int("holder", holder, 1, MAX_KEY_HOLDERS)
    if not isinstance(key_fingerprint, bytes) or len(key_fingerprint) != FINGERPRINT_BYTES:
        raise InvalidArgument(f"key_fingerprint must be {FINGERPRINT_BYTES} bytes")
    if not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES:
        raise InvalidArgument(f"the ciphertext digest must be {DIGEST_BYTES} bytes")
    require_int("challenge", challenge, 0, (1 << (8 * CHALLENGE_BYTES)) - 1)
    require_int("response", response, 0, 1 << _MAX_RESPONSE_BITS)


def _check_key(key_fingerprint: bytes, verification: VerificationKeys) -> None:
    if key_fingerprint != verification.key_fingerprint:
        raise KeyMismatch("the decryption share was made for another public key")


def _check_origin(holder: int, key_fingerprint: bytes, verification: VerificationKeys) -> None:
    _check_key(key_fingerprint, verification)
    if not 1 <= holder <= verification.n_parties:
        raise DeserializationError(f"holder {holder} is not in the committee")


def _parse_values(reader: Reader, count: int, verification: VerificationKeys) -> list[int]:
    width = 2 * int_bytes(verification.n + 1)
    values = [reader.uint(width) for _ in range(count)]
    try:
        return require_units("share value", values, verification.n)
    except InvalidArgument as error:
        raise DeserializationError(str(error)) from error


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    """Key holder ``holder``'s share c^(2 Delta s_i) of one ciphertext, with its proof.

    Attributes:
        holder: The key holder's id (1 to n_parties).
        key_fingerprint: The Paillier key fingerprint (``PublicKey.fingerprint``).
        ciphertext_digest: SHA-256 of the ciphertext the share was made for.
        value: The share c^(2 Delta s_i) mod n^2.
        challenge: The proof's Fiat-Shamir challenge e (256 bits).
        response: The proof's response z = r + e Delta s_i.
    """

    holder: int
    key_fingerprint: bytes
    ciphertext_digest: bytes
    value: int
    challenge: int
    response: int

    def __post_init__(self) -> None:
        _check_fields(
            self.holder, self.key_fingerprint, self.ciphertext_digest, self.challenge, self.response
        )
        require_int("value", self.value, 1, 1 << _MAX_RESPONSE_BITS)

    def to_bytes(self, verification: VerificationKeys) -> bytes:
        """Serialise with the field widths fixed by ``verification`` (key and committee).

        Raises:
            KeyMismatch: The share belongs to another key than ``verification``.
        """
        _check_key(self.key_fingerprint, verification)
        width = 2 * int_bytes(verification.n + 1)
        return (
            _MAGIC_SHARE
            + bytes([FORMAT_VERSION])
            + pack_int(self.holder, 2)
            + self.key_fingerprint
            + self.ciphertext_digest
            + pack_int(self.value, width)
            + pack_int(self.challenge, CHALLENGE_BYTES)
            + pack_int(self.response, response_width(verification.n, verification.n_parties))
        )

    @classmethod
    def from_bytes(cls, data: bytes, verification: VerificationKeys) -> DecryptionShare:
        """Parse and range-check a decryption share made for ``verification``'s key.

        The proof itself is checked by :func:`~secagg.paillier.threshold.combine_shares`.

        Raises:
            DeserializationError: wrong magic, version or length, or a field out of range.
            KeyMismatch: the share was made for another public key.
        """
        n = verification.n
        z_width = response_width(n, verification.n_parties)
        reader = Reader(data, _MAGIC_SHARE, "decryption share")
        reader.expect_length(_HEADER + 2 * int_bytes(n + 1) + CHALLENGE_BYTES + z_width)
        holder = reader.uint(2)
        key_fingerprint = reader.take(FINGERPRINT_BYTES)
        digest = reader.take(DIGEST_BYTES)
        _check_origin(holder, key_fingerprint, verification)
        (value,) = _parse_values(reader, 1, verification)
        challenge = reader.uint(CHALLENGE_BYTES)
        response = reader.uint(z_width)
        reader.finish()
        return cls(holder, key_fingerprint, digest, value, challenge, response)


@dataclass(frozen=True, slots=True)
class VectorDecryptionShare:
    """Key holder ``holder``'s shares of every ciphertext of a vector, with one batch proof.

    Attributes:
        holder: The key holder's id (1 to n_parties).
        key_fingerprint: The Paillier key fingerprint (``PublicKey.fingerprint``).
        ciphertexts_digest: SHA-256 of the ciphertexts the shares were made for.
        values: The shares c_j^(2 Delta s_i) mod n^2, one per ciphertext, in order.
        challenge: The batch proof's Fiat-Shamir challenge e (256 bits).
        response: The batch proof's response z = r + e Delta s_i.
    """

    holder: int
    key_fingerprint: bytes
    ciphertexts_digest: bytes
    values: tuple[int, ...]
    challenge: int
    response: int

    def __post_init__(self) -> None:
        digest = self.ciphertexts_digest
        _check_fields(self.holder, self.key_fingerprint, digest, self.challenge, self.response)
        if not isinstance(self.values, tuple) or not self.values:
            raise InvalidArgument("values must be a non-empty tuple")

    def to_bytes(self, verification: VerificationKeys) -> bytes:
        """Serialise with the field widths fixed by ``verification`` (key and committee).

        Raises:
            KeyMismatch: The share belongs to another key than ``verification``.
        """
        _check_key(self.key_fingerprint, verification)
        width = 2 * int_bytes(verification.n + 1)
        return (
            _MAGIC_VECTOR_SHARE
            + bytes([FORMAT_VERSION])
            + pack_int(self.holder, 2)
            + self.key_fingerprint
            + self.ciphertexts_digest
            + pack_int(len(self.values), 4)
            + b"".join(pack_int(value, width) for value in self.values)
            + pack_int(self.challenge, CHALLENGE_BYTES)
            + pack_int(self.response, response_width(verification.n, verification.n_parties))
        )

    @classmethod
    def from_bytes(cls, data: bytes, verification: VerificationKeys) -> VectorDecryptionShare:
        """Parse and range-check a vector decryption share made for ``verification``'s key.

        Raises:
            DeserializationError: wrong magic, version or length, or a field out of range.
            KeyMismatch: the share was made for another public key.
        """
        n = verification.n
        z_width = response_width(n, verification.n_parties)
        reader = Reader(data, _MAGIC_VECTOR_SHARE, "vector decryption share")
        holder = reader.uint(2)
        key_fingerprint = reader.take(FINGERPRINT_BYTES)
        digest = reader.take(DIGEST_BYTES)
        count = reader.uint(4)
        if count == 0:
            raise DeserializationError("a vector decryption share holds at least one value")
        width = 2 * int_bytes(n + 1)
        reader.expect_length(_HEADER + 4 + count * width + CHALLENGE_BYTES + z_width)
        _check_origin(holder, key_fingerprint, verification)
        values = _parse_values(reader, count, verification)
        challenge = reader.uint(CHALLENGE_BYTES)
        response = reader.uint(z_width)
        reader.finish()
        return cls(holder, key_fingerprint, digest, tuple(values), challenge, response)
