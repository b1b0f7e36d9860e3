"""PINE: an exact L2-norm check without bit-decomposing the entries (draft-chen-cfrg-vdaf-pine).

Rothblum, Omri, Chen and Talwar, "PINE: Efficient Norm-Bound Verification for Secret-Shared
Vectors" (2023, arXiv:2311.10237, "ROCT23" below), as specified by draft-chen-cfrg-vdaf-pine
(sections 3-5) and its reference implementation (``poc/flp_pine.py`` and ``poc/vdaf_pine.py``
of github.com/junyechen1996/draft-chen-cfrg-vdaf-pine, draft version 01), which the draft's
text defers to where it still reads "TODO". The encoded measurement is the gradient itself
(``d`` field elements) followed by a few thousand bits, so the upload is about one field
vector and the proofs are ``O(sqrt(d))``:

* **norm equality** (draft 4.2.3, first bullet): the squared norm computed from the gradient,
  ``sum_i x_i^2`` (a ``ParallelSum(PolyEval(x^2))`` gadget), equals the value ``v`` the client
  reports in bits. This circuit has no joint randomness (the draft's ``PineValidNormEquality``).
* **norm range** (4.2.1, ROCT23 Figure 1): the client sends the bits of ``v`` and of
  ``u = B - v``; every one is a bit and ``v + u = B``, so ``0 <= v <= B`` over the integers.
* **wraparound** (4.1.3-4.1.4 and 4.2.4, ROCT23 Figure 2 and Lemma 3.3): the norm is computed
  mod ``p`` and could wrap around. Each of ``num_wr_checks`` tests takes the dot product of the
  gradient with a random ``{-1, 0, 1}`` vector expanded from the *wraparound joint
  randomness* (derived by Fiat-Shamir from the shares of the gradient and the norm bits); a
  gradient whose squared norm wrapped lands outside ``[-wr_check_bound + 1, wr_check_bound]``
  with probability at least 1/2 per test. The client sends the bits of ``result +
  wr_check_bound - 1`` and a success bit per test; the aggregators compute the dot products
  from their own shares (they are not uploaded) and check, with a ``ParallelSum(Mul)``
  gadget, ``g_i * (result_i - reported_i) = 0`` and ``sum g_i = num_wr_successes``.
* every bit-checked entry is 0 or 1 (4.2.2), in the same ``ParallelSum(Mul)`` gadget.

The main circuit (the draft's ``PineValid``) is ``bit + r * range + r^2 * wr_quad + r^3 *
wr_count`` with three joint randomness elements. Both circuits run on the FLP of
draft-irtf-cfrg-vdaf-07 (:mod:`secagg.validated._flp`); with ``draft_xof=True`` (the PINE
draft's XofTurboShake128 and tags) the draft's published test vectors pass byte for byte
(tests/vectors/pine01/), and deployed configurations keep XofShake128 (``hashlib``).
Deviations from the reference's parameters, all stated: measurements are the integers of
:mod:`secagg.encoding` (not floats), ``norm_bound`` is the *squared* bound ``B`` (any
integer; ``wr_check_bound`` uses ``ceil(sqrt(B))`` as the L2 bound), and the default number of
wraparound tests is 128 (the draft's 100 gives ``2^-60`` against a client that grinds ``2^40``
XOF calls; 128 gives ``2^-88``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from secagg.errors import DeserializationError, InvalidArgument
from secagg.validated._errors import VerificationFailed
from secagg.validated._field import Field, Field64, Field128, FieldVec
from secagg.validated._flp import FlpBBCGGI19, Gadget, Mul, ParallelSum, PolyEval, Valid
from secagg.validated._l2 import default_chunk_length
from secagg.validated._prio3 import (
    USAGE_JOINT_RAND_PART,
    USAGE_JOINT_RAND_SEED,
    USAGE_JOINT_RANDOMNESS,
    USAGE_MEAS_SHARE,
    USAGE_PROOF_SHARE,
    USAGE_PROVE_RANDOMNESS,
    USAGE_QUERY_RANDOMNESS,
    HelperShare,
    InputShare,
    LeaderShare,
    PrepShare,
    PrepState,
    Prio3,
)
from secagg.validated._xof import SEED_SIZE, XofShake128, XofTurboShake128

__all__ = [
    "ALPHA",
    "NUM_WR_CHECKS",
    "PineNormEquality",
    "PineValid",
    "Pine",
    "WraparoundRetry",
    "wr_dot_products",
    "PINE_FIELD64_ID",
    "PINE_FIELD128_ID",
    "pine_bounded_l2",
]

ALPHA = 8.7
"""The draft's ``alpha``: the wraparound range is ``alpha`` times the L2 bound (ZK error)."""
NUM_WR_CHECKS = 128
"""Wraparound tests per report; all must pass (``num_wr_successes = num_wr_checks``)."""

# Usages of the wraparound joint randomness (poc/vdaf_pine.py), after Prio3's 1-7.
USAGE_WR_JOINT_RANDOMNESS = 8
USAGE_WR_JOINT_RAND_SEED = 9
USAGE_WR_JOINT_RAND_PART = 10

PINE_DRAFT_VERSION = 1
"""The PINE draft version whose tags ``draft_xof`` reproduces (poc/VERSION)."""

PINE_FIELD64_ID = 0xFFFF0003
"""Algorithm id of PINE over Field64 here (the draft's private-use range)."""
PINE_FIELD128_ID = 0xFFFF0004
"""Algorithm id of PINE over Field128 here."""


class WraparoundRetry(InvalidArgument):
    """An honest gradient failed a wraparound test (at most ``2 exp(-alpha^2 / 2)`` per test).

    Hoeffding's inequality: ``sum z_i x_i`` with ``||x||^2 <= B`` exceeds ``alpha sqrt(B)``
    with probability at most ``2 exp(-alpha^2 / 2) = 2^-53.6`` at ``alpha = 8.7``.

    The draft (4.1.4) has the client retry with fresh randomness; :class:`Client` does.
    """


def _chunks(chunk: int, length: int) -> int:
    return -(-length // chunk)


@lru_cache(maxsize=4)
def _sign_table() -> npt.NDArray[np.float32]:
    """Byte -> its four ``{-1, 0, 1}`` entries, two bits at a time, low bits first (4.1.3)."""
    table = np.zeros((256, 4), dtype=np.float32)
    for b in range(256):
        for k in range(4):
            two = (b >> (2 * k)) & 3
            table[b, k] = -1.0 if two == 0 else (1.0 if two == 3 else 0.0)
    return table


_LIMB = 8
_BLOCK = 256  # stream bytes (1024 coordinates) per block: 1024 * 255 < 2^24, exact in float32


def wr_dot_products(field: Field, x: FieldVec, stream: bytes, checks: int) -> FieldVec:
    """The ``checks`` dot products of ``x`` with the random ``{-1, 0, 1}`` vectors of ``stream``.

    Draft section 4.1.3: test ``i`` reads ``ceil(d / 4)`` bytes of the XOF stream, each byte
    giving four entries two bits at a time (``00`` -> -1, ``01``/``10`` -> 0, ``11`` -> 1).
    Vectorised: ``x`` is split into 8-bit limbs and each block of 1024 coordinates is one
    float32 matrix product (signs by limbs), exact because every partial sum stays below
    ``1024 * 255 < 2^24``; the blocks add up in int64 (below ``2^63`` for ``d < 2^54``) and the
    limbs recombine mod ``p``. The sign block is rebuilt in one reused cache-sized buffer.
    """
    d = len(x)
    per = -(-d // 4)
    if len(stream) != checks * per:
        raise InvalidArgument("wraparound stream of the wrong length")
    data = np.frombuffer(stream, dtype=np.uint8).reshape(checks, per)
    p = field.MODULUS
    nlimbs = -(-p.bit_length() // _LIMB)
    limbs = np.zeros((per * 4, nlimbs), dtype=np.float32)
    if np.dtype(object) == field.DTYPE:
        for k in range(nlimbs):
            col = (np.asarray(x, dtype=object) >> (_LIMB * k)) & 0xFF
            limbs[:d, k] = col.astype(np.int64).astype(np.float32)
    else:
        x64 = np.asarray(x, dtype=np.uint64)
        for k in range(nlimbs):
            limbs[:d, k] = ((x64 >> np.uint64(_LIMB * k)) & np.uint64(0xFF)).astype(np.float32)
    table = _sign_table()
    acc = np.zeros((checks, nlimbs), dtype=np.int64)
    buf = np.empty((checks, _BLOCK, 4), dtype=np.float32)
    for start in range(0, per, _BLOCK):
        stop = min(per, start + _BLOCK)
        block = buf[:, : stop - start]
        np.take(table, data[:, start:stop], axis=0, out=block)
        acc += (block.reshape(checks, -1) @ limbs[4 * start : 4 * stop]).astype(np.int64)
    out = [sum(int(acc[i, k]) << (_LIMB * k) for k in range(nlimbs)) % p for i in range(checks)]
    return field.vec(out)


def _small_ints_and_norm(values: list[int]) -> tuple[npt.NDArray[np.int64] | None, int]:
    """The values as int64 and their exact squared norm, vectorised when every ``|v| < 2^32``.

    Each square then fits in ``uint64``; its 32-bit halves are summed separately (exact for
    fewer than ``2^32`` terms). Otherwise ``(None, norm)`` from Python ints.
    """
    try:
        ints = np.array(values, dtype=np.int64)
    except OverflowError:
        ints = None
    if ints is None or ints.size == 0 or int(np.abs(ints).max()) >= 2**32:
        return None, sum(v * v for v in values)
    squares = np.abs(ints).astype(np.uint64) ** np.uint64(2)
    low = int(np.sum(squares & np.uint64(0xFFFFFFFF), dtype=np.uint64))
    high = int(np.sum(squares >> np.uint64(32), dtype=np.uint64))
    return ints, (high << 32) + low


def _bits(value: int, count: int) -> list[int]:
    return [(value >> k) & 1 for k in range(count)]


class _PineBase(Valid):
    """Parameters and measurement layout shared by both PINE circuits (poc ``PineValidBase``).

    The FLP's measurement is ``gradient (d) || bit-checked (bit_checked_len) || wraparound
    results (num_wr_checks)``; the bit-checked part holds the ``v`` and ``u`` bits of the squared
    norm, then per wraparound test its result's bits and its success bit.
    """

    def __init__(
        self,
        field: Field,
        length: int,
        norm_bound: int,
        chunk_length: int | None,
        *,
        alpha: float = ALPHA,
        num_wr_checks: int = NUM_WR_CHECKS,
        num_wr_successes: int | None = None,
    ) -> None:
        for name, value, low in (
            ("length", length, 1),
            ("norm_bound", norm_bound, 1),
            ("chunk_length", 1 if chunk_length is None else chunk_length, 1),
            ("num_wr_checks", num_wr_checks, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgument(f"{name} must be an int >= {low}")
        successes = num_wr_checks if num_wr_successes is None else num_wr_successes
        if not 1 <= successes <= num_wr_checks:
            raise InvalidArgument("num_wr_successes must lie in [1, num_wr_checks]")
        p = field.MODULUS
        self.field = field
        self.dimension = length
        self.sq_norm_bound = norm_bound
        self.alpha = alpha
        self.num_wr_checks = num_wr_checks
        self.num_wr_successes = successes
        # Draft 4.1.1 and ROCT23 Figure 1: v, u < 2^k with k = bitlen(B) and v + u = B must
        # not wrap, i.e. p > 3B + 2 (the reference's check).
        if (p - 2) // norm_bound <= 3:
            raise InvalidArgument("the squared norm bound is too large for the field")
        self.num_bits_for_sq_norm = norm_bound.bit_length()
        l2_bound = math.isqrt(norm_bound - 1) + 1  # ceil(sqrt(B))
        # Remark 3.2 of ROCT23: a power of two lets the v bits alone bound the result.
        # next_power_of_2(ceil(alpha * L) + 1), as the reference computes it.
        self.wr_check_bound = 1 << math.ceil(alpha * l2_bound).bit_length()
        # Lemma 3.3 of ROCT23 as the reference checks it: p >= 2600 * wr_check_bound,
        # wr_check_bound^2 <= 4000 p, p >= 2 * num_wr_checks.
        bound = self.wr_check_bound
        if p < 2 * num_wr_checks or p // bound < 2600 or bound * bound > 4000 * p:
            raise InvalidArgument("the wraparound check is infeasible in this field")
        self.num_bits_for_wr_check = (2 * bound - 1).bit_length()
        self.encoded_gradient_and_norm_len = length + 2 * self.num_bits_for_sq_norm
        self.bit_checked_len = (
            2 * self.num_bits_for_sq_norm + (self.num_bits_for_wr_check + 1) * num_wr_checks
        )
        self.MEAS_LEN = length + self.bit_checked_len + num_wr_checks
        self.OUTPUT_LEN = length
        self.chunk_length = chunk_length or 1

    # -- layout -------------------------------------------------------------------------
    def _weights(self, count: int) -> FieldVec:
        return self.field.powers(2, count)

    def _decode_bits(self, bits: FieldVec) -> int:
        return int(self.field.dot(bits, self._weights(len(bits))))

    def _norm_bits(self, meas: FieldVec) -> tuple[FieldVec, FieldVec]:
        d, k = self.dimension, self.num_bits_for_sq_norm
        return meas[d : d + k], meas[d + k : d + 2 * k]

    def _wr_parts(self, meas: FieldVec) -> tuple[FieldVec, FieldVec, FieldVec]:
        """The wraparound bits ``(checks, bits)``, success bits and results (from the FLP input)."""
        start = self.dimension + 2 * self.num_bits_for_sq_norm
        per = self.num_bits_for_wr_check + 1
        block = meas[start : start + per * self.num_wr_checks].reshape(self.num_wr_checks, per)
        results = meas[self.dimension + self.bit_checked_len :]
        return block[:, :-1], block[:, -1], results

    # -- the rest of Valid --------------------------------------------------------------
    def encode(self, measurement: Any) -> FieldVec:
        """Not available: PINE encodes in two steps (draft 4.1), inside :meth:`Pine.shard`.

        :meth:`PineValid.encode_gradient_and_norm`, then :meth:`PineValid.encode_wr_checks`
        with the wraparound joint randomness derived from the shares of the first step.
        """
        raise InvalidArgument("PINE encodes through Pine.shard (two steps, draft 4.1)")

    def truncate(self, meas: FieldVec) -> FieldVec:
        """The gradient (draft: ``meas[:dimension]``)."""
        return meas[: self.dimension]

    def decode(self, output: FieldVec, num_measurements: int) -> list[int]:
        """The coordinatewise sums, as signed integers (centred representatives mod ``p``)."""
        p = self.field.MODULUS
        return [v - p if v > p // 2 else v for v in self.field.to_ints(output)]


class PineNormEquality(_PineBase):
    """``v - sum_i x_i^2``: the claimed squared norm is the gradient's (poc's NormEquality)."""

    def __init__(
        self, field: Field, length: int, norm_bound: int, chunk_length: int | None, **kw: Any
    ) -> None:
        super().__init__(field, length, norm_bound, chunk_length, **kw)
        if chunk_length is None:
            self.chunk_length = chunk_length = default_chunk_length(length, 2, 1)
        self.JOINT_RAND_LEN = 0
        self.GADGETS: tuple[Gadget, ...] = (ParallelSum(PolyEval((0, 0, 1)), chunk_length),)
        self.GADGET_CALLS = (_chunks(chunk_length, length),)

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """The gradient in ``chunk_length`` blocks, zero-padded: shape ``(chunk, calls)``."""
        c, calls = self.chunk_length, self.GADGET_CALLS[0]
        padded = self.field.zeros(c * calls)
        padded[: self.dimension] = meas[: self.dimension]
        return [padded.reshape(calls, c).T.copy()]

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``sq_norm_v - sum_i x_i^2`` (poc ``eval_norm_equality_check``)."""
        f = self.field
        v = self._decode_bits(self._norm_bits(meas)[0])
        return (v - int(f.sum(outputs[0]))) % f.MODULUS


class PineValid(_PineBase):
    """Bit checks, norm range, wraparound checks (poc ``PineValid``; draft 4.2)."""

    def __init__(
        self,
        field: Field,
        length: int,
        norm_bound: int,
        chunk_length: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(field, length, norm_bound, chunk_length, **kw)
        if chunk_length is None:  # pairs to multiply: the bits and the wraparound tests
            pairs = self.bit_checked_len + self.num_wr_checks
            self.chunk_length = chunk_length = default_chunk_length(pairs, 2, 2)
        self.JOINT_RAND_LEN = 3  # r_bit_check, r_wr_check, r_final
        self.GADGETS = (ParallelSum(Mul(), chunk_length),)
        self.calls_bit = _chunks(chunk_length, self.bit_checked_len)
        self.calls_wr = _chunks(chunk_length, self.num_wr_checks)
        self.GADGET_CALLS = (self.calls_bit + self.calls_wr,)

    def norm_equality(self, chunk_length: int | None = None) -> PineNormEquality:
        """The companion norm-equality circuit (same parameters; chunks near ``sqrt(d)``)."""
        return PineNormEquality(
            self.field,
            self.dimension,
            self.sq_norm_bound,
            chunk_length,
            alpha=self.alpha,
            num_wr_checks=self.num_wr_checks,
            num_wr_successes=self.num_wr_successes,
        )

    # -- client-side encoding (draft 4.1.2 and 4.1.4) -------------------------------------
    def encode_gradient_and_norm(
        self, measurement: Sequence[int], *, strict: bool = True
    ) -> FieldVec:
        """The gradient mod ``p``, then the bits of ``v = ||x||^2`` and ``u = B - v``.

        Raises InvalidArgument if the length is wrong or the squared norm exceeds ``B``.
        Hazardous ``strict=False`` plays a client that skipped clipping: it claims
        ``v = ||x||^2 mod p`` if that is at most ``B`` (a wraparound), else ``v = B``.
        """
        values = [int(v) for v in measurement]
        if len(values) != self.dimension:
            raise InvalidArgument(f"the update must have {self.dimension} coordinates")
        f, k = self.field, self.num_bits_for_sq_norm
        ints, norm = _small_ints_and_norm(values)
        if norm > self.sq_norm_bound:
            if strict:
                raise InvalidArgument(
                    f"squared L2 norm {norm} exceeds the bound {self.sq_norm_bound}"
                )
            wrapped = norm % f.MODULUS
            norm = wrapped if wrapped <= self.sq_norm_bound else self.sq_norm_bound
        if np.dtype(object) == f.DTYPE or ints is None:
            grad = f.reduce_ints(values)
        else:  # |v| < 2^32 < p: int64, then negatives to p - |v|
            grad = ints.astype(np.uint64)
            neg = ints < 0
            grad[neg] = np.uint64(f.MODULUS) - (-ints[neg]).astype(np.uint64)
        bits = f.vec(_bits(norm, k) + _bits(self.sq_norm_bound - norm, k))
        return np.concatenate([grad, bits])

    def encode_wr_checks(self, results: FieldVec, *, strict: bool = True) -> FieldVec:
        """Per test, the bits of ``result + wr_check_bound - 1`` and the success bit.

        Raises :class:`WraparoundRetry` if fewer than ``num_wr_successes`` tests pass (draft
        4.1.4: the client retries with fresh randomness). Hazardous ``strict=False`` claims
        success on the first ``num_wr_successes`` tests whatever their results (the low bits
        of each result stand in for its range-checked value).
        """
        p, bound, nbits = self.field.MODULUS, self.wr_check_bound, self.num_bits_for_wr_check
        out: list[int] = []
        passed = 0
        for r in self.field.to_ints(results):
            v = (r + bound - 1) % p
            ok = (v <= 2 * bound - 1 or not strict) and passed < self.num_wr_successes
            passed += ok
            out.extend(_bits(v, nbits))
            out.append(int(ok))
        if passed != self.num_wr_successes:
            raise WraparoundRetry("a wraparound test failed; retry with fresh randomness")
        return self.field.vec(out)

    # -- the circuit ----------------------------------------------------------------------
    def _pairs(self, left: FieldVec, right: FieldVec, calls: int) -> FieldVec:
        c = self.chunk_length
        pairs = self.field.zeros((calls * c, 2))
        pairs[: len(left), 0] = left
        pairs[: len(right), 1] = right
        return pairs.reshape(calls, 2 * c)

    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """Bit-check pairs ``(r^k b_k, b_k - 1/n)``, then wraparound pairs (poc ``eval``)."""
        f, p = self.field, self.field.MODULUS
        inv = f.inv(num_shares)
        d = self.dimension
        bits = meas[d : d + self.bit_checked_len]
        r_bit, r_wr = int(joint_rand[0]), int(joint_rand[1])
        bit_pairs = self._pairs(
            f.mul(f.powers(r_bit, len(bits)), bits), f.sub(bits, inv), self.calls_bit
        )
        wr_bits, wr_g, results = self._wr_parts(meas)
        reported = f.dot(wr_bits, self._weights(self.num_bits_for_wr_check))
        computed = f.sub(reported, (self.wr_check_bound - 1) * inv % p)
        left = f.mul(f.powers(r_wr, self.num_wr_checks), f.sub(results, computed))
        wr_pairs = self._pairs(left, wr_g, self.calls_wr)
        return [np.concatenate([bit_pairs, wr_pairs]).T.copy()]

    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """``bit + r * norm_range + r^2 * wr_quadratic + r^3 * wr_count`` (poc ``eval``)."""
        f, p = self.field, self.field.MODULUS
        inv = f.inv(num_shares)
        r = int(joint_rand[2])
        bit_check = int(f.sum(outputs[0][: self.calls_bit]))
        wr_quad = int(f.sum(outputs[0][self.calls_bit :]))
        v_bits, u_bits = self._norm_bits(meas)
        norm_range = (
            self._decode_bits(v_bits) + self._decode_bits(u_bits) - self.sq_norm_bound * inv
        ) % p
        _, wr_g, _ = self._wr_parts(meas)
        wr_count = (int(f.sum(wr_g)) - self.num_wr_successes * inv) % p
        return (bit_check + r * norm_range + r * r % p * wr_quad + pow(r, 3, p) * wr_count) % p

    def circuit_error(self) -> Fraction:
        """Schwartz-Zippel over the three joint randomness elements.

        The bit check is a polynomial of degree ``bit_checked_len - 1`` in ``r_bit``, the
        quadratic wraparound check of degree ``num_wr_checks - 1`` in ``r_wr``, and the final
        combination of degree 3 in ``r_final``: ``(bit_checked_len + num_wr_checks + 1) / p``.
        """
        return Fraction(self.bit_checked_len + self.num_wr_checks + 1, self.field.MODULUS)

    def wraparound_error(self) -> Fraction:
        """A wrapped gradient passes each test with probability <= 1/2 (PINE draft section 3).

        The draft's overview states this bound for ROCT23's test, under the field-size
        conditions of ROCT23 Lemma 3.3 that the constructor checks.

        Passing at least ``num_wr_successes`` of ``num_wr_checks`` independent tests is a
        binomial tail, ``2^-num_wr_checks`` when every test must pass; it is over the
        wraparound joint randomness, which the client can re-derive offline (grindable).
        """
        n, s = self.num_wr_checks, self.num_wr_successes
        return Fraction(sum(math.comb(n, j) for j in range(s, n + 1)), 2**n)


class Pine(Prio3):
    """The PINE VDAF (draft section 5; poc ``Pine``) on draft-07 Prio3's XOF and FLP.

    Two FLPs: ``norm_proofs`` proofs of :class:`PineNormEquality` (no joint randomness, so a
    client cannot grind it) and ``proofs`` proofs of :class:`PineValid`. The public share
    holds, per aggregator, a wraparound and a verification joint randomness part; each input
    share carries both blinds (the leader's as ``blind = wr_blind || vf_blind``).
    """

    def __init__(
        self,
        valid: PineValid,
        algo_id: int,
        shares: int = 2,
        proofs: int = 2,
        norm_proofs: int = 1,
        *,
        norm_chunk_length: int | None = None,
        draft_xof: bool = False,
    ) -> None:
        super().__init__(valid, algo_id, shares, proofs)
        if isinstance(norm_proofs, bool) or not isinstance(norm_proofs, int):
            raise InvalidArgument("norm_proofs must be an int")
        if not 1 <= norm_proofs < 256:
            raise InvalidArgument("PINE takes between 1 and 255 norm-equality proofs")
        self.valid = valid
        # draft_xof: the PINE draft's own XOF and tags (TurboSHAKE128; tag = byte(VERSION=1)
        # || ID || usage, poc ``domain_separation_tag``), to check its published vectors.
        self.xof: type[XofShake128] = XofTurboShake128 if draft_xof else XofShake128
        self._draft_dst = draft_xof
        ne = valid.norm_equality(norm_chunk_length)
        self.flp_norm_equality = FlpBBCGGI19(ne)
        self.PROOFS_NORM_EQUALITY = norm_proofs
        self.uses_joint_rand = True
        self.SHARED_LEN = valid.MEAS_LEN - valid.num_wr_checks
        self.RAND_SIZE = SEED_SIZE * (1 + 2 * (shares - 1) + 2 * shares)
        self._proofs_len = ne.proof_len() * norm_proofs + self.flp.PROOF_LEN * proofs
        self._verifier_len = (
            self.flp_norm_equality.VERIFIER_LEN * norm_proofs + self.flp.VERIFIER_LEN * proofs
        )

    def _binder(self, rest: bytes) -> bytes:
        return bytes([self.PROOFS_NORM_EQUALITY, self.PROOFS]) + rest

    def dst(self, usage: int) -> bytes:
        """Draft 07's tag (:func:`format_dst`), or with ``draft_xof`` the PINE draft's."""
        if self._draft_dst:
            return (
                bytes([PINE_DRAFT_VERSION]) + self.ID.to_bytes(4, "big") + usage.to_bytes(2, "big")
            )
        return super().dst(usage)

    # -- auxiliary functions (poc vdaf_pine.py) -------------------------------------------
    def helper_meas_share(self, agg_id: int, seed: bytes) -> FieldVec:
        """Expand a helper's measurement share (gradient, norm bits, wraparound bits)."""
        return self.xof.expand_into_vec(
            self.field, seed, self.dst(USAGE_MEAS_SHARE), bytes([agg_id]), self.SHARED_LEN
        )

    def helper_proof_share(self, agg_id: int, seed: bytes) -> FieldVec:
        """Expand a helper's share of every proof."""
        return self.xof.expand_into_vec(
            self.field,
            seed,
            self.dst(USAGE_PROOF_SHARE),
            self._binder(bytes([agg_id])),
            self._proofs_len,
        )

    def _rand(self, usage: int, seed: bytes, binder: bytes, length: int) -> FieldVec:
        return self.xof.expand_into_vec(
            self.field, seed, self.dst(usage), self._binder(binder), length
        )

    def _prove_rands(self, seed: bytes) -> FieldVec:
        length = (
            self.flp_norm_equality.PROVE_RAND_LEN * self.PROOFS_NORM_EQUALITY
            + self.flp.PROVE_RAND_LEN * self.PROOFS
        )
        return self._rand(USAGE_PROVE_RANDOMNESS, seed, b"", length)

    def _query_rands(self, verify_key: bytes, nonce: bytes) -> FieldVec:
        length = (
            self.flp_norm_equality.QUERY_RAND_LEN * self.PROOFS_NORM_EQUALITY
            + self.flp.QUERY_RAND_LEN * self.PROOFS
        )
        return self._rand(USAGE_QUERY_RANDOMNESS, verify_key, nonce, length)

    def _vf_joint_rands(self, seed: bytes) -> FieldVec:
        # The reference binds only byte(PROOFS) here (poc ``vf_joint_rands``).
        return self.xof.expand_into_vec(
            self.field,
            seed,
            self.dst(USAGE_JOINT_RANDOMNESS),
            bytes([self.PROOFS]),
            self.flp.JOINT_RAND_LEN * self.PROOFS,
        )

    def _part(self, usage: int, agg_id: int, blind: bytes, share: FieldVec, nonce: bytes) -> bytes:
        binder = bytes([agg_id]) + nonce + self.field.encode_vec(share)
        return self.xof.derive_seed(blind, self.dst(usage), binder)

    def _seed(self, usage: int, parts: Sequence[bytes]) -> bytes:
        return self.xof.derive_seed(bytes(SEED_SIZE), self.dst(usage), b"".join(parts))

    def wr_check_results(self, gradient: FieldVec, wr_seed: bytes) -> FieldVec:
        """The wraparound dot products of (a share of) the gradient (draft 4.1.3)."""
        valid = self.valid
        per = -(-valid.dimension // 4)
        stream = self.xof(wr_seed, self.dst(USAGE_WR_JOINT_RANDOMNESS), b"").next(
            valid.num_wr_checks * per
        )
        return wr_dot_products(self.field, gradient, stream, valid.num_wr_checks)

    # -- sharding (poc Pine.shard) ----------------------------------------------------------
    def shard(
        self, measurement: Any, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """Public share (wraparound parts then verification parts) and the input shares.

        Raises :class:`WraparoundRetry` (rarely, for an honest gradient) when a wraparound test
        fails under this ``rand``; call again with fresh randomness.
        """
        return self._shard(measurement, nonce, rand, strict=True)

    def shard_unchecked(
        self, measurement: Any, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """Hazardous: what a client that skipped clipping sends (for tests and simulations).

        The gradient as given, a false norm claim when it is out of bounds and every
        wraparound test claimed passed; the proofs are honest proofs of that false encoding,
        so the aggregators reject it except with the soundness error.
        """
        return self._shard(measurement, nonce, rand, strict=False)

    def shard_encoded(
        self, meas: FieldVec, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """Not available for PINE (its encoding needs the wraparound joint randomness)."""
        raise InvalidArgument("PINE has no single-step encoding: use shard_unchecked")

    def _shard(
        self, measurement: Any, nonce: bytes, rand: bytes, *, strict: bool
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        self._need_bytes("nonce", nonce, self.NONCE_SIZE)
        self._need_bytes("rand", rand, self.RAND_SIZE)
        valid, f, n = self.valid, self.field, self.SHARES
        seeds = [rand[i : i + SEED_SIZE] for i in range(0, self.RAND_SIZE, SEED_SIZE)]
        helpers = [seeds[4 * j : 4 * j + 4] for j in range(n - 1)]  # meas, proof, wr, vf
        leader_wr_blind, leader_vf_blind, k_prove = seeds[4 * (n - 1) :]
        head = valid.encoded_gradient_and_norm_len
        grad_norm = valid.encode_gradient_and_norm(measurement, strict=strict)
        helper_meas = [self.helper_meas_share(j + 1, hs[0]) for j, hs in enumerate(helpers)]
        leader_head = grad_norm
        for share in helper_meas:
            leader_head = f.sub(leader_head, share[:head])
        wr_parts = [self._part(USAGE_WR_JOINT_RAND_PART, 0, leader_wr_blind, leader_head, nonce)]
        wr_parts += [
            self._part(USAGE_WR_JOINT_RAND_PART, j + 1, hs[2], share[:head], nonce)
            for j, (hs, share) in enumerate(zip(helpers, helper_meas, strict=True))
        ]
        wr_seed = self._seed(USAGE_WR_JOINT_RAND_SEED, wr_parts)
        results = self.wr_check_results(grad_norm[: valid.dimension], wr_seed)
        meas = np.concatenate([grad_norm, valid.encode_wr_checks(results, strict=strict)])
        leader_meas = meas
        for share in helper_meas:
            leader_meas = f.sub(leader_meas, share)
        vf_parts = [self._part(USAGE_JOINT_RAND_PART, 0, leader_vf_blind, leader_meas, nonce)]
        vf_parts += [
            self._part(USAGE_JOINT_RAND_PART, j + 1, hs[3], share, nonce)
            for j, (hs, share) in enumerate(zip(helpers, helper_meas, strict=True))
        ]
        vf_rands = self._vf_joint_rands(self._seed(USAGE_JOINT_RAND_SEED, vf_parts))
        flp_meas = np.concatenate([meas, results])
        proofs = self._prove_all(flp_meas, self._prove_rands(k_prove), vf_rands)
        for j, hs in enumerate(helpers):
            proofs = f.sub(proofs, self.helper_proof_share(j + 1, hs[1]))
        shares: list[InputShare] = [
            LeaderShare(leader_meas, proofs, leader_wr_blind + leader_vf_blind)
        ]
        shares.extend(HelperShare(hs[0], hs[1], hs[2] + hs[3]) for hs in helpers)
        return wr_parts + vf_parts, shares

    def _prove_all(self, meas: FieldVec, prove_rands: FieldVec, vf_rands: FieldVec) -> FieldVec:
        ne, main = self.flp_norm_equality, self.flp
        a = ne.PROVE_RAND_LEN
        none = self.field.zeros(0)
        out = [
            ne.prove(meas, prove_rands[i * a : (i + 1) * a], none)
            for i in range(self.PROOFS_NORM_EQUALITY)
        ]
        rest = prove_rands[a * self.PROOFS_NORM_EQUALITY :]
        b, j = main.PROVE_RAND_LEN, main.JOINT_RAND_LEN
        out.extend(
            main.prove(meas, rest[i * b : (i + 1) * b], vf_rands[i * j : (i + 1) * j])
            for i in range(self.PROOFS)
        )
        return np.concatenate(out)

    # -- preparation (poc Pine.prep_init, prep_shares_to_prep) ------------------------------
    # expand_input_share is Prio3's: the same leader share and helper seeds, expanded by
    # this class's helper_meas_share / helper_proof_share.

    def prep_init(
        self,
        verify_key: bytes,
        agg_id: int,
        nonce: bytes,
        public_share: list[bytes] | None,
        input_share: InputShare,
    ) -> tuple[PrepState, PrepShare]:
        """Recompute the wraparound results from this share, query every proof."""
        self._need_bytes("verify_key", verify_key, self.VERIFY_KEY_SIZE)
        self._need_bytes("nonce", nonce, self.NONCE_SIZE)
        n, valid = self.SHARES, self.valid
        if not 0 <= agg_id < n:
            raise InvalidArgument("aggregator id out of range")
        if public_share is None or len(public_share) != 2 * n:
            raise InvalidArgument("the public share holds two parts per aggregator")
        blind = input_share.blind
        if blind is None or len(blind) != 2 * SEED_SIZE:
            raise InvalidArgument("the input share lacks its blinds")
        meas, proofs = self.expand_input_share(agg_id, input_share)
        head = valid.encoded_gradient_and_norm_len
        wr_part = self._part(
            USAGE_WR_JOINT_RAND_PART, agg_id, blind[:SEED_SIZE], meas[:head], nonce
        )
        wr_parts = list(public_share[:n])
        wr_parts[agg_id] = wr_part
        wr_seed = self._seed(USAGE_WR_JOINT_RAND_SEED, wr_parts)
        results = self.wr_check_results(meas[: valid.dimension], wr_seed)
        vf_part = self._part(USAGE_JOINT_RAND_PART, agg_id, blind[SEED_SIZE:], meas, nonce)
        vf_parts = list(public_share[n:])
        vf_parts[agg_id] = vf_part
        vf_seed = self._seed(USAGE_JOINT_RAND_SEED, vf_parts)
        vf_rands = self._vf_joint_rands(vf_seed)
        flp_meas = np.concatenate([meas, results])
        query = self._query_rands(verify_key, nonce)
        ne, main = self.flp_norm_equality, self.flp
        verifiers: list[FieldVec] = []
        offset = qoff = 0
        for _ in range(self.PROOFS_NORM_EQUALITY):
            proof = proofs[offset : offset + ne.PROOF_LEN]
            q = query[qoff : qoff + ne.QUERY_RAND_LEN]
            verifiers.append(ne.query(flp_meas, proof, q, self.field.zeros(0), n))
            offset += ne.PROOF_LEN
            qoff += ne.QUERY_RAND_LEN
        j = main.JOINT_RAND_LEN
        for i in range(self.PROOFS):
            proof = proofs[offset : offset + main.PROOF_LEN]
            q = query[qoff : qoff + main.QUERY_RAND_LEN]
            jr = vf_rands[i * j : (i + 1) * j]
            verifiers.append(main.query(flp_meas, proof, q, jr, n))
            offset += main.PROOF_LEN
            qoff += main.QUERY_RAND_LEN
        state = PrepState(valid.truncate(meas), wr_seed + vf_seed)
        return state, PrepShare(np.concatenate(verifiers), wr_part + vf_part)

    def prep_shares_to_prep(self, prep_shares: Sequence[PrepShare]) -> bytes | None:
        """Decide every proof; the message is both joint randomness seeds.

        Raises VerificationFailed if a proof rejects.
        """
        if len(prep_shares) != self.SHARES:
            raise InvalidArgument(f"expected {self.SHARES} prep shares")
        f = self.field
        verifier = f.zeros(self._verifier_len)
        for share in prep_shares:
            if len(share.verifier) != self._verifier_len:
                raise InvalidArgument("verifier share of the wrong length")
            verifier = f.add(verifier, share.verifier)
        ne, main = self.flp_norm_equality, self.flp
        offset = 0
        for flp, count in ((ne, self.PROOFS_NORM_EQUALITY), (main, self.PROOFS)):
            for _ in range(count):
                if not flp.decide(verifier[offset : offset + flp.VERIFIER_LEN]):
                    raise VerificationFailed("the proof of validity does not verify")
                offset += flp.VERIFIER_LEN
        parts = [s.joint_rand_part for s in prep_shares]
        if any(p is None or len(p) != 2 * SEED_SIZE for p in parts):
            raise InvalidArgument("a prep share lacks its joint randomness parts")
        wr = [p[:SEED_SIZE] for p in parts if p is not None]
        vf = [p[SEED_SIZE:] for p in parts if p is not None]
        return self._seed(USAGE_WR_JOINT_RAND_SEED, wr) + self._seed(USAGE_JOINT_RAND_SEED, vf)

    # -- serialisation ----------------------------------------------------------------------
    def decode_public_share(self, data: bytes) -> list[bytes] | None:
        """``2 * SHARES`` parts of 16 bytes (wraparound, then verification)."""
        if len(data) != 2 * SEED_SIZE * self.SHARES:
            raise DeserializationError("public share of the wrong length")
        return [data[i : i + SEED_SIZE] for i in range(0, len(data), SEED_SIZE)]

    def decode_input_share(self, agg_id: int, data: bytes) -> InputShare:
        """Leader: measurement and proof vectors, two blinds; helper: four seeds."""
        blinds = 2 * SEED_SIZE
        if agg_id == 0:
            size = self.field.ENCODED_SIZE
            m, p = self.SHARED_LEN * size, self._proofs_len * size
            if len(data) != m + p + blinds:
                raise DeserializationError("leader input share of the wrong length")
            return LeaderShare(
                self.field.decode_vec(data[:m]),
                self.field.decode_vec(data[m : m + p]),
                data[m + p :],
            )
        if len(data) != 2 * SEED_SIZE + blinds:
            raise DeserializationError("helper input share of the wrong length")
        return HelperShare(data[:SEED_SIZE], data[SEED_SIZE : 2 * SEED_SIZE], data[2 * SEED_SIZE :])

    def decode_prep_share(self, data: bytes) -> PrepShare:
        """The verifier shares of every proof, then both joint randomness parts."""
        v = self._verifier_len * self.field.ENCODED_SIZE
        if len(data) != v + 2 * SEED_SIZE:
            raise DeserializationError("prep share of the wrong length")
        return PrepShare(self.field.decode_vec(data[:v]), data[v:])

    @property
    def proof_elements(self) -> int:
        """Field elements of all proofs together (what the leader share adds to the gradient)."""
        return self._proofs_len


def pine_bounded_l2(
    length: int,
    norm_bound: int,
    shares: int = 2,
    *,
    field: Field | None = None,
    proofs: int = 3,
    norm_proofs: int = 2,
    num_wr_checks: int = NUM_WR_CHECKS,
) -> Pine:
    """PINE for ``length`` integer coordinates with squared L2 norm at most ``norm_bound``.

    Field64 by default (the draft's ``Pine64``), with ``proofs`` proofs of the main circuit and
    ``norm_proofs`` of the norm equality; see :func:`secagg.validated.soundness_bound`.
    """
    f = Field64 if field is None else field
    valid = PineValid(f, length, norm_bound, num_wr_checks=num_wr_checks)
    algo = PINE_FIELD128_ID if f is Field128 else PINE_FIELD64_ID
    return Pine(valid, algo, shares, proofs, norm_proofs)
