"""A small, strict binary codec for protocol messages (no pickle).

Layout: magic ``FCSM``, one version byte (per message kind: a kind whose layout changes gets
a new version, and the reader accepts only the current one), one message-kind byte, then
the fields; integers
are big-endian, byte strings and lists carry a 4-byte length. The reader checks the magic,
version, kind, every length and that no byte is left over, raising
:class:`~secagg.errors.DeserializationError` on any mismatch.
"""

from __future__ import annotations

import struct

from secagg.errors import DeserializationError

__all__ = ["MAGIC", "VERSION", "Writer", "Reader"]

MAGIC = b"FCSM"
VERSION = 1
_MAX_ITEMS = 2**24


class Writer:
    """Accumulates the fields of one message."""

    def __init__(self, kind: int, version: int = VERSION) -> None:
        self._parts: list[bytes] = [MAGIC, bytes([version, kind])]

    def u32(self, value: int) -> None:
        """Append an unsigned 32-bit integer."""
        self._parts.append(struct.pack(">I", value))

    def u64(self, value: int) -> None:
        """Append an unsigned 64-bit integer."""
        self._parts.append(struct.pack(">Q", value))

    def blob(self, data: bytes) -> None:
        """Append a length-prefixed byte string."""
        self._parts.append(struct.pack(">I", len(data)))
        self._parts.append(data)

    def fixed(self, data: bytes) -> None:
        """Append bytes whose length the reader knows."""
        self._parts.append(data)

    def finish(self) -> bytes:
        """The encoded message."""
        return b"".join(self._parts)


class Reader:
    """Parses the fields of one message, checking every length and range."""

    def __init__(self, data: bytes, kind: int, version: int = VERSION) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DeserializationError("messages are parsed from bytes")
        self._data = bytes(data)
        self._pos = 0
        if self.fixed(4) != MAGIC:
            raise DeserializationError("not a fedcrypt masking message (bad magic)")
        found_version, found = self.fixed(2)
        if found_version != version:
            raise DeserializationError(
                f"unsupported message version {found_version} (expected {version})"
            )
        if found != kind:
            raise DeserializationError(f"expected message kind {kind}, found {found}")

    def fixed(self, size: int) -> bytes:
        """Read exactly ``size`` bytes."""
        end = self._pos + size
        if end > len(self._data):
            raise DeserializationError("message truncated")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def u32(self) -> int:
        """Read an unsigned 32-bit integer."""
        return int(struct.unpack(">I", self.fixed(4))[0])

    def u64(self) -> int:
        """Read an unsigned 64-bit integer."""
        return int(struct.unpack(">Q", self.fixed(8))[0])

    def count(self) -> int:
        """Read a list length, refusing absurd sizes."""
        n = self.u32()
        if n > _MAX_ITEMS:
            raise DeserializationError("list too long")
        return n

    def blob(self, *, exact: int | None = None, allowed: tuple[int, ...] | None = None) -> bytes:
        """Read a length-prefixed byte string, optionally of a fixed or allowed length."""
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
