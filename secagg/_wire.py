"""The strict binary codec shared by the protocol messages of :mod:`secagg` (no pickle).

Layout: a 4-byte magic naming the protocol, one version byte (per message kind: a layout
change gets a new version, and the reader accepts only the current one), one kind byte,
then the fields: big-endian integers, byte strings and lists with a 4-byte length. The
reader checks magic, version, kind, every length and that nothing is left over, raising
:class:`~secagg.errors.DeserializationError` on any mismatch. Each protocol binds its magic,
name and list limit in a subclass (``secagg/masking/_wire.py``, ``secagg/validated/_wire.py``).
"""

from __future__ import annotations

import struct
from typing import ClassVar

from secagg.errors import DeserializationError

__all__ = ["Writer", "Reader"]


class Writer:
    """Accumulates the fields of one message."""

    MAGIC: ClassVar[bytes]

    def __init__(self, kind: int, version: int = 1) -> None:
        self._parts: list[bytes] = [self.MAGIC, bytes([version, kind])]

    def u8(self, value: int) -> None:
        """Append an unsigned byte."""
        self._parts.append(bytes([value]))

    def u32(self, value: int) -> None:
        """Append an unsigned 32-bit integer."""
        self._parts.append(struct.pack(">I", value))

    def u64(self, value: int) -> None:
        """Append an unsigned 64-bit integer."""
        self._parts.append(struct.pack(">Q", value))

    def fixed(self, data: bytes) -> None:
        """Append bytes whose length the reader knows."""
        self._parts.append(data)

    def blob(self, data: bytes) -> None:
        """Append a length-prefixed byte string."""
        self._parts.append(struct.pack(">I", len(data)))
        self._parts.append(data)

    def finish(self) -> bytes:
        """The encoded message."""
        return b"".join(self._parts)


class Reader:
    """Parses the fields of one message, checking every length and range."""

    MAGIC: ClassVar[bytes]
    NAME: ClassVar[str]
    MAX_ITEMS: ClassVar[int]

    def __init__(self, data: object, kind: int, version: int = 1) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DeserializationError("messages are parsed from bytes")
        self._data = bytes(data)
        self._pos = 0
        if self.fixed(4) != self.MAGIC:
            raise DeserializationError(f"not a fedcrypt {self.NAME} message (bad magic)")
        found_version, found_kind = self.fixed(2)
        if found_version != version:
            raise DeserializationError(
                f"unsupported message version {found_version} (expected {version})"
            )
        if found_kind != kind:
            raise DeserializationError(f"expected message kind {kind}, found {found_kind}")

    def fixed(self, size: int) -> bytes:
        """Exactly ``size`` bytes."""
        end = self._pos + size
        if end > len(self._data):
            raise DeserializationError("message truncated")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def u8(self) -> int:
        """An unsigned byte."""
        return self.fixed(1)[0]

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        return int(struct.unpack(">I", self.fixed(4))[0])

    def u64(self) -> int:
        """An unsigned 64-bit integer."""
        return int(struct.unpack(">Q", self.fixed(8))[0])

    def count(self) -> int:
        """A list length, refusing absurd sizes."""
        n = self.u32()
        if n > self.MAX_ITEMS:
            raise DeserializationError("list too long")
        return n

    def blob(self, *, exact: int | None = None, allowed: tuple[int, ...] | None = None) -> bytes:
        """A length-prefixed byte string, optionally of a fixed or allowed length."""
        size = self.u32()
        if exact is not None and size != exact:
            raise DeserializationError(f"expected {exact} bytes, found {size}")
        if allowed is not None and size not in allowed:
            raise DeserializationError(f"unexpected field length {size}")
        return self.fixed(size)

    def done(self) -> None:
        """Refuse trailing bytes."""
        if self._pos != len(self._data):
            raise DeserializationError("trailing bytes after the message")
