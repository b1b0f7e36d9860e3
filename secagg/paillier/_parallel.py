"""Split big-integer loops over a few threads; gmpy2 releases the GIL inside the arithmetic.

gmpy2 releases the GIL during an operation only when the thread's context has
``allow_release_gil=True`` (and always inside its ``powmod_*_list`` functions), so every
worker sets that context. Work is split into one contiguous chunk per worker and the results
are concatenated in order, so the output never depends on the scheduling.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import gmpy2  # type: ignore[import-untyped]

from secagg.errors import InvalidArgument

__all__ = ["default_workers", "resolve_workers", "map_chunks", "shared_pool"]

T = TypeVar("T")
R = TypeVar("R")

# Below this many items per worker the thread start-up costs more than it saves.
_MIN_ITEMS_PER_WORKER = 4
_CHUNKS_PER_WORKER = 8
_MIN_ITEMS_PER_CHUNK = 16


def default_workers() -> int:
    """Return the default number of worker threads: the usable CPUs, at most 2."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def resolve_workers(workers: int | None) -> int:
    """Validate a ``workers`` argument (``None`` means :func:`default_workers`)."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument(f"workers must be a positive int, got {workers!r}")
    return workers


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    # Threads do not survive fork(): a child must build its own pools.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def shared_pool(workers: int) -> ThreadPoolExecutor:
    """Return the process-wide pool with ``workers`` threads (created on first use).

    Work submitted to it must not itself wait on the same pool.
    """
    pool = _pools.get(workers)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(workers)
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="paillier")
                _pools[workers] = pool
    return pool


def _run_released(function: Callable[[Sequence[T]], list[R]], chunk: Sequence[T]) -> list[R]:
    with gmpy2.context(allow_release_gil=True):
        return function(chunk)


def map_chunks(
    function: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    workers: int,
    *,
    min_items_per_worker: int = _MIN_ITEMS_PER_WORKER,
) -> list[R]:
    """Apply ``function`` to contiguous chunks of ``items`` on ``workers`` threads, in order.

    Up to ``_CHUNKS_PER_WORKER`` chunks per thread keep both threads busy to the end even when
    one of them is slowed down by other processes.
    """
    count = len(items)
    workers = min(workers, max(1, count // min_items_per_worker))
    if workers <= 1:
        return function(items)
    pieces = min(workers * _CHUNKS_PER_WORKER, max(workers, count // _MIN_ITEMS_PER_CHUNK))
    bounds = [count * w // pieces for w in range(pieces + 1)]
    chunks = [items[bounds[w] : bounds[w + 1]] for w in range(pieces)]
    parts = list(shared_pool(workers).map(_run_released, [function] * pieces, chunks))
    return [result for part in parts for result in part]
