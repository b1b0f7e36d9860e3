"""Discrete privacy loss distributions: construction, FFT composition and queries.

A :class:`DiscretePld` holds the distribution of the privacy loss ``L = log(P(o)/Q(o))``
under ``o ~ P`` on the grid ``{k * interval}``, plus the mass of ``L = +inf``. For any
epsilon its hockey-stick divergence is ``delta(eps) = inf_mass + E[(1 - e^{eps - L})_+]``.

Two discretisations of a mechanism's loss are built (Doroshenko, Ghazi, Kamath, Kumar,
Manurangsi 2022, "Connect the dots"; Meiser and Mohammadi 2018, "privacy buckets"):

* ``pessimistic`` (upper bound): the mass and the Q-mass of every grid cell are split
  between its two end points so that the Q-measure is preserved; the resulting pair is a
  valid dominating pair whose hockey-stick curve linearly interpolates the true one in
  ``e^eps``, so composition by convolution stays an upper bound (Zhu, Dong, Wang 2022).
* ``optimistic`` (lower bound): every loss is rounded down to the grid; since the composed
  loss is a sum of independent losses and ``(1 - e^{eps - s})_+`` is non-decreasing in ``s``,
  the composition can only under-estimate delta.

Truncations move tail mass in the safe direction: for the upper bound, mass above the
window goes to ``+inf`` and mass below it up to the lowest kept point; for the lower bound,
mass above is moved down and mass below is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft

__all__ = [
    "DiscretePld",
    "Side",
    "SurvivalFunction",
    "discretise",
    "compose",
    "self_compose",
    "delta_for_epsilon",
    "epsilon_for_delta",
    "MAX_GRID_POINTS",
]

FloatArray = NDArray[np.float64]
Side = Literal["upper", "lower"]
SurvivalFunction = Callable[[FloatArray], tuple[FloatArray, FloatArray]]
"""Maps losses ``l`` to ``(P(L > l), Q(L > l))`` with ``L`` the privacy loss."""

MAX_GRID_POINTS = 1 << 24
"""Refuse to build a loss grid larger than this (the noise is far too small for the grid)."""

_DIRECT_CONVOLUTION_SIZE = 64

CHEAP_TAIL = 1e-14
"""Mass that may be moved from the lowest losses up (or, for lower bounds, trimmed)."""


@dataclass(frozen=True, slots=True)
class DiscretePld:
    """Loss masses ``masses[i]`` at loss ``(offset + i) * interval`` plus ``inf_mass``.

    Attributes:
        interval: grid spacing of the loss values.
        offset: grid index of ``masses[0]``.
        masses: non-negative P-masses (read-only array).
        inf_mass: P-mass of infinite loss (the part that is never private).
        side: ``"upper"`` for a pessimistic, ``"lower"`` for an optimistic estimate.
    """

    interval: float
    offset: int
    masses: FloatArray
    inf_mass: float
    side: Side

    @property
    def losses(self) -> FloatArray:
        """The loss value of each entry of :attr:`masses`."""
        return (self.offset + np.arange(self.masses.shape[0], dtype=np.float64)) * self.interval


def _identity(interval: float, side: Side) -> DiscretePld:
    return DiscretePld(interval, 0, np.ones(1, dtype=np.float64), 0.0, side)


def discretise(
    survival: SurvivalFunction,
    interval: float,
    lo_index: int,
    hi_index: int,
    side: Side,
    inf_mass: float = 0.0,
) -> DiscretePld:
    """Discretise a privacy loss given by its survival functions on the grid window.

    Args:
        survival: ``l -> (P(L > l), Q(L > l))`` for the finite part of the loss.
        interval: grid spacing.
        lo_index: first grid index of the window.
        hi_index: last grid index of the window (inclusive).
        side: ``"upper"`` (connect-the-dots, pessimistic) or ``"lower"``
            (:func:`_discretise_lower`).
        inf_mass: P-mass of ``L = +inf`` (not seen by ``survival``).
    """
    size = hi_index - lo_index + 1
    if size > MAX_GRID_POINTS:
        raise OverflowError("privacy loss grid too large")
    if side == "lower":
        return _discretise_lower(survival, interval, lo_index, size, inf_mass)
    grid = (lo_index + np.arange(size, dtype=np.float64)) * interval
    s_p, s_q = _monotone(survival(grid))
    p_bins = s_p[:-1] - s_p[1:]  # P(l_i < L <= l_{i+1})
    q_bins = s_q[:-1] - s_q[1:]
    below = max(1.0 - float(s_p[0]), 0.0)
    above = float(s_p[-1])
    masses = np.zeros(size, dtype=np.float64)
    # Split each cell's mass between its end points so the Q-mass is preserved.
    with np.errstate(over="ignore", invalid="ignore"):
        scaled_q = np.where(q_bins > 0.0, q_bins * np.exp(np.minimum(grid[:-1], 700.0)), 0.0)
    upper_part = (p_bins - scaled_q) / (-math.expm1(-interval))
    upper_part = np.clip(upper_part, 0.0, p_bins)
    masses[:-1] += p_bins - upper_part
    masses[1:] += upper_part
    masses[0] += below
    masses.setflags(write=False)
    return DiscretePld(interval, lo_index, masses, min(inf_mass + above, 1.0), side)


def _monotone(pair: tuple[FloatArray, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Clip survival values to [0, 1] and make them non-increasing (rounding noise)."""
    s_p = np.minimum.accumulate(np.clip(pair[0], 0.0, 1.0))
    s_q = np.minimum.accumulate(np.clip(pair[1], 0.0, 1.0))
    return s_p, s_q


LOWER_CELL_SHIFTS = (1.0 / 64.0, 1.0 / 16.0, 1.0 / 4.0, 1.0 / 2.0)
"""Candidate offsets of the lower-bound cells above the grid points (fractions of a step)."""


def _discretise_lower(
    survival: SurvivalFunction, interval: float, lo_index: int, size: int, inf_mass: float
) -> DiscretePld:
    """An optimistic PLD: a post-processing of the mechanism, with losses rounded down.

    The output is quantised into the cells ``{o : L(o) in (b_j, b_{j+1}]}`` with boundaries
    ``b_j = l_j - interval/2 + shift``; quantising is post-processing, so the quantised pair
    and its compositions are dominated by the true ones. Each cell's exact loss
    ``log(P(cell)/Q(cell))`` is then rounded down to the grid, which can only lower delta,
    since the composed loss is a sum of independent per-step losses and
    ``(1 - e^{eps - s})_+`` grows with ``s``. With the cells just above the grid points a
    cell's loss is usually just above ``l_j``, so rounding costs about ``shift`` per step
    instead of half an interval; of a few candidate shifts, the one that loses the least
    expected loss is used (any choice is sound).
    """
    grid = (lo_index + np.arange(size, dtype=np.float64)) * interval
    best: tuple[float, FloatArray, float] | None = None
    for fraction in LOWER_CELL_SHIFTS:
        shift = fraction * interval
        bounds = np.append(grid - interval / 2.0 + shift, grid[-1] + interval / 2.0 + shift)
        s_p, s_q = _monotone(survival(bounds))
        masses = _round_cells_down(grid, s_p, s_q)
        # Mass below the first cell is dropped: score it below the grid, or a shift that
        # drops an atom of negative loss would look like a gain (and ruin compositions).
        dropped = max(1.0 - float(s_p[0]), 0.0)
        kept_loss = float(np.sum(masses * grid)) + dropped * (float(grid[0]) - interval)
        if best is None or kept_loss > best[0]:
            best = (kept_loss, masses, float(s_p[-1]))
    assert best is not None
    masses = best[1]
    # Mass above the window is rounded down to the last grid point; mass below is dropped.
    masses[-1] += best[2]
    masses.setflags(write=False)
    return DiscretePld(interval, lo_index, masses, min(inf_mass, 1.0), "lower")


def _round_cells_down(grid: FloatArray, s_p: FloatArray, s_q: FloatArray) -> FloatArray:
    """Masses of the cells between consecutive boundaries, placed at or below their loss.

    Cell ``j`` straddles ``grid[j]``; a cell whose loss is not safely ``>= grid[j]`` goes
    one step down (its loss is above ``grid[j-1]``).
    """
    p_cells = s_p[:-1] - s_p[1:]
    q_cells = s_q[:-1] - s_q[1:]
    masses = np.zeros(grid.shape[0], dtype=np.float64)
    positive = p_cells > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # A Q-mass that underflows to 0 leaves the loss unknown: treat it as not safe.
        cell_loss = np.where(
            q_cells > 0.0,
            np.log(np.maximum(p_cells, 1e-300)) - np.log(np.maximum(q_cells, 1e-300)),
            -np.inf,
        )
        # Round-off in the cell masses (absolute ~1e-16) moves the loss by up to this much.
        slack = 1e-15 * (1.0 / np.maximum(p_cells, 1e-300) + 1.0 / np.maximum(q_cells, 1e-300))
    at_grid = positive & (cell_loss - slack >= grid)
    masses[at_grid] += p_cells[at_grid]
    shifted = np.nonzero(positive & ~at_grid)[0]
    keep = shifted > 0
    np.add.at(masses, shifted[keep] - 1, p_cells[shifted[keep]])
    return masses


def _prefix_cut(masses: FloatArray, budget: float) -> tuple[int, float]:
    """Largest ``k`` with ``sum(masses[:k]) <= budget``, and that sum (looks at a prefix)."""
    n = masses.shape[0]
    width = 256
    while True:
        width = min(width, n)
        cumulative = np.cumsum(masses[:width])
        k = int(np.searchsorted(cumulative, budget, side="right"))
        if k < width or width == n:
            k = min(k, n - 1)  # always keep at least one entry
            return k, float(cumulative[k - 1]) if k > 0 else 0.0
        width *= 4


def _truncate(
    raw: FloatArray,
    offset: int,
    inf_mass: float,
    side: Side,
    tail: float,
    interval: float,
    noise: FloatArray | None = None,
    total_mass: float = 1.0,
) -> DiscretePld:
    """Trim the tails of a convolution result, moving their mass in the safe direction.

    Entries below ``noise`` (the per-entry round-off level of an FFT convolution) at either
    end cannot be told from zero; for the upper bound their absolute values are charged to
    the infinite-loss mass (above) or to the lowest kept entry (below). Then tails of total
    mass at most ``tail`` are trimmed the same way.
    """
    masses = raw
    n = masses.shape[0]
    if noise is not None and n > 1:
        significant = np.nonzero(masses > noise)[0]
        if significant.size == 0:
            first, last = 0, n - 1
        else:
            first, last = int(significant[0]), int(significant[-1])
        high_charge = float(np.sum(np.abs(masses[last + 1 :])))
        masses = np.clip(masses[first : last + 1], 0.0, None)
        offset += first
        # The low end carries the largest round-off after tilting; its mass is recovered
        # from the exactly known total instead of from the noisy entries.
        low_charge = max(total_mass - float(np.sum(masses)) - high_charge, 0.0)
        if side == "upper":
            masses[0] += low_charge
            inf_mass += high_charge
        n = masses.shape[0]
    else:
        masses = np.clip(masses, 0.0, None)
    if n > 1 and tail > 0.0:
        # Moving low-loss mass up (upper bound) or high-loss mass down (lower bound) barely
        # changes delta, so those cuts get the larger budget CHEAP_TAIL.
        low_budget = max(tail, CHEAP_TAIL)
        high_budget = tail if side == "upper" else max(tail, CHEAP_TAIL)
        lo, below = _prefix_cut(masses, low_budget)
        from_top, above = _prefix_cut(masses[::-1], high_budget)
        hi = n - 1 - from_top
        if hi < lo:  # the two cuts overlap: keep entry lo, charge everything above it
            hi = lo
            above = float(np.sum(masses[hi + 1 :]))
        kept = masses[lo : hi + 1].copy()
        if side == "upper":
            kept[0] += below
            inf_mass = inf_mass + above
        else:
            kept[-1] += above
        masses = kept
        offset += lo
    masses.setflags(write=False)
    return DiscretePld(interval, offset, masses, min(inf_mass, 1.0), side)


_FFT_ERROR_FACTOR = 4.0 * float(np.finfo(np.float64).eps)
_TILT_RANGE = 20.0


SpectrumCache = dict[tuple[int, int], tuple[FloatArray, NDArray[np.complex128], float]]
"""Cached FFTs of tilted operands, keyed by ``(id(masses), fft size)``."""


def _tilted_spectrum(
    masses: FloatArray, tilt: float, fast: int, cache: SpectrumCache | None
) -> tuple[NDArray[np.complex128], float]:
    """FFT of ``masses_i e^{tilt (i - n + 1)}`` and the tilted L2 norm (cached if asked)."""
    key = (id(masses), fast)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None and hit[0] is masses:
            return hit[1], hit[2]
    n = masses.shape[0]
    tilted = masses * np.exp(tilt * (np.arange(n, dtype=np.float64) - (n - 1)))
    spectrum = np.asarray(sfft.rfft(tilted, fast), dtype=np.complex128)
    norm = math.sqrt(float(np.sum(tilted * tilted)))  # not BLAS: cheap, no thread start
    if cache is not None:
        if len(cache) > 64:
            cache.clear()
        cache[key] = (masses, spectrum, norm)
    return spectrum, norm


def _convolve(
    a: FloatArray, b: FloatArray, cache: SpectrumCache | None = None
) -> tuple[FloatArray, FloatArray]:
    """Linear convolution and a per-entry bound on its floating-point round-off.

    The FFT is taken of exponentially tilted inputs ``a_i e^{t i}`` (tilting commutes with
    convolution), which makes the round-off relative to the upper tail, where the privacy
    loss that decides delta lives, instead of relative to the bulk. The tilt depends only on
    the FFT size, so the spectrum of a repeated operand ``b`` can be cached.
    """
    n_a, n_b = a.shape[0], b.shape[0]
    size = n_a + n_b - 1
    if min(n_a, n_b) <= _DIRECT_CONVOLUTION_SIZE:
        return np.convolve(a, b), np.zeros(size, dtype=np.float64)
    fast = sfft.next_fast_len(size, real=True)
    tilt = _TILT_RANGE / fast  # per grid step: e^20 across the whole FFT window
    spectrum_a, norm_a = _tilted_spectrum(a, tilt, fast, None)
    spectrum_b, norm_b = _tilted_spectrum(b, tilt, fast, cache)
    untilt = np.exp(-tilt * (np.arange(size, dtype=np.float64) - (size - 1)))
    result = np.asarray(sfft.irfft(spectrum_a * spectrum_b, fast)[:size], dtype=np.float64)
    result *= untilt
    # Round-off of an FFT convolution: about eps sqrt(log n) ||a||_2 ||b||_2 (tilted).
    level = _FFT_ERROR_FACTOR * math.sqrt(math.log2(fast)) * norm_a * norm_b
    return result, level * untilt


REGRID_RESOLUTION = 64.0
"""A PLD may move to a coarser grid once its loss std is this many (coarse) intervals."""


def loss_std(pld: DiscretePld) -> float:
    """Standard deviation of the finite part of the loss (0 for a point mass)."""
    total = float(np.sum(pld.masses))
    if total <= 0.0:
        return 0.0
    index = np.arange(pld.masses.shape[0], dtype=np.float64)
    mean = float(np.sum(pld.masses * index)) / total
    var = float(np.sum(pld.masses * (index - mean) ** 2)) / total
    return math.sqrt(max(var, 0.0)) * pld.interval


def _can_use(pld: DiscretePld, interval: float) -> bool:
    """Whether ``pld`` may be put on a grid of this spacing at negligible cost."""
    if interval <= pld.interval:
        return True
    return loss_std(pld) >= REGRID_RESOLUTION * interval


def regrid(pld: DiscretePld, interval: float) -> DiscretePld:
    """Move a PLD to a grid whose spacing is a power-of-two multiple or fraction of its own.

    A finer grid is an exact embedding. A coarser grid splits each atom between its two
    coarse neighbours preserving the Q-mass (connect-the-dots, upper side) or groups atoms
    into cells whose exact loss is rounded down (lower side; see :func:`_discretise_lower`).
    """
    if interval == pld.interval:
        return pld
    ratio = interval / pld.interval
    if ratio < 1.0:
        factor = round(1.0 / ratio)
        masses = np.zeros((pld.masses.shape[0] - 1) * factor + 1, dtype=np.float64)
        masses[::factor] = pld.masses
        masses.setflags(write=False)
        return DiscretePld(interval, pld.offset * factor, masses, pld.inf_mass, pld.side)
    factor = round(ratio)
    fine_index = pld.offset + np.arange(pld.masses.shape[0], dtype=np.int64)
    coarse = np.floor_divide(fine_index, factor)
    base = int(coarse[0])
    size = int(coarse[-1]) - base + 2
    if pld.side == "upper":
        remainder = (fine_index - coarse * factor).astype(np.float64)
        upper = pld.masses * (np.expm1(-remainder * pld.interval) / math.expm1(-interval))
        upper = np.clip(upper, 0.0, pld.masses)
        masses = np.bincount(coarse - base, weights=pld.masses - upper, minlength=size)
        masses += np.bincount(coarse - base + 1, weights=upper, minlength=size)
        masses = np.asarray(masses[:size], dtype=np.float64)
        masses.setflags(write=False)
        return DiscretePld(interval, base, masses, pld.inf_mass, "upper")
    survival = _atom_survival(pld)
    return _discretise_lower(survival, interval, base, size, pld.inf_mass)


def _atom_survival(pld: DiscretePld) -> SurvivalFunction:
    """``u -> (P(L > u), Q(L > u))`` of a discrete PLD, with ``Q = P e^{-L}``."""
    losses = pld.losses
    suffix_p = np.append(np.cumsum(pld.masses[::-1])[::-1], 0.0)
    suffix_q = np.append(np.cumsum((pld.masses * np.exp(-losses))[::-1])[::-1], 0.0)

    def survival(points: FloatArray) -> tuple[FloatArray, FloatArray]:
        index = np.searchsorted(losses, points, side="right")
        return suffix_p[index], suffix_q[index]

    return survival


def common_interval(a: DiscretePld, b: DiscretePld) -> float:
    """The coarsest of the two grids that both PLDs can use at negligible cost."""
    coarse, fine = max(a.interval, b.interval), min(a.interval, b.interval)
    if _can_use(a, coarse) and _can_use(b, coarse):
        return coarse
    return fine


def compose(
    a: DiscretePld, b: DiscretePld, tail: float, cache: SpectrumCache | None = None
) -> DiscretePld:
    """The PLD of the composition of two mechanisms (the sum of independent losses).

    PLDs on different grids are first put on :func:`common_interval`. ``cache`` keeps the
    FFT of ``b`` for the next call with the same ``b`` (the per-round pattern).
    """
    if a.side != b.side:
        raise ValueError("cannot compose an upper with a lower PLD")
    if a.interval != b.interval:
        interval = common_interval(a, b)
        a, b = regrid(a, interval), regrid(b, interval)
    masses, noise = _convolve(a.masses, b.masses, cache)
    inf_mass = a.inf_mass + b.inf_mass - a.inf_mass * b.inf_mass
    total = float(np.sum(a.masses)) * float(np.sum(b.masses))
    return _truncate(masses, a.offset + b.offset, inf_mass, a.side, tail, a.interval, noise, total)


LOWER_COARSEN_SIZE = 1 << 18
"""Lower-bound PLDs are coarsened only past this many points (their regrid costs more)."""


def _coarsen(pld: DiscretePld, max_interval: float) -> DiscretePld:
    """Double the grid spacing while the loss is wide enough (keeps arrays short).

    Coarsening an upper bound costs a second-order term (connect-the-dots on atoms); a lower
    bound loses up to a quarter interval per coarsening, so it is only coarsened when its
    array grows past :data:`LOWER_COARSEN_SIZE`.
    """
    if pld.side == "lower" and pld.masses.shape[0] <= LOWER_COARSEN_SIZE:
        return pld
    interval = pld.interval
    std = loss_std(pld)
    while 2.0 * interval <= max_interval and std >= REGRID_RESOLUTION * 2.0 * interval:
        interval *= 2.0
    return regrid(pld, interval)


def self_compose(
    pld: DiscretePld, count: int, tail: float, max_interval: float | None = None
) -> DiscretePld:
    """The ``count``-fold composition by repeated squaring (O(log count) convolutions).

    With ``max_interval`` the grid is coarsened (by powers of two, up to ``max_interval``)
    as the composed loss widens, so that arrays stay short at a negligible cost in accuracy.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    result: DiscretePld | None = None
    power = pld
    remaining = count
    while True:
        if remaining & 1:
            result = power if result is None else compose(result, power, tail)
        remaining >>= 1
        if not remaining:
            break
        power = compose(power, power, tail)
        if max_interval is not None:
            power = _coarsen(power, max_interval)
    assert result is not None
    return result


def delta_for_epsilon(pld: DiscretePld, epsilon: float) -> float:
    """``inf_mass + sum_i masses_i (1 - e^{eps - loss_i})_+`` (the hockey-stick divergence)."""
    losses = pld.losses
    active = losses > epsilon
    if not np.any(active):
        return pld.inf_mass
    value = float(np.sum(pld.masses[active] * -np.expm1(epsilon - losses[active])))
    return min(pld.inf_mass + max(value, 0.0), 1.0)


def _discounted_suffix(masses: FloatArray, interval: float) -> FloatArray:
    """``B_j = sum_{i>j} masses_i e^{-(i-j) interval}``, in blocks so nothing overflows."""
    n = masses.shape[0]
    result = np.empty(n, dtype=np.float64)
    block = max(1, int(500.0 / interval))
    carry = 0.0  # contribution of everything after the block to its last index
    end = n
    while end > 0:
        begin = max(0, end - block)
        local = np.arange(end - begin, dtype=np.float64) * interval
        scaled = masses[begin:end] * np.exp(-local)
        after = np.append(np.cumsum(scaled[::-1])[::-1][1:], 0.0)
        result[begin:end] = after * np.exp(local) + carry * np.exp(local - local[-1])
        carry = math.exp(-interval) * (float(masses[begin]) + float(result[begin]))
        end = begin
    return result


def epsilon_for_delta(pld: DiscretePld, delta: float) -> float:
    """The smallest ``eps >= 0`` with :func:`delta_for_epsilon` ``<= delta`` (exact).

    With ``A_j = sum_{i>j} m_i`` and ``B_j = sum_{i>j} m_i e^{-(l_i - l_j)}`` (a stable
    backward recursion, no overflow for any loss), ``delta(l_j) = inf_mass + A_j - B_j``;
    between grid points delta is ``c - e^eps d`` and is solved for exactly.
    """
    if pld.inf_mass > delta:
        return math.inf
    # Entries with loss <= 0 never count for eps >= 0; keep one of them as a sentinel.
    start = max(-pld.offset - 1, 0)
    if start >= pld.masses.shape[0]:
        return 0.0
    masses = pld.masses[start:]
    after_q = _discounted_suffix(masses, pld.interval)
    after_p = np.append(np.cumsum(masses[::-1])[::-1][1:], 0.0)
    deltas_at_grid = pld.inf_mass + after_p - after_q
    ok = np.nonzero(deltas_at_grid <= delta)[0]
    if ok.size == 0:  # pragma: no cover - the last grid point always has delta = inf_mass
        return math.inf
    j = int(ok[0])
    loss_j = (pld.offset + start + j) * pld.interval
    if j == 0 and loss_j <= 0.0:
        return 0.0
    # On (l_{j-1}, l_j], with eps = l_j - t: delta = inf + m_j + A_j - e^{-t} (m_j + B_j).
    # When the lowest loss l_0 is positive (the low end was truncated), the same holds on
    # [0, l_0], where every remaining loss is above eps.
    width = pld.interval if j > 0 else loss_j
    level_p = pld.inf_mass + float(masses[j]) + float(after_p[j])
    level_q = float(masses[j]) + float(after_q[j])
    if level_p <= delta or level_q <= 0.0:
        return max(loss_j - width, 0.0)
    t = -math.log(min((level_p - delta) / level_q, 1.0))
    return max(loss_j - min(t, width), 0.0)


def identity(interval: float, side: Side) -> DiscretePld:
    """The PLD of a mechanism that reveals nothing (loss 0 with probability 1)."""
    return _identity(interval, side)
