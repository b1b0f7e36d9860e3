"""Differential privacy for federated learning: accountants, calibration, noise and reports.

Every federated run must say, in numbers, how much privacy it spent. This package holds the
event algebra describing mechanisms, accountants that turn a ledger of events into
(epsilon, delta), exact integer noise samplers, and privacy budget reports.
"""

from __future__ import annotations

from dp.errors import (
    BudgetExceeded,
    CalibrationError,
    DPError,
    InvalidArgument,
    SerializationError,
    UnsupportedEvent,
)

__version__ = "0.1.0"

__all__ = [
    "DPError",
    "InvalidArgument",
    "UnsupportedEvent",
    "SerializationError",
    "CalibrationError",
    "BudgetExceeded",
]
