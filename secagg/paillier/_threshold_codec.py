"""Fixed-width binary framing for threshold-Paillier objects (internal).

Every object is ``magic (4 bytes) || version (1 byte) || fields``; integers are big-endian
in a width fixed by the key, so the length of a valid message is known before parsing and a
truncated or padded message is refused before any field is used.
"""

from __future__ import annotations

from secagg.errors import DeserializationError

__all__ = ["FORMAT_VERSION", "Reader", "int_bytes", "pack_int"]

FORMAT_VERSION = 1


def int_bytes(bound: int) -> int:
    """Return the number of bytes that hold every integer in ``[0, bound)``."""
    return max(1, ((bound - 1).bit_length() + 7) // 8)


def pack_int(value: int, width: int) -> bytes:
    """Encode a non-negative integer in exactly ``width`` big-endian bytes."""
    return int(value).to_bytes(width, "big")


class Reader:
    """Consume a message field by field, raising :class:`DeserializationError` on any misfit."""

    def __init__(self, data: bytes, magic: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DeserializationError(f"{what} must be bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._offset = 0
        self._what = what
        if self.take(len(magic)) != magic:
            raise DeserializationError(f"not a serialised {what} (bad magic bytes)")
        version = self.take(1)[0]
        if version != FORMAT_VERSION:
            raise DeserializationError(f"unsupported {what} format version {version}")

    def take(self, count: int) -> bytes:
        """Return the next ``count`` bytes."""
        end = self._offset + count
        if end > len(self._data):
            raise DeserializationError(f"truncated {self._what}")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def uint(self, width: int) -> int:
        """Return the next unsigned big-endian integer of ``width`` bytes."""
        return int.from_bytes(self.take(width), "big")

    def expect_length(self, total: int) -> None:
        """Refuse the message unless it is exactly ``total`` bytes long."""
        if len(self._data) != total:
            raise DeserializationError(
                f"{self._what} must be {total} bytes for this key, got {len(self._data)}"
            )

    def finish(self) -> None:
        """Refuse trailing bytes."""
        if self._offset != len(self._data):
            raise DeserializationError(f"trailing bytes after {self._what}")
