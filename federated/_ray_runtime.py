"""Starting, joining and leaving a Ray runtime; which Ray errors mean "a worker died".

Ray is imported here, lazily, and only when a :class:`federated.ray_executor.RayExecutor`
is built, so :mod:`federated` imports without it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from federated.errors import MissingExtra

__all__ = ["RayNotInstalled", "Runtime", "import_ray", "start_runtime", "worker_failures"]

_FAILURE_NAMES = (
    "RayActorError",  # the actor died or is unreachable (ActorDiedError, ActorUnavailableError)
    "WorkerCrashedError",  # the worker process running the task exited
    "NodeDiedError",  # the whole node went away
    "LocalRayletDiedError",
    "ObjectLostError",  # an argument or a result was lost with its node
)


class RayNotInstalled(MissingExtra):
    """The Ray executor was requested but Ray is not installed (``pip install fedcrypt[ray]``)."""


def import_ray() -> ModuleType:
    """Import Ray, or raise :class:`RayNotInstalled` with the install hint."""
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise RayNotInstalled("the Ray executor", "ray", "ray") from error


def worker_failures(ray: ModuleType) -> tuple[type[BaseException], ...]:
    """The Ray exceptions that mean a worker (not the client's code) failed."""
    exceptions = ray.exceptions
    return tuple(getattr(exceptions, name) for name in _FAILURE_NAMES if hasattr(exceptions, name))


@dataclass(frozen=True, slots=True)
class Runtime:
    """A Ray runtime this process uses.

    Attributes:
        ray: the imported ``ray`` module.
        owned: whether this process started (or joined) it and must shut it down on close.
    """

    ray: ModuleType
    owned: bool

    def resources(self) -> dict[str, float]:
        """The cluster's total resources (``CPU``, ``GPU``, memory, ...)."""
        return {str(name): float(value) for name, value in self.ray.cluster_resources().items()}

    def close(self) -> None:
        """Leave the runtime if this process started or joined it; a no-op otherwise."""
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def start_runtime(
    address: str | None,
    *,
    num_cpus: int | None,
    num_gpus: int | None,
    object_store_memory: int | None,
    runtime_env: Mapping[str, Any] | None,
    log_to_driver: bool,
) -> Runtime:
    """Start a local Ray runtime, join a cluster at ``address``, or reuse the current one.

    If this process already called ``ray.init`` itself, that runtime is reused and left
    running on close. Otherwise ``address=None`` starts a new private local runtime
    (``address="local"``, never someone else's cluster by accident), and any other
    address (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``) joins that cluster.
    """
    ray = import_ray()
    if ray.is_initialized():
        return Runtime(ray, owned=False)
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": log_to_driver,
        "configure_logging": False,
    }
    if runtime_env is not None:
        options["runtime_env"] = dict(runtime_env)
    if address is None:
        options.update(address="local", num_cpus=num_cpus, num_gpus=num_gpus)
        if object_store_memory is not None:
            options["object_store_memory"] = object_store_memory
    else:
        options["address"] = address
    with warnings.catch_warnings():
        # Ray warns about a future change of its GPU environment handling at every start.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray\..*")
        ray.init(**options)
    return Runtime(ray, owned=True)
