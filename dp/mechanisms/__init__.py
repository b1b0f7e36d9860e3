"""Noise for differential privacy: exact integer samplers, central and distributed mechanisms.

* :mod:`dp.mechanisms.samplers`: exact discrete Gaussian, discrete Laplace, Poisson and
  Skellam samplers fed by :func:`os.urandom` (Canonne, Kamath and Steinke 2020).
* :mod:`dp.mechanisms.central`: Gaussian and Laplace mechanisms on a fine integer grid for
  a trusted aggregator, with :func:`clip_l2` and :func:`clip_l1`.
* :mod:`dp.mechanisms.distributed`: distributed discrete Gaussian / Skellam noise for
  secure aggregation (Kairouz et al. 2021; Agarwal et al. 2021).
"""

from __future__ import annotations

from dp.mechanisms.central import GaussianMechanism, LaplaceMechanism, grid_step
from dp.mechanisms.clipping import clip_l1, clip_l2
from dp.mechanisms.distributed import (
    DecodedAggregate,
    DistributedConfig,
    NoiseKind,
    conditional_round,
    decode_aggregate,
    encode_update,
)
from dp.mechanisms.samplers import (
    RationalLike,
    sample_discrete_gaussian,
    sample_discrete_gaussian_sq,
    sample_discrete_laplace,
    sample_poisson,
    sample_skellam,
)

__all__ = [
    # samplers
    "RationalLike",
    "sample_discrete_gaussian",
    "sample_discrete_gaussian_sq",
    "sample_discrete_laplace",
    "sample_poisson",
    "sample_skellam",
    # central
    "clip_l2",
    "clip_l1",
    "grid_step",
    "GaussianMechanism",
    "LaplaceMechanism",
    # distributed
    "NoiseKind",
    "DistributedConfig",
    "DecodedAggregate",
    "encode_update",
    "decode_aggregate",
    "conditional_round",
]
