"""Encrypted numpy vectors: fixed-point, packed, with a summand budget that prevents overflow."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gmpy2  # type: ignore[import-untyped]
import numpy as np
from numpy.typing import ArrayLike, NDArray

from secagg._arrays import as_numpy
from secagg._progress import batched_with_progress
from secagg.errors import (
    DeserializationError,
    EncodingMismatch,
    InvalidArgument,
    KeyMismatch,
    PlaintextOverflow,
)
from secagg.paillier import hazmat
from secagg.paillier._encoding import PackingLayout, value_bits_for
from secagg.paillier._parallel import resolve_workers
from secagg.paillier._wire import seal, unseal

if TYPE_CHECKING:
    from secagg.paillier._keys import PublicKey

__all__ = ["EncryptedVector"]

_MAGIC = b"FCEV"
_VERSION = 1
# magic, version, fingerprint(8), flags, scale_bits, value_bits, slot_bits, slots(u16),
# max_summands(u32), summands(u32), ndim(u8), then ndim u64 dims, count(u32), ciphertexts.
_FIXED = struct.Struct(">4sB8sBBBBHIIB")
_DIM = struct.Struct(">Q")
_COUNT = struct.Struct(">I")
_FLAG_INTEGER = 1
_MAX_NDIM = 32
_DEFAULT_FLOAT_SCALE_BITS = 16
# Floats are declared to lie in [-1, 1] unless max_abs says otherwise (clipped updates,
# normalised features); integers keep the int32 range.
_DEFAULT_FLOAT_MAX_ABS = 1.0
_DEFAULT_INTEGER_VALUE_BITS = 32


def _check_max_abs(array: NDArray[Any], max_abs: float) -> None:
    """Refuse values outside the declared ``[-max_abs, max_abs]``.

    NaN and infinities are left to :meth:`PackingLayout.quantize`, which refuses them with
    :class:`~secagg.errors.InvalidArgument`.
    """
    if array.size == 0:
        return
    magnitude = np.abs(array.astype(np.float64, copy=False))
    largest = float(np.max(magnitude, initial=0.0, where=np.isfinite(magnitude)))
    if largest > max_abs:
        raise PlaintextOverflow(
            f"a value of magnitude {largest:.6g} exceeds max_abs = {max_abs:g}; clip the "
            "values or pass a larger max_abs (the default value range is [-1, 1])"
        )


@dataclass(frozen=True, slots=True, eq=False)
class EncryptedVector:
    """A numpy array encrypted as packed Paillier ciphertexts.

    Every value is scaled by ``2^scale_bits``, biased and packed into slots of
    ``value_bits + ceil(log2(max_summands))`` bits, ``layout.slots`` per ciphertext (see
    :class:`~secagg.paillier.PackingLayout`). ``summands`` counts how many encodings each slot
    holds: 1 after encryption, the sum under ``+``, times ``w`` under ``* w``. An operation that
    would push it past ``max_summands`` raises :class:`~secagg.errors.PlaintextOverflow`.

    Attributes:
        public_key: The key of every ciphertext.
        ciphertexts: Raw ciphertext integers (``gmpy2.mpz``), ``layout.ciphertext_count`` many.
        layout: Scale, value width, summand budget, slots per ciphertext and shape.
        summands: Encodings accumulated in each slot.
    """

    public_key: PublicKey
    ciphertexts: tuple[Any, ...]
    layout: PackingLayout
    summands: int = 1

    def __post_init__(self) -> None:
        if len(self.ciphertexts) != self.layout.ciphertext_count:
            raise InvalidArgument("ciphertext count does not match the layout")
        self.layout.check_key(self.public_key.bits)
        if isinstance(self.summands, bool) or not isinstance(self.summands, int):
            raise InvalidArgument("summands must be an int")
        if not 0 <= self.summands <= self.layout.max_summands:
            raise PlaintextOverflow("summands exceeds max_summands")

    # -- convenience views of the layout ------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the encrypted array."""
        return self.layout.shape

    @property
    def scale_bits(self) -> int:
        """Fixed-point scale: values are multiples of ``2^-scale_bits``."""
        return self.layout.scale_bits

    @property
    def max_summands(self) -> int:
        """Most encodings a slot may hold."""
        return self.layout.max_summands

    def __len__(self) -> int:
        return len(self.ciphertexts)

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(shape={self.shape}, ciphertexts={len(self.ciphertexts)}, "
            f"summands={self.summands}/{self.max_summands}, key={self.public_key.fingerprint_hex})"
        )

    # -- encryption / decoding ----------------------------------------------------------------
    @classmethod
    def encrypt(
        cls,
        public_key: PublicKey,
        x: ArrayLike,
        *,
        scale_bits: int | None = None,
        value_bits: int | None = None,
        max_abs: float | None = None,
        max_summands: int = 1024,
        workers: int | None = None,
    ) -> EncryptedVector:
        """Encrypt an array; see :meth:`secagg.paillier.PublicKey.encrypt_vector`."""
        array = as_numpy(x, "x")
        if array.dtype.kind in "iub":
            if array.dtype.kind == "b":
                raise InvalidArgument("boolean arrays are not supported; cast to an integer")
            integer = True
        elif array.dtype.kind == "f":
            integer = False
        else:
            raise InvalidArgument(f"expected a float or integer array, got dtype {array.dtype}")
        if scale_bits is None:
            scale_bits = 0 if integer else _DEFAULT_FLOAT_SCALE_BITS
        if value_bits is not None and max_abs is not None:
            raise InvalidArgument("pass value_bits or max_abs, not both")
        if value_bits is None:
            if integer and max_abs is None:
                value_bits = _DEFAULT_INTEGER_VALUE_BITS
            else:
                if max_abs is None:
                    max_abs = _DEFAULT_FLOAT_MAX_ABS
                value_bits = value_bits_for(max_abs, scale_bits)
                _check_max_abs(array, float(max_abs))
        layout = PackingLayout.for_key(
            public_key.bits,
            tuple(int(d) for d in array.shape),
            scale_bits=scale_bits,
            value_bits=value_bits,
            max_summands=max_summands,
            integer=integer,
        )
        if array.dtype.kind == "u" and array.size and int(array.max()) >= layout.bias:
            raise PlaintextOverflow("unsigned values exceed the value_bits range")
        plaintexts = layout.pack(layout.quantize(array))
        threads = resolve_workers(workers)
        ciphertexts = batched_with_progress(
            lambda chunk: hazmat.raw_encrypt_many(public_key, chunk, threads),
            plaintexts,
            desc="Paillier encrypt",
            unit="ciphertext",
        )
        return cls(public_key, tuple(ciphertexts), layout, 1)

    def decode(self, plaintexts: Sequence[int]) -> NDArray[Any]:
        """Turn decrypted plaintexts (each in ``[0, n)``) into the numpy array they encode.

        This is the only decoding path: :meth:`PrivateKey.decrypt_vector` and threshold
        decryption both call it with the plaintexts of :attr:`ciphertexts`, in order.

        Raises:
            InvalidArgument: Wrong number of plaintexts.
            PlaintextOverflow: A slot exceeds what :attr:`summands` encodings can hold.
        """
        return self.layout.unpack(plaintexts, self.summands)

    # -- homomorphic operations ---------------------------------------------------------------
    def _check_compatible(self, other: EncryptedVector) -> None:
        if other.public_key is not self.public_key:
            self.public_key.check_same(other.public_key)
        if other.layout != self.layout:
            raise EncodingMismatch(
                f"cannot combine vectors with layouts {self.layout} and {other.layout}"
            )

    def add(self, other: EncryptedVector, *, workers: int | None = None) -> EncryptedVector:
        """Homomorphic element-wise sum (same key and layout; budget permitting).

        Raises:
            KeyMismatch: Different keys.
            EncodingMismatch: Different scale, value width, budget, slots or shape.
            PlaintextOverflow: The summands would exceed ``max_summands``.
        """
        if not isinstance(other, EncryptedVector):
            raise InvalidArgument(f"cannot add {type(other).__name__} to an EncryptedVector")
        self._check_compatible(other)
        summands = self.summands + other.summands
        if summands > self.layout.max_summands:
            raise PlaintextOverflow(
                f"sum would hold {summands} summands, more than max_summands = "
                f"{self.layout.max_summands}"
            )
        ciphertexts = hazmat.raw_add_many(
            self.public_key, self.ciphertexts, other.ciphertexts, resolve_workers(workers)
        )
        return EncryptedVector(self.public_key, tuple(ciphertexts), self.layout, summands)

    def __add__(self, other: EncryptedVector) -> EncryptedVector:
        if not isinstance(other, EncryptedVector):
            return NotImplemented
        return self.add(other)

    def __radd__(self, other: object) -> EncryptedVector:
        # Lets the built-in sum() start from 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    @staticmethod
    def sum(vectors: Iterable[EncryptedVector], *, workers: int | None = None) -> EncryptedVector:
        """Sum vectors of one key and layout (checks the budget before any work).

        Raises:
            InvalidArgument: No vectors.
            KeyMismatch: Different keys.
            EncodingMismatch: Different layouts.
            PlaintextOverflow: The total summands exceed ``max_summands``.
        """
        items = list(vectors)
        if not items:
            raise InvalidArgument("cannot sum zero vectors")
        first = items[0]
        if not all(isinstance(v, EncryptedVector) for v in items):
            raise InvalidArgument("sum() takes EncryptedVector objects only")
        for other in items[1:]:
            first._check_compatible(other)
        total = sum(v.summands for v in items)
        if total > first.layout.max_summands:
            raise PlaintextOverflow(
                f"sum would hold {total} summands, more than max_summands = "
                f"{first.layout.max_summands}"
            )
        acc = list(first.ciphertexts)
        n_workers = resolve_workers(workers)
        for other in items[1:]:
            acc = hazmat.raw_add_many(first.public_key, acc, other.ciphertexts, n_workers)
        return EncryptedVector(first.public_key, tuple(acc), first.layout, total)

    def scale(self, weight: int, *, workers: int | None = None) -> EncryptedVector:
        """Multiply every value by a non-negative integer weight (counts ``weight`` summands).

        Raises:
            InvalidArgument: ``weight`` is negative or not an integer.
            PlaintextOverflow: ``summands * weight`` exceeds ``max_summands``.
        """
        if isinstance(weight, bool) or not isinstance(weight, int | np.integer):
            raise InvalidArgument(f"weight must be a non-negative int, got {weight!r}")
        weight = int(weight)
        if weight < 0:
            raise InvalidArgument("weight must be non-negative (negation would break the bias)")
        summands = self.summands * weight
        if summands > self.layout.max_summands:
            raise PlaintextOverflow(
                f"weight {weight} would give {summands} summands, more than max_summands = "
                f"{self.layout.max_summands}"
            )
        ciphertexts = hazmat.raw_scalar_mul_many(
            self.public_key, self.ciphertexts, weight, resolve_workers(workers)
        )
        return EncryptedVector(self.public_key, tuple(ciphertexts), self.layout, summands)

    def __mul__(self, weight: int) -> EncryptedVector:
        if isinstance(weight, bool) or not isinstance(weight, int | np.integer):
            return NotImplemented
        return self.scale(int(weight))

    __rmul__ = __mul__

    def rerandomize(self, *, workers: int | None = None) -> EncryptedVector:
        """Return an unlinkable copy (every ciphertext times a fresh randomiser)."""
        ciphertexts = hazmat.raw_rerandomize_many(
            self.public_key, self.ciphertexts, resolve_workers(workers)
        )
        return EncryptedVector(self.public_key, tuple(ciphertexts), self.layout, self.summands)

    # -- serialisation ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise: fixed header (version, fingerprint, layout, summands, shape) + ciphertexts.

        Every ciphertext takes exactly :attr:`PublicKey.ciphertext_bytes` bytes, big-endian;
        an 8-byte SHA-256 checksum closes the record.
        """
        layout = self.layout
        header = _FIXED.pack(
            _MAGIC,
            _VERSION,
            self.public_key.fingerprint,
            _FLAG_INTEGER if layout.integer else 0,
            layout.scale_bits,
            layout.value_bits,
            layout.slot_bits,
            layout.slots,
            layout.max_summands,
            self.summands,
            len(layout.shape),
        )
        dims = b"".join(_DIM.pack(d) for d in layout.shape)
        width = self.public_key.ciphertext_bytes
        body = b"".join(int(c).to_bytes(width, "big") for c in self.ciphertexts)
        return seal(header + dims + _COUNT.pack(len(self.ciphertexts)) + body)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicKey) -> EncryptedVector:
        """Load a vector of ``public_key`` written by :meth:`to_bytes`, validating everything.

        Raises:
            DeserializationError: Wrong checksum, magic, version, lengths or layout fields; a
                ciphertext not in ``[1, n^2)`` or not prime to ``n``.
            KeyMismatch: The fingerprint is not ``public_key``'s.
        """
        view = memoryview(unseal(data))
        if len(view) < _FIXED.size:
            raise DeserializationError("truncated encrypted-vector header")
        (magic, version, fingerprint, flags, scale_bits, value_bits, slot_bits, slots,
         max_summands, summands, ndim) = _FIXED.unpack_from(view, 0)  # fmt: skip
        if magic != _MAGIC:
            raise DeserializationError("not a fedcrypt encrypted vector")
        if version != _VERSION:
            raise DeserializationError(f"unsupported encrypted-vector version {version}")
        if fingerprint != public_key.fingerprint:
            raise KeyMismatch("the vector was encrypted under a different key")
        if flags & ~_FLAG_INTEGER or ndim > _MAX_NDIM:
            raise DeserializationError("invalid encrypted-vector flags or dimensions")
        offset = _FIXED.size
        if len(view) < offset + ndim * _DIM.size + _COUNT.size:
            raise DeserializationError("truncated encrypted-vector shape")
        shape = tuple(_DIM.unpack_from(view, offset + i * _DIM.size)[0] for i in range(ndim))
        offset += ndim * _DIM.size
        (count,) = _COUNT.unpack_from(view, offset)
        offset += _COUNT.size
        try:
            layout = PackingLayout(
                shape, scale_bits, value_bits, max_summands, slots, bool(flags & _FLAG_INTEGER)
            )
            layout.check_key(public_key.bits)
        except InvalidArgument as exc:
            raise DeserializationError(f"invalid encrypted-vector layout: {exc}") from exc
        if layout.slot_bits != slot_bits or count != layout.ciphertext_count:
            raise DeserializationError("encrypted-vector header fields are inconsistent")
        if summands > max_summands:
            raise DeserializationError("summands exceeds max_summands")
        width = public_key.ciphertext_bytes
        if len(view) != offset + count * width:
            raise DeserializationError("encrypted-vector length does not match its header")
        body = bytes(view[offset:])
        ciphertexts = tuple(
            gmpy2.mpz(int.from_bytes(body[i * width : (i + 1) * width], "big"))
            for i in range(count)
        )
        _check_group_membership(public_key, ciphertexts)
        return cls(public_key, ciphertexts, layout, summands)


def _check_group_membership(public_key: PublicKey, ciphertexts: Sequence[Any]) -> None:
    """Check ``0 < c < n^2`` for all and ``gcd(c, n) = 1`` via one product modulo ``n``.

    A prime factor of ``n`` divides the product of the ``c`` iff it divides one of them.
    """
    nsquare, n = public_key._nsquare, public_key._n
    product = gmpy2.mpz(1)
    for c in ciphertexts:
        if not 0 < c < nsquare:
            raise DeserializationError("ciphertext value out of range [1, n^2)")
        product = product * c % n
    if math.gcd(int(product), int(n)) != 1:
        raise DeserializationError("a ciphertext value is not invertible modulo n")
