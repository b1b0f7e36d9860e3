"""The validity circuits of Prio3 in draft-irtf-cfrg-vdaf-07, section 7.4.

``Count`` (7.4.1), ``Sum`` (7.4.2), ``SumVec`` (7.4.3) and ``Histogram`` (7.4.4), each with the
draft's field, gadgets and encodings. Random linear combinations use powers of one joint
randomness element ``r``: for an invalid input the combination is a non-zero polynomial in
``r`` of degree at most ``n`` (the number of checks), so it vanishes with probability at most
``n / p`` (Schwartz-Zippel; BBCGGI19, Theorem 5.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from secagg.errors import InvalidArgument
from secagg.validated._field import Field, Field64, Field128, FieldVec
from secagg.validated._flp import Gadget, Mul, ParallelSum, PolyEval, Valid

__all__ = ["Count", "Sum", "SumVec", "Histogram", "range_check_inputs", "bits_of"]


def _need_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgument(f"{name} must be an int")
    if not low <= int(value) < high:
        raise InvalidArgument(f"{name} must lie in [{low}, {high})")
    return int(value)


def bits_of(field: Field, values: Sequence[int] | FieldVec, bits: int) -> FieldVec:
    """The little-endian bits of each value, consecutively (``len(values) * bits`` elements)."""
    arr = np.asarray([int(v) for v in values], dtype=object)
    if bits <= 63:
        arr64 = arr.astype(np.uint64)
        shifts = np.arange(bits, dtype=np.uint64)
        out = (arr64[:, None] >> shifts[None, :]) & np.uint64(1)
        return out.reshape(-1).astype(field.DTYPE)
    return field.vec((int(v) >> k) & 1 for v in arr for k in range(bits))


def range_check_inputs(
    field: Field, meas: FieldVec, r: int, chunk_length: int, calls: int, num_shares: int
) -> FieldVec:
    """Inputs of ``ParallelSum(Mul, chunk_length)`` checking every element is 0 or 1.

    Call ``i``, pair ``j`` (element ``e = meas[i * chunk_length + j]``, zero past the end) gets
    ``(r^(index + 1) * e, e - 1/num_shares)``: the product sums to ``sum r^k e_k (e_k - 1)``
    over the shares (draft 7.4.3, SumVec ``eval``). Returns shape ``(2 * chunk_length, calls)``.
    """
    padded = field.zeros(calls * chunk_length)
    padded[: len(meas)] = meas
    powers = field.powers(r, calls * chunk_length, start=1)
    left = field.mul(powers, padded)
    right = field.sub(padded, field.inv(num_shares))
    pairs = np.stack([left, right], axis=-1)  # (calls * chunk, 2)
    return pairs.reshape(calls, chunk_length * 2).T.copy()


class Count(Valid):
    """Prio3Count's circuit: ``Mul(m, m) - m`` over Field64 (draft 7.4.1)."""

    def __init__(self, *, field: Field = Field64) -> None:
        self.field = field
        self.GADGETS: tuple[Gadget, ...] = (Mul(),)
        self.GADGET_CALLS = (1,)
        self.MEAS_LEN = 1
        self.OUTPUT_LEN = 1
        self.JOINT_RAND_LEN = 0

    def encode(self, measurement: Any) -> FieldVec:
        """``[m]`` for ``m`` in ``{0, 1}``."""
        return self.field.vec([_need_int("measurement", measurement, 0, 2)])

    def truncate(self, meas: FieldVec) -> FieldVec:
        """The measurement itself."""
        return meas

    def decode(self, output: FieldVec, num_measurements: int) -> int:
        """The count."""
        return int(output[0])

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """One call, ``Mul(m, m)``."""
        return [np.stack([meas[:1], meas[:1]])]

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``Mul(m, m) - m``."""
        return int(self.field.sub(outputs[0][0], meas[0]))


class Sum(Valid):
    """Prio3Sum's circuit: every bit passes ``Range2(b) = b^2 - b`` (draft 7.4.2, Field128)."""

    def __init__(self, bits: int, *, field: Field = Field128) -> None:
        self.bits = _need_int("bits", bits, 1, 128)
        self.field = field
        self.GADGETS = (PolyEval((0, -1, 1)),)
        self.GADGET_CALLS = (bits,)
        self.MEAS_LEN = bits
        self.OUTPUT_LEN = 1
        self.JOINT_RAND_LEN = 1

    def encode(self, measurement: Any) -> FieldVec:
        """The little-endian bits of ``measurement`` in ``[0, 2^bits)``."""
        m = _need_int("measurement", measurement, 0, 2**self.bits)
        return bits_of(self.field, [m], self.bits)

    def truncate(self, meas: FieldVec) -> FieldVec:
        """``[sum_l 2^l b_l]``."""
        weights = self.field.powers(2, self.bits)
        return self.field.dot(meas, weights).reshape(1)

    def decode(self, output: FieldVec, num_measurements: int) -> int:
        """The sum."""
        return int(output[0])

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """One ``Range2`` call per bit."""
        return [meas.reshape(1, -1)]

    def circuit_error(self) -> Fraction:
        """``bits / p``: a non-zero polynomial of degree ``bits`` in ``r``."""
        return Fraction(self.bits, self.field.MODULUS)

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``sum_l r^(l+1) Range2(b_l)``."""
        powers = self.field.powers(int(joint_rand[0]), self.bits, start=1)
        return int(self.field.dot(outputs[0], powers))


class _ChunkedRangeCheck(Valid):
    """A circuit whose one gadget range-checks every measurement entry in chunks.

    Subclasses set ``chunk_length`` and ``GADGET_CALLS`` (SumVec: every bit; Histogram:
    every bucket; draft-irtf-cfrg-vdaf-07, sections 7.4.3 and 7.4.4).
    """

    chunk_length: int

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """Range-check pairs for every entry, weighted by powers of ``joint_rand[0]``."""
        return [
            range_check_inputs(
                self.field,
                meas,
                int(joint_rand[0]),
                self.chunk_length,
                self.GADGET_CALLS[0],
                num_shares,
            )
        ]


class SumVec(_ChunkedRangeCheck):
    """Prio3SumVec's circuit: every bit of every entry is 0 or 1 (draft 7.4.3, Field128)."""

    def __init__(self, length: int, bits: int, chunk_length: int) -> None:
        self.length = _need_int("length", length, 1, 2**32)
        self.bits = _need_int("bits", bits, 1, 128)
        self.chunk_length = _need_int("chunk_length", chunk_length, 1, 2**32)
        self.field = Field128
        n = length * bits
        self.GADGETS = (ParallelSum(Mul(), chunk_length),)
        self.GADGET_CALLS = ((n + chunk_length - 1) // chunk_length,)
        self.MEAS_LEN = n
        self.OUTPUT_LEN = length
        self.JOINT_RAND_LEN = 1

    def encode(self, measurement: Any) -> FieldVec:
        """The bits of each entry (in ``[0, 2^bits)``), entry after entry."""
        values = list(measurement)
        if len(values) != self.length:
            raise InvalidArgument(f"the measurement must have {self.length} entries")
        for v in values:
            _need_int("entry", v, 0, 2**self.bits)
        return bits_of(self.field, values, self.bits)

    def truncate(self, meas: FieldVec) -> FieldVec:
        """Each entry from its bits."""
        weights = self.field.powers(2, self.bits)
        return self.field.dot(meas.reshape(self.length, self.bits), weights)

    def decode(self, output: FieldVec, num_measurements: int) -> list[int]:
        """The entrywise sums."""
        return self.field.to_ints(output)

    def circuit_error(self) -> Fraction:
        """``MEAS_LEN / p``: a non-zero polynomial of degree ``MEAS_LEN`` in ``r``."""
        return Fraction(self.MEAS_LEN, self.field.MODULUS)

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """The sum of the gadget outputs."""
        return int(self.field.sum(outputs[0]))


class Histogram(_ChunkedRangeCheck):
    """Prio3Histogram's circuit: one-hot over ``length`` buckets (draft 7.4.4, Field128)."""

    def __init__(self, length: int, chunk_length: int) -> None:
        self.length = _need_int("length", length, 1, 2**32)
        self.chunk_length = _need_int("chunk_length", chunk_length, 1, 2**32)
        self.field = Field128
        self.GADGETS = (ParallelSum(Mul(), chunk_length),)
        self.GADGET_CALLS = ((length + chunk_length - 1) // chunk_length,)
        self.MEAS_LEN = length
        self.OUTPUT_LEN = length
        self.JOINT_RAND_LEN = 2

    def encode(self, measurement: Any) -> FieldVec:
        """The one-hot vector of bucket ``measurement``."""
        m = _need_int("measurement", measurement, 0, self.length)
        out = self.field.zeros(self.length)
        out[m] = 1 if np.dtype(object) == self.field.DTYPE else np.uint64(1)
        return out

    def truncate(self, meas: FieldVec) -> FieldVec:
        """The vector itself."""
        return meas

    def decode(self, output: FieldVec, num_measurements: int) -> list[int]:
        """The bucket counts."""
        return self.field.to_ints(output)

    def circuit_error(self) -> Fraction:
        """``(MEAS_LEN + 2) / p``: the range check in ``jr0``, then the output in ``jr1``."""
        return Fraction(self.MEAS_LEN + 2, self.field.MODULUS)

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``jr1 * sum(range) + jr1^2 * (sum(meas) - 1/num_shares)``.

        The text of draft 07 (7.4.4) multiplies each gadget output by ``r`` once more; the
        draft's reference implementation at the ``draft-irtf-cfrg-vdaf-07`` tag, which produced
        the published test vectors, does not. We follow the vectors (interoperability); both
        are equally sound, since ``r`` is non-zero except with probability ``1/p``.
        """
        f, p = self.field, self.field.MODULUS
        r1 = int(joint_rand[1])
        range_check = int(f.sum(outputs[0]))
        sum_check = (int(f.sum(meas)) - f.inv(num_shares)) % p
        return (r1 * range_check + r1 * r1 % p * sum_check) % p
