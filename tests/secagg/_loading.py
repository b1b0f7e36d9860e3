"""The outcome of feeding one input to a loader, for the fuzz and attack suites."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

from secagg.errors import SecAggError

EXTRA_MEMORY_BYTES = 16 * 2**20
"""Per load; the largest valid input of these suites is some KB, so a load that trusts a
claimed length (and allocates it) shows."""


def load_outcome(load: Callable[[Any], Any], data: object) -> tuple[bool, Any]:
    """Run ``load``: (True, result) or (False, the typed error); anything else propagates.

    Also bounds the peak of the memory it allocates (Python objects and numpy buffers,
    traced by :mod:`tracemalloc` during the load only): a load that trusts a claimed length
    allocates it. Time is not asserted (the suite's timeout guards against hangs).
    """
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        result: tuple[bool, Any] = (True, load(data))
    except SecAggError as exc:
        result = (False, exc)
    finally:
        peak = tracemalloc.get_traced_memory()[1] - before
        if not tracing:
            tracemalloc.stop()
    assert peak < EXTRA_MEMORY_BYTES, f"a load allocated {peak / 2**20:.0f} MiB"
    return result
