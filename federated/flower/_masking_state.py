"""Save a :class:`secagg.masking.Client` between Flower messages, without pickle.

Flower runs a ClientApp once per message (a fresh process per message in a deployment,
any Ray actor in a simulation), so the state machine of one SecAgg+ round must be saved in
the node's :class:`flwr.app.Context` between stages, as Flower's own SecAgg+ mod does. This
module encodes exactly the fields the client carries from one round to the next: its two
X25519 private keys (and the pairwise secrets agreed with them), the self-mask seed, its
own and received Shamir shares, the roster
(from which the session id and neighbour graph are recomputed), the survivor list and which
share it released per neighbour. The encoding is versioned and strictly parsed.

The saved state holds round secrets; it lives only in the client's own node state (the
SuperNode on the client's machine), and the mod erases it when the round ends or aborts.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federated.flower.errors import ClientStateError
from secagg.errors import ProtocolAbort, SecAggError
from secagg.masking import Client, KeyRoster, MaskingConfig, Stage, _roster, _shamir

__all__ = ["dump_client", "load_client", "STATE_VERSION"]

STATE_VERSION = 1
_MAGIC = b"FCFS"
_NO_STAGE = 255
_RELEASE_CODES = {"seed": 1, "key": 2}
_RELEASE_NAMES = {code: name for name, code in _RELEASE_CODES.items()}


class _Out:
    def __init__(self) -> None:
        self.parts: list[bytes] = [_MAGIC, bytes([STATE_VERSION])]

    def u32(self, value: int) -> None:
        self.parts.append(struct.pack(">I", value))

    def blob(self, data: bytes) -> None:
        self.u32(len(data))
        self.parts.append(data)

    def element(self, value: int) -> None:
        self.parts.append(_shamir.encode_element(value))


class _In:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        if self.take(4) != _MAGIC or self.take(1)[0] != STATE_VERSION:
            raise ClientStateError("saved masking state has a wrong magic or version")

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise ClientStateError("saved masking state is truncated")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def blob(self) -> bytes:
        return self.take(self.u32())

    def element(self) -> int:
        try:
            return _shamir.decode_element(self.take(_shamir.SHARE_BYTES))
        except SecAggError as exc:
            raise ClientStateError("saved masking state holds a bad share") from exc

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ClientStateError("saved masking state has trailing bytes")


def dump_client(client: Client) -> bytes:
    """Encode the round state of ``client`` (secret: keep it on the client's node only).

    Raises:
        ClientStateError: if the client is unsigned-incompatible (signed rounds are not
            carried over Flower) or its internals are not the ones this adapter knows.
    """
    try:
        if client.config.signed:
            raise ClientStateError("signed masking rounds are not supported over Flower yet")
        keys = client._keys
        out = _Out()
        stage = client._next
        out.u32(_NO_STAGE if stage is None else int(stage))
        out.parts.append(client._share_key.private_bytes_raw())
        out.parts.append(client._mask_key.private_bytes_raw())
        out.blob(b"" if keys is None else KeyRoster(tuple(keys.adverts.values())).to_bytes())
        out.blob(client._seed)
        out.element(client._own_shares[0])
        out.element(client._own_shares[1])
        out.u32(len(client._received))
        for sender, (seed_share, key_share) in sorted(client._received.items()):
            out.u32(sender)
            out.element(seed_share)
            out.element(key_share)
        secrets = getattr(client, "_share_secrets", {})
        out.u32(len(secrets))
        for holder, shared in sorted(secrets.items()):
            out.u32(holder)
            out.blob(shared)
        survivors = client._survivors
        out.u32(0 if survivors is None else 1)
        out.u32(0 if survivors is None else len(survivors))
        for survivor in survivors or ():
            out.u32(survivor)
        out.u32(len(client._released))
        for owner, what in sorted(client._released.items()):
            out.u32(owner)
            out.u32(_RELEASE_CODES[what])
    except AttributeError as exc:  # the state machine changed shape: fail loudly
        raise ClientStateError(f"secagg.masking.Client internals changed: {exc}") from exc
    return b"".join(out.parts)


def load_client(data: bytes, config: MaskingConfig, client_id: int) -> Client:
    """Rebuild the client that :func:`dump_client` saved, for ``config`` and ``client_id``.

    Raises:
        ClientStateError: on malformed bytes, or a roster that no longer validates.
    """
    if not isinstance(data, bytes):
        raise ClientStateError("saved masking state must be bytes")
    client = Client(config, client_id)
    reader = _In(data)
    stage_code = reader.u32()
    if stage_code != _NO_STAGE and stage_code > int(Stage.UNMASK):
        raise ClientStateError("saved masking state names an unknown stage")
    share_key = X25519PrivateKey.from_private_bytes(reader.take(32))
    mask_key = X25519PrivateKey.from_private_bytes(reader.take(32))
    roster_bytes = reader.blob()
    seed = reader.blob()
    own = (reader.element(), reader.element())
    received: dict[int, tuple[int, int]] = {}
    for _ in range(reader.u32()):
        sender = reader.u32()
        received[sender] = (reader.element(), reader.element())
    share_secrets = {reader.u32(): reader.blob() for _ in range(reader.u32())}
    has_survivors = reader.u32()
    survivors = tuple(reader.u32() for _ in range(reader.u32()))
    released: dict[int, str] = {}
    for _ in range(reader.u32()):
        owner, code = reader.u32(), reader.u32()
        if code not in _RELEASE_NAMES:
            raise ClientStateError("saved masking state holds an unknown release code")
        released[owner] = _RELEASE_NAMES[code]
    reader.done()
    keys = None
    if roster_bytes:
        try:
            roster = KeyRoster.from_bytes(roster_bytes)
            keys = _roster.build_round_keys(
                config, roster, error=ProtocolAbort, too_few=ProtocolAbort
            )
        except SecAggError as exc:
            raise ClientStateError(f"saved roster no longer validates: {exc}") from exc
    client._next = None if stage_code == _NO_STAGE else Stage(stage_code)
    client._share_key = share_key
    client._mask_key = mask_key
    client._keys = keys
    client._seed = seed
    client._own_shares = own
    client._received = received
    if hasattr(client, "_share_secrets"):
        client._share_secrets = share_secrets
    client._survivors = survivors if has_survivors else None
    client._released = released
    return client
