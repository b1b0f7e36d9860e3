"""Polynomials over the VDAF fields: the number-theoretic transform and evaluation helpers.

The FLP of draft-irtf-cfrg-vdaf-07 (section 7.3.3) fixes the wire points to the powers of a
primitive ``P``-th root of unity ``alpha`` so that interpolation is an inverse NTT. These
helpers work on the last axis of a batch of polynomials (all wires of one gadget at once), so
each butterfly stage is one vectorised pass whatever the arity.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from secagg.errors import InvalidArgument
from secagg.validated._field import Field, FieldVec

__all__ = ["ntt", "inv_ntt", "poly_eval", "lagrange_at", "fold_eval_on_roots"]


@lru_cache(maxsize=64)
def _bitrev(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev


@lru_cache(maxsize=128)
def _twiddles(field: Field, root: int, half: int) -> FieldVec:
    return field.powers(root, half)


def _ntt(field: Field, a: FieldVec, root: int) -> FieldVec:
    n = a.shape[-1]
    if n & (n - 1):
        raise InvalidArgument("NTT length must be a power of two")
    lead = a.shape[:-1]
    out = a[..., _bitrev(n)]
    if np.dtype(object) == field.DTYPE:
        return _ntt_lazy(field, out, root)
    size = 2
    while size <= n:
        half = size // 2
        w = _twiddles(field, pow(root, n // size, field.MODULUS), half)
        blocks = out.reshape((*lead, n // size, size))
        even, odd = blocks[..., :half], blocks[..., half:]
        t = field.mul(odd, w)
        out = np.concatenate([field.add(even, t), field.sub(even, t)], axis=-1)
        out = out.reshape((*lead, n))
        size *= 2
    return out


def _ntt_lazy(field: Field, out: FieldVec, root: int) -> FieldVec:
    """The butterflies on Python ints, reducing only the products and the result.

    Values stay below ``(log2(n) + 1) * p`` in absolute value; half the big-int work.
    """
    p = field.MODULUS
    lead, n = out.shape[:-1], out.shape[-1]
    size = 2
    while size <= n:
        half = size // 2
        w = _twiddles(field, pow(root, n // size, p), half)
        blocks = out.reshape((*lead, n // size, size))
        even, odd = blocks[..., :half], blocks[..., half:]
        t = (odd * w) % p
        out = np.concatenate([even + t, even - t], axis=-1).reshape((*lead, n))
        size *= 2
    return np.asarray(out % p, dtype=object)


def ntt(field: Field, coeffs: FieldVec) -> FieldVec:
    """Evaluate polynomials at the ``n``-th roots of unity ``w^0, ..., w^(n-1)``.

    Coefficients lie on the last axis, of power-of-two length ``n``; ``w`` is
    ``field.root_of_unity(n)``.
    """
    n = coeffs.shape[-1]
    return _ntt(field, coeffs, field.root_of_unity(n))


def inv_ntt(field: Field, values: FieldVec) -> FieldVec:
    """Coefficients of the polynomials of degree < n taking ``values`` at ``w^0..w^(n-1)``."""
    n = values.shape[-1]
    root = field.inv(field.root_of_unity(n))
    return field.mul(_ntt(field, values, root), field.inv(n))


def poly_eval(field: Field, coeffs: FieldVec, t: int) -> FieldVec:
    """Evaluate polynomials (coefficients on the last axis) at the scalar ``t``."""
    return field.dot(coeffs, field.powers(t, coeffs.shape[-1]))


def lagrange_at(field: Field, n: int, t: int) -> FieldVec:
    """The Lagrange basis of the points ``w^0..w^(n-1)`` evaluated at ``t``.

    ``w`` is a primitive ``n``-th root of unity and ``t`` must not be one of the points.
    ``l_k(t) = (t^n - 1) w^k / (n (t - w^k))``, so the value at ``t`` of the polynomial taking
    ``v_k`` at ``w^k`` is the dot product with ``v``: ``O(n)`` where interpolation is
    ``O(n log n)``.
    """
    p = field.MODULUS
    w = field.root_of_unity(n)
    pts = field.to_ints(field.powers(w, n))
    scale = (pow(t, n, p) - 1) * field.inv(n) % p
    if scale == 0:
        raise InvalidArgument("t is an interpolation point")
    inv = field.batch_inv([(t - x) % p for x in pts])
    return field.vec(scale * x % p * i % p for x, i in zip(pts, inv, strict=True))


def fold_eval_on_roots(field: Field, coeffs: FieldVec, n: int) -> FieldVec:
    """Evaluate one polynomial (any length) at the ``n``-th roots of unity ``w^0..w^(n-1)``.

    Reduces the polynomial modulo ``x^n - 1`` (``w^n = 1``) by summing ``n``-long chunks of
    coefficients, then takes one NTT of length ``n``.
    """
    length = coeffs.shape[-1]
    chunks = -(-length // n)
    padded = field.zeros(chunks * n)
    padded[:length] = coeffs
    return ntt(field, field.sum(padded.reshape(chunks, n), axis=0))
