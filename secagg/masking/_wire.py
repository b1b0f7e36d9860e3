"""The binary codec of masking (SecAgg, SecAgg+) messages: magic ``FCSM``.

The layout and every check are those of :mod:`secagg._wire`; this module binds the magic
and the list limit.
"""

from __future__ import annotations

from secagg import _wire

__all__ = ["MAGIC", "VERSION", "Writer", "Reader"]

MAGIC = b"FCSM"
VERSION = 1


class Writer(_wire.Writer):
    """Accumulates the fields of one masking message."""

    MAGIC = MAGIC


class Reader(_wire.Reader):
    """Parses one masking message."""

    MAGIC = MAGIC
    NAME = "masking"
    MAX_ITEMS = 2**24
