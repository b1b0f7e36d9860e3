"""Differential privacy for federated learning: accountants, calibration, noise and reports.

Every federated run must say, in numbers, how much privacy it spent. This package holds the
event algebra describing mechanisms, accountants that turn a ledger of events into
(epsilon, delta), exact integer noise samplers, and privacy budget reports.
"""

from __future__ import annotations

from dp.accountants import (
    PldAccountant,
    PrivacyAccountant,
    RdpAccountant,
    ledger_from_dict,
    ledger_neighbouring,
    ledger_to_dict,
)
from dp.calibration import calibrate_noise_multiplier, calibrate_steps
from dp.errors import (
    BudgetExceeded,
    CalibrationError,
    DPError,
    InvalidArgument,
    SerializationError,
    UnsupportedEvent,
)
from dp.events import (
    ZCDP,
    Composed,
    DiscreteGaussian,
    DiscreteLaplace,
    DistributedDiscreteGaussian,
    DpEvent,
    Gaussian,
    Laplace,
    MatrixFactorizationGaussian,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
    Skellam,
    event_from_dict,
)
from dp.neighbouring import NEIGHBOURING_RELATIONS, Neighbouring, check_neighbouring

__version__ = "0.1.0"

__all__ = [
    "DPError",
    "InvalidArgument",
    "UnsupportedEvent",
    "SerializationError",
    "CalibrationError",
    "BudgetExceeded",
    # events
    "DpEvent",
    "Gaussian",
    "Laplace",
    "DiscreteLaplace",
    "DiscreteGaussian",
    "Skellam",
    "DistributedDiscreteGaussian",
    "ZCDP",
    "MatrixFactorizationGaussian",
    "PoissonSampled",
    "SampledWithoutReplacement",
    "SelfComposed",
    "Composed",
    "event_from_dict",
    # neighbouring relations
    "Neighbouring",
    "NEIGHBOURING_RELATIONS",
    "check_neighbouring",
    # accountants
    "PrivacyAccountant",
    "RdpAccountant",
    "PldAccountant",
    "ledger_to_dict",
    "ledger_from_dict",
    "ledger_neighbouring",
    # calibration
    "calibrate_noise_multiplier",
    "calibrate_steps",
]
