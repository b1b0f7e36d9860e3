"""Federated learning rounds whose server only ever sees masked or encrypted sums.

The round runner composes client selection, local training, clipping, noise, secure
aggregation from :mod:`secagg`, FedAvg, and privacy accounting from :mod:`dp`.
"""

from __future__ import annotations

from federated.errors import (
    BudgetExhausted,
    FederatedError,
    InsufficientClients,
    InvalidArgument,
    ServerViewViolation,
)

__version__ = "0.1.0"

__all__ = [
    "FederatedError",
    "InvalidArgument",
    "InsufficientClients",
    "BudgetExhausted",
    "ServerViewViolation",
]
