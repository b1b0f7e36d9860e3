"""Save and restore a :class:`~secagg.masking.Client` between protocol rounds, without pickle.

Some transports run a client's code once per message in a fresh process (Flower's ClientApp,
serverless functions), so the round state must leave memory between rounds. The encoding
holds round secrets (the two X25519 private keys, the self-mask seed, Shamir shares): keep it
on the client's own device only, and erase it when the round ends. It carries the
configuration digest and is versioned and strictly parsed; the client's slice of the
roster is re-validated (proofs, own advert, neighbourhood) and the session id and graph
recomputed on load. Version 2: the roster is the client's slice (:class:`KeyRoster` v2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from secagg.errors import DeserializationError, ProtocolAbort, SecAggError
from secagg.masking import _shamir
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._messages import KeyRoster
from secagg.masking._roster import client_round_keys
from secagg.masking._wire import Reader, Writer

if TYPE_CHECKING:
    from secagg.masking._client import Client

__all__ = ["dump_client", "load_client"]

_KIND = 20
_VERSION = 2
_NO_STAGE = 255
_RELEASES = {"seed": 1, "key": 2}
_RELEASE_NAMES = {code: name for name, code in _RELEASES.items()}


def dump_client(client: Client) -> bytes:
    """The round state of ``client`` as versioned bytes (secret: keep it on the device)."""
    w = Writer(_KIND, _VERSION)
    w.u32(client.client_id)
    w.fixed(client.config.digest())
    stage = client._next
    w.fixed(bytes([_NO_STAGE if stage is None else int(stage), int(client._finished)]))
    w.fixed(client._share_key.private_bytes_raw() + client._mask_key.private_bytes_raw())
    keys = client._keys
    w.blob(b"" if keys is None or keys.view is None else keys.view.to_bytes())
    w.blob(client._seed)
    w.fixed(b"".join(_shamir.encode_element(v) for v in client._own_shares))
    w.u32(len(client._received))
    for sender, (seed_share, key_share) in sorted(client._received.items()):
        w.u32(sender)
        w.fixed(_shamir.encode_element(seed_share) + _shamir.encode_element(key_share))
    w.u32(len(client._share_secrets))
    for holder, shared in sorted(client._share_secrets.items()):
        w.u32(holder)
        w.fixed(shared)
    survivors = client._survivors
    w.fixed(bytes([survivors is not None]))
    w.u32(len(survivors or ()))
    for survivor in survivors or ():
        w.u32(survivor)
    w.u32(len(client._released))
    for owner, what in sorted(client._released.items()):
        w.u32(owner)
        w.fixed(bytes([_RELEASES[what]]))
    return w.finish()


def load_client(
    cls: type[Client],
    data: bytes,
    config: MaskingConfig,
    client_id: int,
    signing_key: Ed25519PrivateKey | None,
) -> Client:
    """Rebuild the client :func:`dump_client` saved; refuse anything inconsistent."""
    client = cls(config, client_id, signing_key=signing_key)
    r = Reader(data, _KIND, _VERSION)
    if r.u32() != client_id:
        raise DeserializationError("the saved state belongs to another client")
    if r.fixed(32) != config.digest():
        raise DeserializationError("the saved state belongs to another configuration")
    stage_code, finished = r.fixed(2)
    if (stage_code != _NO_STAGE and stage_code > Stage.UNMASK) or finished > 1:
        raise DeserializationError("the saved state names an unknown stage")
    try:
        share_key = X25519PrivateKey.from_private_bytes(r.fixed(32))
        mask_key = X25519PrivateKey.from_private_bytes(r.fixed(32))
    except ValueError as exc:
        raise DeserializationError("the saved state holds a malformed key") from exc
    roster_bytes = r.blob()
    seed = r.blob(allowed=(0, 32))
    size = _shamir.SHARE_BYTES
    try:
        own = (_shamir.decode_element(r.fixed(size)), _shamir.decode_element(r.fixed(size)))
        received: dict[int, tuple[int, int]] = {}
        for _ in range(r.count()):
            sender = r.u32()
            received[sender] = (
                _shamir.decode_element(r.fixed(size)),
                _shamir.decode_element(r.fixed(size)),
            )
    except SecAggError as exc:
        raise DeserializationError("the saved state holds a malformed share") from exc
    share_secrets = {r.u32(): r.fixed(32) for _ in range(r.count())}
    has_survivors = r.fixed(1)[0]
    survivors = tuple(r.u32() for _ in range(r.count()))
    released: dict[int, str] = {}
    for _ in range(r.count()):
        owner, code = r.u32(), r.fixed(1)[0]
        if code not in _RELEASE_NAMES:
            raise DeserializationError("the saved state holds an unknown release code")
        released[owner] = _RELEASE_NAMES[code]
    r.done()
    keys = None
    if roster_bytes:
        client._share_key, client._mask_key = share_key, mask_key
        try:
            keys = client_round_keys(
                config,
                KeyRoster.from_bytes(roster_bytes),
                client.own_advert(),
                error=ProtocolAbort,
                too_few=ProtocolAbort,
            )
        except SecAggError as exc:
            raise DeserializationError(f"the saved roster no longer validates: {exc}") from exc
    if has_survivors > 1:
        raise DeserializationError("the saved state has a malformed survivor flag")
    client._next = None if stage_code == _NO_STAGE else Stage(stage_code)
    client._finished = bool(finished)
    client._share_key, client._mask_key = share_key, mask_key
    client._keys = keys
    client._seed = seed
    client._own_shares = own
    client._received = received
    client._share_secrets = share_secrets
    client._survivors = survivors if has_survivors else None
    client._released = released
    return client
