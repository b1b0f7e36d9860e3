"""The fully linear proof system of Boneh, Boyle, Corrigan-Gibbs, Gilboa and Ishai (CRYPTO 2019).

As specified by draft-irtf-cfrg-vdaf-07, section 7.3 ("A General-Purpose FLP", there called
``FlpGeneric``): a validity circuit built from affine gates and calls to a few non-affine
*gadgets* (``Mul``, ``PolyEval``, ``ParallelSum``); the prover sends, per gadget, a random seed
for each wire and the coefficients of the *gadget polynomial* ``G(wire_1(x), ..., wire_L(x))``
whose value at ``alpha^k`` is the output of the ``k``-th call (BBCGGI19, Theorem 4.3 with the
parallel-sum and multi-gadget extensions of sections 4.4 and Remark 4.5). The verifier, holding
only linear shares of the measurement and proof, evaluates the circuit with the gadget outputs
read off the polynomial, and checks the polynomial at a random point ``t``: the verifier message
is ``[v] + x_1 + [y_1] + ... ``, and ``decide`` accepts iff ``G_i(x_i) == y_i`` for every gadget
and ``v == 0``.

Soundness (BBCGGI19, Theorem 4.3): for a fixed invalid measurement and fixed joint randomness, a
cheating proof passes with probability at most ``sum_i DEGREE_i * (P_i - 1) / (p - P_i)`` over
the query point, plus the circuit's own error over the joint randomness (see each circuit).

Implementation notes (the results are those of the draft's algorithms, bit for bit):

* All circuits here have gadget inputs that are affine in the measurement and joint randomness,
  so a circuit exposes all its gadget inputs at once (:meth:`Valid.gadget_inputs`, an array of
  shape ``(ARITY, calls)`` per gadget) and combines the gadget outputs affinely
  (:meth:`Valid.combine`).
* Gadgets evaluate pointwise on arrays; the prover forms the gadget polynomial by evaluating the
  wire polynomials on enough roots of unity, applying the gadget pointwise and interpolating.
* The verifier evaluates each wire polynomial at ``t`` with the Lagrange basis (``O(P)`` per
  wire instead of an interpolation) and the gadget polynomial on the ``P``-th roots by one NTT.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from secagg.errors import InvalidArgument, InvalidProof
from secagg.validated._field import Field, FieldVec
from secagg.validated._poly import fold_eval_on_roots, inv_ntt, lagrange_at, ntt, poly_eval

__all__ = [
    "Gadget",
    "Mul",
    "PolyEval",
    "ParallelSum",
    "Valid",
    "FlpBBCGGI19",
    "next_power_of_2",
    "flp_error",
]


def next_power_of_2(n: int) -> int:
    """The smallest power of two ``>= n`` (``n >= 1``)."""
    return 1 << (n - 1).bit_length()


class Gadget(abc.ABC):
    """A non-affine sub-circuit (draft 7.3.2): ``ARITY`` inputs, arithmetic ``DEGREE``.

    :meth:`eval` takes an array of shape ``(ARITY, ...)`` and evaluates pointwise over the
    trailing axes, so it serves field elements and polynomial evaluations alike.
    """

    ARITY: int
    DEGREE: int

    @abc.abstractmethod
    def eval(self, field: Field, inp: FieldVec) -> FieldVec:
        """The gadget's output for inputs on the first axis."""


@dataclass(frozen=True, slots=True)
class Mul(Gadget):
    """``Mul(x, y) = x * y`` (draft 7.4.1)."""

    ARITY: int = 2
    DEGREE: int = 2

    def eval(self, field: Field, inp: FieldVec) -> FieldVec:
        """``inp[0] * inp[1]``."""
        return field.mul(inp[0], inp[1])


@dataclass(frozen=True, slots=True)
class PolyEval(Gadget):
    """``PolyEval(x) = sum_k c_k x^k`` for fixed coefficients (``Range2`` is ``[0, -1, 1]``)."""

    coefficients: tuple[int, ...]
    ARITY: int = 1
    DEGREE: int = 0

    def __post_init__(self) -> None:
        degree = max((k for k, c in enumerate(self.coefficients) if c), default=0)
        object.__setattr__(self, "DEGREE", degree)

    def eval(self, field: Field, inp: FieldVec) -> FieldVec:
        """Horner's rule on ``inp[0]``, skipping multiplications by 1 and additions of 0."""
        x = inp[0]
        coeffs = [field.scalar(c) for c in self.coefficients[: self.DEGREE + 1]]
        if self.DEGREE == 0:
            return field.add(field.zeros(np.shape(x)), coeffs[0])
        top = coeffs[-1]
        out = x if top == 1 else field.mul(x, top)  # c_d x, then (.. + c_k) x ..
        for k in range(self.DEGREE - 1, -1, -1):
            if coeffs[k]:
                out = field.add(out, coeffs[k])
            if k:
                out = field.mul(out, x)
        return np.asarray(out)


@dataclass(frozen=True, slots=True)
class ParallelSum(Gadget):
    """The sum of ``count`` copies of ``subcircuit`` on consecutive inputs (draft 7.4.3).

    BBCGGI19, section 4.4: packing ``count`` identical sub-circuits into one gadget makes the
    proof ``O(sqrt(n))`` long instead of ``O(n)``.
    """

    subcircuit: Gadget
    count: int
    ARITY: int = 0
    DEGREE: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ARITY", self.subcircuit.ARITY * self.count)
        object.__setattr__(self, "DEGREE", self.subcircuit.DEGREE)

    def eval(self, field: Field, inp: FieldVec) -> FieldVec:
        """``sum_i subcircuit(inp[i*a : (i+1)*a])``."""
        a = self.subcircuit.ARITY
        grouped = inp.reshape((self.count, a, *inp.shape[1:])).swapaxes(0, 1)
        return field.sum(self.subcircuit.eval(field, grouped), axis=0)


class Valid(abc.ABC):
    """A validity circuit (draft 7.3.2): zero on valid encoded measurements.

    Subclasses set the parameters and implement encoding, truncation, decoding and the two
    halves of the circuit: the affine map to gadget inputs and the affine combination of the
    gadget outputs (with ``num_shares`` scaling constants, so that shares of the output add up).
    """

    field: Field
    GADGETS: tuple[Gadget, ...]
    GADGET_CALLS: tuple[int, ...]
    MEAS_LEN: int
    OUTPUT_LEN: int
    JOINT_RAND_LEN: int

    @abc.abstractmethod
    def encode(self, measurement: Any) -> FieldVec:
        """The encoded measurement, ``MEAS_LEN`` elements; InvalidArgument if out of domain."""

    def encode_unchecked(self, measurement: Any) -> FieldVec:
        """Hazardous: the encoding a client that skipped its own checks would send.

        Circuits whose encoding can carry an out-of-bounds measurement override this (with a
        false claim the proof cannot back); by default it is :meth:`encode`.
        """
        return self.encode(measurement)

    @abc.abstractmethod
    def truncate(self, meas: FieldVec) -> FieldVec:
        """The aggregatable output, ``OUTPUT_LEN`` elements (linear in ``meas``)."""

    @abc.abstractmethod
    def decode(self, output: FieldVec, num_measurements: int) -> Any:
        """The aggregate result from a sum of outputs."""

    @abc.abstractmethod
    def gadget_inputs(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int
    ) -> list[FieldVec]:
        """Per gadget, the inputs of every call: an array of shape ``(ARITY, calls)``."""

    @abc.abstractmethod
    def combine(
        self, meas: FieldVec, joint_rand: FieldVec, num_shares: int, outputs: list[FieldVec]
    ) -> int:
        """The circuit output from the measurement and every gadget call's output."""

    def eval(self, meas: FieldVec, joint_rand: FieldVec, num_shares: int = 1) -> int:
        """The circuit evaluated directly (for tests and the prover's sanity)."""
        ins = self.gadget_inputs(meas, joint_rand, num_shares)
        outs = [g.eval(self.field, x) for g, x in zip(self.GADGETS, ins, strict=True)]
        return self.combine(meas, joint_rand, num_shares, outs)

    def circuit_error(self) -> Fraction:
        """Probability over the joint randomness that the circuit is 0 on an invalid input.

        Zero for deterministic circuits; circuits with joint randomness override it.
        """
        return Fraction(0)

    # Derived lengths (draft 7.3.2).
    def prove_rand_len(self) -> int:
        """Length of the prover randomness: one seed per wire."""
        return sum(g.ARITY for g in self.GADGETS)

    def query_rand_len(self) -> int:
        """Length of the query randomness: one point per gadget."""
        return len(self.GADGETS)

    def proof_len(self) -> int:
        """Length of the proof."""
        return sum(
            g.ARITY + g.DEGREE * (next_power_of_2(1 + m) - 1) + 1
            for g, m in zip(self.GADGETS, self.GADGET_CALLS, strict=True)
        )

    def verifier_len(self) -> int:
        """Length of the verifier message."""
        return 1 + sum(g.ARITY + 1 for g in self.GADGETS)


def _evaluate_wires(field: Field, table: FieldVec, coeffs: FieldVec, points: int) -> FieldVec:
    """The wire polynomials at the ``points``-th roots of unity, ``points >= size``.

    With ``points = 2 * size`` (every degree-2 gadget) the even points are the ``size``-th
    roots, where the values are the table itself, and the odd points are one size-``size`` NTT
    of the coefficients twisted by a primitive ``points``-th root: half the work of a
    zero-padded transform.
    """
    size = table.shape[-1]
    if points != 2 * size:
        padded = field.zeros((table.shape[0], points))
        padded[:, :size] = coeffs
        return ntt(field, padded)
    twist = field.powers(field.root_of_unity(points), size)
    odd = ntt(field, field.mul(coeffs, twist))
    out = field.zeros((table.shape[0], points))
    out[:, 0::2] = table
    out[:, 1::2] = odd
    return out


def flp_error(valid: Valid) -> Fraction:
    """BBCGGI19 Theorem 4.3 per gadget, summed: ``sum_i DEGREE_i (P_i - 1) / (p - P_i)``.

    The probability, over the verifier's query point of each gadget (uniform among the
    non-roots of unity), that a proof whose gadget polynomial is not ``G_i`` of the wire
    polynomials passes the check ``G_i(x_i) == y_i``: their difference has degree at most
    ``DEGREE_i (P_i - 1)``.
    """
    p = valid.field.MODULUS
    total = Fraction(0)
    for g, calls in zip(valid.GADGETS, valid.GADGET_CALLS, strict=True):
        size = next_power_of_2(1 + calls)
        total += Fraction(g.DEGREE * (size - 1), p - size)
    return total


class FlpBBCGGI19:
    """The generic FLP over a validity circuit: ``prove``, ``query``, ``decide`` (draft 7.3.3)."""

    def __init__(self, valid: Valid) -> None:
        self.valid = valid
        self.field = valid.field
        self.PROVE_RAND_LEN = valid.prove_rand_len()
        self.QUERY_RAND_LEN = valid.query_rand_len()
        self.JOINT_RAND_LEN = valid.JOINT_RAND_LEN
        self.MEAS_LEN = valid.MEAS_LEN
        self.OUTPUT_LEN = valid.OUTPUT_LEN
        self.PROOF_LEN = valid.proof_len()
        self.VERIFIER_LEN = valid.verifier_len()

    def _check(self, name: str, vec: FieldVec, length: int) -> None:
        if len(vec) != length:
            raise InvalidArgument(f"{name} has {len(vec)} elements, expected {length}")

    def prove(self, meas: FieldVec, prove_rand: FieldVec, joint_rand: FieldVec) -> FieldVec:
        """The proof: per gadget, the wire seeds then the gadget polynomial's coefficients."""
        f, valid = self.field, self.valid
        self._check("measurement", meas, self.MEAS_LEN)
        self._check("prover randomness", prove_rand, self.PROVE_RAND_LEN)
        self._check("joint randomness", joint_rand, self.JOINT_RAND_LEN)
        inputs = valid.gadget_inputs(meas, joint_rand, 1)
        parts: list[FieldVec] = []
        offset = 0
        for g, calls, wires in zip(valid.GADGETS, valid.GADGET_CALLS, inputs, strict=True):
            size = next_power_of_2(1 + calls)
            seeds = prove_rand[offset : offset + g.ARITY]
            offset += g.ARITY
            table = f.zeros((g.ARITY, size))
            table[:, 0] = seeds
            table[:, 1 : calls + 1] = wires
            coeffs = inv_ntt(f, table)  # wire polynomials: value table[j, k] at alpha^k
            length = g.DEGREE * (size - 1) + 1
            points = next_power_of_2(length)
            gadget_poly = inv_ntt(f, g.eval(f, _evaluate_wires(f, table, coeffs, points)))
            gadget_poly = gadget_poly[:length]
            parts.extend((seeds, gadget_poly))
        return np.concatenate(parts)

    def query(
        self,
        meas: FieldVec,
        proof: FieldVec,
        query_rand: FieldVec,
        joint_rand: FieldVec,
        num_shares: int,
    ) -> FieldVec:
        """The verifier share for shares of the measurement and proof (linear in both).

        Raises InvalidProof if a query point is a ``P``-th root of unity (the draft's
        ``ERR_ABORT``: the answer would reveal a gadget output), probability ``P / p``.
        """
        f, valid = self.field, self.valid
        self._check("measurement", meas, self.MEAS_LEN)
        self._check("proof", proof, self.PROOF_LEN)
        self._check("query randomness", query_rand, self.QUERY_RAND_LEN)
        self._check("joint randomness", joint_rand, self.JOINT_RAND_LEN)
        inputs = valid.gadget_inputs(meas, joint_rand, num_shares)
        outputs: list[FieldVec] = []
        checks: list[FieldVec] = []
        offset = 0
        for i, (g, calls, wires) in enumerate(
            zip(valid.GADGETS, valid.GADGET_CALLS, inputs, strict=True)
        ):
            size = next_power_of_2(1 + calls)
            length = g.DEGREE * (size - 1) + 1
            seeds = proof[offset : offset + g.ARITY]
            gadget_poly = proof[offset + g.ARITY : offset + g.ARITY + length]
            offset += g.ARITY + length
            outputs.append(fold_eval_on_roots(f, gadget_poly, size)[1 : calls + 1])
            t = int(query_rand[i])
            if pow(t, size, f.MODULUS) == 1:
                raise InvalidProof("query point is a root of unity; retry with a fresh nonce")
            basis = lagrange_at(f, size, t)
            # sum_k table[j, k] l_k(t) with table[j, 0] = seed_j and table[j, 1..calls] = wires.
            x = f.add(f.mul(seeds, basis[0]), f.dot(wires, basis[1 : calls + 1]))
            y = poly_eval(f, gadget_poly, t)
            checks.extend((x, np.asarray([y], dtype=f.DTYPE).reshape(1)))
        v = valid.combine(meas, joint_rand, num_shares, outputs)
        return np.concatenate([f.vec([v]), *checks])

    def decide(self, verifier: FieldVec) -> bool:
        """Whether the combined verifier message accepts (draft 7.3.3, "Decision")."""
        f = self.field
        self._check("verifier", verifier, self.VERIFIER_LEN)
        offset = 1
        for g in self.valid.GADGETS:
            x = verifier[offset : offset + g.ARITY]
            y = int(verifier[offset + g.ARITY])
            offset += g.ARITY + 1
            if int(g.eval(f, x)) != y:
                return False
        return int(verifier[0]) == 0

    def encode(self, measurement: Any) -> FieldVec:
        """The circuit's encoding."""
        out = self.valid.encode(measurement)
        self._check("encoded measurement", out, self.MEAS_LEN)
        return out

    def truncate(self, meas: FieldVec) -> FieldVec:
        """The circuit's truncation."""
        return self.valid.truncate(meas)

    def decode(self, output: FieldVec, num_measurements: int) -> Any:
        """The circuit's decoding."""
        return self.valid.decode(output, num_measurements)
