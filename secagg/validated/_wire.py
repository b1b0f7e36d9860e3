"""The binary codec of validated-aggregation messages: magic ``FCVA``.

The layout and every check are those of :mod:`secagg._wire`; this module binds the magic
and the limits.
"""

from __future__ import annotations

from secagg import _wire

__all__ = ["MAGIC", "VERSION", "Writer", "Reader", "MAX_ITEMS", "MAX_BLOB"]

MAGIC = b"FCVA"
VERSION = 1
MAX_ITEMS = 2**20
MAX_BLOB = 2**31


class Writer(_wire.Writer):
    """Accumulates the fields of one validated-aggregation message."""

    MAGIC = MAGIC


class Reader(_wire.Reader):
    """Parses one validated-aggregation message."""

    MAGIC = MAGIC
    NAME = "validated-aggregation"
    MAX_ITEMS = MAX_ITEMS
