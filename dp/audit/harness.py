"""Harnesses that audit a bare mechanism or pipeline against its accountant's claim.

Each harness runs the code under test itself, with canaries or neighbouring inputs it
chooses, and returns an :class:`~dp.audit.AuditResult` whose ``violation`` flags a lower
bound above the claimed epsilon. All randomness comes from the OS CSPRNG: inclusion coins
and selections from :mod:`dp._rng`, noise from the library's exact samplers (through the
mechanisms under test). A correct mechanism is flagged with probability at most
``1 - confidence``; the planted bugs of the test suite (noise off, sigma halved, clipping
skipped, sensitivity doubled, a fixed-size cohort accounted without displacement) are
flagged with probability above 0.99.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dp._rng import random_below, random_bits
from dp.accountants import PldAccountant, RdpAccountant
from dp.audit._checks import count, nonnegative, positive, probability, real_vector
from dp.audit.fdp import audit_one_run_gdp
from dp.audit.hypothesis_test import audit_samples
from dp.audit.one_run import audit_one_run
from dp.audit.result import AuditResult
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import DpEvent
from dp.mechanisms.central import GaussianMechanism
from dp.mechanisms.samplers import sample_discrete_gaussian_sq
from dp.neighbouring import Neighbouring

__all__ = [
    "audit_canary_pipeline",
    "audit_fixed_size_cohort",
    "audit_gaussian_mechanism",
    "claimed_epsilon",
]


def claimed_epsilon(
    event: DpEvent, delta: float, *, neighbouring: Neighbouring = "add_remove", count: int = 1
) -> float:
    """The accountant's epsilon at ``delta`` for ``count`` steps of ``event``.

    The PLD accountant's upper bound, or the RDP accountant's when the PLD refuses the
    event (discrete Gaussian, Skellam, fixed-size sampling under other relations). This is
    the number an audit's lower bound must stay under.

    Raises:
        UnsupportedEvent: neither accountant can bound the event under the relation.
    """
    try:
        return PldAccountant(neighbouring=neighbouring).compose(event, count).get_epsilon(delta)
    except UnsupportedEvent:
        return RdpAccountant(neighbouring=neighbouring).compose(event, count).get_epsilon(delta)


def audit_canary_pipeline(
    client_step: Callable[[NDArray[np.float64]], ArrayLike],
    server_step: Callable[[NDArray[np.float64]], ArrayLike],
    *,
    canaries: int,
    canary_norm: float,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    method: Literal["one_run", "one_run_gdp"] = "one_run_gdp",
    guess_counts: Sequence[tuple[int, int]] | None = None,
) -> AuditResult:
    """One-run audit of a client -> server pipeline with ``canaries`` canary clients.

    Canary ``i`` is included with probability 1/2 (CSPRNG coins) and then submits
    ``canary_norm * e_i`` through ``client_step`` (clip, encode, ...); the server step
    receives the sum over included canaries (a vector of length ``canaries``) and returns
    the released vector, whose coordinate ``i`` is canary ``i``'s score. This is the
    idealised setting of Steinke, Nasr and Jagielski (2023, section 6): every canary moves
    its own coordinate, so a correct Gaussian pipeline is exactly per-canary Gaussian. Choose
    ``canary_norm`` above the clip norm so that skipped clipping shows.

    Args:
        client_step: one client's processing of its update (e.g. ``clip_l2(u, C)``).
        server_step: the aggregate's processing up to the release (e.g. noise).
        canaries: number of canaries, at least 2 (10,000 is analysed well under a second).
        canary_norm: the norm of each canary's update, > 0.
        delta: the delta of the refuted claims.
        confidence: probability that a correct pipeline is not flagged.
        claimed_epsilon: the accountant's epsilon at ``delta``, recorded for comparison.
        method: Steinke et al. (``"one_run"``) or its Gaussian-DP refinement.
        guess_counts: the ``(positives, negatives)`` pairs to try (default: seven, with a
            Bonferroni correction); one pair fixed in advance costs no correction.

    Raises:
        InvalidArgument: bad counts or probabilities, or a step returning a vector of the
            wrong length or with non-finite entries.
    """
    if method not in ("one_run", "one_run_gdp"):
        raise InvalidArgument(f"unknown method {method!r}")
    m = count("canaries", canaries, minimum=2, maximum=10**6)
    norm = positive("canary_norm", canary_norm)
    included = random_bits(m)
    total = np.zeros(m, dtype=np.float64)
    update = np.zeros(m, dtype=np.float64)
    for i in np.flatnonzero(included):
        update[i] = norm
        processed = real_vector("client_step output", client_step(update.copy()))
        if processed.size != m:
            raise InvalidArgument("client_step must return a vector of the input's length")
        total += processed
        update[i] = 0.0
    released = real_vector("server_step output", server_step(total))
    if released.size != m:
        raise InvalidArgument("server_step must return a vector of the aggregate's length")
    audit = audit_one_run if method == "one_run" else audit_one_run_gdp
    return audit(
        included,
        released,
        delta=delta,
        confidence=confidence,
        claimed_epsilon=claimed_epsilon,
        guess_counts=guess_counts,
    )


def audit_gaussian_mechanism(
    mechanism: GaussianMechanism,
    *,
    trials: int,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
) -> AuditResult:
    """Clopper-Pearson audit of a :class:`~dp.mechanisms.GaussianMechanism` over many runs.

    The neighbours are ``0`` and ``l2_sensitivity * e_1``; only coordinate 1 depends on the
    input, so each run draws exactly that coordinate of :meth:`GaussianMechanism.release`
    (the grid-rounded input plus one exact discrete Gaussian from the same sampler and
    parameter), ``trials`` runs per input, vectorised. See :func:`dp.audit.audit_samples`.

    Raises:
        InvalidArgument: ``trials`` below 4 or above 10**8, and as :func:`audit_samples`.
    """
    trials = count("trials", trials, minimum=4, maximum=10**8)
    step = mechanism.step
    shift = int(np.rint(mechanism.l2_sensitivity / step))
    s0 = sample_discrete_gaussian_sq(mechanism.sigma_squared, trials).astype(np.float64)
    s1 = (sample_discrete_gaussian_sq(mechanism.sigma_squared, trials) + shift).astype(np.float64)
    return audit_samples(
        s0 * step, s1 * step, delta=delta, confidence=confidence, claimed_epsilon=claimed_epsilon
    )


def audit_fixed_size_cohort(
    population: int,
    sample_size: int,
    noise_multiplier: float,
    *,
    trials: int,
    delta: float,
    confidence: float = 0.95,
    claimed_epsilon: float | None = None,
    clip_norm: float = 1.0,
) -> AuditResult:
    """Clopper-Pearson audit of a fixed-size cohort under add/remove, at its worst case.

    The displacement pair of docs/dp/accountant.md: ``population`` clients each submit
    ``-clip_norm`` (one coordinate suffices), the neighbour adds one client at
    ``+clip_norm``; each round selects ``sample_size`` clients uniformly without
    replacement (the added client is in the cohort with probability
    ``sample_size / (population + 1)``, drawn by exact CSPRNG rejection sampling), sums their
    updates and adds the noise of :class:`~dp.mechanisms.GaussianMechanism` (noise
    multiplier ``noise_multiplier`` at sensitivity ``clip_norm``). When the added client is
    selected it displaces one at ``-clip_norm``, so the sum moves by ``2 * clip_norm``;
    a claim of ``PoissonSampled(m/N, Gaussian(z))`` ignores that and is refuted, the claim
    ``SampledWithoutReplacement(N, m, Gaussian(z))`` is not.

    Raises:
        InvalidArgument: ``sample_size`` outside ``[1, population]``, bad trials or noise.
    """
    n = count("population", population, minimum=1, maximum=2**40)
    m = count("sample_size", sample_size, minimum=1, maximum=n)
    z = positive("noise_multiplier", noise_multiplier)
    c = positive("clip_norm", clip_norm)
    trials = count("trials", trials, minimum=4, maximum=10**8)
    delta = probability("delta", delta)
    if claimed_epsilon is not None:
        claimed_epsilon = nonnegative("claimed_epsilon", claimed_epsilon)
    mechanism = GaussianMechanism(z, c, 1)
    step = mechanism.step
    unit = int(np.rint(c / step))  # exact: c / step is a power-of-two multiple
    base = -m * unit
    selected = random_below(n + 1, trials) < m
    s0 = base + sample_discrete_gaussian_sq(mechanism.sigma_squared, trials)
    s1 = base + 2 * unit * selected + sample_discrete_gaussian_sq(mechanism.sigma_squared, trials)
    return audit_samples(
        s0.astype(np.float64) * step,
        s1.astype(np.float64) * step,
        delta=delta,
        confidence=confidence,
        claimed_epsilon=claimed_epsilon,
    )
