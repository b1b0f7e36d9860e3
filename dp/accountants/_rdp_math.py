"""Renyi-DP curves of the supported mechanisms, and the RDP to (epsilon, delta) conversion.

Every function returns, for an array of orders alpha > 1, an upper bound on the Renyi
divergence of the mechanism's output distributions on neighbouring inputs. All sums are in
log-space (``scipy.special``) so orders up to several thousand do not overflow.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "DEFAULT_ORDERS",
    "rdp_gaussian",
    "rdp_laplace",
    "rdp_discrete_laplace",
    "rdp_zcdp",
    "rdp_sampled_gaussian",
    "rdp_skellam",
    "rdp_distributed_discrete_gaussian",
    "rdp_sampled_without_replacement",
    "rdp_poisson_general",
    "epsilon_from_rdp",
    "delta_from_rdp",
]

FloatArray = NDArray[np.float64]


def _default_orders() -> FloatArray:
    fine = [1.01, 1.02, 1.03, 1.05, 1.07, 1.1, 1.15]
    tenth = [1 + x / 10.0 for x in range(1, 100)]
    quarter = [x / 4.0 for x in range(5, 44)]
    integers = list(range(11, 64))
    large = [
        64, 72, 80, 88, 96, 112, 128, 144, 160, 192, 224, 256, 320, 384, 448, 512,
        640, 768, 896, 1024, 1280, 1536, 2048, 3072, 4096,
    ]  # fmt: skip
    return np.unique(np.array(fine + tenth + quarter + integers + large, dtype=np.float64))


DEFAULT_ORDERS: FloatArray = _default_orders()
"""Orders from 1.01 to 4096: a superset of the default orders of dp_accounting and Opacus."""


def rdp_zcdp(orders: FloatArray, rho: float) -> FloatArray:
    """RDP of a rho-zCDP mechanism: ``alpha * rho`` (Bun and Steinke 2016, Definition 1.1)."""
    with np.errstate(over="ignore"):
        return np.asarray(orders * rho, dtype=np.float64)


def rdp_gaussian(orders: FloatArray, noise_multiplier: float) -> FloatArray:
    """RDP of the Gaussian mechanism: ``alpha / (2 sigma^2)`` (Mironov 2017, Proposition 7).

    ``inf`` when ``sigma^2`` underflows to 0, 0 when it overflows (both the limits).
    """
    inverse = 1.0 / noise_multiplier
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(orders * (0.5 * inverse * inverse), dtype=np.float64)


def rdp_laplace(orders: FloatArray, scale: float) -> FloatArray:
    """RDP of the Laplace mechanism with scale ``b`` (Mironov 2017, Proposition 6).

    ``1/(alpha-1) log(alpha/(2alpha-1) e^{(alpha-1)/b} + (alpha-1)/(2alpha-1) e^{-alpha/b})``,
    capped at the pure-DP value ``1/b``.
    """
    a = orders
    with np.errstate(over="ignore", invalid="ignore"):
        log_first = np.log(a / (2 * a - 1)) + (a - 1) / scale
        log_second = np.log((a - 1) / (2 * a - 1)) - a / scale
        value = np.logaddexp(log_first, log_second) / (a - 1)
        # nan only where 1/b overflowed: the pure-DP value (inf) is then the bound.
        return np.asarray(np.fmin(value, 1.0 / scale), dtype=np.float64)


def rdp_discrete_laplace(orders: FloatArray, scale: float, sensitivity: int) -> FloatArray:
    """Exact RDP of the discrete Laplace mechanism with integer sensitivity ``Delta``.

    With ``a = e^{-1/t}`` and ``P(x) = (1-a)/(1+a) a^{|x|}``, the Renyi moment
    ``sum_x P(x)^alpha P(x - Delta)^{1-alpha}`` splits into three geometric series
    (``x <= 0``, ``0 < x < Delta``, ``x >= Delta``)::

        (1-a)/(1+a) [a^{(1-alpha)Delta}/(1-a) + a^{alpha Delta}/(1-a)
                     + a^{(1-alpha)Delta} b (1 - b^{Delta-1}) / (1 - b)],  b = a^{2 alpha - 1}

    summed in log-space; the pair is symmetric, so this is both directions. Capped at the
    pure-DP value ``Delta / t``; a relative ``1e-12`` is added for float rounding.
    """
    a = np.asarray(orders, dtype=np.float64)
    delta_t = sensitivity / scale
    if not math.isfinite(delta_t) or not math.isfinite(1.0 / scale):
        return np.full(a.shape, math.inf)
    log_1ma = math.log(-math.expm1(-1.0 / scale))
    log_norm = log_1ma - math.log1p(math.exp(-1.0 / scale))
    outer = (a - 1.0) * delta_t - log_1ma
    far = -a * delta_t - log_1ma
    terms = [outer, far]
    if sensitivity >= 2:
        log_b = -(2.0 * a - 1.0) / scale
        # log(b (1 - b^{Delta-1}) / (1 - b)); b < 1 since alpha > 1/2.
        middle = (
            (a - 1.0) * delta_t
            + log_b
            + np.log(-np.expm1((sensitivity - 1) * log_b))
            - np.log(-np.expm1(log_b))
        )
        terms.append(middle)
    with np.errstate(over="ignore", invalid="ignore"):
        log_moment = log_norm + np.logaddexp.reduce(np.stack(terms), axis=0)
        values = np.maximum(log_moment, 0.0) / (a - 1.0) * (1.0 + 1e-12)
        # fmin: a nan from an overflowed term falls back to the pure-DP cap.
        return np.asarray(np.fmin(values, delta_t * (1.0 + 1e-12)), dtype=np.float64)


def _log_binom(n: FloatArray | float, k: FloatArray) -> FloatArray:
    """Logarithm of |C(n, k)| for real n and integer-valued k >= 0."""
    return np.asarray(
        special.gammaln(np.asarray(n) + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1),
        dtype=np.float64,
    )


def _log_a_integer(q: float, sigma: float, alpha: int) -> float:
    """The log of A_alpha at an integer order (Mironov, Talwar, Zhang 2019, Section 3.2)."""
    k = np.arange(alpha + 1, dtype=np.float64)
    log_terms = (
        _log_binom(float(alpha), k)
        + k * math.log(q)
        + (alpha - k) * math.log1p(-q)
        + (k * k - k) / (2.0 * sigma**2)
    )
    return float(special.logsumexp(log_terms))


def _log_a_fractional(q: float, sigma: float, alphas: FloatArray) -> FloatArray:
    """The log of A_alpha at fractional orders (Mironov, Talwar, Zhang 2019, Section 3.3).

    The integral is split at ``z0 = sigma^2 log(1/q - 1) + 1/2`` where the two mixture
    components are equal, and each side is a convergent generalised binomial series whose
    terms carry signs; both are summed in log-space, for all orders at once, until the
    terms are negligible. Past ``i > alpha`` the coefficients alternate in sign and the
    terms decay polynomially, so the remainder is at most a few times the last term: the
    sum stops at e^-27 of the largest term and a generous bound on the remainder is added
    (a relative error of ~1e-7 at most, always upwards).
    """
    z0 = sigma**2 * math.log(1.0 / q - 1.0) + 0.5
    log_q, log_1mq = math.log(q), math.log1p(-q)
    count = alphas.shape[0]
    log_pos = np.full(count, -np.inf)
    log_neg = np.full(count, -np.inf)
    best = np.full(count, -np.inf)
    last = np.full(count, np.inf)
    done_at = np.zeros(count, dtype=np.float64)
    active = np.arange(count)
    start, chunk = 0, 1024
    while active.size and start < 2_000_000:
        i = np.arange(start, start + chunk, dtype=np.float64)[:, None]
        alpha = alphas[active][None, :]
        log_coef = _log_binom(alpha, i)
        sign = np.asarray(
            special.gammasgn(alpha + 1) * special.gammasgn(alpha - i + 1), dtype=np.float64
        )
        j = alpha - i
        log_t1 = (
            log_coef
            + i * log_q
            + j * log_1mq
            + (i * i - i) / (2.0 * sigma**2)
            + special.log_ndtr((z0 - i) / sigma)
        )
        log_t2 = (
            log_coef
            + j * log_q
            + i * log_1mq
            + (j * j - j) / (2.0 * sigma**2)
            + special.log_ndtr((j - z0) / sigma)
        )
        both = np.logaddexp(log_t1, log_t2)  # same sign for the pair at each i
        pos = special.logsumexp(np.where(sign > 0, both, -np.inf), axis=0)
        neg = special.logsumexp(np.where(sign < 0, both, -np.inf), axis=0)
        log_pos[active] = np.logaddexp(log_pos[active], pos)
        log_neg[active] = np.logaddexp(log_neg[active], neg)
        best[active] = np.maximum(best[active], np.max(both, axis=0))
        last[active] = np.max(both[-16:], axis=0)
        start += chunk
        done_at[active] = start
        finished = (start > alphas[active] + 2) & (last[active] < best[active] - 27.0)
        active = active[~finished]
        chunk *= 2
    if np.any(log_neg >= log_pos):  # pragma: no cover - would mean a numerical breakdown
        return np.where(log_neg >= log_pos, np.inf, log_pos)
    log_sum = log_pos + np.log1p(-np.exp(log_neg - log_pos))
    return np.asarray(np.logaddexp(log_sum, last + np.log(4.0 * done_at)), dtype=np.float64)


_SAMPLED_SIGMA_RANGE = (1e-6, 1e6)
"""Noise multipliers for which the sampled Gaussian's series are summed; outside it the
un-sampled Gaussian's RDP is used (``alpha / (2 sigma^2)``: astronomically large, or below
``2e-9`` at order 4096), which keeps the series away from overflow and non-convergence."""


def rdp_sampled_gaussian(orders: FloatArray, rate: float, noise_multiplier: float) -> FloatArray:
    """Exact RDP of the Poisson-sampled Gaussian (Mironov, Talwar, Zhang 2019).

    ``log(A_alpha) / (alpha - 1)`` with ``A_alpha`` the alpha-th moment of the likelihood
    ratio between ``(1-q) N(0, s^2) + q N(1, s^2)`` and ``N(0, s^2)``; exact at integer and
    fractional orders. At ``q = 1`` this is the plain Gaussian.
    """
    if rate >= 1.0 or not _SAMPLED_SIGMA_RANGE[0] <= noise_multiplier <= _SAMPLED_SIGMA_RANGE[1]:
        # Outside this range the un-sampled bound (an upper bound) is inf or below 1e-9.
        return rdp_gaussian(orders, noise_multiplier)
    values = np.empty_like(orders)
    integer = orders == np.floor(orders)
    for index in np.nonzero(integer)[0].tolist():
        alpha = float(orders[index])
        values[index] = _log_a_integer(rate, noise_multiplier, int(alpha))
    fractional = np.nonzero(~integer)[0]
    if fractional.size:
        values[fractional] = _log_a_fractional(rate, noise_multiplier, orders[fractional])
    values = np.maximum(values, 0.0) / (orders - 1.0)
    # Never report more than the un-sampled Gaussian (sampling can only help).
    return np.minimum(values, rdp_gaussian(orders, noise_multiplier))


def rdp_skellam(orders: FloatArray, mu: float, l1: float, l2: float) -> FloatArray:
    """RDP of the multivariate Skellam mechanism (Agarwal, Kairouz, Liu 2021, Theorem 3.5).

    Noise per coordinate is ``Poisson(mu) - Poisson(mu)``. The bound
    ``alpha l2^2 / (4 mu) + min((2 alpha l2^2 + 6 l1) / (16 mu^2), 3 l1 / (4 mu))`` is stated
    for integer orders; a fractional order uses the next integer (RDP grows with the order),
    and ``2 alpha`` over-approximates the theorem's ``2 alpha - 1``.
    """
    a = np.maximum(np.ceil(orders), 2.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = l2 / mu  # l2^2 / mu^2 as a product of quotients: no float overflow
        main = a * (l2 * (ratio / 4.0))
        extra = np.minimum(
            (2.0 * a * ratio * ratio + 6.0 * (l1 / mu) / mu) / 16.0, 3.0 * l1 / (4.0 * mu)
        )
        return np.asarray(main + extra, dtype=np.float64)


_TAU_EXACT_TERMS = 1 << 16
"""How many terms of the tau sum are added one by one; the rest are bounded above."""


def ddg_tau(sigma: float, n: int) -> float:
    """An upper bound on ``tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k / (k+1))``.

    Kairouz, Liu, Steinke 2021, Theorem 1. The first :data:`_TAU_EXACT_TERMS` terms are
    summed; every later term ``k > K`` is at most ``exp(-2 pi^2 sigma^2 (K+1)/(K+2))`` (the
    terms decrease with ``k``), so the tail is bounded by that times its length: O(1)
    memory and time for any ``n``, and a relative excess below ``2 pi^2 sigma^2 / K``.
    The result is rounded up by a relative ``1e-12`` for the float sum.
    """
    c = 2.0 * math.pi**2 * sigma * sigma  # inf for huge sigma: every term is then 0
    exact = min(n - 1, _TAU_EXACT_TERMS)
    k = np.arange(1, exact + 1, dtype=np.float64)
    total = float(np.sum(np.exp(-c * k / (k + 1.0))))
    rest = n - 1 - exact
    if rest > 0:
        total += rest * math.exp(-c * (exact + 1.0) / (exact + 2.0))
    return 10.0 * total * (1.0 + 1e-12)


def rdp_distributed_discrete_gaussian(
    orders: FloatArray, sigma: float, n: int, dimension: int, l1: float, l2: float
) -> FloatArray:
    """RDP of the sum of ``n`` discrete Gaussians (Kairouz, Liu, Steinke 2021, Prop. 14).

    ``min(alpha l2^2/(2 n s^2) + tau d, alpha/2 (l2^2/(n s^2) + 2 l1 tau/(sqrt(n) s)
    + tau^2 d), alpha/2 (l2/(sqrt(n) s) + tau sqrt(d))^2)`` with the correction ``tau`` of
    :func:`ddg_tau`; requires ``sigma >= 1/2``. With ``n = 1`` it is the discrete Gaussian.
    """
    tau = ddg_tau(sigma, n)
    scale = math.sqrt(n) * sigma
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = l2 / scale  # l2 / (sqrt(n) sigma); squared below without float overflow
        b1 = orders * (ratio * ratio / 2.0) + tau * dimension
        b2 = orders / 2.0 * (ratio * ratio + 2.0 * l1 * tau / scale + tau * tau * dimension)
        b3 = orders / 2.0 * (ratio + tau * math.sqrt(dimension)) ** 2
        return np.asarray(np.minimum(np.minimum(b1, b2), b3), dtype=np.float64)


def _log_expm1(x: float) -> float:
    """``log(e^x - 1)`` for ``x > 0`` without overflow."""
    if x > 30.0:
        return x + math.log1p(-math.exp(-x))
    return math.log(math.expm1(x))


def rdp_sampled_without_replacement(
    orders: FloatArray, rate: float, base_at_integer: FloatArray, base_pure: float
) -> FloatArray:
    """RDP amplification by sampling without replacement (Wang, Balle, Kasiviswanathan 2019).

    Theorem 9 of the paper, for integer orders ``alpha >= 2``, with sampling fraction
    ``gamma`` and the base mechanism's RDP ``eps(j)`` at integers ``j = 2..alpha``
    (``base_at_integer[j]``) and its pure-DP value ``eps(inf)`` (``inf`` if none)::

        1/(alpha-1) log(1 + gamma^2 C(alpha,2) min(4(e^{eps(2)}-1), e^{eps(2)} min(2,
            (e^{eps(inf)}-1)^2)) + sum_{j>=3} gamma^j C(alpha,j) e^{(j-1)eps(j)}
            min(2, (e^{eps(inf)}-1)^j))

    A fractional order uses the next integer, which is sound because RDP grows with the
    order. Never more than the base mechanism's own RDP.
    """
    int_orders = np.maximum(np.ceil(orders), 2.0).astype(np.int64)
    max_order = int(int_orders.max())
    if base_at_integer.shape[0] <= max_order:
        raise ValueError("base_at_integer must cover every integer order")
    log_gamma = math.log(rate)
    log_em1 = _log_expm1(base_pure) if math.isfinite(base_pure) else math.inf

    def log_pure_term(j: int) -> float:
        return min(math.log(2.0), j * log_em1)

    eps2 = float(base_at_integer[2])
    log_second = min(
        math.log(4.0) + _log_expm1(eps2) if eps2 > 0 else -math.inf,
        eps2 + log_pure_term(2),
    )
    j_all = np.arange(3, max_order + 1, dtype=np.float64)
    log_pure = np.array([log_pure_term(int(j)) for j in j_all.tolist()], dtype=np.float64)
    log_tail_terms = j_all * log_gamma + (j_all - 1.0) * base_at_integer[3:] + log_pure
    values = np.empty(orders.shape[0], dtype=np.float64)
    for index, alpha in enumerate(int_orders.tolist()):
        a = float(alpha)
        terms = [0.0, 2 * log_gamma + float(_log_binom(a, np.array([2.0]))[0]) + log_second]
        if alpha >= 3:
            count = alpha - 2
            log_binoms = _log_binom(a, j_all[:count])
            terms.extend((log_binoms + log_tail_terms[:count]).tolist())
        values[index] = float(special.logsumexp(terms)) / (a - 1.0)
    base_at_orders = base_at_integer[int_orders]
    return np.asarray(np.minimum(values, base_at_orders), dtype=np.float64)


def rdp_poisson_general(orders: FloatArray, rate: float, base_at_integer: FloatArray) -> FloatArray:
    """RDP amplification by Poisson sampling of any mechanism (Zhu and Wang 2019, Thm. 5).

    For integer ``alpha >= 2``, sampling rate ``gamma`` and the base mechanism's RDP
    ``eps(l)`` at integers ``l = 2..alpha`` (``base_at_integer[l]``)::

        1/(alpha-1) log((1-g)^{alpha-1} (alpha g - g + 1) + C(alpha,2) g^2 (1-g)^{alpha-2}
            e^{eps(2)} + 3 sum_{l>=3} C(alpha,l) (1-g)^{alpha-l} g^l e^{(l-1) eps(l)})

    under add/remove adjacency. A fractional order uses the next integer (RDP grows with the
    order); the result never exceeds the base mechanism's own RDP.
    """
    int_orders = np.maximum(np.ceil(orders), 2.0).astype(np.int64)
    max_order = int(int_orders.max())
    if base_at_integer.shape[0] <= max_order:
        raise ValueError("base_at_integer must cover every integer order")
    log_g = math.log(rate)
    log_1mg = math.log1p(-rate) if rate < 1.0 else -math.inf
    l_all = np.arange(2, max_order + 1, dtype=np.float64)
    values = np.empty(orders.shape[0], dtype=np.float64)
    for index, alpha in enumerate(int_orders.tolist()):
        a = float(alpha)
        ls = l_all[: alpha - 1]
        with np.errstate(invalid="ignore"):
            log_terms = (
                _log_binom(a, ls)
                + np.where(a - ls > 0, (a - ls) * log_1mg, 0.0)
                + ls * log_g
                + (ls - 1.0) * base_at_integer[2 : alpha + 1]
            )
        log_terms[1:] += math.log(3.0)
        head = math.log(a * rate - rate + 1.0) + (a - 1.0) * log_1mg if rate < 1.0 else -math.inf
        values[index] = float(special.logsumexp(np.append(log_terms, head))) / (a - 1.0)
    return np.asarray(np.minimum(values, base_at_integer[int_orders]), dtype=np.float64)


def epsilon_from_rdp(orders: FloatArray, rdp: FloatArray, delta: float) -> tuple[float, float]:
    """Best epsilon over the orders by the improved conversion; returns (epsilon, order).

    ``eps = rdp + log((alpha-1)/alpha) - (log delta + log alpha) / (alpha - 1)``
    (Balle, Barthe, Gaboardi, Hsu, Sato 2020, Theorem 21; Canonne, Kamath, Steinke 2020,
    Proposition 12), which is never larger than Mironov's 2017 conversion.
    """
    eps = rdp + np.log1p(-1.0 / orders) - (math.log(delta) + np.log(orders)) / (orders - 1.0)
    eps = np.where(np.isnan(eps), np.inf, eps)
    index = int(np.argmin(eps))
    return max(float(eps[index]), 0.0), float(orders[index])


def delta_from_rdp(orders: FloatArray, rdp: FloatArray, epsilon: float) -> tuple[float, float]:
    """Best delta over the orders for a given epsilon (inverse of :func:`epsilon_from_rdp`)."""
    log_delta = (orders - 1.0) * (rdp - epsilon + np.log1p(-1.0 / orders)) - np.log(orders)
    log_delta = np.where(np.isnan(log_delta), np.inf, log_delta)
    index = int(np.argmin(log_delta))
    return min(math.exp(min(float(log_delta[index]), 0.0)), 1.0), float(orders[index])
