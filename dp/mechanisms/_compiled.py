"""Whether the samplers use their numba-compiled fast paths.

The compiled kernels (:mod:`dp.mechanisms._numba_kernels`) are optional: they need numba
(``pip install "fedcrypt[fast]"``) and make the same exact decisions as the numpy code,
about three times faster. Without numba, or with ``FEDCRYPT_COMPILED=0`` in the
environment, the numpy fast paths run. numba is imported on the first draw that can use
it, never by ``import dp``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["compiled_disabled", "kernels"]

_ENABLED = [os.environ.get("FEDCRYPT_COMPILED", "1") != "0"]


@functools.cache
def _load() -> ModuleType | None:
    try:
        from dp.mechanisms import _numba_kernels
    except ImportError:
        return None
    return _numba_kernels


def kernels() -> ModuleType | None:
    """The compiled kernels module, or ``None`` when numba is missing or disabled."""
    return _load() if _ENABLED[0] else None


@contextmanager
def compiled_disabled() -> Iterator[None]:
    """Run the numpy fast paths inside the block (for tests and benchmarks)."""
    previous = _ENABLED[0]
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = previous
