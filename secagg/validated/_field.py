"""The FFT-friendly prime fields of draft-irtf-cfrg-vdaf-07, section 6.1, as vector arithmetic.

``Field64`` (``p = 2^32 * 4294967295 + 1 = 2^64 - 2^32 + 1``) keeps its elements in numpy
``uint64`` arrays and multiplies with 32-bit limbs and the reduction ``2^64 = 2^32 - 1 (mod p)``,
so every operation is a handful of vectorised numpy passes. ``Field128``
(``p = 2^66 * 4611686018427387897 + 1 = 2^128 - 28 * 2^64 + 1``) keeps Python ints in numpy
object arrays: a 128-bit product needs 256 bits, and measured on this machine numpy limb
arithmetic (about 60 passes per product) was no faster than CPython's own big-int multiply
(see docs/secagg/validated.md). Scalars are plain Python ints in ``[0, p)``.

Both fields have a generator of a subgroup of order ``2^32`` (Field64) or ``2^66`` (Field128),
``7^((p - 1) / GEN_ORDER)``, used by :mod:`secagg.validated._poly` for the number-theoretic
transform. Encoding is little-endian, ``ENCODED_SIZE`` bytes per element; decoding refuses any
integer ``>= p`` (draft section 6.1, ``decode_vec``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from secagg.errors import DeserializationError, InvalidArgument

__all__ = ["Field", "PrimeField", "Field64", "Field128", "FieldVec", "field_by_name"]

FieldVec = npt.NDArray[Any]
"""A numpy array of field elements (``uint64`` for Field64, Python ints for Field128)."""

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


class Field(abc.ABC):
    """A prime field with vectorised arithmetic on numpy arrays (draft section 6.1).

    Arithmetic methods accept arrays of any shape (broadcasting as numpy does) and Python-int
    scalars in ``[0, p)``; they return arrays. Use the module-level instances ``Field64`` and
    ``Field128``; a field is stateless.
    """

    NAME: str
    MODULUS: int
    ENCODED_SIZE: int
    GEN_ORDER: int
    GENERATOR: int
    DTYPE: np.dtype[Any]

    def __repr__(self) -> str:
        return self.NAME

    # -- construction -------------------------------------------------------------------
    def zeros(self, shape: int | tuple[int, ...]) -> FieldVec:
        """An array of zeros."""
        if np.dtype(object) == self.DTYPE:
            out = np.empty(shape, dtype=object)
            out.fill(0)
            return out
        return np.zeros(shape, dtype=self.DTYPE)

    def vec(self, values: Iterable[int]) -> FieldVec:
        """An array from Python ints, each of which must lie in ``[0, p)``."""
        items = [int(v) for v in values]
        for v in items:
            if not 0 <= v < self.MODULUS:
                raise InvalidArgument(f"{v} is not an element of {self.NAME}")
        if np.dtype(object) == self.DTYPE:
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return np.array(items, dtype=self.DTYPE)

    def reduce_ints(self, values: Iterable[int]) -> FieldVec:
        """An array of arbitrary Python ints (negative too) reduced mod ``p``."""
        return self.vec(int(v) % self.MODULUS for v in values)

    def to_ints(self, x: FieldVec) -> list[int]:
        """The elements as Python ints (the ``as_unsigned`` of the draft)."""
        return [int(v) for v in np.asarray(x).reshape(-1)]

    def scalar(self, value: int) -> int:
        """``value`` reduced into ``[0, p)``."""
        return int(value) % self.MODULUS

    # -- arithmetic ---------------------------------------------------------------------
    @abc.abstractmethod
    def add(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        """Elementwise ``a + b``."""

    @abc.abstractmethod
    def sub(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        """Elementwise ``a - b``."""

    @abc.abstractmethod
    def mul(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        """Elementwise ``a * b``."""

    @abc.abstractmethod
    def sum(self, a: FieldVec, axis: int = -1) -> FieldVec:
        """The sum along ``axis`` (a 0-d array for a vector)."""

    def dot(self, a: FieldVec, b: FieldVec | int, axis: int = -1) -> FieldVec:
        """``sum(a * b)`` along ``axis`` (broadcasting ``b``)."""
        return self.sum(self.mul(a, b), axis=axis)

    def neg(self, a: FieldVec) -> FieldVec:
        """Elementwise ``-a``."""
        return self.sub(0, a)

    def inv(self, x: int) -> int:
        """The inverse of a non-zero scalar (Fermat)."""
        if x % self.MODULUS == 0:
            raise InvalidArgument("zero has no inverse")
        return pow(int(x), self.MODULUS - 2, self.MODULUS)

    def batch_inv(self, xs: Sequence[int]) -> list[int]:
        """Inverses of non-zero scalars with one exponentiation (Montgomery's trick)."""
        p = self.MODULUS
        prefix = [1] * (len(xs) + 1)
        for i, x in enumerate(xs):
            prefix[i + 1] = prefix[i] * x % p
        acc = self.inv(prefix[-1])
        out = [0] * len(xs)
        for i in range(len(xs) - 1, -1, -1):
            out[i] = acc * prefix[i] % p
            acc = acc * xs[i] % p
        return out

    def powers(self, base: int, count: int, *, start: int = 0) -> FieldVec:
        """``[base^start, base^(start+1), ..., base^(start+count-1)]``."""
        p = self.MODULUS
        base = int(base) % p
        # Doubling: [b^s .. b^(s+m-1)] then times b^m gives the next m: log2(count) passes.
        out = self.zeros(count)
        if count == 0:
            return out
        out[0] = pow(base, start, p)
        have = 1
        while have < count:
            step = min(have, count - have)
            out[have : have + step] = self.mul(out[:step], pow(base, have, p))
            have += step
        return out

    def root_of_unity(self, order: int) -> int:
        """A primitive root of unity of power-of-two ``order`` (``gen^(GEN_ORDER/order)``)."""
        if order <= 0 or order & (order - 1) or self.GEN_ORDER % order:
            raise InvalidArgument(f"{self.NAME} has no subgroup of order {order}")
        return pow(self.GENERATOR, self.GEN_ORDER // order, self.MODULUS)

    # -- encoding -----------------------------------------------------------------------
    @abc.abstractmethod
    def encode_vec(self, x: FieldVec) -> bytes:
        """Little-endian ``ENCODED_SIZE`` bytes per element (draft ``encode_vec``)."""

    @abc.abstractmethod
    def candidates(self, data: bytes) -> tuple[FieldVec, npt.NDArray[np.bool_]]:
        """Read ``data`` as little-endian integers: the values and which are ``< p``."""

    def decode_vec(self, data: bytes) -> FieldVec:
        """Inverse of :meth:`encode_vec`; raises DeserializationError on ``x >= p``."""
        if len(data) % self.ENCODED_SIZE:
            raise DeserializationError(
                f"{self.NAME} vector bytes must be a multiple of {self.ENCODED_SIZE}"
            )
        values, ok = self.candidates(bytes(data))
        if not bool(ok.all()):
            raise DeserializationError(f"integer not reduced modulo the {self.NAME} prime")
        return values


class _Field64(Field):
    """Field64 in ``uint64`` arrays: Goldilocks reduction, no Python-level loops."""

    NAME = "Field64"
    MODULUS = 2**32 * 4294967295 + 1
    ENCODED_SIZE = 8
    GEN_ORDER = 2**32
    GENERATOR = pow(7, 4294967295, MODULUS)
    DTYPE = np.dtype(np.uint64)
    _P = np.uint64(MODULUS)
    _EPS = np.uint64(2**32 - 1)  # 2^64 mod p

    def _arr(self, a: FieldVec | int) -> FieldVec:
        if isinstance(a, np.ndarray):
            return a
        return np.asarray(np.uint64(int(a)))

    def add(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        with np.errstate(over="ignore"):
            return self._add(self._arr(a), self._arr(b))

    def _add(self, x: FieldVec, y: FieldVec) -> FieldVec:
        s = x + y
        s = np.where(s < x, s + self._EPS, s)  # wrapped past 2^64: 2^64 = 2^32 - 1
        return np.asarray(np.where(s >= self._P, s - self._P, s))

    def sub(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        with np.errstate(over="ignore"):
            x, y = self._arr(a), self._arr(b)
            d = x - y
            return np.asarray(np.where(x < y, d + self._P, d))

    def mul(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        with np.errstate(over="ignore"):
            return self._mul(self._arr(a), self._arr(b))

    def _mul(self, x: FieldVec, y: FieldVec) -> FieldVec:
        # The high word of the 128-bit product from 32-bit halves ("mulhi"): the middle sum
        # (ll >> 32) + (lh mod 2^32) + hl stays below 2^64, so no carry needs tracking; the
        # low word is the wrapping uint64 product itself.
        x0, x1 = x & _M32, x >> _S32
        y0, y1 = y & _M32, y >> _S32
        lh = x0 * y1
        cross = ((x0 * y0) >> _S32) + (lh & _M32) + x1 * y0
        hi = x1 * y1 + (lh >> _S32) + (cross >> _S32)
        lo = x * y
        # x*y = hi * 2^64 + lo and 2^64 = 2^32 - 1, 2^96 = -1 (mod p).
        h0, h1 = hi & _M32, hi >> _S32
        t = lo - h1
        t -= (lo < h1) * self._EPS  # borrowed 2^64 = 2^32 - 1
        r = t + ((h0 << _S32) - h0)
        r += (r < t) * self._EPS  # carried 2^64
        return np.asarray(np.where(r >= self._P, r - self._P, r))

    def sum(self, a: FieldVec, axis: int = -1) -> FieldVec:
        # Split into 32-bit halves so that up to 2^32 terms add without overflow.
        with np.errstate(over="ignore"):
            lo = np.asarray(np.sum(a & _M32, axis=axis, dtype=np.uint64))
            hi = np.asarray(np.sum(a >> _S32, axis=axis, dtype=np.uint64))
            lo = np.asarray(np.where(lo >= self._P, lo - self._P, lo))
            hi = np.asarray(np.where(hi >= self._P, hi - self._P, hi))
            return self._add(self._mul(hi, np.asarray(np.uint64(2**32))), lo)

    def encode_vec(self, x: FieldVec) -> bytes:
        return np.ascontiguousarray(x, dtype="<u8").tobytes()

    def candidates(self, data: bytes) -> tuple[FieldVec, npt.NDArray[np.bool_]]:
        values = np.frombuffer(data, dtype="<u8").astype(np.uint64)
        return values, values < self._P


class PrimeField(Field):
    """A prime field of Python ints in numpy object arrays.

    Serves Field128 and the deliberately small fields of the soundness tests (where every
    query point can be enumerated). ``generator`` must generate the subgroup of order
    ``gen_order`` (a power of two dividing ``modulus - 1``).
    """

    DTYPE = np.dtype(object)

    def __init__(
        self, name: str, modulus: int, encoded_size: int, gen_order: int, generator: int
    ) -> None:
        if (modulus - 1) % gen_order or pow(generator, gen_order, modulus) != 1:
            raise InvalidArgument("the generator must have the stated power-of-two order")
        if gen_order > 1 and pow(generator, gen_order // 2, modulus) == 1:
            raise InvalidArgument("the generator's order is smaller than stated")
        if not 2 ** (8 * encoded_size - 1) < modulus < 2 ** (8 * encoded_size):
            # The draft's rejection sampling masks to next_power_of_2(p) - 1; with the top
            # bit of the encoding set in p that mask is all ones, which next_vec relies on.
            raise InvalidArgument("the modulus must need exactly 8 * encoded_size bits")
        self.NAME = name
        self.MODULUS = modulus
        self.ENCODED_SIZE = encoded_size
        self.GEN_ORDER = gen_order
        self.GENERATOR = generator

    def _arr(self, a: FieldVec | int) -> FieldVec | int:
        return a if isinstance(a, np.ndarray) else int(a)

    def add(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        out = (self._arr(a) + self._arr(b)) % self.MODULUS
        return np.asarray(out, dtype=object)

    def sub(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        out = (self._arr(a) - self._arr(b)) % self.MODULUS
        return np.asarray(out, dtype=object)

    def mul(self, a: FieldVec | int, b: FieldVec | int) -> FieldVec:
        out = (self._arr(a) * self._arr(b)) % self.MODULUS
        return np.asarray(out, dtype=object)

    def sum(self, a: FieldVec, axis: int = -1) -> FieldVec:
        return np.asarray(np.sum(a, axis=axis) % self.MODULUS, dtype=object)

    def dot(self, a: FieldVec, b: FieldVec | int, axis: int = -1) -> FieldVec:
        # Python ints do not overflow: multiply and add exactly, reduce once per output.
        return np.asarray(np.sum(a * self._arr(b), axis=axis) % self.MODULUS, dtype=object)

    def encode_vec(self, x: FieldVec) -> bytes:
        size = self.ENCODED_SIZE
        return b"".join(int(v).to_bytes(size, "little") for v in np.asarray(x).reshape(-1))

    def candidates(self, data: bytes) -> tuple[FieldVec, npt.NDArray[np.bool_]]:
        size = self.ENCODED_SIZE
        ints = [int.from_bytes(data[i : i + size], "little") for i in range(0, len(data), size)]
        values = np.empty(len(ints), dtype=object)
        values[:] = ints
        return values, np.asarray([v < self.MODULUS for v in ints], dtype=bool)


class _Field128(PrimeField):
    """Field128, with encoding and decoding through two ``uint64`` words per element."""

    _P_HI = np.uint64((2**66 * 4611686018427387897 + 1) >> 64)
    _P_LO = np.uint64((2**66 * 4611686018427387897 + 1) & (2**64 - 1))

    def __init__(self) -> None:
        p = 2**66 * 4611686018427387897 + 1
        super().__init__("Field128", p, 16, 2**66, pow(7, 4611686018427387897, p))

    def encode_vec(self, x: FieldVec) -> bytes:
        flat = np.asarray(x, dtype=object).reshape(-1)
        lo = (flat & (2**64 - 1)).astype(np.uint64)
        hi = (flat >> 64).astype(np.uint64)
        return np.stack([lo, hi], axis=-1).astype("<u8").tobytes()

    def candidates(self, data: bytes) -> tuple[FieldVec, npt.NDArray[np.bool_]]:
        words = np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(-1, 2)
        lo, hi = words[:, 0], words[:, 1]
        ok = (hi < self._P_HI) | ((hi == self._P_HI) & (lo < self._P_LO))
        values = (hi.astype(object) << 64) | lo.astype(object)
        return np.asarray(values, dtype=object), ok


Field64: Field = _Field64()
Field128: Field = _Field128()

_BY_NAME = {f.NAME: f for f in (Field64, Field128)}


def field_by_name(name: str) -> Field:
    """The field called ``name`` ("Field64" or "Field128")."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidArgument(f"unknown field {name!r}") from None
