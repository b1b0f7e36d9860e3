"""The workloads whose error a factorisation is judged by, and their error reductions.

A factorisation ``A = B C`` releases ``A x + B z``; with the per-round noise ``w = N z``
(``N`` a left inverse of ``C``), the error is ``A N z`` whatever ``B`` is chosen, so only
``A N`` matters. Two workloads:

* ``"prefix"``: ``A = S``, the lower-triangular all-ones matrix (prefix sums, the DP-FTRL
  model state; Kairouz et al. 2021, Denisov et al. 2022);
* ``"iterate"``: the iterates of SGD with heavy-ball momentum ``beta`` and a constant
  learning rate, ``A = S M_beta`` with ``M_beta[i, j] = beta^(i - j)`` (the momentum
  workload of Denisov et al. 2022 and Choquette-Choo et al. 2023); ``beta = 0`` is prefix.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from dp.errors import InvalidArgument

__all__ = ["ERROR_KINDS", "REDUCTIONS", "apply_workload", "reduce_rows", "toeplitz_workload_coefs"]

ERROR_KINDS = ("prefix", "iterate")
REDUCTIONS = ("mean", "max")


def check_kind(kind: str, reduction: str, momentum: float) -> float:
    """Validate the error arguments; return the momentum in force (0 for prefix)."""
    if kind not in ERROR_KINDS:
        raise InvalidArgument(f"kind must be one of {ERROR_KINDS}, got {kind!r}")
    if reduction not in REDUCTIONS:
        raise InvalidArgument(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise InvalidArgument("momentum must be a real number")
    beta = float(momentum)
    if not 0.0 <= beta < 1.0:
        raise InvalidArgument(f"momentum must be in [0, 1), got {momentum!r}")
    return beta if kind == "iterate" else 0.0


def apply_workload(noise_matrix: NDArray[np.float64], beta: float) -> NDArray[np.float64]:
    """``A N`` for the workload with momentum ``beta`` (rows are rounds)."""
    filtered = noise_matrix if beta == 0.0 else lfilter([1.0], [1.0, -beta], noise_matrix, axis=0)
    out: NDArray[np.float64] = np.cumsum(filtered, axis=0)
    return out


def toeplitz_workload_coefs(noise_coefs: NDArray[np.float64], beta: float) -> NDArray[np.float64]:
    """The coefficients of the lower-triangular Toeplitz ``A N`` when ``N`` is Toeplitz."""
    return apply_workload(noise_coefs, beta)


def reduce_rows(row_sq_norms: NDArray[np.float64], reduction: str) -> float:
    """Mean (``||A N||_F^2 / n``) or max (worst round) of the per-round squared errors."""
    if reduction == "mean":
        return float(np.mean(row_sq_norms))
    return float(np.max(row_sq_norms))


def toeplitz_row_sq_norms(coefs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row ``t`` of a lower-triangular Toeplitz matrix has squared norm ``sum_{m <= t} a_m^2``."""
    out: NDArray[np.float64] = np.cumsum(coefs * coefs)
    return out
