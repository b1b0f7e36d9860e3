"""Save a :class:`secagg.masking.Client` between Flower messages, without pickle.

Flower runs a ClientApp once per message (a fresh process per message in a deployment,
any Ray actor in a simulation), so the state machine of one SecAgg+ round must be saved in
the node's :class:`flwr.app.Context` between stages, as Flower's own SecAgg+ mod does. The
client's round state is encoded by its own public API (:meth:`secagg.masking.Client.save_state`,
itself versioned, bound to the configuration digest and client id, and strictly parsed);
this module only wraps it in a versioned header of the node-context record, so a record
written by another fedcrypt version is refused instead of misread.

The saved state holds round secrets, sealed (AES-256-GCM) under a per-round
:class:`secagg.masking.StateKey`; it lives only in the client's own node state (the SuperNode
on the client's machine), and the mod erases it when the round ends or aborts. Flower gives
a ClientApp no other storage, so the key is kept in the same node state under its own
field: the seal then catches corrupted or mixed-up state, not a party that can rewrite the
whole node state (who controls the client anyway).
"""

from __future__ import annotations

from federated.flower.errors import ClientStateError
from secagg.errors import SecAggError
from secagg.masking import Client, MaskingConfig, StateKey

__all__ = ["dump_client", "load_client", "STATE_VERSION"]

STATE_VERSION = 3
"""Version of the node-context record (3: the body is ``Client.save_state(key)``, sealed)."""

_MAGIC = b"FCFS"
_HEADER = _MAGIC + bytes([STATE_VERSION])


def dump_client(client: Client, key: StateKey) -> bytes:
    """Encode the round state of ``client`` (secret: keep it on the client's node only).

    Raises:
        ClientStateError: if the client runs a signed round (its signing key is not
            carried over Flower).
    """
    if client.config.signed:
        raise ClientStateError("signed masking rounds are not supported over Flower yet")
    return _HEADER + client.save_state(key)


def load_client(data: bytes, key: StateKey, config: MaskingConfig, client_id: int) -> Client:
    """Rebuild the client that :func:`dump_client` saved, for ``config`` and ``client_id``.

    Raises:
        ClientStateError: on a wrong header, or bytes that
            :meth:`secagg.masking.Client.load_state` refuses (malformed, another client or
            configuration, a wrong key or altered bytes, a roster that no longer validates).
    """
    if not isinstance(data, bytes):
        raise ClientStateError("saved masking state must be bytes")
    if data[: len(_HEADER)] != _HEADER:
        raise ClientStateError("saved masking state has a wrong magic or version")
    try:
        return Client.load_state(data[len(_HEADER) :], config, client_id, key=key)
    except SecAggError as exc:
        raise ClientStateError(f"saved masking state is refused: {exc}") from exc
