"""Paillier key pairs: a public key defined by its modulus alone, and the CRT private key.

Paillier 1999 ("Public-key cryptosystems based on composite degree residuosity classes",
EUROCRYPT) with ``g = n + 1``. A :class:`PublicKey` is built from ``n`` only, so keys from a
threshold dealer or from ``phe`` interoperate; everything else (``n^2``, the
Damgard-Jurik-Nielsen base ``h_s``, the fingerprint) is derived from ``n`` deterministically.
"""

from __future__ import annotations

import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import gmpy2  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import ArrayLike, NDArray

from secagg._json import load_object, parse_decimal
from secagg._progress import batched_with_progress
from secagg.errors import (
    DeserializationError,
    InsecureParameters,
    InvalidArgument,
    KeyMismatch,
    PlaintextOverflow,
)
from secagg.paillier import hazmat
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._derive import derive_djn_seed, fingerprint_of
from secagg.paillier._fixed_base import WINDOW_BITS, FixedBaseTable
from secagg.paillier._parallel import resolve_workers
from secagg.paillier._primes import random_paillier_primes
from secagg.paillier._wire import seal, unseal

if TYPE_CHECKING:
    from secagg.paillier._vector import EncryptedVector

__all__ = [
    "PublicKey",
    "PrivateKey",
    "generate_keypair",
    "SECURE_MIN_BITS",
    "DEFAULT_BITS",
]

#: Smallest modulus accepted without ``allow_insecure=True`` (NIST SP 800-57: 112-bit security).
SECURE_MIN_BITS = 2048
#: Default modulus size for new keys (128-bit security, NIST SP 800-57 part 1, table 2).
DEFAULT_BITS = 3072
#: Smallest modulus accepted at all, even for tests.
ABSOLUTE_MIN_BITS = 256
#: Largest modulus accepted (bounds the work a hostile serialised key can cause).
MAX_BITS = 16384

_PUBLIC_MAGIC = b"FCPK"
_PRIVATE_MAGIC = b"FCSK"
_FORMAT_VERSION = 1
_JSON_TYPE = "fedcrypt.paillier.PublicKey"
_JSON_FIELDS = frozenset({"type", "version", "n", "fingerprint"})
#: Decimal digits of the largest accepted modulus (2^MAX_BITS - 1 has 4933).
_MAX_DECIMAL_DIGITS = len(gmpy2.mpz(2**MAX_BITS - 1).digits(10))
_JSON_MAX_CHARS = _MAX_DECIMAL_DIGITS + 256


_TABLE_CACHE_SIZE = 4
_table_cache: OrderedDict[int, FixedBaseTable] = OrderedDict()
_table_cache_lock = threading.Lock()


def _shared_table(key: PublicKey) -> FixedBaseTable:
    """Return the process-wide fixed-base table of ``key.n``, building it if needed."""
    n = int(key._n)
    with _table_cache_lock:
        table = _table_cache.get(n)
        if table is not None:
            _table_cache.move_to_end(n)
            return table
    exponent_bytes = -(-((key.bits + 1) // 2) // WINDOW_BITS)
    table = FixedBaseTable(key.djn_base, key._nsquare, exponent_bytes)
    with _table_cache_lock:
        table = _table_cache.setdefault(n, table)
        _table_cache.move_to_end(n)
        while len(_table_cache) > _TABLE_CACHE_SIZE:
            _table_cache.popitem(last=False)
    return table


def _check_bits(bits: int, allow_insecure: bool) -> None:
    if bits > MAX_BITS:
        raise InvalidArgument(f"a {bits}-bit modulus exceeds the supported maximum {MAX_BITS}")
    if bits < ABSOLUTE_MIN_BITS:
        raise InsecureParameters(
            f"a {bits}-bit modulus is below the hard minimum {ABSOLUTE_MIN_BITS}"
        )
    if bits < SECURE_MIN_BITS and not allow_insecure:
        raise InsecureParameters(
            f"a {bits}-bit Paillier modulus is insecure (minimum {SECURE_MIN_BITS}); "
            "pass allow_insecure=True only for tests"
        )


class PublicKey:
    """A Paillier public key, defined by its modulus ``n`` alone (``g = n + 1``).

    Args:
        n: The modulus, a product of two distinct large primes.
        allow_insecure: Accept a modulus shorter than 2048 bits (tests only).

    Raises:
        InvalidArgument: ``n`` is not an odd non-square integer.
        InsecureParameters: ``n`` is too short and ``allow_insecure`` is false.
    """

    __slots__ = ("_bits", "_fingerprint", "_lock", "_max_int", "_n", "_nsquare", "_table")

    def __init__(self, n: int, *, allow_insecure: bool = False) -> None:
        if isinstance(n, bool) or not isinstance(n, int | type(gmpy2.mpz(0))):
            raise InvalidArgument(f"n must be an int, got {type(n).__name__}")
        n_int = int(n)
        if n_int < 3 or n_int % 2 == 0 or gmpy2.is_square(n_int):
            raise InvalidArgument("n must be an odd, non-square modulus")
        _check_bits(n_int.bit_length(), allow_insecure)
        self._n = gmpy2.mpz(n_int)
        self._nsquare = self._n * self._n
        self._bits = n_int.bit_length()
        self._fingerprint = fingerprint_of(n_int)
        self._max_int = hazmat.max_signed_int(n_int)
        self._table: FixedBaseTable | None = None
        self._lock = threading.Lock()

    # -- properties -------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """The modulus ``n``."""
        return int(self._n)

    @property
    def g(self) -> int:
        """The generator ``g = n + 1``."""
        return int(self._n) + 1

    @property
    def nsquare(self) -> int:
        """``n^2``, the ciphertext modulus."""
        return int(self._nsquare)

    @property
    def bits(self) -> int:
        """Bit length of ``n``."""
        return self._bits

    @property
    def max_int(self) -> int:
        """Largest absolute value a signed scalar plaintext may have (``n // 3 - 1`` as in phe)."""
        return self._max_int

    @property
    def fingerprint(self) -> bytes:
        """8 bytes of ``SHA-256(label || n)``; objects of different keys never mix."""
        return self._fingerprint

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint as 16 hex digits."""
        return self._fingerprint.hex()

    @property
    def ciphertext_bytes(self) -> int:
        """Fixed width of a serialised ciphertext integer (bytes of ``n^2``)."""
        return (int(self._nsquare).bit_length() + 7) // 8

    @property
    def djn_base(self) -> int:
        """The public Damgard-Jurik-Nielsen base ``h_s = h^n mod n^2``, ``h = -(x^2) mod n``."""
        x = gmpy2.mpz(derive_djn_seed(int(self._n)))
        h = (-(x * x)) % self._n
        return int(gmpy2.powmod(h, self._n, self._nsquare))

    def _djn_table(self) -> FixedBaseTable:
        """Fixed-base table of ``h_s`` for exponents of at least ``k/2`` bits, built once.

        Tables are shared by every :class:`PublicKey` object of the same ``n`` in the process
        (the last few keys are kept), so re-creating a key from its modulus is cheap.
        """
        table = self._table
        if table is None:
            with self._lock:
                table = self._table
                if table is None:
                    table = _shared_table(self)
                    self._table = table
        return table

    # -- comparison -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return bool(self._n == other._n)

    def __hash__(self) -> int:
        return hash(("fedcrypt.paillier.PublicKey", int(self._n)))

    def __repr__(self) -> str:
        return f"PublicKey(bits={self._bits}, fingerprint={self.fingerprint_hex})"

    def check_same(self, other: PublicKey) -> None:
        """Raise :class:`~secagg.errors.KeyMismatch` unless ``other`` is the same key."""
        if other is not self and other._fingerprint != self._fingerprint:
            raise KeyMismatch(
                f"objects of key {other.fingerprint_hex} used with key {self.fingerprint_hex}"
            )

    # -- encryption -------------------------------------------------------------------------
    def encrypt(self, value: int) -> Ciphertext:
        """Encrypt a signed integer with ``|value| <= max_int``.

        Raises:
            InvalidArgument: ``value`` is not an integer.
            PlaintextOverflow: ``|value| > max_int``.
        """
        plaintext = self._encode_scalar(value)
        return Ciphertext(self, hazmat.raw_encrypt(self, plaintext))

    def _encode_scalar(self, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidArgument(f"can only encrypt integers, got {type(value).__name__}")
        value = int(value)
        if abs(value) > self._max_int:
            raise PlaintextOverflow(
                f"|value| exceeds max_int = n // 3 - 1 of this {self._bits}-bit key"
            )
        return hazmat.encode_signed(self, value)

    def encrypt_vector(
        self,
        x: ArrayLike,
        *,
        scale_bits: int | None = None,
        value_bits: int | None = None,
        max_abs: float | None = None,
        max_summands: int = 1024,
        workers: int | None = None,
    ) -> EncryptedVector:
        """Encrypt a numpy array as packed ciphertexts (see :class:`EncryptedVector`).

        The slot width follows from the declared value range, the scale and the summand
        budget: ``value_bits = bitlen(ceil(max_abs 2^scale_bits)) + 1`` (the narrowest width
        that holds every value; proof in :func:`secagg.paillier._encoding.value_bits_for`)
        plus ``ceil(log2(max_summands))`` bits of carry headroom. With the defaults for
        floats (``max_abs=1``, ``scale_bits=16``) and ``max_summands=100`` that is 18 + 7 =
        25-bit slots, 81 values per 2048-bit ciphertext, and no sum of up to
        ``max_summands`` vectors can overflow.

        Args:
            x: A float or integer numpy array of any shape (not empty). A ``torch.Tensor``
                is refused: pass ``t.detach().cpu().numpy()``.
            scale_bits: Fixed-point scale: floats are rounded to multiples of
                ``2^-scale_bits``. Defaults to 16 for floats and 0 for integers (which must
                then be 0).
            value_bits: An explicit width instead of ``max_abs``: each scaled value must lie
                in ``[-2^(value_bits-1), 2^(value_bits-1))``.
            max_abs: The declared value range ``|x| <= max_abs``; values outside it raise
                :class:`~secagg.errors.PlaintextOverflow`. Defaults to 1.0 for floats;
                integers default to ``value_bits=32`` unless ``max_abs`` is given.
            max_summands: How many such vectors may be added (weights count with their value);
                each slot gets ``ceil(log2(max_summands))`` bits of headroom.
            workers: Threads to use (default: up to 2).

        Raises:
            InvalidArgument: Bad array (or a torch tensor) or parameters, or both
                ``value_bits`` and ``max_abs``.
            PlaintextOverflow: A value falls outside the declared range.
        """
        from secagg.paillier._vector import EncryptedVector

        return EncryptedVector.encrypt(
            self,
            x,
            scale_bits=scale_bits,
            value_bits=value_bits,
            max_abs=max_abs,
            max_summands=max_summands,
            workers=workers,
        )

    # -- serialisation ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise as ``b"FCPK" | version (u8) | length (u16) | n (big-endian) | checksum``."""
        width = (self._bits + 7) // 8
        return seal(
            _PUBLIC_MAGIC
            + struct.pack(">BH", _FORMAT_VERSION, width)
            + int(self._n).to_bytes(width, "big")
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_insecure: bool = False) -> PublicKey:
        """Load a key written by :meth:`to_bytes`.

        Raises:
            DeserializationError: Wrong checksum, magic, version, length or a malformed
                modulus.
            InsecureParameters: A short modulus without ``allow_insecure``.
        """
        data = unseal(data)
        header = len(_PUBLIC_MAGIC) + 3
        if len(data) < header or data[:4] != _PUBLIC_MAGIC:
            raise DeserializationError("not a fedcrypt Paillier public key")
        version, width = struct.unpack(">BH", data[4:header])
        if version != _FORMAT_VERSION:
            raise DeserializationError(f"unsupported public-key format version {version}")
        if len(data) != header + width or width == 0 or data[header] == 0:
            raise DeserializationError("public-key length does not match its header")
        return _load_public(int.from_bytes(data[header:], "big"), allow_insecure)

    def to_json(self) -> str:
        """Serialise as JSON: ``{"type", "version", "n" (decimal string), "fingerprint"}``."""
        return json.dumps(
            {
                "type": _JSON_TYPE,
                "version": _FORMAT_VERSION,
                "n": self._n.digits(10),  # GMP: no int-string limit up to MAX_BITS
                "fingerprint": self.fingerprint_hex,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, *, allow_insecure: bool = False) -> PublicKey:
        """Load a key written by :meth:`to_json`, checking type, version and fingerprint.

        Strict: exactly the four fields, ``n`` in canonical ASCII decimal, size and nesting
        bounded before parsing (see :mod:`secagg._json`).

        Raises:
            DeserializationError: Malformed, oversized or non-UTF-8 JSON, unknown or missing
                fields, wrong type/version, a malformed ``n`` or a fingerprint mismatch.
            InsecureParameters: A short modulus without ``allow_insecure``.
        """
        obj = load_object(text, what="Paillier public key", max_chars=_JSON_MAX_CHARS)
        if set(obj) != _JSON_FIELDS or obj["type"] != _JSON_TYPE:
            raise DeserializationError("JSON is not a fedcrypt Paillier public key")
        version = obj["version"]
        if type(version) is not int or version != _FORMAT_VERSION:
            raise DeserializationError(f"unsupported public-key version {version!r}")
        n = parse_decimal(obj["n"], what="public-key field n", max_digits=_MAX_DECIMAL_DIGITS)
        key = _load_public(n, allow_insecure)
        fingerprint = obj["fingerprint"]
        if not isinstance(fingerprint, str) or fingerprint != key.fingerprint_hex:
            raise DeserializationError("public-key fingerprint does not match n")
        return key


def _load_public(n: int, allow_insecure: bool) -> PublicKey:
    try:
        return PublicKey(n, allow_insecure=allow_insecure)
    except InsecureParameters:
        raise
    except InvalidArgument as exc:
        raise DeserializationError(f"invalid modulus: {exc}") from exc


class PrivateKey:
    """A Paillier private key: the factors ``p, q`` with CRT decryption constants.

    Args:
        public_key: The matching public key.
        p: One prime factor of ``n``.
        q: The other prime factor.

    Raises:
        KeyMismatch: ``p q != n``.
        InvalidArgument: The factors are not distinct probable primes.
    """

    __slots__ = (
        "_hp",
        "_hq",
        "_p",
        "_p_inverse_mod_q",
        "_psquare",
        "_q",
        "_qsquare",
        "public_key",
    )

    def __init__(self, public_key: PublicKey, p: int, q: int) -> None:
        if not isinstance(public_key, PublicKey):
            raise InvalidArgument("public_key must be a PublicKey")
        p, q = int(p), int(q)
        if p * q != public_key.n:
            raise KeyMismatch("p * q does not equal the public modulus")
        # is_prime(x, 25): GMP's Baillie-PSW test plus one random-base Miller-Rabin round.
        if p == q or not gmpy2.is_prime(p, 25) or not gmpy2.is_prime(q, 25):
            raise InvalidArgument("p and q must be distinct primes")
        if p > q:  # canonical order: p < q
            p, q = q, p
        self.public_key = public_key
        self._p, self._q = gmpy2.mpz(p), gmpy2.mpz(q)
        self._psquare, self._qsquare = self._p * self._p, self._q * self._q
        self._hp = self._h_constant(self._p, self._psquare)
        self._hq = self._h_constant(self._q, self._qsquare)
        self._p_inverse_mod_q = gmpy2.invert(self._p, self._q)

    def _h_constant(self, prime: int, prime_square: int) -> Any:
        # h_p = L_p(g^(p-1) mod p^2)^-1 mod p (Paillier 1999, section 7).
        g = self.public_key._n + 1
        lp = (gmpy2.powmod(g, prime - 1, prime_square) - 1) // prime
        return gmpy2.invert(lp, prime)

    @property
    def p(self) -> int:
        """The smaller prime factor."""
        return int(self._p)

    @property
    def q(self) -> int:
        """The larger prime factor."""
        return int(self._q)

    def __repr__(self) -> str:
        pk = self.public_key
        return f"PrivateKey(bits={pk.bits}, fingerprint={pk.fingerprint_hex})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return self.public_key == other.public_key and bool(self._p == other._p)

    def __hash__(self) -> int:
        return hash(self.public_key)

    def decrypt(
        self, ciphertext: Ciphertext, *, constant_time: bool = False, workers: int | None = None
    ) -> int:
        """Decrypt a scalar ciphertext to a signed integer.

        Args:
            ciphertext: A ciphertext of this key.
            constant_time: Use ``gmpy2.powmod_sec`` (slower, no secret-dependent timing
                in the exponentiation).
            workers: Threads for the two CRT halves (default: up to 2).

        Raises:
            KeyMismatch: The ciphertext belongs to another key.
            PlaintextOverflow: The plaintext lies in the overflow gap (``|m| > max_int``).
        """
        if not isinstance(ciphertext, Ciphertext):
            raise InvalidArgument(f"expected a Ciphertext, got {type(ciphertext).__name__}")
        self.public_key.check_same(ciphertext.public_key)
        plaintext = hazmat.raw_decrypt(
            self, ciphertext.value, constant_time=constant_time, workers=resolve_workers(workers)
        )
        value = hazmat.decode_signed(self.public_key, plaintext)
        if value is None:
            raise PlaintextOverflow("decrypted value overflowed the signed range (|m| > max_int)")
        return value

    def decrypt_raw_many(
        self, ciphertexts: Sequence[int], *, workers: int | None = None, constant_time: bool = False
    ) -> list[int]:
        """Decrypt raw ciphertext integers to plaintexts in ``[0, n)`` (no decoding)."""
        return hazmat.raw_decrypt_many(
            self, ciphertexts, resolve_workers(workers), constant_time=constant_time
        )

    def decrypt_vector(
        self, vector: EncryptedVector, *, workers: int | None = None, constant_time: bool = False
    ) -> NDArray[Any]:
        """Decrypt an :class:`EncryptedVector` to a numpy array of its original shape.

        Floats come back as ``float64`` (the exact fixed-point sum times ``2^-scale_bits``),
        integers as ``int64``. Decoding is :meth:`EncryptedVector.decode`.

        Raises:
            KeyMismatch: The vector belongs to another key.
            PlaintextOverflow: A slot holds more than the vector's summands allow.
        """
        from secagg.paillier._vector import EncryptedVector

        if not isinstance(vector, EncryptedVector):
            raise InvalidArgument(f"expected an EncryptedVector, got {type(vector).__name__}")
        self.public_key.check_same(vector.public_key)
        threads = resolve_workers(workers)
        plaintexts = batched_with_progress(
            lambda chunk: hazmat.raw_decrypt_many(
                self, chunk, threads, constant_time=constant_time
            ),
            vector.ciphertexts,
            desc="Paillier decrypt",
            unit="ciphertext",
        )
        return vector.decode(plaintexts)


def generate_keypair(
    bits: int = DEFAULT_BITS, *, allow_insecure: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """Generate a Paillier key pair with primes from the OS CSPRNG.

    ``p = q = 3 (mod 4)``, ``gcd(p - 1, q - 1) = 2``, ``|p - q| > 2^(bits/2 - 100)`` and ``n``
    of exactly ``bits`` bits.

    Args:
        bits: Modulus size; 3072 by default, 2048 is the smallest secure size.
        allow_insecure: Permit ``bits < 2048`` (tests and examples only).

    Raises:
        InsecureParameters: ``bits < 2048`` without ``allow_insecure``.
        InvalidArgument: ``bits`` is not an even integer.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or bits % 2:
        raise InvalidArgument(f"bits must be an even int, got {bits!r}")
    _check_bits(bits, allow_insecure)
    p, q = random_paillier_primes(bits)
    public_key = PublicKey(p * q, allow_insecure=allow_insecure)
    return public_key, PrivateKey(public_key, p, q)


def export_private_key(private_key: PrivateKey) -> bytes:
    """Serialise a private key (SECRET): ``b"FCSK" | version | len p | p | len q | q | checksum``.

    This is the only way to get a private key out as bytes; store the result encrypted.
    """
    if not isinstance(private_key, PrivateKey):
        raise InvalidArgument("expected a PrivateKey")
    out = [_PRIVATE_MAGIC, struct.pack(">B", _FORMAT_VERSION)]
    for factor in (private_key.p, private_key.q):
        width = (factor.bit_length() + 7) // 8
        out += [struct.pack(">H", width), factor.to_bytes(width, "big")]
    return seal(b"".join(out))


def import_private_key(data: bytes, *, allow_insecure: bool = False) -> PrivateKey:
    """Load a private key written by :func:`export_private_key`.

    Raises:
        DeserializationError: Wrong magic, version, lengths, or factors that are not primes.
        InsecureParameters: A short modulus without ``allow_insecure``.
    """
    data = unseal(data)
    if data[:4] != _PRIVATE_MAGIC or len(data) < 5 or data[4] != _FORMAT_VERSION:
        raise DeserializationError("not a fedcrypt Paillier private key of a known version")
    factors: list[int] = []
    offset = 5
    for _ in range(2):
        if len(data) < offset + 2:
            raise DeserializationError("truncated private key")
        (width,) = struct.unpack(">H", data[offset : offset + 2])
        offset += 2
        if width == 0 or len(data) < offset + width or data[offset] == 0:
            raise DeserializationError("private-key factor length is wrong")
        factors.append(int.from_bytes(data[offset : offset + width], "big"))
        offset += width
    if offset != len(data):
        raise DeserializationError("trailing bytes after the private key")
    p, q = factors
    public_key = _load_public(p * q, allow_insecure)
    try:
        return PrivateKey(public_key, p, q)
    except InvalidArgument as exc:
        raise DeserializationError(f"invalid private key: {exc}") from exc
