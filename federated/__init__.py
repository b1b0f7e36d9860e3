"""Federated learning rounds whose server only ever sees masked or encrypted sums.

The round runner composes client selection, local training, clipping, noise, secure
aggregation from :mod:`secagg`, FedAvg, and privacy accounting from :mod:`dp`::

    history = federated.run(config, clients, initial_parameters, evaluate=evaluate)
    history.write_privacy_report("fedcrypt-output")

PyTorch models plug in through :mod:`federated.torch` (the only module importing torch).
"""

from __future__ import annotations

from federated._warnings import PrivacyWarning
from federated.adversary import Adversary, AdversaryRecord, Attack
from federated.audit import AuditConfig
from federated.client import ClientUpdate, FederatedClient
from federated.config import (
    Aggregation,
    BudgetPolicy,
    DPMode,
    DropoutSimulation,
    FederatedConfig,
    FtrlSettings,
    MaskingSettings,
    PaillierSettings,
    ParticipationSelection,
    PoissonSelection,
    PrivacyConfig,
    Selection,
    Stage,
    UniformSelection,
    ValidatedSettings,
    Weighting,
)
from federated.errors import (
    BudgetExhausted,
    FederatedError,
    InsufficientClients,
    InvalidArgument,
    InvalidUpdate,
    MissingExtra,
    RunInterrupted,
    ServerViewViolation,
)
from federated.executors import (
    Executor,
    ExecutorName,
    ProcessPoolExecutor,
    SerialExecutor,
    make_executor,
)
from federated.history import History, RoundRecord, RoundStatus
from federated.ray_executor import RayExecutor, RayNotInstalled, WorkerLost
from federated.runner import Evaluator, run
from federated.selection import ParticipationTracker, expected_cohort_size, sample_clients
from federated.server import AggregationServer, InsecurePlaintextUpdate, Observer

__version__ = "0.1.0"

__all__ = [
    # errors
    "FederatedError",
    "InvalidArgument",
    "InvalidUpdate",
    "MissingExtra",
    "RunInterrupted",
    "InsufficientClients",
    "BudgetExhausted",
    "ServerViewViolation",
    "PrivacyWarning",
    # configuration
    "FederatedConfig",
    "Aggregation",
    "DPMode",
    "Weighting",
    "BudgetPolicy",
    "Stage",
    "Selection",
    "UniformSelection",
    "PoissonSelection",
    "ParticipationSelection",
    "FtrlSettings",
    "PrivacyConfig",
    "MaskingSettings",
    "PaillierSettings",
    "ValidatedSettings",
    "DropoutSimulation",
    "AuditConfig",
    "Adversary",
    "AdversaryRecord",
    "Attack",
    # clients and execution
    "ClientUpdate",
    "FederatedClient",
    "Executor",
    "SerialExecutor",
    "ProcessPoolExecutor",
    "RayExecutor",
    "WorkerLost",
    "RayNotInstalled",
    "ExecutorName",
    "make_executor",
    "sample_clients",
    "expected_cohort_size",
    "ParticipationTracker",
    # the run
    "run",
    "Evaluator",
    "History",
    "RoundRecord",
    "RoundStatus",
    # the server
    "AggregationServer",
    "InsecurePlaintextUpdate",
    "Observer",
]
