"""An on-disk cache of optimised strategies, keyed by mechanism, schema and options.

Optimising a strategy for 2,000 rounds takes seconds to a minute; a federation reuses the
same schema for every run. The cache stores only the strategy's parameters: privacy never
depends on it, because sensitivity is always recomputed from the loaded parameters.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["load", "store"]


def _path(cache_dir: str | os.PathLike[str], key: str) -> Path:
    return Path(cache_dir) / f"{key}.json"


def load(cache_dir: str | os.PathLike[str] | None, key: str) -> dict[str, Any] | None:
    """The cached dict for ``key``, or None (absent, unreadable or not JSON: re-optimise)."""
    if cache_dir is None:
        return None
    try:
        data = json.loads(_path(cache_dir, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def store(cache_dir: str | os.PathLike[str] | None, key: str, data: dict[str, Any]) -> None:
    """Write ``data`` for ``key`` atomically (a temporary file renamed into place)."""
    if cache_dir is None:
        return
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, _path(cache_dir, key))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
