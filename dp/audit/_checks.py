"""Argument checks shared by :mod:`dp.audit` (typed errors, never a bare ValueError)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp.errors import InvalidArgument


def probability(name: str, value: object, *, open_low: bool = True) -> float:
    """``value`` as a float in ``(0, 1)`` (or ``[0, 1)`` when ``open_low`` is false)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    low_ok = out > 0.0 if open_low else out >= 0.0
    if not (low_ok and out < 1.0):
        bracket = "(0, 1)" if open_low else "[0, 1)"
        raise InvalidArgument(f"{name} must be in {bracket}, got {value!r}")
    return out


def nonnegative(name: str, value: object) -> float:
    """``value`` as a finite float ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not (math.isfinite(out) and out >= 0.0):
        raise InvalidArgument(f"{name} must be finite and >= 0, got {value!r}")
    return out


def positive(name: str, value: object) -> float:
    """``value`` as a finite float ``> 0``."""
    out = nonnegative(name, value)
    if out <= 0.0:
        raise InvalidArgument(f"{name} must be > 0, got {value!r}")
    return out


def count(name: str, value: object, *, minimum: int = 0, maximum: int = 2**40) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    out = int(value)
    if not minimum <= out <= maximum:
        raise InvalidArgument(f"{name} must be in [{minimum}, {maximum}], got {out}")
    return out


def real_vector(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """A finite 1-D float64 vector (refuses text, complex, bool, object and ragged input)."""
    try:
        arr = np.asarray(values)
    except ValueError as error:  # ragged
        raise InvalidArgument(f"{name} must be a 1-D vector of reals") from error
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise InvalidArgument(f"{name} must be a 1-D vector of reals, got {arr.dtype} {arr.shape}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{name} must be finite")
    return out


def bool_vector(name: str, values: ArrayLike) -> NDArray[np.bool_]:
    """A 1-D boolean vector (0/1 integers accepted; anything else refused)."""
    try:
        arr = np.asarray(values)
    except ValueError as error:
        raise InvalidArgument(f"{name} must be a 1-D vector of booleans") from error
    if arr.ndim != 1:
        raise InvalidArgument(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.copy()
    if arr.dtype.kind in "iu" and np.all((arr == 0) | (arr == 1)):
        return arr.astype(np.bool_)
    raise InvalidArgument(f"{name} must hold booleans (or 0/1), got {arr.dtype}")


def audit_inputs(
    inclusion: ArrayLike,
    delta: object,
    confidence: object,
    claimed_epsilon: object,
    scores: object,
    guesses: object,
) -> tuple[NDArray[np.bool_], float, float, float | None]:
    """The checks every one-run audit starts with: ``(included, delta, confidence, claim)``.

    Raises:
        InvalidArgument: no canary, a probability out of range, a negative claim, or not
            exactly one of ``scores`` and ``guesses``.
    """
    included = bool_vector("inclusion", inclusion)
    if included.size == 0:
        raise InvalidArgument("at least one canary is needed")
    delta_value = probability("delta", delta)
    confidence_value = probability("confidence", confidence)
    claim = None if claimed_epsilon is None else nonnegative("claimed_epsilon", claimed_epsilon)
    if (scores is None) == (guesses is None):
        raise InvalidArgument("give exactly one of scores and guesses")
    return included, delta_value, confidence_value, claim
