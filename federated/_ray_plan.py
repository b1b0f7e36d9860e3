"""Split one ``Executor.map`` call into what is shipped once and what is shipped per task.

A round hands the executor items such as ``(client, global_parameters)``. Sending every
item as it stands would copy the global model once per client and every client's dataset
once per round. This module rewrites the items into *templates*: an element shared by
several items (the global model) becomes a :class:`SharedSlot`, shipped once per call
through the object store; a client object becomes a :class:`PlacedClient`, shipped once to
the worker that keeps it. Pure Python, no Ray, so it is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SharedSlot", "PlacedClient", "CallPlan", "is_client", "plan_call", "resolve"]

_INLINE_TYPES = (bool, int, float, complex, str, bytes, type(None))


@dataclass(frozen=True, slots=True)
class SharedSlot:
    """Stands for the ``index``-th object shipped once for the whole call."""

    index: int


@dataclass(frozen=True, slots=True)
class PlacedClient:
    """Stands for the client a worker already holds under ``key``."""

    key: int


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One ``map`` call, rewritten.

    Attributes:
        shared: the objects shipped once per call, indexed by :class:`SharedSlot`.
        templates: the items with shared objects and clients replaced by placeholders.
        client_keys: for each item, the key of the client it uses, or ``None``.
    """

    shared: tuple[object, ...]
    templates: tuple[object, ...]
    client_keys: tuple[int | None, ...]


def is_client(value: object) -> bool:
    """Whether ``value`` is a federated client (an object with ``fit`` and ``num_examples``).

    The same test as ``isinstance(value, FederatedClient)``, written out: the protocol check
    of :mod:`typing` costs tens of microseconds, which adds up over 10,000 clients a round.
    """
    if isinstance(value, (type, np.ndarray, *_INLINE_TYPES)):
        return False
    return callable(getattr(value, "fit", None)) and hasattr(value, "num_examples")


def _elements(item: object) -> tuple[object, ...]:
    return item if isinstance(item, tuple) else (item,)


def plan_call(items: Sequence[object], key_of: Callable[[object], int]) -> CallPlan:
    """Rewrite ``items`` so that clients and shared elements are shipped only once.

    Only an item itself or the elements of a tuple item are examined (one level). A client
    element becomes ``PlacedClient(key_of(client))``; any other element that is the very
    same object in two or more items, and is not a small immutable scalar, becomes a
    :class:`SharedSlot`. Everything else stays inline.

    Args:
        items: the work items of one call.
        key_of: gives the placement key of a client object (and registers it if new).

    Returns:
        The plan; ``resolve(plan.templates[i], plan.shared, clients)`` rebuilds item ``i``.
    """
    counts: dict[int, int] = {}
    for item in items:
        for element in _elements(item):
            if not isinstance(element, _INLINE_TYPES):
                counts[id(element)] = counts.get(id(element), 0) + 1
    shared: list[object] = []
    slots: dict[int, SharedSlot] = {}
    templates: list[object] = []
    client_keys: list[int | None] = []
    for item in items:
        client_key: int | None = None
        rewritten: list[object] = []
        for element in _elements(item):
            if is_client(element):
                client_key = key_of(element)
                rewritten.append(PlacedClient(client_key))
            elif counts.get(id(element), 0) > 1:
                slot = slots.get(id(element))
                if slot is None:
                    slot = slots[id(element)] = SharedSlot(len(shared))
                    shared.append(element)
                rewritten.append(slot)
            else:
                rewritten.append(element)
        templates.append(tuple(rewritten) if isinstance(item, tuple) else rewritten[0])
        client_keys.append(client_key)
    return CallPlan(tuple(shared), tuple(templates), tuple(client_keys))


def _fill(element: object, shared: Sequence[object], clients: Mapping[int, object]) -> object:
    if isinstance(element, PlacedClient):
        return clients[element.key]
    if isinstance(element, SharedSlot):
        value = shared[element.index]
        # Arrays read from the object store are read-only views; every task gets its own
        # writable copy, as it would from a process pool, so no task can alter another's.
        return np.array(value, copy=True) if isinstance(value, np.ndarray) else value
    return element


def resolve(template: object, shared: Sequence[object], clients: Mapping[int, object]) -> object:
    """Rebuild an item from its template (the inverse of :func:`plan_call`)."""
    if isinstance(template, tuple):
        return tuple(_fill(element, shared, clients) for element in template)
    return _fill(template, shared, clients)
