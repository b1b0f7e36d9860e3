"""Norm clipping, the step that bounds a query's sensitivity before noise is added.

Clipping every contribution to norm at most ``C`` makes the sum's sensitivity ``C`` under
add/remove-one neighbouring (Abadi et al. 2016, "Deep Learning with Differential Privacy",
section 3.1). Both helpers scale the whole vector (never clamp coordinates), so the
direction of an update is preserved.

Clipping runs once per client per round on vectors of ``1e5`` and more coordinates, so
:func:`l2_norm` sums squares in blocks of :data:`NORM_BLOCK` coordinates: OpenBLAS runs a
``ddot`` of more than 10,000 elements on all its threads, and waking them (and their
busy-waiting afterwards) costs far more than the single-threaded dot of a model update.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp._arrays import refuse_tensor
from dp.errors import InvalidArgument

__all__ = [
    "NORM_BLOCK",
    "as_finite_vector",
    "clip_l1",
    "clip_l2",
    "clip_l2_unchecked",
    "l2_norm",
    "positive_real",
]

NORM_BLOCK = 8192
"""Coordinates per partial dot product in :func:`l2_norm` (below OpenBLAS's 10,000 threshold
for a multi-threaded ``ddot``)."""


def positive_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float > 0, or raise :class:`~dp.errors.InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise InvalidArgument(f"{name} must be finite and > 0, got {value!r}")
    return out


def _float_vector(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """``x`` as a 1-D float64 array (no copy when it already is one); finiteness unchecked."""
    refuse_tensor(x, name)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidArgument(f"{name} must be one-dimensional, got shape {arr.shape}")
    return np.asarray(arr, dtype=np.float64)


def as_finite_vector(x: ArrayLike, name: str = "x") -> NDArray[np.float64]:
    """Return ``x`` as a 1-D float64 array with finite entries, or raise.

    The result is ``x`` itself when ``x`` already is a float64 vector: treat it as
    read-only.
    """
    out = _float_vector(x, name)
    if not np.isfinite(out).all():
        raise InvalidArgument(f"{name} holds NaN or infinity")
    return out


def _sum_of_squares(arr: NDArray[np.float64]) -> float:
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is handled by the caller
        for start in range(0, arr.size, NORM_BLOCK):
            block = arr[start : start + NORM_BLOCK]
            total += float(np.dot(block, block))
    return total


def l2_norm(x: NDArray[np.float64]) -> float:
    """The Euclidean norm of a finite float64 vector, single-threaded and overflow-safe.

    Squares are summed in blocks of :data:`NORM_BLOCK` (see the module docstring); when the
    sum of squares overflows, the vector is first scaled by its largest magnitude.

    Raises:
        InvalidArgument: if ``x`` holds NaN or infinity.
    """
    squares = _sum_of_squares(x)
    if math.isfinite(squares):  # then every entry is finite: NaN and inf propagate
        return math.sqrt(squares)
    if not np.isfinite(x).all():
        raise InvalidArgument("x holds NaN or infinity")
    largest = float(np.max(np.abs(x)))
    return largest * math.sqrt(_sum_of_squares(x / largest))


def clip_l2(x: ArrayLike, bound: float) -> NDArray[np.float64]:
    """Scale ``x`` so that its L2 norm is at most ``bound`` (a no-op inside the ball).

    A vector already inside the ball is returned unchanged (as a copy); one outside is
    scaled to norm ``bound * (1 - 2**-50)``, so the result's norm as computed by
    :func:`l2_norm` never exceeds ``bound``. Entries too large to square in float64 are
    handled without overflow.

    Args:
        x: a 1-D real vector.
        bound: the L2 clipping norm, > 0.

    Returns:
        A new float64 array.

    Raises:
        InvalidArgument: on a bad bound, or a vector that is not 1-D, real and finite.
    """
    b = positive_real("bound", bound)
    out = clip_l2_unchecked(_float_vector(x, "x"), b)
    shared = out is x or (isinstance(x, np.ndarray) and np.may_share_memory(out, x))
    return out.copy() if shared else out


def clip_l2_unchecked(
    arr: NDArray[np.float64], bound: float, out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """:func:`clip_l2` for a float64 vector and a valid bound, without the defensive copy.

    Returns ``arr`` itself when it is inside the ball (treat the result as read-only), the
    scaled vector otherwise, written into ``out`` when given (same shape as ``arr``).

    Raises:
        InvalidArgument: if ``arr`` holds NaN or infinity.
    """
    norm = l2_norm(arr)
    if norm <= bound:
        return arr
    if math.isinf(norm):  # finite entries whose norm exceeds float64: shrink them first
        arr = arr / float(np.max(np.abs(arr)))
        norm = l2_norm(arr)
    # Aim a hair inside the ball so float rounding of the product cannot leave it; the
    # result then passes ``norm <= bound`` and clipping is idempotent. The rounding errors
    # of the product add up over many coordinates: in the rare case they still leave the
    # ball, step further inside until the computed norm is within the bound.
    scaled: NDArray[np.float64] = np.multiply(arr, bound * (1 - 2.0**-50) / norm, out=out)
    while l2_norm(scaled) > bound:
        scaled *= 1 - 2.0**-40
    return scaled


def clip_l1(x: ArrayLike, bound: float) -> NDArray[np.float64]:
    """Scale ``x`` so that its L1 norm is at most ``bound`` (a no-op inside the ball).

    Args:
        x: a 1-D real vector.
        bound: the L1 clipping norm, > 0.

    Returns:
        A new float64 array.
    """
    b = positive_real("bound", bound)
    arr = as_finite_vector(x)
    norm = float(np.sum(np.abs(arr)))
    if norm <= b:
        shared = arr is x or (isinstance(x, np.ndarray) and np.may_share_memory(arr, x))
        return arr.copy() if shared else arr
    # A hair inside the ball, so float rounding of the product cannot leave it.
    out: NDArray[np.float64] = arr * (b * (1 - 2.0**-50) / norm)
    return out
