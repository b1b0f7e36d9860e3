"""Canary clients that audit a run: the privacy it really gives, next to the epsilon claimed.

``federated.run(..., audit=AuditConfig(canaries=k))`` draws, before round 1, ``k`` secret
unit directions in the model's space and ``k`` secret fair coins, all from the OS CSPRNG
(:mod:`dp._rng` through :func:`dp.audit.random_canary_directions`, never numpy's or
Python's generators: a predictable canary could be faked or hidden). Each canary whose coin
is set joins the population as an ordinary client whose update, whenever it is selected, is
``clip_norm * direction`` (Andrew, Kairouz, Oh, Oprea, McMahan and Suriyakumar 2024); it
goes through clipping, encoding, noise shares, masking or encryption like any client, and
it counts in the population the accountant samples from. The others never take part.

After training, each canary's score is the cosine between its direction and the final model
change, and the Gaussian-DP one-run audit (Mahloujifar, Melis and Chaudhuri 2024, on the
game of Steinke, Nasr and Jagielski 2023) turns coins and scores into an
:class:`dp.audit.AuditResult`: an epsilon lower bound at the run's delta, which a correct
pipeline exceeds with probability at most ``1 - confidence``, and the Andrew et al.
estimate from the Gaussian fit of the same cosines.

The coin game adds or removes a canary, so the audit needs a run accounted under
``add_remove`` or ``replace_one`` (whose epsilon is never below add/remove's);
``zero_out`` says nothing about a client's presence and is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dp._rng import random_bits
from federated.client import ClientUpdate
from federated.config import FederatedConfig
from federated.errors import InvalidArgument

if TYPE_CHECKING:
    # dp.audit needs scipy.stats; it is imported when a run is audited, so that importing
    # federated stays as quick as before.
    from dp.audit import AuditResult

__all__ = ["AuditConfig", "CanaryClient", "CanaryPlan"]


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """Audit a run with canary clients (see the module docstring).

    Attributes:
        canaries: how many canary directions to draw (about half join the run). More
            canaries raise the ceiling of the bound (with 1,000 one run cannot certify much
            more than 5.8); keep them well below the model's dimension so their directions
            stay nearly orthogonal.
        confidence: the probability that a correct pipeline's bound stays under its claim.
        delta: the delta of the audit when the run adds no noise (a private run is audited
            at its own delta, and giving another one is refused).

    Raises:
        InvalidArgument: ``canaries`` below 2, ``confidence`` or ``delta`` outside (0, 1).
    """

    canaries: int
    confidence: float = 0.95
    delta: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.canaries, bool) or not isinstance(self.canaries, int):
            raise InvalidArgument("AuditConfig.canaries must be an int")
        if not 2 <= self.canaries <= 10**6:
            raise InvalidArgument("AuditConfig.canaries must be in [2, 10**6]")
        for name in ("confidence", "delta"):
            value = getattr(self, name)
            if value is None and name == "delta":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and 0.0 < value < 1.0)
            ):
                raise InvalidArgument(f"AuditConfig.{name} must be in (0, 1)")


@dataclass(frozen=True, slots=True, eq=False)
class CanaryClient:
    """A client whose update is always ``clip_norm * direction`` (at the clip boundary).

    It holds no data, so it never takes part in evaluation. Its example count is the
    weighting cap: under ``Weighting.EXAMPLES`` (runs without DP only) it weighs as much as
    the largest ordinary client may, and no more.
    """

    direction: NDArray[np.float64]
    clip_norm: float
    num_examples: int

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        """The crafted update, whatever the global parameters."""
        del parameters
        return ClientUpdate(self.clip_norm * self.direction, self.num_examples)


@dataclass(frozen=True, eq=False)
class CanaryPlan:
    """The secret canaries of one run: directions, inclusion coins, and how to score them.

    Attributes:
        settings: the audit's configuration.
        directions: one unit row per canary, in the model's parameter space.
        included: the inclusion coins; canary ``j`` takes part iff ``included[j]``.
        clients: the included canaries as clients, in canary order.
    """

    settings: AuditConfig
    directions: NDArray[np.float64]
    included: NDArray[np.bool_]
    clients: tuple[CanaryClient, ...]

    @classmethod
    def draw(cls, settings: AuditConfig, config: FederatedConfig, dimension: int) -> CanaryPlan:
        """Draw the directions and coins from the CSPRNG, before any round runs.

        Raises:
            InvalidArgument: a one-parameter model (a direction needs two dimensions), a
                ``zero_out`` run, or an audit delta that contradicts the run's.
        """
        privacy = config.privacy
        if privacy.enabled and privacy.neighbouring == "zero_out":
            raise InvalidArgument(
                "canaries are added or removed, which a zero_out claim does not cover; "
                "audit an add_remove or replace_one run"
            )
        if privacy.enabled and settings.delta is not None:
            raise InvalidArgument("a private run is audited at its own delta; leave delta unset")
        if not privacy.enabled and settings.delta is None:
            raise InvalidArgument("a run without DP has no delta: set AuditConfig.delta")
        if dimension < 2:
            raise InvalidArgument("canary directions need a model of at least 2 parameters")
        from dp.audit import random_canary_directions

        directions = random_canary_directions(settings.canaries, dimension)
        included = random_bits(settings.canaries)
        clients = tuple(
            CanaryClient(directions[j], config.clip_norm, config.example_weight_cap)
            for j in np.flatnonzero(included)
        )
        return cls(settings, directions, included, clients)

    def audit(
        self, model_change: NDArray[np.float64], delta: float, claimed_epsilon: float | None
    ) -> AuditResult:
        """The one-run Gaussian-DP audit of the run's final model change.

        A run that never changed the model (no completed round) scores every canary 0,
        which refutes nothing.
        """
        from dp.audit import audit_one_run_gdp, canary_cosines

        if float(np.linalg.norm(model_change)) == 0.0:
            scores = np.zeros(self.settings.canaries, dtype=np.float64)
        else:
            scores = canary_cosines(self.directions, model_change)
        return audit_one_run_gdp(
            self.included,
            scores,
            delta=delta,
            confidence=self.settings.confidence,
            claimed_epsilon=claimed_epsilon,
        )
