"""Input validation and transcript binding shared by the threshold-Paillier modules (internal).

Every public entry point of :mod:`secagg.paillier.threshold` funnels its integers through
these checks before any arithmetic: ranges, membership of Z*_{n^2} (0 < x < n^2 and
gcd(x, n) = 1), committee sizes, and that ciphertexts belong to the key at hand.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import gmpy2  # type: ignore[import-untyped]

from secagg.errors import InvalidArgument, KeyMismatch
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._threshold_codec import int_bytes, pack_int
from secagg.paillier._threshold_math import holder_delta
from secagg.paillier._threshold_proof import nonce_bits
from secagg.paillier._vector import EncryptedVector

__all__ = [
    "MAX_KEY_HOLDERS",
    "INSECURE_FLOOR_BITS",
    "FINGERPRINT_BYTES",
    "DIGEST_BYTES",
    "require_int",
    "require_unit",
    "require_units",
    "check_modulus",
    "check_committee",
    "ciphertext_int",
    "vector_ints",
    "ciphertexts_digest",
    "response_width",
    "share_context",
]

MAX_KEY_HOLDERS = 1024
INSECURE_FLOOR_BITS = 256
FINGERPRINT_BYTES = 8
DIGEST_BYTES = 32
_DIGEST_LABEL = b"fedcrypt/secagg/paillier/threshold/ciphertexts/v1"
_MPZ = type(gmpy2.mpz(0))


def require_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int | _MPZ):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    number = int(value)
    if not low <= number <= high:
        raise InvalidArgument(
            f"{name} must be in [{_show(low)}, {_show(high)}], got {_show(number)}"
        )
    return number


def _show(number: int) -> str:
    """``number`` for an error message; huge ones by size (decimal would hit the int-str limit)."""
    return str(number) if abs(number) < 1 << 64 else f"a {number.bit_length()}-bit integer"


def require_unit(name: str, value: object, n: int) -> int:
    """Return ``value`` as an int of Z*_{n^2} (0 < x < n^2 and gcd(x, n) = 1)."""
    number = require_int(name, value, 1, n * n - 1)
    if math.gcd(number, n) != 1:
        raise InvalidArgument(f"{name} is not a unit modulo n^2")
    return number


def require_units(name: str, values: Sequence[Any], n: int) -> list[int]:
    """Validate many elements of Z*_{n^2} with one gcd: p | prod x_j iff p divides some x_j."""
    numbers = [require_int(name, value, 1, n * n - 1) for value in values]
    product = gmpy2.mpz(1)
    for number in numbers:
        product = product * number % n
    if math.gcd(int(product), n) != 1:
        raise InvalidArgument(f"a {name} is not a unit modulo n^2")
    return numbers


def check_modulus(n: int) -> None:
    """Refuse an even, square or shorter than 256-bit modulus."""
    if n % 2 == 0 or n.bit_length() < INSECURE_FLOOR_BITS or gmpy2.is_square(n):
        raise InvalidArgument("n must be an odd non-square modulus of at least 256 bits")


def check_committee(n_parties: object, threshold: object) -> None:
    """Require 1 <= threshold <= n_parties <= MAX_KEY_HOLDERS."""
    parties = require_int("n_parties", n_parties, 1, MAX_KEY_HOLDERS)
    require_int("threshold", threshold, 1, parties)


def ciphertext_int(ciphertext: Ciphertext | int, n: int) -> int:
    """Return the raw value of a ciphertext of modulus ``n``, refusing other keys and non-units.

    Raises:
        KeyMismatch: the ciphertext belongs to another public key.
        InvalidArgument: not a ciphertext, or not a unit modulo n^2.
    """
    if isinstance(ciphertext, Ciphertext):
        if ciphertext.public_key.n != n:
            raise KeyMismatch("the ciphertext belongs to another public key")
        return require_unit("ciphertext", ciphertext.value, n)
    if isinstance(ciphertext, int | _MPZ) and not isinstance(ciphertext, bool):
        return require_unit("ciphertext", ciphertext, n)
    raise InvalidArgument(f"expected a Ciphertext or an int, got {type(ciphertext).__name__}")


def vector_ints(vector: EncryptedVector, n: int) -> list[int]:
    """Return the raw ciphertexts of an ``EncryptedVector`` of modulus ``n``, validated.

    Raises:
        KeyMismatch: the vector belongs to another public key.
        InvalidArgument: not an EncryptedVector, empty, or a value outside Z*_{n^2}.
    """
    if not isinstance(vector, EncryptedVector):
        raise InvalidArgument(f"expected an EncryptedVector, got {type(vector).__name__}")
    if vector.public_key.n != n:
        raise KeyMismatch("the encrypted vector belongs to another public key")
    if not vector.ciphertexts:
        raise InvalidArgument("the encrypted vector holds no ciphertexts")
    return require_units("ciphertext", vector.ciphertexts, n)


def ciphertexts_digest(values: Sequence[int], n: int) -> bytes:
    """SHA-256 over a list of ciphertexts in fixed width: binds a share to its input."""
    width = int_bytes(n * n)
    digest = hashlib.sha256(_DIGEST_LABEL + len(values).to_bytes(8, "big"))
    for value in values:
        digest.update(pack_int(value, width))
    return digest.digest()


def response_width(n: int, n_parties: int) -> int:
    """Bytes of a proof response z < 2^(nonce bits + 1) for this key and committee."""
    return int_bytes(1 << (nonce_bits(n, holder_delta(n_parties)) + 1))


def share_context(
    kind: bytes, key_fingerprint: bytes, n_parties: int, threshold: int, holder: int, digest: bytes
) -> bytes:
    """The Fiat-Shamir context of a decryption proof: kind, key, committee, holder, input."""
    return (
        kind
        + key_fingerprint
        + pack_int(n_parties, 2)
        + pack_int(threshold, 2)
        + pack_int(holder, 2)
        + digest
    )
