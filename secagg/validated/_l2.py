"""A validity circuit for a bounded-L2 vector of signed fixed-width integers.

The client's update ``v`` (``length`` coordinates, each in ``[-2^(bits-1), 2^(bits-1))``) is
encoded as the ``bits`` little-endian bits of each offset coordinate ``u_i = v_i + 2^(bits-1)``,
followed by the ``k = bit_length(B)`` bits of the slack ``s = B - ||v||^2``; ``B`` is the bound
on the squared L2 norm (the clip bound squared, in the fixed-point units). This is the approach
of Prio3's fixed-point bounded-L2 vector sum (libprio's ``Prio3FixedPointBoundedL2VecSum``,
after Talwar et al.'s bounded-norm aggregation): bit-decompose the entries, compute the norm
from them, and prove the norm's slack is a ``k``-bit number. Here the coordinates are
integers (the fixed-point scaling is the encoder's, :mod:`secagg.encoding`) and the bound is
any integer, not a power of two. PINE (Rothblum, Omri, Chen, Talwar 2023;
draft-chen-cfrg-vdaf-pine) would avoid the per-entry bits with wraparound checks; it is the
next step (docs/secagg/validated.md).

The circuit (over Field64 with several proofs, or Field128) is ``r1 * range + r1^2 * norm`` with

* ``range = sum_k r0^(k+1) b_k (b_k - 1)`` over every bit (a ``ParallelSum(Mul)`` gadget, as
  SumVec in draft-irtf-cfrg-vdaf-07 section 7.4.3), and
* ``norm = sum_i (u_i - 2^(bits-1))^2 + s - B`` (a ``ParallelSum(PolyEval(x^2))`` gadget).

Why this is sound: when every bit is 0 or 1, ``u_i`` is in ``[0, 2^bits)``, the integer
``||v||^2 + s`` is below ``length * 4^(bits-1) + 2^k``, which the constructor requires to be
below ``p``; so ``norm = 0`` in the field means ``||v||^2 + s = B`` over the integers, i.e.
``||v||^2 <= B``. For an invalid input, ``range`` (a polynomial of degree ``MEAS_LEN`` in
``r0``) or ``norm`` is non-zero except with probability ``MEAS_LEN / p``, and then the output
(a non-zero polynomial of degree 2 in ``r1``) vanishes with probability at most ``2 / p``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from secagg.errors import InvalidArgument
from secagg.validated._circuits import bits_of, range_check_inputs
from secagg.validated._field import Field, Field128, FieldVec
from secagg.validated._flp import Gadget, Mul, ParallelSum, PolyEval, Valid
from secagg.validated._prio3 import Prio3

__all__ = [
    "BoundedL2",
    "default_chunk_length",
    "prio3_bounded_l2",
    "BOUNDED_L2_ID",
    "BOUNDED_L2_FIELD64_ID",
]


def default_chunk_length(n: int, degree: int = 2, arity: int = 2) -> int:
    """A chunk length near ``sqrt(n)``: the proof length balances arity and calls (draft 7.4.3.1).

    The proof of ``ParallelSum(sub, c)`` over ``n`` inputs has about ``arity * c`` wire seeds
    plus ``degree * next_power_of_2(n / c)`` coefficients; scan around ``sqrt`` for the least.
    """
    best, best_len = 1, None
    root = max(1, math.isqrt(n))
    for c in range(max(1, root // 4), 4 * root + 2):
        calls = -(-n // c)
        length = arity * c + degree * ((1 << calls.bit_length()) - 1) + 1
        if best_len is None or length < best_len:
            best, best_len = c, length
    return best


class BoundedL2(Valid):
    """Signed ``bits``-bit coordinates with ``||v||^2 <= norm_bound`` (Field128 by default)."""

    def __init__(
        self,
        length: int,
        bits: int,
        norm_bound: int,
        *,
        chunk_lengths: tuple[int, int] | None = None,
        field: Field = Field128,
    ) -> None:
        for name, value, low in (
            ("length", length, 1),
            ("bits", bits, 2),
            ("norm_bound", norm_bound, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgument(f"{name} must be an int >= {low}")
        self.length, self.bits, self.norm_bound = length, bits, norm_bound
        self.offset = 1 << (bits - 1)
        self.slack_bits = max(1, norm_bound.bit_length())
        if length * self.offset**2 + (1 << self.slack_bits) >= field.MODULUS:
            raise InvalidArgument("norm could wrap around the field: fewer bits or a larger field")
        self.field = field
        n_bits = length * bits + self.slack_bits
        c0, c1 = chunk_lengths or (
            default_chunk_length(n_bits, 2, 2),
            default_chunk_length(length, 2, 1),
        )
        self.chunk_lengths = (c0, c1)
        self.GADGETS: tuple[Gadget, ...] = (
            ParallelSum(Mul(), c0),
            ParallelSum(PolyEval((0, 0, 1)), c1),
        )
        self.GADGET_CALLS = (-(-n_bits // c0), -(-length // c1))
        self.MEAS_LEN = n_bits
        self.OUTPUT_LEN = length
        self.JOINT_RAND_LEN = 2

    def encode(self, measurement: Any) -> FieldVec:
        """The bits of every offset coordinate, then the bits of the norm's slack.

        Raises InvalidArgument if the length, a coordinate's range or the norm is out of bounds.
        """
        values = [int(v) for v in measurement]
        if len(values) != self.length:
            raise InvalidArgument(f"the update must have {self.length} coordinates")
        if any(not -self.offset <= v < self.offset for v in values):
            raise InvalidArgument(
                f"a coordinate lies outside [-2^{self.bits - 1}, 2^{self.bits - 1})"
            )
        norm = sum(v * v for v in values)
        if norm > self.norm_bound:
            raise InvalidArgument(f"squared L2 norm {norm} exceeds the bound {self.norm_bound}")
        coords = bits_of(self.field, [v + self.offset for v in values], self.bits)
        slack = bits_of(self.field, [self.norm_bound - norm], self.slack_bits)
        return np.concatenate([coords, slack])

    def encode_unchecked(self, measurement: Any) -> FieldVec:
        """Hazardous: coordinates wrapped into ``bits`` bits, a slack of 0 if the norm is over.

        What a client that skipped clipping sends (any claimed slack is then false).
        """
        values = [int(v) for v in measurement]
        if len(values) != self.length:
            raise InvalidArgument(f"the update must have {self.length} coordinates")
        norm = sum(v * v for v in values)
        slack = self.norm_bound - norm if norm <= self.norm_bound else 0
        coords = bits_of(
            self.field, [(v + self.offset) % (2 * self.offset) for v in values], self.bits
        )
        return np.concatenate([coords, bits_of(self.field, [slack], self.slack_bits)])

    def _coordinates(self, meas: FieldVec) -> FieldVec:
        """The offset coordinates ``u_i`` from (shares of) their bits."""
        f = self.field
        grid = meas[: self.length * self.bits].reshape(self.length, self.bits)
        return f.dot(grid, f.powers(2, self.bits))

    def truncate(self, meas: FieldVec) -> FieldVec:
        """The offset coordinates: their sum is the offset sum of the updates."""
        return self._coordinates(meas)

    def decode(self, output: FieldVec, num_measurements: int) -> list[int]:
        """The coordinatewise sums of the signed updates."""
        shift = num_measurements * self.offset
        p = self.field.MODULUS
        return [(int(u) - shift) % p - (p if (int(u) - shift) % p > p // 2 else 0) for u in output]

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """Range-check pairs for every bit; the centred coordinates for the norm."""
        f = self.field
        ranges = range_check_inputs(
            f, meas, int(joint_rand[0]), self.chunk_lengths[0], self.GADGET_CALLS[0], num_shares
        )
        shift = self.offset * f.inv(num_shares) % f.MODULUS
        centred = f.zeros(self.GADGET_CALLS[1] * self.chunk_lengths[1])
        centred[: self.length] = f.sub(self._coordinates(meas), shift)
        return [ranges, centred.reshape(self.GADGET_CALLS[1], self.chunk_lengths[1]).T.copy()]

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``r1 * range + r1^2 * (||v||^2 + s - B)``."""
        f, p = self.field, self.field.MODULUS
        r1 = int(joint_rand[1])
        range_check = int(f.sum(outputs[0]))
        slack_bits = meas[self.length * self.bits :]
        slack = int(f.dot(slack_bits, f.powers(2, self.slack_bits)))
        bound = self.norm_bound * f.inv(num_shares) % p
        norm_check = (int(f.sum(outputs[1])) + slack - bound) % p
        return (r1 * range_check + r1 * r1 % p * norm_check) % p

    def circuit_error(self) -> Fraction:
        """``(MEAS_LEN + 2) / p``: ``range`` vanishing in ``r0``, then the output in ``r1``."""
        return Fraction(self.MEAS_LEN + 2, self.field.MODULUS)


BOUNDED_L2_ID = 0xFFFF0001
"""Algorithm id of :func:`prio3_bounded_l2`, from the draft's private-use range (section 10)."""
BOUNDED_L2_FIELD64_ID = 0xFFFF0002
"""Algorithm id of the bounded-L2 circuit over Field64 (with several proofs)."""


def prio3_bounded_l2(
    length: int,
    bits: int,
    norm_bound: int,
    shares: int = 2,
    *,
    field: Field = Field128,
    proofs: int = 1,
) -> Prio3:
    """Prio3 over :class:`BoundedL2` with XofShake128.

    Field128 with one proof is draft 07's shape; Field64 with several proofs follows draft 08's
    multiple proofs (binders prefixed with the number of proofs) on draft 07's XOF.
    """
    algo = BOUNDED_L2_ID if field is Field128 else BOUNDED_L2_FIELD64_ID
    return Prio3(BoundedL2(length, bits, norm_bound, field=field), algo, shares, proofs)
