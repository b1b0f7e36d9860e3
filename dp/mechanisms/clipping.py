"""Norm clipping, the step that bounds a query's sensitivity before noise is added.

Clipping every contribution to norm at most ``C`` makes the sum's sensitivity ``C`` under
add/remove-one neighbouring (Abadi et al. 2016, "Deep Learning with Differential Privacy",
section 3.1). Both helpers scale the whole vector (never clamp coordinates), so the
direction of an update is preserved.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp.errors import InvalidArgument

__all__ = ["as_finite_vector", "clip_l1", "clip_l2", "positive_real"]


def positive_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float > 0, or raise :class:`~dp.errors.InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise InvalidArgument(f"{name} must be finite and > 0, got {value!r}")
    return out


def as_finite_vector(x: ArrayLike, name: str = "x") -> NDArray[np.float64]:
    """Return ``x`` as a 1-D float64 array with finite entries, or raise."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise InvalidArgument(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidArgument(f"{name} must be one-dimensional, got shape {arr.shape}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{name} holds NaN or infinity")
    return out


def _scale_to(arr: NDArray[np.float64], norm: float, bound: float) -> NDArray[np.float64]:
    if norm <= bound:
        return arr
    # Aim a hair inside the ball so float rounding of the product cannot leave it; the
    # result then passes ``norm <= bound`` and clipping is idempotent.
    out: NDArray[np.float64] = arr * (bound * (1 - 2.0**-50) / norm)
    return out


def clip_l2(x: ArrayLike, bound: float) -> NDArray[np.float64]:
    """Scale ``x`` so that its L2 norm is at most ``bound`` (a no-op inside the ball).

    A vector already inside the ball is returned unchanged; one outside is scaled to norm
    ``bound * (1 - 2**-50)``, so the result's computed norm never exceeds ``bound``.

    Args:
        x: a 1-D real vector.
        bound: the L2 clipping norm, > 0.

    Returns:
        A new float64 array.
    """
    b = positive_real("bound", bound)
    arr = as_finite_vector(x)
    return _scale_to(arr, float(np.linalg.norm(arr)), b)


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
    return _scale_to(arr, float(np.sum(np.abs(arr))), b)
