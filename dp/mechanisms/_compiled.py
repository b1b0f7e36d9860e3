"""Whether the samplers use their numba-compiled fast paths.

The compiled kernels (:mod:`dp.mechanisms._numba_kernels`) are optional: they need numba
(``pip install "fedcrypt[fast]"``) and make the same exact decisions as the numpy code,
about three times faster. Without numba, or with ``FEDCRYPT_COMPILED=0`` in the
environment, or if numba fails to compile them (a warning says so), the numpy fast paths
run. numba is imported, and the kernels compiled or loaded from its cache, on the first draw
that can use them, never by ``import dp``.
"""

from __future__ import annotations

import functools
import os
import warnings
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
    try:
        _numba_kernels.warm_up()
    except Exception as exc:  # any numba failure means: use numpy instead
        warnings.warn(
            f"dp: numba could not compile the sampler kernels ({exc!r}); using the numpy "
            "fast paths, which draw from the same law more slowly",
            RuntimeWarning,
            stacklevel=3,
        )
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
