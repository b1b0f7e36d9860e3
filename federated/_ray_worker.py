"""The Ray actor that keeps some clients (and their datasets) and runs their tasks.

Plain Python with no Ray import: :class:`federated.ray_executor.RayExecutor` turns it into
an actor with ``ray.remote(ClientHost)``, so importing :mod:`federated` never needs Ray.
A client is sent to its host once and kept there for the whole run; each round the host
only receives the small templates of its tasks and the references of the shared objects.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence

from federated._ray_plan import resolve

__all__ = ["ClientHost"]


class ClientHost:
    """Holds placed clients in one worker process and applies a function to its tasks."""

    def __init__(self) -> None:
        self._clients: dict[int, object] = {}

    def ready(self) -> int:
        """Answer once the actor runs; returns the worker's process id."""
        return os.getpid()

    def place(self, keys: Sequence[int], *clients: object) -> int:
        """Keep ``clients`` under ``keys``; returns how many clients this host now holds.

        Each client is deep-copied into the worker's own memory, so its arrays are
        writable and do not pin the object store.
        """
        for key, client in zip(keys, clients, strict=True):
            self._clients[key] = copy.deepcopy(client)
        return len(self._clients)

    def forget(self, keys: Sequence[int]) -> int:
        """Drop the clients under ``keys``; returns how many clients this host still holds."""
        for key in keys:
            self._clients.pop(key, None)
        return len(self._clients)

    def run(
        self,
        function: Callable[[object], object],
        chunk: Sequence[tuple[int, object]],
        *shared: object,
    ) -> list[tuple[int, object]]:
        """Apply ``function`` to each rebuilt item of ``chunk``; results keep their positions.

        Args:
            function: the task function of the ``map`` call.
            chunk: ``(position, template)`` pairs.
            *shared: the call's shared objects (Ray resolves their references).
        """
        return [
            (position, function(resolve(template, shared, self._clients)))
            for position, template in chunk
        ]
