"""DP-FTRL correlated noise: matrix-factorisation strategies for private training without sampling.

DP-FTRL (Kairouz, McMahan, Song, Thakkar, Thakurta and Xu 2021) privatises the prefix sums of
the per-round aggregates with correlated Gaussian noise; its guarantee needs only a bound on
how often, and how far apart, a client takes part (:class:`ParticipationSchema`), not
sampling. The strategies:

* :class:`TreeAggregation`: binary-tree aggregation with Honaker's online estimator;
* :class:`BandedStrategy`: banded (Toeplitz) matrix factorisation optimised for a schema
  (Choquette-Choo et al. 2023);
* :class:`BLTStrategy`: buffered linear Toeplitz, near-optimal with a few noise buffers of
  the model's size (Dvijotham et al. 2024; McMahan, Xu and Zhang 2024).

Each gives its sensitivity under a schema (for the accountant), its expected error, and a
streaming generator of the noise ``w_t = (C^{-1} z)_t`` to add to round ``t``'s aggregate,
with ``z`` drawn from the project's CSPRNG.
"""

from __future__ import annotations

from dp.ftrl._gaussian import standard_normals
from dp.ftrl.banded import BandedNoiseStream, BandedStrategy
from dp.ftrl.blt import BLTNoiseStream, BLTStrategy
from dp.ftrl.schema import ParticipationSchema
from dp.ftrl.strategy import STRATEGY_FORMAT_VERSION, NoiseStream, Strategy
from dp.ftrl.tree import TreeAggregation, TreeNoiseStream

__all__ = [
    "ParticipationSchema",
    "Strategy",
    "NoiseStream",
    "TreeAggregation",
    "TreeNoiseStream",
    "BandedStrategy",
    "BandedNoiseStream",
    "BLTStrategy",
    "BLTNoiseStream",
    "STRATEGY_FORMAT_VERSION",
    "standard_normals",
]
