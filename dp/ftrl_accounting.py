"""Accounting of DP-FTRL runs: prefix sensitivities, per-round ledger entries, zCDP.

A DP-FTRL run with strategy ``C`` (:mod:`dp.ftrl`) and noise multiplier ``z`` is one
Gaussian mechanism of sensitivity ``sens(C)`` under the run's participation schema (see
:class:`dp.events.MatrixFactorizationGaussian` for the theorem and the relations it holds
under). After ``t`` rounds only the first ``t`` outputs have been released, a Gaussian
mechanism whose encoder is the *prefix* ``C_t`` (the rows of ``C`` complete by round ``t``,
on the first ``t`` columns), of sensitivity ``s_t``. This module computes upper bounds on
``s_1 <= ... <= s_n`` and the ledger entries whose composition after round ``t`` is the
Gaussian of sensitivity ``s_t``, so the epsilon curve of a run (and a run stopped early) is
accounted for what it released.

The prefix of each strategy is a strategy of the same kind over ``t`` rounds: a Toeplitz
``C`` (banded, BLT) restricted to its leading ``t x t`` block is the same Toeplitz matrix
for ``t`` rounds, and the tree nodes complete by round ``t`` are the tree over ``t`` leaves
(Kairouz et al. 2021). Each ``s_t`` is that strategy's :meth:`~dp.ftrl.Strategy.sensitivity`
(never an under-estimate). For long runs the sensitivity is evaluated at checkpoints and
each round uses the value of the next checkpoint, an upper bound because the true prefix
sensitivity never decreases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from dp.accountants.base import check_delta, check_epsilon
from dp.accountants.pld import gaussian_epsilon
from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import (
    MATRIX_FACTORIZATION_STRATEGIES,
    Composed,
    DpEvent,
    Gaussian,
    MatrixFactorizationGaussian,
    SelfComposed,
)
from dp.ftrl import BandedStrategy, BLTStrategy, ParticipationSchema, Strategy, TreeAggregation
from dp.neighbouring import Neighbouring, check_neighbouring

__all__ = [
    "prefix_strategy",
    "prefix_sensitivities",
    "round_events",
    "run_event",
    "zcdp_rho",
    "sensitivity_scale",
    "calibrate_noise_multiplier",
]

#: Rounds up to which every round's prefix sensitivity is computed exactly (checkpoints beyond).
_EVERY_ROUND = 128
#: Checkpoints evaluated after the first :data:`_EVERY_ROUND` rounds.
_CHECKPOINTS = 48


def _event_strategy_name(strategy: Strategy) -> str:
    name = strategy.mechanism
    return name if name in MATRIX_FACTORIZATION_STRATEGIES else "other"


def _check(strategy: object, schema: object) -> tuple[Strategy, ParticipationSchema]:
    if not isinstance(strategy, Strategy):
        raise InvalidArgument(f"strategy must be a dp.ftrl.Strategy, got {type(strategy).__name__}")
    if not isinstance(schema, ParticipationSchema):
        raise InvalidArgument(f"schema must be a ParticipationSchema, got {type(schema).__name__}")
    if schema.rounds != strategy.rounds:
        raise InvalidArgument(
            f"the schema covers {schema.rounds} rounds and the strategy {strategy.rounds}"
        )
    return strategy, schema


def prefix_strategy(strategy: Strategy, rounds: int) -> Strategy | None:
    """The strategy whose encoder is the first ``rounds`` rounds' released part of ``strategy``.

    ``None`` for a strategy of unknown structure (its prefix is then bounded by the whole).
    """
    if not 1 <= rounds <= strategy.rounds:
        raise InvalidArgument(f"rounds must be in [1, {strategy.rounds}], got {rounds}")
    if rounds == strategy.rounds:
        return strategy
    if isinstance(strategy, TreeAggregation):
        return TreeAggregation(rounds)
    if isinstance(strategy, BandedStrategy):
        return BandedStrategy(rounds, strategy.coefs[:rounds])
    if isinstance(strategy, BLTStrategy):
        return BLTStrategy(rounds, strategy.theta, strategy.omega)
    return None


def _marks(rounds: int) -> list[int]:
    """Rounds at which the prefix sensitivity is evaluated: every early round, then spaced."""
    if rounds <= _EVERY_ROUND + _CHECKPOINTS:
        return list(range(1, rounds + 1))
    spaced = {
        _EVERY_ROUND + math.ceil((rounds - _EVERY_ROUND) * i / _CHECKPOINTS)
        for i in range(1, _CHECKPOINTS + 1)
    }
    return [*range(1, _EVERY_ROUND + 1), *sorted(spaced)]


def prefix_sensitivities(strategy: Strategy, schema: ParticipationSchema) -> NDArray[np.float64]:
    """Upper bounds on the prefix sensitivities ``s_1 <= ... <= s_n`` under ``schema``.

    ``s_t`` bounds the L2 sensitivity of the first ``t`` released outputs for unit-clipped
    contributions of a client that obeys the schema within those rounds; the last value is
    ``strategy.sensitivity(schema)``. The values are made non-decreasing (a running
    maximum of upper bounds is an upper bound).

    Raises:
        InvalidArgument: not a strategy and a schema of the same number of rounds.
    """
    strategy, schema = _check(strategy, schema)
    n = schema.rounds
    full = strategy.sensitivity(schema)
    out = np.full(n, full, dtype=np.float64)
    if prefix_strategy(strategy, max(1, n - 1)) is None:
        return out
    marks = _marks(n)
    values = {}
    for t in marks:
        prefix = prefix_strategy(strategy, t)
        assert prefix is not None
        sub = ParticipationSchema(t, schema.max_participations, schema.min_separation)
        values[t] = full if t == n else prefix.sensitivity(sub)
    # Each round takes the value of the next checkpoint (the true s_t never decreases).
    position = 0
    for t in range(1, n + 1):
        while marks[position] < t:
            position += 1
        out[t - 1] = values[marks[position]]
    return np.maximum.accumulate(out)


def round_events(
    strategy: Strategy,
    schema: ParticipationSchema,
    noise_multiplier: float,
    sensitivities: NDArray[np.float64] | None = None,
) -> list[MatrixFactorizationGaussian]:
    """One ledger entry per round whose composition through round ``t`` has sensitivity ``s_t``.

    Args:
        strategy: the run's strategy; its ``rounds`` must equal ``schema.rounds``.
        schema: the participation schema the selection enforces.
        noise_multiplier: the noise standard deviation over the clip norm.
        sensitivities: :func:`prefix_sensitivities`, when already computed.
    """
    strategy, schema = _check(strategy, schema)
    values = prefix_sensitivities(strategy, schema) if sensitivities is None else sensitivities
    if values.shape != (schema.rounds,):
        raise InvalidArgument("sensitivities must hold one value per round")
    name = _event_strategy_name(strategy)
    events = []
    prior = 0.0
    for value in values.tolist():
        events.append(
            MatrixFactorizationGaussian(
                noise_multiplier,
                value,
                rounds=schema.rounds,
                max_participations=min(schema.max_participations, schema.rounds),
                min_separation=schema.min_separation,
                prior_sensitivity=prior,
                strategy=name,
            )
        )
        prior = value
    return events


def run_event(
    strategy: Strategy, schema: ParticipationSchema, noise_multiplier: float
) -> MatrixFactorizationGaussian:
    """The whole run as one entry: the Gaussian of sensitivity ``strategy.sensitivity(schema)``."""
    strategy, schema = _check(strategy, schema)
    return MatrixFactorizationGaussian(
        noise_multiplier,
        strategy.sensitivity(schema),
        rounds=schema.rounds,
        max_participations=min(schema.max_participations, schema.rounds),
        min_separation=schema.min_separation,
        strategy=_event_strategy_name(strategy),
    )


def sensitivity_scale(neighbouring: Neighbouring) -> float:
    """How far one client moves a sum, in clip norms: 1 under zero-out, 2 under replace-one.

    Raises:
        UnsupportedEvent: add/remove, under which DP-FTRL is not accounted here.
    """
    relation = check_neighbouring(neighbouring)
    if relation == "add_remove":
        raise UnsupportedEvent("DP-FTRL is accounted under zero_out or replace_one, not add_remove")
    return 2.0 if relation == "replace_one" else 1.0


def zcdp_rho(ledger: Iterable[tuple[DpEvent, int]], neighbouring: Neighbouring) -> float:
    """The zCDP ``rho`` of a ledger of DP-FTRL entries and un-sampled Gaussians.

    ``rho`` adds under composition (Bun and Steinke 2016, Lemma 2.3); a DP-FTRL run of
    sensitivity ``s`` and noise multiplier ``z`` is ``s^2 / (2 z^2)``-zCDP (times 4 under
    replace-one), the figure production DP-FTRL deployments report.

    Raises:
        UnsupportedEvent: an event with no exact Gaussian zCDP here (sampled, Laplace, ...)
            or the add/remove relation.
    """
    scale = sensitivity_scale(neighbouring)
    total = 0.0
    for event, count in ledger:
        total += count * _rho(event, scale)
    return total


def _rho(event: DpEvent, scale: float) -> float:
    if isinstance(event, MatrixFactorizationGaussian):
        return event.rho(scale)
    if isinstance(event, Gaussian):
        g = event.noise_multiplier / scale
        return 0.5 / (g * g)
    if isinstance(event, SelfComposed):
        return event.count * _rho(event.event, scale)
    if isinstance(event, Composed):
        return sum(_rho(inner, scale) for inner in event.events)
    raise UnsupportedEvent(f"no exact zCDP rho for {event!r} here")


def calibrate_noise_multiplier(
    strategy: Strategy,
    schema: ParticipationSchema,
    epsilon: float,
    delta: float,
    neighbouring: Neighbouring = "zero_out",
) -> float:
    """The smallest noise multiplier whose whole run meets ``(epsilon, delta)``.

    The run is the Gaussian of sensitivity ``scale * sens(C)`` (``scale`` 1 under zero-out,
    2 under replace-one), so this inverts Balle and Wang's exact epsilon (2018, Theorem 8);
    the result is rounded up (with a margin of ``1e-9`` relative for the float rounding of
    a per-round ledger), so the run's accounted epsilon never exceeds ``epsilon``.

    Raises:
        InvalidArgument: a bad target, or a strategy and schema that do not match.
        UnsupportedEvent: ``add_remove``.
    """
    strategy, schema = _check(strategy, schema)
    epsilon = check_epsilon(epsilon)
    delta = check_delta(delta)
    if epsilon <= 0.0:
        raise InvalidArgument("epsilon must be > 0")
    total = sensitivity_scale(neighbouring) * strategy.sensitivity(schema)
    low, high = 1e-3, 1.0
    while gaussian_epsilon(high, delta) > epsilon:
        high *= 2.0
        if high > 1e9:
            raise InvalidArgument(f"no noise multiplier reaches epsilon {epsilon} at {delta}")
    if gaussian_epsilon(low, delta) <= epsilon:
        return low * total
    root = float(
        optimize.brentq(lambda g: gaussian_epsilon(g, delta) - epsilon, low, high, xtol=1e-12)
    )
    while gaussian_epsilon(root, delta) > epsilon:
        root *= 1.0 + 1e-12
    # A margin of 1e-9 covers the float rounding of a per-round ledger (round_events), whose
    # increments compose to the whole-run Gaussian only up to ~1e-12 relative.
    return root * total * (1.0 + 1e-9)
