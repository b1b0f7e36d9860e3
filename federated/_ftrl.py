"""DP-FTRL in a run: the strategy, the server's correlated noise, and the per-round events.

The server adds round ``t``'s noise ``w_t`` of the strategy's stream (:mod:`dp.ftrl`) to the
securely aggregated sum and updates the model with it: the released sums are
``x + C^{-1} z``, a post-processing of ``C x + z`` (Kairouz et al. 2021; Denisov et al.
2022). The stream is advanced once per round of the schema, also for skipped rounds (whose
noise is drawn and dropped unused), so that round ``t`` always gets ``w_t``.

Each completed round composes one :class:`dp.MatrixFactorizationGaussian` entry: the growth
of the prefix sensitivity since the last accounted round (:mod:`dp.ftrl_accounting`), so
that after round ``t`` the ledger is the Gaussian of sensitivity ``s_t`` and the whole run
the Gaussian of sensitivity ``sens(C)`` under the participation schema. A skipped round
composes nothing; its growth is charged to the next completed round.
"""

from __future__ import annotations

import contextlib

import numpy as np
from numpy.typing import NDArray

from dp import MatrixFactorizationGaussian
from dp.ftrl import (
    BandedStrategy,
    BLTStrategy,
    ParticipationSchema,
    Strategy,
    TreeAggregation,
)
from dp.ftrl_accounting import prefix_sensitivities, round_events
from federated.config import FederatedConfig, FtrlSettings, ParticipationSelection
from federated.errors import InvalidArgument

__all__ = ["FtrlNoise", "build_strategy", "schema_of"]


def schema_of(config: FederatedConfig) -> ParticipationSchema:
    """The participation schema a run's :class:`ParticipationSelection` enforces."""
    selection = config.selection
    if not isinstance(selection, ParticipationSelection):
        raise InvalidArgument("DP-FTRL needs a ParticipationSelection")
    return ParticipationSchema(
        config.rounds, min(selection.max_participations, config.rounds), selection.min_separation
    )


def build_strategy(settings: FtrlSettings, schema: ParticipationSchema) -> Strategy:
    """The strategy ``settings`` name, optimised for ``schema`` (cached on disk if asked)."""
    if settings.mechanism == "tree":
        return TreeAggregation(schema.rounds)
    if settings.mechanism == "banded":
        return BandedStrategy.optimise(schema, settings.bands, cache_dir=settings.cache_dir)
    return BLTStrategy.optimise(schema, settings.buffers, cache_dir=settings.cache_dir)


class FtrlNoise:
    """The DP-FTRL part of a run's privacy bookkeeping.

    Args:
        config: the run's configuration (with ``ftrl`` set and a participation schema).
        schema: the participation schema the selection enforces.
        vector_length: the length of the aggregated vectors.
        sensitivity: one client's L2 bound per round in the user's units (the clip norm
            plus the rounding slack of the secure-aggregation encoding).
        strategy: a prebuilt strategy (default: :func:`build_strategy`).
    """

    def __init__(
        self,
        config: FederatedConfig,
        schema: ParticipationSchema,
        vector_length: int,
        sensitivity: float,
        strategy: Strategy | None = None,
    ) -> None:
        settings = config.ftrl
        if settings is None:
            raise InvalidArgument("this run does not use DP-FTRL")
        self.schema = schema
        self.strategy = strategy if strategy is not None else build_strategy(settings, schema)
        if self.strategy.rounds != schema.rounds:
            raise InvalidArgument("the strategy must cover the schema's rounds")
        self.noise_multiplier = config.privacy.noise_multiplier
        self.noise_std = self.noise_multiplier * sensitivity
        self.sensitivities = prefix_sensitivities(self.strategy, schema)
        self._events = round_events(
            self.strategy, schema, self.noise_multiplier, self.sensitivities
        )
        self._stream = self.strategy.noise_stream(vector_length, self.noise_std)
        self.noised_round = 0
        """The last round whose noise was drawn."""
        self.accounted_round = 0
        """The last round the ledger covers (set by the tracker once it composed it)."""

    def add_noise(self, total: NDArray[np.float64], round_number: int) -> NDArray[np.float64]:
        """``total + w_t`` for round ``t = round_number`` (skipped rounds' noise is dropped).

        Raises:
            InvalidArgument: a round outside the schema or not after the last noised one.
        """
        if not self.noised_round < round_number <= self.schema.rounds:
            raise InvalidArgument(
                f"round {round_number} cannot be noised after round {self.noised_round} "
                f"(the schema has {self.schema.rounds} rounds)"
            )
        while self.noised_round < round_number - 1:
            self._stream.next()  # a skipped round: its noise is never released
            self.noised_round += 1
        noise = self._stream.next()
        self.noised_round = round_number
        return np.asarray(total, dtype=np.float64) + noise

    def event_through(
        self, round_number: int, *, since: int | None = None
    ) -> MatrixFactorizationGaussian:
        """The entry covering rounds ``since + 1 .. round_number`` (default: since the ledger's)."""
        start = self.accounted_round if since is None else since
        if not 0 <= start < round_number <= self.schema.rounds:
            raise InvalidArgument(f"no DP-FTRL entry for rounds {start + 1}..{round_number}")
        last = self._events[round_number - 1]
        prior = 0.0 if start == 0 else float(self.sensitivities[start - 1])
        return MatrixFactorizationGaussian(
            last.noise_multiplier,
            last.sensitivity,
            rounds=last.rounds,
            max_participations=last.max_participations,
            min_separation=last.min_separation,
            prior_sensitivity=prior,
            strategy=last.strategy,
        )

    @property
    def run_event(self) -> MatrixFactorizationGaussian:
        """The whole planned run as one entry (sensitivity ``sens(C)``)."""
        return self.event_through(self.schema.rounds, since=0)


def comparison_files(
    ftrl: FtrlNoise, config: FederatedConfig, population: int
) -> list[tuple[str, bytes]]:
    """The run's DP-FTRL comparison as ``(suffix, bytes)`` files: Markdown, and PNG if plotted.

    DP-FedAvg is compared at the Poisson rate ``cohort / population`` that would fill the
    same cohorts on average (:func:`dp.report.compare_ftrl`).
    """
    from dp.errors import DPError
    from dp.report import compare_ftrl

    selection = config.selection
    assert isinstance(selection, ParticipationSelection)  # checked by FederatedConfig
    comparison = compare_ftrl(
        ftrl.strategy,
        ftrl.schema,
        ftrl.noise_multiplier,
        delta=config.privacy.run_delta,
        neighbouring=config.privacy.neighbouring,
        sampling_rate=min(1.0, selection.cohort_size / max(population, 1)),
    )
    files = [("-ftrl-comparison.md", comparison.to_markdown().encode())]
    with contextlib.suppress(DPError):  # no matplotlib: the Markdown alone
        files.append(("-ftrl-comparison.png", comparison.plot_png()))
    return files
