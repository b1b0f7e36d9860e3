"""Raw primitives of validated aggregation, for tests, benchmarks and audits.

Hazardous: no protocol checks around them (a proof generated here is only as good as the joint
randomness it was given). Use :class:`secagg.validated.Prio3` or the parties to aggregate.
"""

from __future__ import annotations

from secagg.validated._circuits import Count, Histogram, Sum, SumVec, bits_of
from secagg.validated._field import PrimeField
from secagg.validated._flp import (
    FlpBBCGGI19,
    Gadget,
    Mul,
    ParallelSum,
    PolyEval,
    Valid,
    flp_error,
    next_power_of_2,
)
from secagg.validated._pine import PineNormEquality, wr_dot_products
from secagg.validated._poly import fold_eval_on_roots, inv_ntt, lagrange_at, ntt, poly_eval
from secagg.validated._xof import SEED_SIZE, XofShake128, format_dst

__all__ = [
    "FlpBBCGGI19",
    "flp_error",
    "next_power_of_2",
    "PrimeField",
    "Valid",
    "Gadget",
    "Mul",
    "PolyEval",
    "ParallelSum",
    "bits_of",
    "Count",
    "Sum",
    "SumVec",
    "Histogram",
    "XofShake128",
    "SEED_SIZE",
    "format_dst",
    "ntt",
    "inv_ntt",
    "poly_eval",
    "lagrange_at",
    "fold_eval_on_roots",
    "PineNormEquality",
    "wr_dot_products",
]
