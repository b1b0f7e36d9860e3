"""Run the clients' work of a federated round on a Ray cluster (the ``ray`` extra).

:class:`RayExecutor` implements the runner's :class:`federated.executors.Executor` seam
(``map`` and ``close``) on Ray (Moritz et al. 2018, "Ray: A Distributed Framework for
Emerging AI Applications", OSDI), the engine Flower's simulation also runs on. It keeps a
pool of long-lived worker actors, each reserving ``cpus_per_client`` CPUs (and GPUs where
the cluster has them) and running one client at a time:

* a **client object** (with its local dataset) is sent once, to one worker that keeps it
  for the whole run; later rounds only name it;
* an **object shared by the tasks of a call** (the global model of the round) is put once
  into Ray's object store and read by every worker from there, not sent once per client;
* a **worker that dies** mid-round (crash, OOM kill, lost node) loses only its tasks: the
  call raises :class:`WorkerLost` with the results of every other task and the positions of
  the lost ones, which the runner treats as clients that dropped out before sending their
  masked input; the worker is replaced and its clients are placed again, so the run goes on.

Ray is imported lazily, when an executor is built, so :mod:`federated` imports without it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from federated._ray_plan import plan_call
from federated._ray_runtime import (
    RayNotInstalled,
    Runtime,
    start_runtime,
    worker_failures,
)
from federated._ray_worker import ClientHost
from federated.errors import FederatedError, InvalidArgument
from federated.executors import ClosingContext

__all__ = ["RayExecutor", "WorkerLost", "RayNotInstalled", "gpu_share"]

T = TypeVar("T")
R = TypeVar("R")

_CALLS_PER_WORKER = 4
_PLACE_BATCH = 64  # clients per placement call, so no call carries a huge payload


class WorkerLost(FederatedError):
    """Ray workers died during a ``map``; the tasks they were running are lost.

    The other tasks completed. A runner treats the clients of the lost tasks as dropouts
    of the round (before their masked input); the executor has already replaced the dead
    workers, so the next call runs normally.

    Attributes:
        results: one entry per item of the call: its result, or ``None`` where lost.
        lost: the positions (in the call's items) of the lost tasks, sorted.
    """

    def __init__(self, message: str, *, results: Sequence[object], lost: Sequence[int]) -> None:
        super().__init__(message)
        self.results: tuple[object, ...] = tuple(results)
        self.lost: tuple[int, ...] = tuple(sorted(lost))

    def completed(self) -> dict[int, object]:
        """The results of the tasks that finished, by position."""
        lost = set(self.lost)
        return {i: r for i, r in enumerate(self.results) if i not in lost}


@dataclass(eq=False)
class _Worker:
    """A worker actor and the keys of the clients it holds."""

    handle: Any
    keys: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True, eq=False)
class _Placement:
    """A placed client: the driver keeps the object so it can place it again if needed."""

    client: object
    key: int


@dataclass(frozen=True, slots=True)
class _Call:
    worker: int
    reference: Any
    positions: tuple[int, ...]


class RayExecutor(ClosingContext):
    """Run client tasks on Ray actors: a local runtime by default, or a cluster by address.

    Args:
        address: ``None`` starts a private local Ray runtime (or reuses the one this process
            already started with ``ray.init``); ``"auto"``, ``"host:6379"`` or
            ``"ray://host:10001"`` joins an existing cluster (see ``ray start``).
        num_cpus: CPUs of a local runtime (default: all cores); ignored when joining.
        num_gpus: GPUs of a local runtime (default: those Ray detects); ignored when joining.
        workers: number of worker actors; default: the cluster's free CPUs divided by
            ``cpus_per_client``.
        cpus_per_client: CPUs each worker reserves (it runs one client at a time).
        gpus_per_client: GPUs each worker reserves; ``None`` shares the cluster's GPUs
            evenly among the workers when there are any, and reserves none otherwise.
        chunk_size: tasks sent to a worker in one call; default: a worker's share of the
            call split into about four calls.
        object_store_memory: object store bytes of a local runtime (default: Ray's).
        runtime_env: a Ray runtime environment for the workers, e.g.
            ``{"working_dir": "."}`` when the cluster's nodes lack your client code.
        log_to_driver: forward the workers' output to this process.
        replace_dead_workers: start a new worker for each dead one and place its clients on
            it; if ``False`` (or the new worker does not start), its clients go to the
            surviving workers.
        start_timeout: seconds to wait for a worker to start.

    Raises:
        RayNotInstalled: if Ray is not installed.
        InvalidArgument: on a non-positive size or resource, or a pool the cluster cannot
            hold.
        FederatedError: if the workers do not start within ``start_timeout``.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        workers: int | None = None,
        cpus_per_client: float = 1.0,
        gpus_per_client: float | None = None,
        chunk_size: int | None = None,
        object_store_memory: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        log_to_driver: bool = False,
        replace_dead_workers: bool = True,
        start_timeout: float = 120.0,
    ) -> None:
        _check_arguments(num_cpus, workers, cpus_per_client, gpus_per_client, chunk_size)
        if not start_timeout > 0:
            raise InvalidArgument("start_timeout must be > 0")
        self.workers_lost = 0
        """Workers that died during this executor's life."""
        self.tasks_lost = 0
        """Tasks lost with them (each a client dropout of its round)."""
        self.clients_sent = 0
        """Client objects sent to workers: one per client, plus re-placements after a death."""
        self._workers: list[_Worker] = []
        self._runtime: Runtime | None = start_runtime(
            address,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            object_store_memory=object_store_memory,
            runtime_env=runtime_env,
            log_to_driver=log_to_driver,
        )
        try:
            ray = self._runtime.ray
            self._failures = worker_failures(ray)
            resources = self._runtime.resources()
            cluster_cpus = resources.get("CPU", 0.0)
            count = workers if workers is not None else self._default_workers(cpus_per_client)
            if count < 1 or count * cpus_per_client > cluster_cpus:
                raise InvalidArgument(
                    f"{count} workers of {cpus_per_client} CPUs do not fit in the cluster's "
                    f"{cluster_cpus:g} CPUs"
                )
            gpus_per_client = gpu_share(resources.get("GPU", 0.0), count, gpus_per_client)
            self.cpus_per_client = cpus_per_client
            self.gpus_per_client = gpus_per_client
            self._host = ray.remote(ClientHost).options(
                num_cpus=cpus_per_client,
                num_gpus=gpus_per_client,
                max_restarts=0,
                max_task_retries=0,
            )
            self._chunk_size = chunk_size
            self._replace = replace_dead_workers
            self._start_timeout = start_timeout
            self._placements: dict[int, _Placement] = {}
            self._by_key: dict[int, _Placement] = {}
            self._workers = [_Worker(self._host.remote()) for _ in range(count)]
            if not self._await_ready([w.handle for w in self._workers]):
                raise FederatedError(f"Ray workers did not start within {start_timeout} s")
        except BaseException:
            self.close()
            raise

    def _default_workers(self, cpus_per_client: float) -> int:
        """As many workers as the free CPUs hold, and at least one."""
        free = float(self._ray().available_resources().get("CPU", 0.0))
        return max(1, int(free // cpus_per_client))

    @property
    def worker_count(self) -> int:
        """The number of live worker actors."""
        return len(self._workers) if self._runtime is not None else 0

    @property
    def placed_clients(self) -> int:
        """The number of client objects held by the workers."""
        return len(self._by_key)

    def place(self, clients: Sequence[object]) -> None:
        """Send clients to the workers now, instead of at their first task.

        Placement balances the number of clients per worker; a client already placed is
        not sent again. Optional: ``map`` places the clients it meets.
        """
        ray = self._ray()
        pending: dict[int, list[int]] = {}
        for client in clients:
            self._key_of(client, pending)
        dead = self._get_all_placements(ray, self._send_placements(pending))
        if dead:  # their clients go to replacements (or survivors) right away
            self._recover(sorted(dead))
            self.workers_lost += len(dead)

    def release(self) -> None:
        """Forget every placed client, on the workers and here.

        Clients stay placed until the executor closes; call this between two runs with
        different populations, or to restart clients whose ``fit`` keeps state.
        """
        ray = self._ray()
        calls = [
            (index, worker.handle.forget.remote(sorted(worker.keys)))
            for index, worker in enumerate(self._workers)
            if worker.keys
        ]
        dead = self._get_all_placements(ray, calls)
        for worker in self._workers:
            worker.keys.clear()
        self._placements.clear()
        self._by_key.clear()
        if dead:
            self._recover(sorted(dead))
            self.workers_lost += len(dead)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``function`` to every item on the workers; results keep the input order.

        Args:
            function: a module-level function (Ray ships it by reference when importable).
            items: the tasks; client objects among an item's tuple elements are placed on
                a worker once, and elements shared by several items are shipped once.

        Raises:
            WorkerLost: if workers died; it carries the other tasks' results.
            FederatedError: if the executor is closed or no worker is left.
        """
        ray = self._ray()
        if not items:
            return []
        pending: dict[int, list[int]] = {}
        plan = plan_call(items, lambda client: self._key_of(client, pending))
        placing = self._send_placements(pending)
        shared = [ray.put(value) for value in plan.shared]
        function_ref = ray.put(function)
        results: list[object] = [None] * len(items)
        calls = self._submit(function_ref, shared, plan.templates, plan.client_keys, None)
        dead = self._get_all_placements(ray, placing)
        failed = self._gather(ray, calls, results)
        dead |= set(failed)
        if not dead:
            return results  # type: ignore[return-value]
        # A dead worker ran its calls in order: the first that failed was running and is
        # lost; those queued behind it never started and are run again elsewhere.
        lost = [
            p
            for worker in dead
            for p in (failed[worker][0].positions if failed.get(worker) else ())
        ]
        retry = sorted(
            p for calls_ in failed.values() for call in calls_[1:] for p in call.positions
        )
        self._recover(sorted(dead))
        self.workers_lost += len(dead)
        if retry:
            again = self._submit(function_ref, shared, plan.templates, plan.client_keys, retry)
            failed_again = self._gather(ray, again, results)
            if failed_again:
                lost += [p for calls_ in failed_again.values() for c in calls_ for p in c.positions]
                self._recover(sorted(failed_again))
                self.workers_lost += len(failed_again)
        if not lost:
            return results  # type: ignore[return-value]
        self.tasks_lost += len(lost)
        raise WorkerLost(
            f"Ray workers died; {len(lost)} of {len(items)} tasks were lost",
            results=results,
            lost=lost,
        )

    def _submit(
        self,
        function_ref: Any,
        shared: Sequence[Any],
        templates: Sequence[object],
        client_keys: Sequence[int | None],
        positions: Sequence[int] | None,
    ) -> list[_Call]:
        """Send the tasks at ``positions`` (all if ``None``) to the workers, in chunks."""
        chosen = range(len(templates)) if positions is None else positions
        return [
            _Call(worker, self._workers[worker].handle.run.remote(function_ref, chunk, *shared), p)
            for worker, chunk, p in self._chunks(templates, client_keys, chosen)
        ]

    def _gather(
        self, ray: Any, calls: Sequence[_Call], results: list[object]
    ) -> dict[int, list[_Call]]:
        """Store finished results; returns the failed calls of each dead worker, in order."""
        failed: dict[int, list[_Call]] = {}
        for call in calls:
            alive, pairs = self._fetch(ray, call.reference)
            if not alive:
                failed.setdefault(call.worker, []).append(call)
                continue
            for position, value in pairs:
                results[position] = value
        return failed

    def close(self) -> None:
        """Stop the workers and leave the Ray runtime if this executor started it."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        for worker in self._workers:
            _kill(runtime.ray, worker.handle)
        self._workers = []
        self._placements = {}
        self._by_key = {}
        runtime.close()

    # -- internals ---------------------------------------------------------------------

    def _ray(self) -> Any:
        if self._runtime is None:
            raise FederatedError("the Ray executor is closed")
        return self._runtime.ray

    def _key_of(self, client: object, pending: dict[int, list[int]]) -> int:
        """The client's placement key; a new client is assigned to the least loaded worker."""
        placement = self._placements.get(id(client))
        if placement is not None:
            return placement.key
        key = len(self._by_key)
        placement = _Placement(client, key)
        self._placements[id(client)] = placement  # the strong reference keeps id() unique
        self._by_key[key] = placement
        worker = min(range(len(self._workers)), key=lambda w: len(self._workers[w].keys))
        self._workers[worker].keys.add(key)
        pending.setdefault(worker, []).append(key)
        return key

    def _send_placements(self, pending: Mapping[int, Sequence[int]]) -> list[tuple[int, Any]]:
        """Send newly assigned clients to their workers, in batches of bounded size."""
        self.clients_sent += sum(len(keys) for keys in pending.values())
        calls = []
        for worker, keys in pending.items():
            handle = self._workers[worker].handle
            for start in range(0, len(keys), _PLACE_BATCH):
                batch = list(keys[start : start + _PLACE_BATCH])
                clients = (self._by_key[key].client for key in batch)
                calls.append((worker, handle.place.remote(batch, *clients)))
        return calls

    def _get_all_placements(self, ray: Any, placing: Sequence[tuple[int, Any]]) -> set[int]:
        """Wait for placement calls; returns the workers that died meanwhile."""
        return {worker for worker, reference in placing if not self._fetch(ray, reference)[0]}

    def _fetch(self, ray: Any, reference: Any) -> tuple[bool, Any]:
        """``(True, value)`` of a finished call, or ``(False, None)`` if its worker died.

        An exception raised by the task's own code is not a worker failure: it propagates.
        """
        try:
            return True, ray.get(reference)
        except self._failures:
            return False, None

    def _chunks(
        self,
        templates: Sequence[object],
        client_keys: Sequence[int | None],
        positions: Iterable[int],
    ) -> list[tuple[int, list[tuple[int, object]], tuple[int, ...]]]:
        """Group tasks by the worker holding their client, then cut each group in chunks."""
        groups: list[list[int]] = [[] for _ in self._workers]
        free: list[int] = []
        for position in positions:
            key = client_keys[position]
            if key is None:
                free.append(position)
            else:
                groups[self._worker_of(key)].append(position)
        for position in free:  # tasks without a client go where there is least work
            min(groups, key=len).append(position)
        chunks = []
        for worker, group in enumerate(groups):
            if not group:
                continue
            size = self._chunk_size or max(1, math.ceil(len(group) / _CALLS_PER_WORKER))
            for start in range(0, len(group), size):
                positions = tuple(group[start : start + size])
                chunks.append((worker, [(p, templates[p]) for p in positions], positions))
        return chunks

    def _worker_of(self, key: int) -> int:
        for index, worker in enumerate(self._workers):
            if key in worker.keys:
                return index
        raise AssertionError(f"client key {key} is not placed")  # pragma: no cover

    def _await_ready(self, handles: Sequence[Any]) -> bool:
        ray = self._ray()
        references = [handle.ready.remote() for handle in handles]
        ready, _ = ray.wait(references, num_returns=len(references), timeout=self._start_timeout)
        if len(ready) < len(references):
            return False
        try:
            ray.get(ready)
        except self._failures:
            return False
        return True

    def _recover(self, dead: Sequence[int]) -> None:
        """Replace dead workers (or hand their clients to the survivors) and re-place."""
        ray = self._ray()
        dead_set = set(dead)
        keep: list[_Worker] = []
        fresh: list[_Worker] = []
        orphans: list[int] = []
        for index, worker in enumerate(self._workers):
            if index not in dead_set:
                keep.append(worker)
                continue
            _kill(ray, worker.handle)
            if self._replace:
                replacement = _Worker(self._host.remote(), set(worker.keys))
                if self._await_ready([replacement.handle]):
                    keep.append(replacement)
                    fresh.append(replacement)
                    continue
                _kill(ray, replacement.handle)
            orphans.extend(worker.keys)
        if not keep:
            self._workers = []
            raise FederatedError("every Ray worker died and none could be restarted")
        self._workers = keep
        pending = {
            index: sorted(worker.keys)
            for index, worker in enumerate(keep)
            if any(worker is replacement for replacement in fresh)
        }
        for key in orphans:
            index = min(range(len(keep)), key=lambda w: len(keep[w].keys))
            keep[index].keys.add(key)
            pending.setdefault(index, []).append(key)
        if self._get_all_placements(ray, self._send_placements(pending)):
            raise FederatedError("Ray workers died again while their clients were re-placed")


def gpu_share(cluster_gpus: float, workers: int, requested: float | None) -> float:
    """GPUs each worker reserves: ``requested``, or by default an even share of the cluster's.

    The default gives each of ``workers`` workers ``cluster_gpus / workers`` GPUs, at most
    one, and none on a cluster without GPUs.
    """
    if requested is not None:
        return requested
    return min(1.0, cluster_gpus / workers) if cluster_gpus > 0 else 0.0


def _kill(ray: Any, handle: Any) -> None:
    """Stop an actor; an actor that is already dead is fine."""
    with contextlib.suppress(Exception):  # a dead or unknown actor needs no stopping
        ray.kill(handle, no_restart=True)


def _check_arguments(
    num_cpus: int | None,
    workers: int | None,
    cpus_per_client: float,
    gpus_per_client: float | None,
    chunk_size: int | None,
) -> None:
    if num_cpus is not None and num_cpus < 1:
        raise InvalidArgument("num_cpus must be >= 1")
    if workers is not None and workers < 1:
        raise InvalidArgument("workers must be >= 1")
    if not (math.isfinite(cpus_per_client) and cpus_per_client > 0):
        raise InvalidArgument("cpus_per_client must be finite and > 0")
    if gpus_per_client is not None and not (
        math.isfinite(gpus_per_client) and gpus_per_client >= 0
    ):
        raise InvalidArgument("gpus_per_client must be finite and >= 0")
    if chunk_size is not None and chunk_size < 1:
        raise InvalidArgument("chunk_size must be >= 1")
