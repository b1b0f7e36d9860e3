"""Progress bars for long computations, through ``tqdm.auto`` (terminals and notebooks).

Shown only when someone can see them: ``FEDCRYPT_PROGRESS=0`` or ``1`` decides outright;
otherwise no bar under CI (the ``CI`` variable set), one in a Jupyter kernel, and one on a
terminal (``stderr`` is a TTY). Bars appear only after ``delay`` seconds, so quick calls stay
silent. ``tqdm`` is imported on first use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["progress_enabled", "progress_bar", "batched_with_progress"]

T = TypeVar("T")
R = TypeVar("R")

#: Seconds before a bar appears: a call quicker than this shows nothing.
DEFAULT_DELAY = 2.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    instance = get_ipython() if callable(get_ipython) else None
    return type(instance).__name__ == "ZMQInteractiveShell"


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to show progress: ``requested`` if given, else the environment decides."""
    if requested is not None:
        return bool(requested)
    setting = os.environ.get("FEDCRYPT_PROGRESS")
    if setting is not None and setting.strip().lower() in _TRUE | _FALSE:
        return setting.strip().lower() in _TRUE
    if os.environ.get("CI"):
        return False
    if _in_notebook():
        return True
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def progress_bar(
    total: int | None,
    *,
    desc: str,
    unit: str,
    enabled: bool | None = None,
    delay: float = DEFAULT_DELAY,
) -> Any:
    """Return a ``tqdm.auto`` bar (a no-op one when disabled); use it as a context manager."""
    from tqdm.auto import tqdm  # a dependency; imported here to keep imports light

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        delay=delay,
        leave=False,
        dynamic_ncols=True,
        disable=not progress_enabled(enabled),
    )


# Below this many items a bar could never reach its delay: do the work in one call.
_MIN_ITEMS = 256
_MIN_BATCH = 32
_BATCHES = 100


def batched_with_progress(
    function: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    desc: str,
    unit: str,
    enabled: bool | None = None,
) -> list[R]:
    """Apply ``function`` to ``items`` (in about 100 batches when a bar is shown), in order.

    Without a bar the work is one call, exactly as without this helper.
    """
    count = len(items)
    if count < _MIN_ITEMS or not progress_enabled(enabled):
        return function(items)
    size = max(_MIN_BATCH, -(-count // _BATCHES))
    out: list[R] = []
    with progress_bar(count, desc=desc, unit=unit, enabled=True) as bar:
        for start in range(0, count, size):
            part = function(items[start : start + size])
            out.extend(part)
            bar.update(len(part))
    return out
