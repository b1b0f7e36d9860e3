"""One-shot empirical privacy estimation for federated learning with canary clients.

Andrew, Kairouz, Oh, Oprea, McMahan and Suriyakumar, "One-shot empirical privacy estimation
for federated learning", ICLR 2024. ``k`` canary clients each hold a random unit direction
``c_j`` (isotropic in the model's ``d`` dimensions, drawn from the OS CSPRNG) and, whenever
selected, submit ``clip_norm * c_j`` as their update. After the run the auditor measures
the cosine between each canary direction and the final model change ``theta_T - theta_0``.
Directions that were never inserted have cosines concentrated around 0 with standard
deviation ``1/sqrt(d)`` (the null); inserted ones are shifted. Fitting a Gaussian to each
population and reading the shift in units of the spread as a Gaussian-DP ``mu``
(:func:`dp.audit.fit_gaussian_mu`) gives the estimate ``epsilon = gdp_epsilon(mu, delta)``
(their section 3, with the equal-variance Gaussian-DP conversion).

It is an *estimate*, not a bound: it assumes the cosines are Gaussian and measures the
privacy of the final model against this adversary. Its strength is that it costs no extra
run and no retraining; with ``d`` much larger than ``k`` the canaries barely disturb each
other or the model.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp._rng import random_uint64
from dp.audit._checks import count, nonnegative, probability, real_vector
from dp.audit.gdp import gdp_epsilon
from dp.audit.one_run import fit_gaussian_mu
from dp.audit.result import AuditResult
from dp.errors import InvalidArgument

__all__ = ["canary_client_estimate", "canary_cosines", "random_canary_directions"]

_TWO_POW_M53 = 2.0**-53


def _standard_normals(size: int) -> NDArray[np.float64]:
    """``size`` independent N(0, 1) floats from the OS CSPRNG (Box-Muller on 53-bit uniforms).

    Directions need unpredictability and isotropy, not exactness (they are not DP noise),
    so the float transform is fine here.
    """
    half = (size + 1) // 2
    words = random_uint64(2 * half)
    u = ((words >> np.uint64(11)).astype(np.float64) + 0.5) * _TWO_POW_M53  # in (0, 1)
    radius = np.sqrt(-2.0 * np.log(u[:half]))
    angle = 2.0 * math.pi * u[half:]
    out = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
    return out[:size]


def random_canary_directions(canaries: int, dimension: int) -> NDArray[np.float64]:
    """``canaries`` independent uniformly random unit vectors in ``R^dimension``, as rows.

    Normalised standard Gaussian vectors (uniform on the sphere), drawn from the OS CSPRNG,
    never from numpy's or Python's generators: an adversary who could predict the canaries
    could shape the model to fake (or hide) their effect.

    Raises:
        InvalidArgument: ``canaries < 1``, ``dimension < 2`` or more than 2**27 entries.
    """
    canaries = count("canaries", canaries, minimum=1)
    dimension = count("dimension", dimension, minimum=2)
    if canaries * dimension > 2**27:
        raise InvalidArgument("canaries * dimension must be at most 2**27 (1 GiB of floats)")
    rows = _standard_normals(canaries * dimension).reshape(canaries, dimension)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: NDArray[np.float64] = rows / norms
    return out


def canary_cosines(directions: ArrayLike, model_delta: ArrayLike) -> NDArray[np.float64]:
    """Cosine between each canary direction (a row) and the final model change.

    ``directions`` may be float32 (half the memory of a large canary matrix; the products
    are then float32, about 1e-6 relative, far below the cosines' spread) or float64.

    Raises:
        InvalidArgument: shapes disagree, non-finite entries, or a zero vector.
    """
    rows = np.asarray(directions)
    if rows.dtype not in (np.float32, np.float64):  # float32 halves a large canary matrix
        rows = rows.astype(np.float64) if rows.dtype.kind in "iu" else rows
        if rows.dtype.kind != "f":
            raise InvalidArgument("directions must be a real (float32 or float64) array")
    delta = real_vector("model_delta", model_delta)
    if rows.ndim != 2 or rows.shape[1] != delta.size:
        raise InvalidArgument("directions must be a (canaries, dimension) array")
    if not np.all(np.isfinite(rows)):
        raise InvalidArgument("directions must be finite")
    delta_norm = float(np.linalg.norm(delta))
    row_norms = np.linalg.norm(rows, axis=1).astype(np.float64)
    if delta_norm == 0.0 or np.any(row_norms == 0.0):
        raise InvalidArgument("a cosine with a zero vector is undefined")
    dots = (rows @ delta.astype(rows.dtype)).astype(np.float64)
    out: NDArray[np.float64] = dots / (row_norms * delta_norm)
    return out


def canary_client_estimate(
    cosines: ArrayLike,
    *,
    delta: float,
    null_cosines: ArrayLike | None = None,
    dimension: int | None = None,
    claimed_epsilon: float | None = None,
) -> AuditResult:
    """The epsilon estimate of Andrew et al. (2024) from the inserted canaries' cosines.

    The null population is ``null_cosines`` (directions drawn the same way but never
    inserted) when given, else the analytic null ``N(0, 1/dimension)``; the Gaussian fit
    :func:`dp.audit.fit_gaussian_mu` gives ``mu`` and ``gdp_epsilon(mu, delta)`` the estimate.

    Raises:
        InvalidArgument: fewer than two cosines, neither or both of ``null_cosines`` and
            ``dimension``, ``delta`` outside (0, 1).
    """
    observed = real_vector("cosines", cosines)
    delta = probability("delta", delta)
    if claimed_epsilon is not None:
        claimed_epsilon = nonnegative("claimed_epsilon", claimed_epsilon)
    if (null_cosines is None) == (dimension is None):
        raise InvalidArgument("give exactly one of null_cosines and dimension")
    if observed.size < 2:
        raise InvalidArgument("at least two canaries are needed")
    if null_cosines is not None:
        mu = fit_gaussian_mu(observed, real_vector("null_cosines", null_cosines))
    else:
        d = count("dimension", dimension, minimum=2)
        spread = math.sqrt(0.5 * (float(np.var(observed, ddof=1)) + 1.0 / d))
        mu = max(0.0, float(np.mean(observed)) / spread)
    mu = min(mu, 1e4)
    return AuditResult(
        method="canary_clients",
        delta=delta,
        epsilon_lower_bound=None,
        confidence=None,
        epsilon_estimate=gdp_epsilon(mu, delta),
        mu_lower_bound=None,
        mu_estimate=mu,
        claimed_epsilon=claimed_epsilon,
        canaries=int(observed.size),
    )
