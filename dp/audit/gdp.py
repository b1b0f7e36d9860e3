"""Gaussian differential privacy: the ``mu -> (epsilon, delta)`` conversion and back.

A mechanism is ``mu``-GDP when distinguishing any neighbouring pair is at least as hard as
telling ``N(0, 1)`` from ``N(mu, 1)`` (Dong, Roth and Su 2022, "Gaussian differential
privacy", JRSS-B). The Gaussian mechanism of noise multiplier ``z`` is exactly ``1/z``-GDP.
Both empirical methods that fit Gaussians (the canary-client estimate of Andrew et al. 2024
and the Gaussian-DP one-run bound of Mahloujifar, Melis and Chaudhuri 2024) report their
``mu`` as an epsilon through :func:`gdp_epsilon`.
"""

from __future__ import annotations

import math

from scipy import optimize, special

from dp.audit._checks import nonnegative, probability
from dp.errors import InvalidArgument

__all__ = ["gdp_delta", "gdp_epsilon", "gdp_mu"]

#: Above this ``mu`` no finite epsilon exists for any ``delta`` the library accepts.
_MU_MAX = 1e4


def gdp_delta(mu: float, epsilon: float) -> float:
    """The ``delta`` at which ``mu``-GDP is ``(epsilon, delta)``-DP (the tight curve).

    Dong, Roth and Su (2022), Corollary 2.13:
    ``delta = Phi(-epsilon/mu + mu/2) - e^epsilon * Phi(-epsilon/mu - mu/2)``, with the
    second term computed in log-space so it stays accurate for large ``epsilon``.

    Raises:
        InvalidArgument: ``mu`` or ``epsilon`` negative or not finite.
    """
    mu = nonnegative("mu", mu)
    epsilon = nonnegative("epsilon", epsilon)
    if mu == 0.0:
        return 0.0
    a = -epsilon / mu + mu / 2.0
    b = -epsilon / mu - mu / 2.0
    first = float(special.ndtr(a))
    second = math.exp(epsilon + float(special.log_ndtr(b)))
    return max(0.0, first - second)


def gdp_epsilon(mu: float, delta: float) -> float:
    """The smallest ``epsilon`` with ``mu``-GDP implying ``(epsilon, delta)``-DP.

    Solves :func:`gdp_delta` for ``epsilon`` (it decreases in ``epsilon``) to a relative
    accuracy of ``1e-12``.

    Raises:
        InvalidArgument: ``mu`` negative or not finite, ``delta`` outside ``(0, 1)``.
    """
    mu = nonnegative("mu", mu)
    delta = probability("delta", delta)
    if mu > _MU_MAX:
        raise InvalidArgument(f"mu must be at most {_MU_MAX:g}, got {mu!r}")
    if gdp_delta(mu, 0.0) <= delta:
        return 0.0
    high = mu * mu / 2.0 + mu * math.sqrt(2.0 * math.log(1.0 / delta)) + 1.0
    while gdp_delta(mu, high) > delta:
        high *= 2.0
    root: float = optimize.brentq(
        lambda e: gdp_delta(mu, e) - delta, 0.0, high, xtol=1e-12, rtol=1e-12
    )
    return root


def gdp_mu(epsilon: float, delta: float) -> float:
    """The ``mu`` whose tight ``(epsilon, delta)`` curve passes through the given point.

    The inverse of :func:`gdp_epsilon` in ``mu`` (``delta`` grows with ``mu``); used to put a
    claimed epsilon on the Gaussian-DP scale.

    Raises:
        InvalidArgument: ``epsilon`` negative or not finite, ``delta`` outside ``(0, 1)``.
    """
    epsilon = nonnegative("epsilon", epsilon)
    delta = probability("delta", delta)
    high = 1.0
    while gdp_delta(high, epsilon) < delta:
        high *= 2.0
        if high > _MU_MAX:
            raise InvalidArgument("no mu reaches this (epsilon, delta)")
    root: float = optimize.brentq(
        lambda m: gdp_delta(m, epsilon) - delta, 0.0, high, xtol=1e-13, rtol=1e-12
    )
    return root
