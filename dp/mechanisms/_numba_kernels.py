"""numba-compiled fast paths of the exact discrete Gaussian sampler and stochastic rounding.

Imported only through :mod:`dp.mechanisms._compiled`, and only when numba is installed.
The kernels make, element for element, the decisions the numpy fast paths of
:mod:`dp.mechanisms._geometric` and :mod:`dp.mechanisms._bernoulli` make: the same float
thresholds, the same rigorous error bands, the same uniform prefixes. What they cannot
decide they leave to the same exact Python slow paths, marked in a status array, so the
compiled and the numpy samplers draw from the same exact law; given the same random words
they return the same values (the tests check this).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from dp.mechanisms._geometric import LOW_BITS

#: Status codes written by :func:`discrete_gaussian`.
REJECTED = 0
ACCEPTED = 1
GEOMETRIC_UNDECIDED = 2  # y holds the geometric walk's start; Python finishes the draw
BERNOULLI_UNDECIDED = 3  # y holds the candidate; Python decides its acceptance

_U = 2.0**-53
_LOW_MASK = (1 << LOW_BITS) - 1


@numba.njit(cache=True, nogil=True)
def _geometric_draw(
    g: int,
    low: float,
    high: float,
    high_tab: np.ndarray,
    low_tab: np.ndarray,
    rel: float,
    step: float,
    step_rel: float,
    abs_err: float,
    slack: float,
    attempts: int,
) -> tuple[int, bool]:
    """``(g, True)`` once ``exp(-(g+1) rate) <= V < exp(-g rate)`` is sure, else ``(start, False)``.

    ``V`` lies in ``[low, high)`` and ``g`` is the float guess. Mirrors
    ``Geometric.sample``: up to ``attempts`` checks of a candidate against its two
    thresholds, moving one step when a threshold is surely on the wrong side.
    """
    last = high_tab.size - 1
    for _ in range(attempts):
        t1 = high_tab[min(g >> LOW_BITS, last)] * low_tab[g & _LOW_MASK]
        e1 = t1 * rel + 2.0 * abs_err
        t2 = t1 * step
        e2 = ((e1 * (1.0 + step_rel) + t1 * step_rel) * step + _U * t2) * 1.01
        e2 += 2.0 * abs_err
        band1 = e1 + slack
        band2 = e2 + slack
        if high <= t1 - band1 and low >= t2 + band2:
            return g, True
        if low >= t1 + band1:
            g -= 1
        elif high <= t2 - band2:
            g += 1
        else:
            return g, False
    return g, False


@numba.njit(cache=True, nogil=True)
def discrete_gaussian(
    geo_words: np.ndarray,
    geo_bits: int,
    sign_bytes: np.ndarray,
    bern_words: np.ndarray,
    bern_bits: int,
    rate_f: float,
    high_tab: np.ndarray,
    low_tab: np.ndarray,
    rel: float,
    step: float,
    step_rel: float,
    accept_p: np.ndarray,
    accept_err: np.ndarray,
    abs_err: float,
    slack: float,
    attempts: int,
    y: np.ndarray,
    status: np.ndarray,
) -> None:
    """One pass of Canonne, Kamath and Steinke (2020) Algorithm 3 over ``y.size`` slots.

    Slot ``i`` uses the ``i``-th geometric word, sign bit (most significant bit first,
    as :func:`numpy.unpackbits` reads them) and Bernoulli word; a word's leading ``bits``
    bits are its prefix (``uniform_prefixes`` reads words the same way). A candidate whose
    magnitude is past the acceptance table is left to Python as ``BERNOULLI_UNDECIDED``.
    Three loops rather than one: each iteration of a loop is then independent of the
    others, so the CPU overlaps their latencies (about 2x faster than one fused loop).
    """
    geo_step = 2.0**-geo_bits
    bern_step = 2.0**-bern_bits
    geo_shift = np.uint64(8 * geo_words.itemsize - geo_bits)
    bern_shift = np.uint64(8 * bern_words.itemsize - bern_bits)
    # Float guesses floor(-log(V) / rate), checked exactly below.
    for i in range(y.size):
        middle = float(geo_words[i] >> geo_shift) * geo_step + 0.5 * geo_step
        y[i] = np.int64(min(math.floor(-math.log(middle) / rate_f), 2.0**62))
    for i in range(y.size):
        low = float(geo_words[i] >> geo_shift) * geo_step
        g, sure = _geometric_draw(
            y[i], low, low + geo_step, high_tab, low_tab, rel, step, step_rel,
            abs_err, slack, attempts,
        )  # fmt: skip
        y[i] = g
        status[i] = ACCEPTED if sure else GEOMETRIC_UNDECIDED
    # Sign and acceptance are coin flips: computed without branches, which the CPU would
    # mispredict about half the time.
    last = accept_p.size - 1
    for i in range(y.size):
        g = y[i]
        negative = np.int64((sign_bytes[i >> 3] >> (7 - (i & 7))) & 1)
        k = min(g, last)
        p = accept_p[k]
        band = accept_err[k] + slack
        low = float(bern_words[i] >> bern_shift) * bern_step
        accept = np.int64(low + bern_step <= p - band)
        undecided = np.int64(low < p + band) & (1 - accept)
        decided = accept * ACCEPTED + undecided * BERNOULLI_UNDECIDED
        # Minus zero is rejected so that 0 is not counted twice; past the table, Python
        # decides; a geometric draw still undecided stays so.
        if g > last:
            decided = np.int64(BERNOULLI_UNDECIDED)
        decided *= 1 - (negative & np.int64(g == 0))
        if status[i] == ACCEPTED:  # else y[i] stays the geometric walk's start
            status[i] = decided
            y[i] = g - 2 * negative * g


@numba.njit(cache=True, nogil=True)
def round_stochastically(
    base: np.ndarray,
    fraction: np.ndarray,
    prefixes: np.ndarray,
    bits: int,
    band: float,
    rounded: np.ndarray,
    undecided: np.ndarray,
) -> int:
    """``rounded = base + [V < fraction]`` for uniforms ``V`` known to ``bits`` bits.

    The fast comparison of ``_bernoulli.decide`` without branches; elements it cannot
    decide are flagged in ``undecided`` (and left at ``base``) for the exact Python path.
    Returns how many there are.
    """
    step = 2.0**-bits
    count = 0
    for i in range(base.size):
        low = float(prefixes[i]) * step
        up = np.int64(low + step <= fraction[i] - band)
        maybe = np.int64(low < fraction[i] + band) & (1 - up)
        rounded[i] = base[i] + up
        undecided[i] = maybe
        count += int(maybe)
    return count


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels for the argument types in use."""
    y = np.zeros(8, dtype=np.int64)
    status = np.zeros(8, dtype=np.uint8)
    table = np.ones(4, dtype=np.float64)
    for geo_words in (np.zeros(8, dtype=np.uint64), np.zeros(8, dtype=np.uint32)):
        discrete_gaussian(
            geo_words, 1, np.zeros(1, dtype=np.uint8), np.zeros(8, dtype=np.uint32), 1,
            1.0, table, np.ones(1 << LOW_BITS), 0.0, 0.5, 0.0, table, table * 0.0,
            0.0, 0.0, 1, y, status,
        )  # fmt: skip
    round_stochastically(y, np.zeros(8), np.zeros(8, dtype=np.uint32), 1, 0.0, y.copy(), status)
