"""DP-FTRL against DP-FedAvg: epsilon (and rho) against rounds at the same noise multiplier.

A DP-FTRL run assumes only its participation schema; DP-FedAvg's usual epsilon assumes that
every round's cohort is a Poisson sample of the whole population, which a cross-device
federation whose devices check in when idle, charging and on Wi-Fi cannot guarantee. This
comparison puts the two claims side by side, each with its assumption stated:

* the chosen strategy (BLT, banded or tree) under the schema, from its prefix
  sensitivities (:mod:`dp.ftrl_accounting`): the Gaussian of sensitivity ``s_t`` after
  round ``t``, so epsilon is exact (Balle and Wang 2018) and ``rho_t = s_t^2 / (2 z^2)``;
* tree aggregation (Kairouz et al. 2021) under the same schema and noise, for comparison;
* independent noise without sampling (DP-FedAvg when nothing is sampled, the identity
  factorisation): ``s_t = sqrt(participations so far)``;
* DP-FedAvg with Poisson sampling at rate ``cohort / population`` (the PLD accountant):
  what it would claim *if* the cohorts were Poisson samples.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dp.accountants import PldAccountant
from dp.accountants.base import check_delta
from dp.accountants.pld import gaussian_epsilon
from dp.errors import DPError, InvalidArgument
from dp.events import Gaussian, PoissonSampled
from dp.ftrl import ParticipationSchema, Strategy, TreeAggregation
from dp.ftrl_accounting import prefix_sensitivities, sensitivity_scale
from dp.neighbouring import Neighbouring, check_neighbouring

__all__ = ["ComparisonCurve", "FtrlComparison", "compare_ftrl"]


@dataclass(frozen=True, slots=True)
class ComparisonCurve:
    """Epsilon (and, for Gaussian mechanisms, zCDP rho) after each of ``rounds``."""

    label: str
    assumption: str
    relation: Neighbouring
    rounds: tuple[int, ...]
    epsilon: tuple[float, ...]
    rho: tuple[float, ...] | None
    prefix_rmse: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (infinite epsilons as ``"inf"``)."""
        return {
            "label": self.label,
            "assumption": self.assumption,
            "neighbouring": self.relation,
            "rounds": list(self.rounds),
            "epsilon": [e if math.isfinite(e) else "inf" for e in self.epsilon],
            "rho": None if self.rho is None else list(self.rho),
            "prefix_rmse": self.prefix_rmse,
        }


def _points(rounds: int, count: int) -> list[int]:
    if rounds <= count:
        return list(range(1, rounds + 1))
    return sorted({1 + (rounds - 1) * i // (count - 1) for i in range(count)})


def _gaussian_curve(
    label: str,
    assumption: str,
    sensitivities: Sequence[float],
    marks: Sequence[int],
    z: float,
    delta: float,
    relation: Neighbouring,
    unit_error: float,
) -> ComparisonCurve:
    scale = sensitivity_scale(relation)
    values = [scale * sensitivities[t - 1] for t in marks]
    return ComparisonCurve(
        label,
        assumption,
        relation,
        tuple(marks),
        tuple(gaussian_epsilon(z / s, delta) for s in values),
        tuple(s * s / (2.0 * z * z) for s in values),
        z * math.sqrt(unit_error),
    )


def _sampled_curve(
    rate: float, z: float, marks: Sequence[int], delta: float, relation: Neighbouring
) -> ComparisonCurve:
    """What DP-FedAvg would claim with Poisson-sampled cohorts (independent noise per round)."""
    # Poisson sampling is accounted under add/remove (equal to zero-out for Poisson; it has
    # no bound here under replace-one), which is what DP-FedAvg reports.
    claimed: Neighbouring = "add_remove" if relation == "replace_one" else relation
    accountant = PldAccountant(neighbouring=claimed)
    event = PoissonSampled(rate, Gaussian(z))
    done = 0
    epsilons = []
    for mark in marks:
        accountant.compose(event, mark - done)
        done = mark
        epsilons.append(accountant.get_epsilon(delta))
    return ComparisonCurve(
        f"DP-FedAvg, Poisson sampling q = {rate:.3g}",
        "every round's cohort is a Poisson sample of the whole population (amplification "
        "by sampling), which device check-ins do not provide",
        claimed,
        tuple(marks),
        tuple(epsilons),
        None,
        z * math.sqrt((marks[-1] + 1) / 2.0),
    )


@dataclass(frozen=True, slots=True)
class FtrlComparison:
    """DP-FTRL's claim against tree aggregation and DP-FedAvg's (see the module docstring)."""

    rounds: int
    max_participations: int
    min_separation: int
    noise_multiplier: float
    delta: float
    neighbouring: Neighbouring
    curves: tuple[ComparisonCurve, ...]

    def final(self) -> dict[str, float]:
        """The last epsilon of each curve, by label."""
        return {c.label: c.epsilon[-1] for c in self.curves}

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "type": "ftrl_comparison",
            "version": 1,
            "schema": {
                "rounds": self.rounds,
                "max_participations": self.max_participations,
                "min_separation": self.min_separation,
            },
            "noise_multiplier": self.noise_multiplier,
            "delta": self.delta,
            "neighbouring": self.neighbouring,
            "curves": [c.to_dict() for c in self.curves],
        }

    def to_markdown(self) -> str:
        """A table of the final epsilons and rhos, each with its assumption."""
        times = (
            "once"
            if self.max_participations == 1
            else f"at most {self.max_participations} times, at least {self.min_separation} "
            "rounds apart"
        )
        intro = (
            f"Participation schema (the DP-FTRL assumption): {self.rounds} rounds, each client "
            f"takes part {times}. Noise multiplier {self.noise_multiplier:g} for every "
            f"mechanism; epsilon at delta = {self.delta:.3g}. At the same noise multiplier, "
            "independent noise spends less epsilon than a factorisation but its prefix sums "
            "(the model) carry more noise: the RMSE column is the root mean squared error of "
            "the released prefix sums, in clip norms."
        )
        lines = [
            intro,
            "",
            "| mechanism | epsilon | zCDP rho | prefix-sum RMSE | relation | assumption |",
            "|---|---|---|---|---|---|",
        ]
        for c in self.curves:
            rho = "n/a" if c.rho is None else f"{c.rho[-1]:.4g}"
            lines.append(
                f"| {c.label} | {c.epsilon[-1]:.4g} | {rho} | {c.prefix_rmse:.4g} | "
                f"{c.relation} | {c.assumption} |"
            )
        return "\n".join(lines) + "\n"

    def plot_png(self) -> bytes:
        """Epsilon against rounds for every curve, as PNG bytes (needs matplotlib).

        Raises:
            DPError: matplotlib is not installed (``pip install 'fedcrypt[plot]'``).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise DPError("plotting needs matplotlib: pip install 'fedcrypt[plot]'") from exc
        fig = Figure(figsize=(6.4, 4.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for curve, style in zip(self.curves, ("-", "--", ":", "-."), strict=False):
            ax.plot(curve.rounds, curve.epsilon, style, label=curve.label)
        ax.set_xlabel("round")
        ax.set_ylabel(f"epsilon at delta = {self.delta:.2g}")
        heading = (
            f"DP-FTRL vs DP-FedAvg, z = {self.noise_multiplier:g}, schema n = {self.rounds}, "
            f"k = {self.max_participations}, b = {self.min_separation} ({self.neighbouring})"
        )
        ax.set_title(textwrap.fill(heading, width=70), fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def _independent_sensitivities(schema: ParticipationSchema) -> list[float]:
    """Identity factorisation: ``sqrt`` of the most participations fitting in ``t`` rounds."""
    k, b = schema.max_participations, schema.min_separation
    return [math.sqrt(min(k, (t - 1) // b + 1)) for t in range(1, schema.rounds + 1)]


def compare_ftrl(
    strategy: Strategy,
    schema: ParticipationSchema,
    noise_multiplier: float,
    *,
    delta: float,
    neighbouring: Neighbouring = "zero_out",
    sampling_rate: float | None = None,
    points: int = 60,
) -> FtrlComparison:
    """Epsilon against rounds for ``strategy``, tree aggregation and DP-FedAvg.

    Args:
        strategy: the run's DP-FTRL strategy, over ``schema.rounds`` rounds.
        schema: the participation schema the selection enforces.
        noise_multiplier: ``z`` (noise standard deviation over the clip norm), used for
            every mechanism compared.
        delta: the delta of every epsilon.
        neighbouring: ``"zero_out"`` (default) or ``"replace_one"``.
        sampling_rate: DP-FedAvg's Poisson rate (cohort over population) for the sampled
            comparison; ``None`` leaves it out.
        points: rounds at which the curves are evaluated (evenly spaced, first and last).

    Raises:
        InvalidArgument: a bad argument, or ``add_remove``.
    """
    delta = check_delta(delta)
    relation = check_neighbouring(neighbouring)
    if relation == "add_remove":
        raise InvalidArgument("DP-FTRL is compared under zero_out or replace_one")
    z = float(noise_multiplier)
    if not (math.isfinite(z) and z > 0):
        raise InvalidArgument("noise_multiplier must be finite and > 0")
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 10_000:
        raise InvalidArgument("points must be an int in [2, 10000]")
    marks = _points(schema.rounds, points)
    k = schema.max_participations
    times = "once" if k == 1 else f"<= {k} times, >= {schema.min_separation} rounds apart"
    assumption = f"participation schema only: each client {times}; no sampling"
    curves = [
        _gaussian_curve(
            f"DP-FTRL, {strategy.mechanism}",
            assumption,
            prefix_sensitivities(strategy, schema).tolist(),
            marks,
            z,
            delta,
            relation,
            strategy.expected_error(),
        )
    ]
    if not isinstance(strategy, TreeAggregation):
        tree = TreeAggregation(schema.rounds)
        curves.append(
            _gaussian_curve(
                "DP-FTRL, tree aggregation",
                assumption,
                prefix_sensitivities(tree, schema).tolist(),
                marks,
                z,
                delta,
                relation,
                tree.expected_error(),
            )
        )
    curves.append(
        _gaussian_curve(
            "independent noise, no sampling",
            assumption,
            _independent_sensitivities(schema),
            marks,
            z,
            delta,
            relation,
            (schema.rounds + 1) / 2.0,  # identity: the prefix sum of t rounds has variance t
        )
    )
    if sampling_rate is not None:
        rate = float(sampling_rate)
        if not 0.0 < rate <= 1.0:
            raise InvalidArgument("sampling_rate must be in (0, 1]")
        curves.append(_sampled_curve(rate, z, marks, delta, relation))
    return FtrlComparison(
        schema.rounds, k, schema.min_separation, z, delta, relation, tuple(curves)
    )
