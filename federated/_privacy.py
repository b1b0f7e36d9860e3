"""Privacy bookkeeping of a run: the accountant, the budget, central noise, DP codecs.

The privacy unit is one client (user-level DP, McMahan et al. 2018) under the run's
neighbouring relation (``PrivacyConfig.neighbouring``, add/remove-one-client by default),
which the accountants, the ledger and the report all use. Each completed round composes one
event: the round's mechanism (central discrete Gaussian, or the distributed discrete
Gaussian of the honest survivors' noise shares) wrapped in the selection's subsampling
(Poisson, or sampling without replacement for fixed-size cohorts, which under add/remove the
accountant treats as the displacement pair). Skipped rounds release nothing and compose
nothing. The budget is checked with the worst case of the next round before it runs.

Under distributed DP up to ``colluders`` clients may collude with the server and subtract
their own noise shares, so the shares are sized for, and each round is accounted with, the
honest survivors only: ``survivors - colluders``.

Under DP-FTRL (``FederatedConfig.ftrl``) the server adds the correlated noise of a matrix
factorisation instead (:mod:`federated._ftrl`), and each completed round composes the growth
of the prefix sensitivity under the participation schema, so the whole run is accounted as
one Gaussian mechanism (:class:`dp.MatrixFactorizationGaussian`).

Under validated aggregation, central DP trusts neither aggregator: each adds the whole
discrete Gaussian noise to its share of the integer sum, and the round is accounted with
one share's noise at the proven norm bound's sensitivity (:class:`AggregatorNoise`), which
holds whichever aggregator colludes with the analyst and whatever the number of clients.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

import dp
from dp.mechanisms.central import GaussianMechanism
from dp.mechanisms.distributed import DistributedConfig
from federated._codecs import FixedPointCodec, IntegerCodec, weighted_bound
from federated._distributed import DistributedCodec
from federated._validated import AggregatorNoise, BoundedEncoding
from federated.config import (
    Aggregation,
    BudgetPolicy,
    DPMode,
    FederatedConfig,
    PoissonSelection,
    UniformSelection,
    Weighting,
)
from federated.errors import BudgetExhausted, InvalidArgument

if TYPE_CHECKING:
    from federated._ftrl import FtrlNoise

__all__ = ["PrivacyTracker", "validated_encoding"]


class PrivacyTracker:
    """Composes one accountant event per completed round and enforces the budget.

    Args:
        config: the run's configuration.
        population: the number of clients (the sampling population).
        vector_length: the length of the aggregated vectors.

    Attributes:
        n_min: distributed DP: the fewest honest survivors of a released round, for which
            each client's noise share is sized (1 otherwise).
        colluders: distributed DP: clients assumed to collude with the server (0 otherwise).

    Raises:
        InvalidArgument: delta above ``1 / population``, or a run no accountant can bound.
    """

    def __init__(self, config: FederatedConfig, population: int, vector_length: int) -> None:
        self.config = config
        self.population = population
        self.vector_length = vector_length
        self.n_min = 1
        self.colluders = 0
        privacy = config.privacy
        self.accountant: dp.PrivacyAccountant | None = None
        self._central: GaussianMechanism | None = None
        self._distributed: DistributedConfig | None = None
        self.ftrl: FtrlNoise | None = None
        self._aggregators: AggregatorNoise | None = None
        if not privacy.enabled:
            return
        selection = config.selection
        if (
            isinstance(selection, PoissonSelection)
            and selection.expected_cohort is None
            and privacy.neighbouring == "add_remove"
        ):
            raise InvalidArgument(
                "with DP, Poisson selection and the add_remove relation, declare "
                "PoissonSelection(rate, expected_cohort=...): the FedAvg denominator must be "
                "a public constant, not rate x the population, which differs between "
                "neighbouring datasets and would release the noise at a data-dependent scale"
            )
        delta = privacy.run_delta
        if delta > 1.0 / population:
            raise InvalidArgument(
                f"delta {delta:g} exceeds 1 / population = 1/{population}: a mechanism that "
                "publishes one random client's data in the clear meets such a delta; choose "
                "delta well below 1 / population"
            )
        if privacy.mode is DPMode.CENTRAL and config.aggregation is Aggregation.VALIDATED:
            encoding = validated_encoding(config, vector_length)
            self._aggregators = AggregatorNoise(
                privacy.noise_multiplier, encoding.norm_bound, vector_length
            )
        elif privacy.mode is DPMode.CENTRAL:
            self._central = GaussianMechanism(
                privacy.noise_multiplier,
                l2_sensitivity=config.clip_norm + self._rounding_slack(),
                dimension=vector_length,
            )
        elif privacy.mode is DPMode.DISTRIBUTED:
            selection = config.selection
            assert isinstance(selection, UniformSelection)  # checked by FederatedConfig
            self.colluders = config.colluders(selection.sample_size)
            self.n_min = config.honest_survivor_threshold(selection.sample_size)
            self._distributed = DistributedConfig.calibrate(
                dimension=vector_length,
                l2_clip=config.clip_norm,
                noise_multiplier=privacy.noise_multiplier,
                n_min=self.n_min,
                num_clients=selection.sample_size,
                modulus_bits=config.masking.modulus_bits,
            )
        if config.ftrl is not None:  # checked by FederatedConfig: central DP, a schema
            from federated._ftrl import FtrlNoise, schema_of  # imports dp.ftrl when used

            self._central = None
            self.ftrl = FtrlNoise(
                config, schema_of(config), vector_length, config.clip_norm + self._rounding_slack()
            )
        self.accountant = self._choose_accountant(privacy.accountant)

    def _rounding_slack(self) -> float:
        """How far stochastic rounding can move one client's clipped update (L2).

        Each coordinate moves by less than one grid step, so the slack is below
        ``sqrt(d) * step``; the central mechanism's sensitivity includes it.
        """
        config = self.config
        if config.aggregation is Aggregation.PLAIN_INSECURE:
            return 0.0
        if config.aggregation is Aggregation.PAILLIER:
            step = 2.0**-config.paillier.scale_bits
        else:
            selection = config.selection
            largest = (
                selection.sample_size
                if isinstance(selection, UniformSelection)
                else self.population
            )
            step = FixedPointCodec(
                config.masking.modulus_bits, self.vector_length, largest, config.clip_norm
            ).step
        return math.sqrt(self.vector_length) * step

    def _new_accountant(self, kind: type[dp.PrivacyAccountant]) -> dp.PrivacyAccountant:
        """A fresh accountant of ``kind`` under the run's neighbouring relation."""
        relation = self.config.privacy.neighbouring
        if kind is dp.PldAccountant:
            return dp.PldAccountant(neighbouring=relation)
        if kind is dp.RdpAccountant:
            return dp.RdpAccountant(neighbouring=relation)
        raise InvalidArgument(f"unknown accountant {kind.__name__}")

    def _choose_accountant(self, name: str) -> dp.PrivacyAccountant:
        """The accountant for this run's events; refuse a run nobody can account for."""
        event = self.worst_case_event()
        kinds: list[type[dp.PrivacyAccountant]] = []
        if name in ("auto", "pld"):
            kinds.append(dp.PldAccountant)
        if name in ("auto", "rdp"):
            kinds.append(dp.RdpAccountant)
        for kind in kinds:
            accountant = self._new_accountant(kind)
            if accountant.supports(event):
                return accountant
        raise InvalidArgument(
            f"no {name} accountant can soundly account for {event!r} under "
            f"{self.config.privacy.neighbouring}; choose another accountant, selection, "
            "relation or DP mode"
        )

    # -- events -------------------------------------------------------------------------------

    def _subsampled(self, inner: dp.DpEvent) -> dp.DpEvent:
        selection = self.config.selection
        if isinstance(selection, UniformSelection):
            # Even a cohort of the whole population is a fixed-size cohort: with one client
            # more it would leave one out, so under add/remove it displaces (the accountant
            # charges twice the sensitivity). Full participation that grows with the
            # population is PoissonSelection(rate=1.0).
            return dp.SampledWithoutReplacement(self.population, selection.sample_size, inner)
        assert isinstance(selection, PoissonSelection)
        if selection.rate >= 1.0:
            return inner
        return dp.PoissonSampled(selection.rate, inner)

    def round_event(self, survivors: int) -> dp.DpEvent:
        """The accountant event of a completed round with ``survivors`` clients in the sum.

        Under distributed DP only ``survivors - colluders`` noise shares are unknown to
        the server, so the event is that of the honest survivors. Under DP-FTRL it is the
        growth of the prefix sensitivity through the round last noised.
        """
        if self.ftrl is not None:
            return self.ftrl.event_through(self.ftrl.noised_round)
        if self._central is not None:
            return self._subsampled(self._central.event)
        if self._aggregators is not None:
            return self._subsampled(self._aggregators.event)
        if self._distributed is not None:
            honest = survivors - self.colluders
            if honest < self.n_min:
                raise InvalidArgument(
                    f"a released round needs at least {self.n_min + self.colluders} survivors, "
                    f"got {survivors}"
                )
            return self._subsampled(self._distributed.event(honest))
        raise InvalidArgument("this run adds no noise")

    def worst_case_event(self) -> dp.DpEvent:
        """The event of the costliest possible completed round (fewest honest survivors).

        Under DP-FTRL: the whole planned run, the costliest ledger it can produce.
        """
        if self.ftrl is not None:
            return self.ftrl.run_event
        return self.round_event(self.n_min + self.colluders)

    # -- budget -------------------------------------------------------------------------------

    def _epsilon_of(self, accountant: dp.PrivacyAccountant) -> float:
        return float(accountant.get_epsilon(self.config.privacy.run_delta))

    def _planned_after(self, rounds: int) -> float | None:
        """Epsilon of ``rounds`` worst-case rounds from a fresh accountant of the run's kind."""
        if self.accountant is None:
            return None
        fresh = self._new_accountant(type(self.accountant))
        if self.ftrl is not None:  # one Gaussian: the prefix through ``rounds``
            fresh.compose(self.ftrl.event_through(min(rounds, self.config.rounds), since=0))
            return self._epsilon_of(fresh)
        fresh.compose(self.worst_case_event(), rounds)
        return self._epsilon_of(fresh)

    def planned_epsilon(self) -> float | None:
        """Epsilon of the whole planned run if every round completes (worst case)."""
        return self._planned_after(self.config.rounds)

    def check_can_start(self) -> None:
        """Refuse a run that cannot meet its target, before any client trains.

        With the ``REFUSE`` policy, the planned rounds (worst case) must fit the target.
        With ``STOP``, at least the first round must: a run that would stop before round 1
        would return an untrained model and epsilon 0 without a word.

        Raises:
            BudgetExhausted: the planned run (``REFUSE``) or its first round (``STOP``)
                would exceed the target epsilon.
        """
        privacy = self.config.privacy
        target = privacy.target_epsilon
        if target is None or self.accountant is None:
            return
        if privacy.budget_policy is BudgetPolicy.REFUSE:
            planned = self.planned_epsilon()
            if planned is not None and planned > target:
                raise BudgetExhausted(
                    f"{self.config.rounds} rounds would spend epsilon {planned:.3f} at delta "
                    f"{privacy.run_delta:g}, above the target {target:g}; refusing to start"
                )
            return
        first = self._planned_after(1)
        if first is not None and first > target:
            raise BudgetExhausted(
                f"one round already spends epsilon {first:.3f} at delta {privacy.run_delta:g} "
                f"(worst case), above the target {target:g}: the run would stop before round "
                "1 with an untrained model; add noise, sample fewer clients or raise the target"
            )

    def next_round_fits(self, round_number: int | None = None) -> bool:
        """Whether one more round (worst case) stays within the target epsilon.

        Under DP-FTRL the next round is ``round_number`` (default: the last of the run).
        """
        target = self.config.privacy.target_epsilon
        if self.accountant is None or target is None:
            return True
        trial = copy.deepcopy(self.accountant)
        if self.ftrl is not None:
            upto = self.config.rounds if round_number is None else round_number
            trial.compose(self.ftrl.event_through(max(upto, self.ftrl.accounted_round + 1)))
            return self._epsilon_of(trial) <= target
        trial.compose(self.worst_case_event())
        return self._epsilon_of(trial) <= target

    # -- rounds -------------------------------------------------------------------------------

    def epsilon(self) -> float | None:
        """The epsilon spent so far at the run's delta (``None`` without DP)."""
        if self.accountant is None:
            return None
        return self._epsilon_of(self.accountant)

    def record_round(self, survivors: int) -> float | None:
        """Compose the event of a completed round; return the cumulative epsilon."""
        if self.accountant is None:
            return None
        self.accountant.compose(self.round_event(survivors))
        if self.ftrl is not None:
            self.ftrl.accounted_round = self.ftrl.noised_round
        return self.epsilon()

    def add_central_noise(self, total: NDArray[np.float64]) -> NDArray[np.float64]:
        """Central DP: exact discrete Gaussian noise on the unmasked sum (server side)."""
        if self._central is None:
            raise InvalidArgument("this run has no central noise")
        return self._central.release(total)

    @property
    def aggregator_noise(self) -> AggregatorNoise | None:
        """Validated aggregation under central DP: each aggregator's noise (else ``None``)."""
        return self._aggregators

    def distributed_codec(self, cohort_size: int) -> IntegerCodec:
        """The distributed-DP codec of a round (clients add integer noise shares)."""
        if self._distributed is None:
            raise InvalidArgument("this run does not use distributed DP")
        del cohort_size  # fixed by UniformSelection, checked by FederatedConfig
        return DistributedCodec(self._distributed)


def validated_encoding(config: FederatedConfig, vector_length: int) -> BoundedEncoding:
    """The validated backend's fixed-point grid and proven norm bound for this run."""
    bound = weighted_bound(config.clip_norm, config.weighting is Weighting.EXAMPLES)
    return BoundedEncoding(config.validated.bits, vector_length, bound)
