"""Differential privacy of a Flower run: distributed noise settings and the server's ledger.

Under :class:`DistributedDP` every client adds an integer noise share before masking
(Kairouz, Liu, Steinke, ICML 2021; Agarwal, Kairouz, Liu, NeurIPS 2021, through
:mod:`dp.mechanisms.distributed`), so the server never sees an un-noised sum. The server
composes each released round's event, wrapped in the sampling scheme that picked the
cohort, into an accountant (PLD when it supports the event, RDP otherwise) and can stop
the run before a target epsilon would be exceeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import dp
from dp import Neighbouring
from dp.events import DpEvent, SampledWithoutReplacement
from federated.errors import InvalidArgument

__all__ = ["DistributedDP", "RunAccountant"]


@dataclass(frozen=True, slots=True)
class DistributedDP:
    """Distributed DP parameters (client-level: one client's whole update is the unit).

    Attributes:
        noise_multiplier: aggregate noise standard deviation over the clipping norm of the
            honest survivors' shares alone, when the fewest honest clients a round accepts
            survive (more survivors only add noise).
        noise: ``"discrete_gaussian"`` (Kairouz et al. 2021) or ``"skellam"``.
        delta: the delta at which epsilon is reported; required (keyword-only), and a run
            with more nodes than ``1 / delta`` is refused.
        target_epsilon: stop before a round would exceed it (``None``: no budget); a run
            whose first round already would is refused before it starts.
        k_stddevs: head-room of the modular range, in aggregate standard deviations.
        neighbouring: the relation epsilon is reported for (``"add_remove"`` by default;
            ``"zero_out"`` and ``"replace_one"`` only as explicit choices).
        colluders: nodes of a cohort that may collude with the server and subtract their own
            noise shares. ``None`` (the default) assumes as many as SecAgg+ tolerates, the
            Shamir threshold minus one; the noise is sized for, and each round accounted
            with, the honest survivors only.
    """

    noise_multiplier: float
    noise: Literal["discrete_gaussian", "skellam"] = "discrete_gaussian"
    delta: float = field(kw_only=True)
    target_epsilon: float | None = None
    k_stddevs: float = 4.0
    neighbouring: Neighbouring = "add_remove"
    colluders: int | None = None

    def __post_init__(self) -> None:
        z = self.noise_multiplier
        if (
            isinstance(z, bool)
            or not isinstance(z, int | float)
            or not (math.isfinite(z) and z > 0)
        ):
            raise InvalidArgument("noise_multiplier must be finite and > 0")
        if self.noise not in ("discrete_gaussian", "skellam"):
            raise InvalidArgument("noise must be 'discrete_gaussian' or 'skellam'")
        if (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, int | float)
            or not 0.0 < self.delta < 1.0
        ):
            raise InvalidArgument("delta must be in (0, 1)")
        if self.target_epsilon is not None and not (
            math.isfinite(self.target_epsilon) and self.target_epsilon > 0
        ):
            raise InvalidArgument("target_epsilon must be finite and > 0")
        if not (math.isfinite(self.k_stddevs) and self.k_stddevs > 0):
            raise InvalidArgument("k_stddevs must be finite and > 0")
        try:
            dp.check_neighbouring(self.neighbouring)
        except dp.DPError as exc:
            raise InvalidArgument(str(exc)) from exc
        if self.colluders is not None and (
            isinstance(self.colluders, bool)
            or not isinstance(self.colluders, int)
            or self.colluders < 0
        ):
            raise InvalidArgument("colluders must be None or an int >= 0")

    def colluders_for(self, threshold: int) -> int:
        """Colluders assumed in a round whose Shamir threshold is ``threshold``.

        Raises:
            InvalidArgument: more colluders than SecAgg+ tolerates (``threshold - 1``),
                which would also leave a released sum without an honest noise share.
        """
        colluders = threshold - 1 if self.colluders is None else self.colluders
        if colluders > threshold - 1:
            raise InvalidArgument(
                f"{colluders} colluders: SecAgg+ with threshold {threshold} only hides an "
                f"input from the server plus {threshold - 1} colluding clients"
            )
        return colluders


class RunAccountant:
    """The server's privacy ledger for a run: one sampled event per released round.

    Args:
        settings: the DP parameters of the run.
        population: the number of nodes the cohorts are sampled from.

    Raises:
        InvalidArgument: if ``settings.delta`` exceeds ``1 / population``.
    """

    def __init__(self, settings: DistributedDP, population: int) -> None:
        if settings.delta > 1.0 / population:
            raise InvalidArgument(
                f"delta {settings.delta:g} exceeds 1 / population = 1/{population}: choose "
                "delta well below 1 / (number of nodes)"
            )
        self.settings = settings
        self.population = population
        self.events: list[DpEvent] = []

    def sampled(self, event: DpEvent, cohort: int) -> DpEvent:
        """``event`` amplified by the fixed-size uniform sampling of the cohort.

        A cohort of every node is still a fixed-size cohort (with one node more it would
        leave one out), so under add/remove it is accounted with displacement too.
        """
        return SampledWithoutReplacement(self.population, min(cohort, self.population), event)

    def accountant(self, extra: DpEvent | None = None) -> dp.PrivacyAccountant:
        """A fresh accountant holding the ledger (and ``extra``): PLD if it can, else RDP.

        Both are built for the run's neighbouring relation.
        """
        events = [*self.events, *([extra] if extra is not None else [])]
        relation = self.settings.neighbouring
        pld = dp.PldAccountant(neighbouring=relation)
        chosen: dp.PrivacyAccountant = (
            pld if all(pld.supports(e) for e in events) else dp.RdpAccountant(neighbouring=relation)
        )
        for event in events:
            chosen.compose(event)
        return chosen

    def epsilon(self, extra: DpEvent | None = None) -> float:
        """Epsilon at the run's delta after the ledger (and ``extra``)."""
        if not self.events and extra is None:
            return 0.0
        return self.accountant(extra).get_epsilon(self.settings.delta)

    def fits(self, event: DpEvent) -> bool:
        """Whether composing ``event`` keeps epsilon within the target."""
        target = self.settings.target_epsilon
        return target is None or self.epsilon(event) <= target

    def record(self, event: DpEvent) -> float:
        """Compose a released round's (sampled) event; return the new epsilon."""
        self.events.append(event)
        return self.epsilon()
