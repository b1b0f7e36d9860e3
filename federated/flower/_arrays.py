"""Flatten a Flower :class:`~flwr.app.ArrayRecord` to one float vector and back.

Secure aggregation works on one integer vector per client; the model is a dictionary of
named arrays. The layout (names, shapes, dtypes, in record order) is public: it is the
global model's, known to every party.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flwr.app import Array, ArrayRecord
from numpy.typing import NDArray

from federated.flower.errors import MalformedMessage

__all__ = ["Layout", "flatten", "unflatten"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Names, shapes and dtypes of the arrays of a model, in order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]

    @property
    def size(self) -> int:
        """Total number of entries."""
        return int(sum(int(np.prod(shape, dtype=np.int64)) for shape in self.shapes))


def flatten(record: ArrayRecord) -> tuple[NDArray[np.float64], Layout]:
    """Concatenate the arrays of ``record`` (in order) into one float64 vector.

    Raises:
        MalformedMessage: if an array is not numeric or holds NaN or Inf.
    """
    names: list[str] = []
    shapes: list[tuple[int, ...]] = []
    dtypes: list[str] = []
    parts: list[NDArray[np.float64]] = []
    for name, array in record.items():
        values = array.numpy()
        if values.dtype.kind not in "fiub":
            raise MalformedMessage(f"array {name!r} has non-numeric dtype {values.dtype}")
        flat = values.astype(np.float64).ravel()
        if not np.all(np.isfinite(flat)):
            raise MalformedMessage(f"array {name!r} contains NaN or Inf")
        names.append(name)
        shapes.append(tuple(int(s) for s in values.shape))
        dtypes.append(str(values.dtype))
        parts.append(flat)
    vector = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
    return vector, Layout(tuple(names), tuple(shapes), tuple(dtypes))


def unflatten(vector: NDArray[np.float64], layout: Layout) -> ArrayRecord:
    """Split ``vector`` back into named arrays of ``layout``'s shapes and dtypes.

    Raises:
        MalformedMessage: if the vector's length does not match the layout.
    """
    if vector.shape != (layout.size,):
        raise MalformedMessage(f"vector of shape {vector.shape} does not fit {layout.size}")
    record = ArrayRecord()
    offset = 0
    for name, shape, dtype in zip(layout.names, layout.shapes, layout.dtypes, strict=True):
        count = int(np.prod(shape, dtype=np.int64))
        chunk = vector[offset : offset + count].reshape(shape).astype(np.dtype(dtype))
        record[name] = Array(np.ascontiguousarray(chunk))
        offset += count
    return record


def same_layout(record: ArrayRecord, layout: Layout) -> bool:
    """Whether ``record`` has exactly ``layout``'s names and shapes (a client's reply check)."""
    if tuple(record.keys()) != layout.names:
        return False
    return all(
        tuple(int(s) for s in array.shape) == shape
        for array, shape in zip(record.values(), layout.shapes, strict=True)
    )
