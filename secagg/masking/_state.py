"""Save and restore a :class:`~secagg.masking.Client` between protocol rounds, sealed.

Some transports run a client's code once per message in a fresh process (Flower's ClientApp,
serverless functions), so the round state must leave memory between rounds. The state holds
round secrets (the two X25519 private keys, the self-mask seed, Shamir shares), and a
corrupted one would make the round end with a wrong sum that nobody notices: after a flipped
bit in the seed the client masks with the flipped seed, while the server rebuilds the
original one from the shares dealt before the flip, and that one matches the commitment.
So the state is sealed with AES-256-GCM (NIST
SP 800-38D) under a :class:`StateKey` that the caller keeps apart from the blob: the secrets
are encrypted at rest and every byte is authenticated. The header (format version, client
id, configuration digest, nonce) is associated data, so a blob for another client or
configuration is refused too.

After the tag verifies, every field is still range-checked and, where the protocol gives a
check, verified against what the client published: the roster slice is re-validated
(proofs, neighbourhood), which also checks that the private keys match the advertised
public keys; the self-mask seed against its commitment; each share-encryption secret
against the X25519 exchange it came from. These catch a bug, not an attacker: the tag
already refuses any change.

Not covered: replay of an older authentic blob of the same round (a rollback). Only the
caller can prevent that, by erasing old blobs or keeping a counter outside the blob.

Version 3 (this format): ``FCSM | 3 | kind 20 | client id (u32) | config digest (32) |
nonce (12) | length (u32) | AES-GCM(body) with 16-byte tag``; associated data is every byte
before the length. Versions 1 and 2 (unsealed) are refused.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secagg.errors import DeserializationError, InvalidArgument, ProtocolAbort, SecAggError
from secagg.masking import _shamir
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._kdf import commit_self_mask_seed
from secagg.masking._messages import KeyRoster
from secagg.masking._roster import RoundKeys, client_round_keys
from secagg.masking._wire import Reader, Writer

if TYPE_CHECKING:
    from secagg.masking._client import Client

__all__ = ["StateKey", "dump_client", "load_client", "STATE_VERSION"]

STATE_VERSION = 3
"""Version of the saved-state format (3: AES-256-GCM sealed, header as associated data)."""

_KIND = 20
_BODY_KIND = 21
_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = 4 + 2 + 4 + 32 + _NONCE_BYTES
_KDF_INFO = b"fedcrypt/secagg-masking/client-state/v3"
_NO_STAGE = 255
_RELEASES = {"seed": 1, "key": 2}
_RELEASE_NAMES = {code: name for name, code in _RELEASES.items()}


@dataclass(frozen=True, slots=True, eq=False)
class StateKey:
    """A 256-bit key that seals a client's saved state; keep it apart from the saved bytes.

    Anyone who holds both the key and a blob can read the client's round secrets and forge
    a state; a blob without its key is useless to them. Make one per client (and ideally
    per round) with :meth:`generate`; the secret is left out of ``repr`` and equality.

    Raises:
        InvalidArgument: ``secret`` is not 32 bytes.
    """

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != _KEY_BYTES:
            raise InvalidArgument(f"a state key is {_KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> StateKey:
        """A fresh random key from the operating system's CSPRNG."""
        return cls(os.urandom(_KEY_BYTES))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> StateKey:
        """The key whose :meth:`to_bytes` is ``data`` (32 bytes)."""
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        return cls(data)

    def to_bytes(self) -> bytes:
        """The 32 secret bytes (store them where the saved state is not)."""
        return self.secret

    def _aead(self) -> AESGCM:
        # A subkey for this one purpose (RFC 5869), so the caller's key serves nothing else.
        subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO)
        return AESGCM(subkey.derive(self.secret))


def _require_key(key: object) -> StateKey:
    if not isinstance(key, StateKey):
        raise InvalidArgument(
            f"the saved state is sealed with a StateKey, got {type(key).__name__}"
        )
    return key


def dump_client(client: Client, key: StateKey) -> bytes:
    """The round state of ``client``, sealed under ``key`` (AES-256-GCM, random nonce).

    A random 96-bit nonce keeps the collision risk below 2^-32 for 2^32 saves under one
    key (NIST SP 800-38D, section 8.3), far more than any client makes.
    """
    aead = _require_key(key)._aead()
    header = Writer(_KIND, STATE_VERSION)
    header.u32(client.client_id)
    header.fixed(client.config.digest())
    header.fixed(os.urandom(_NONCE_BYTES))
    aad = header.finish()
    sealed = aead.encrypt(aad[-_NONCE_BYTES:], _body(client), aad)
    out = Writer(_KIND, STATE_VERSION)
    out.fixed(aad[6:])
    out.blob(sealed)
    return out.finish()


def _body(client: Client) -> bytes:
    w = Writer(_BODY_KIND, STATE_VERSION)
    stage = client._next
    w.fixed(bytes([_NO_STAGE if stage is None else int(stage), int(client._finished)]))
    w.fixed(client._share_key.private_bytes_raw() + client._mask_key.private_bytes_raw())
    keys = client._keys
    w.blob(b"" if keys is None or keys.view is None else keys.view.to_bytes())
    w.blob(client._seed)
    commitment = b""
    if client._seed and keys is not None:
        commitment = commit_self_mask_seed(client._seed, keys.session_id, client.client_id)
    w.blob(commitment)
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


def _open(data: object, key: StateKey, config: MaskingConfig, client_id: int) -> bytes:
    """Check the header and the tag; return the plaintext body."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DeserializationError("a saved state is bytes")
    data = bytes(data)
    r = Reader(data, _KIND, STATE_VERSION)
    if r.u32() != client_id:
        raise DeserializationError("the saved state belongs to another client")
    if r.fixed(32) != config.digest():
        raise DeserializationError("the saved state belongs to another configuration")
    nonce = r.fixed(_NONCE_BYTES)
    sealed = r.blob()
    r.done()
    if len(sealed) < _TAG_BYTES:
        raise DeserializationError("the saved state is truncated")
    try:
        return key._aead().decrypt(nonce, sealed, data[:_HEADER_BYTES])
    except InvalidTag as exc:
        raise DeserializationError(
            "the saved state fails authentication: wrong key, or corrupted or altered bytes"
        ) from exc


def _increasing(ids: list[int], what: str) -> None:
    if any(b <= a for a, b in pairwise(ids)):
        raise DeserializationError(f"the saved {what} are not in strictly increasing order")


def load_client(
    cls: type[Client],
    data: bytes,
    key: StateKey,
    config: MaskingConfig,
    client_id: int,
    signing_key: Ed25519PrivateKey | None,
) -> Client:
    """Rebuild the client :func:`dump_client` saved; refuse anything altered or inconsistent.

    Raises:
        InvalidArgument: ``key`` is not a :class:`StateKey` (or the client arguments are bad).
        DeserializationError: wrong version, client or configuration; a tag that does not
            verify; a field out of range or inconsistent with the client's public data.
    """
    key = _require_key(key)
    client = cls(config, client_id, signing_key=signing_key)
    r = Reader(_open(data, key, config, client_id), _BODY_KIND, STATE_VERSION)
    stage_code, finished = r.fixed(2)
    if (stage_code != _NO_STAGE and stage_code > Stage.UNMASK) or finished > 1:
        raise DeserializationError("the saved state names an unknown stage")
    if finished and stage_code != _NO_STAGE:
        raise DeserializationError("the saved state is finished and expects another stage")
    try:
        share_key = X25519PrivateKey.from_private_bytes(r.fixed(32))
        mask_key = X25519PrivateKey.from_private_bytes(r.fixed(32))
    except ValueError as exc:
        raise DeserializationError("the saved state holds a malformed key") from exc
    roster_bytes = r.blob()
    seed = r.blob(allowed=(0, 32))
    commitment = r.blob(allowed=(0, 32))

    def pair() -> tuple[int, int]:
        size = _shamir.SHARE_BYTES
        return _shamir.decode_element(r.fixed(size)), _shamir.decode_element(r.fixed(size))

    try:
        own = pair()
        received_items = [(r.u32(), pair()) for _ in range(r.count())]
    except SecAggError as exc:
        raise DeserializationError("the saved state holds a malformed share") from exc
    secret_items = [(r.u32(), r.fixed(32)) for _ in range(r.count())]
    has_survivors = r.fixed(1)[0]
    survivors = tuple(r.u32() for _ in range(r.count()))
    released_items = [(r.u32(), r.fixed(1)[0]) for _ in range(r.count())]
    r.done()
    if has_survivors > 1 or (survivors and not has_survivors):
        raise DeserializationError("the saved state has a malformed survivor list")
    for what, ids in (
        ("share senders", [i for i, _ in received_items]),
        ("share holders", [i for i, _ in secret_items]),
        ("survivors", list(survivors)),
        ("release owners", [i for i, _ in released_items]),
    ):
        _increasing(ids, what)
        if not all(map(config.has_client, ids)):
            raise DeserializationError(f"the saved {what} name an unknown client")
    if any(code not in _RELEASE_NAMES for _, code in released_items):
        raise DeserializationError("the saved state holds an unknown release code")
    client._share_key, client._mask_key = share_key, mask_key
    keys = _roster_keys(client, config, roster_bytes) if roster_bytes else None
    _check_secrets(client, keys, seed, commitment, received_items, secret_items)
    client._next = None if stage_code == _NO_STAGE else Stage(stage_code)
    client._finished = bool(finished)
    client._keys = keys
    client._seed = seed
    client._own_shares = own
    client._received = dict(received_items)
    client._share_secrets = dict(secret_items)
    client._survivors = survivors if has_survivors else None
    client._released = {owner: _RELEASE_NAMES[code] for owner, code in released_items}
    return client


def _roster_keys(client: Client, config: MaskingConfig, roster_bytes: bytes) -> RoundKeys:
    """Re-validate the roster slice; this also checks the private keys against the adverts."""
    try:
        return client_round_keys(
            config,
            KeyRoster.from_bytes(roster_bytes),
            client.own_advert(),
            error=ProtocolAbort,
            too_few=ProtocolAbort,
        )
    except SecAggError as exc:
        raise DeserializationError(f"the saved roster no longer validates: {exc}") from exc


def _check_secrets(
    client: Client,
    keys: RoundKeys | None,
    seed: bytes,
    commitment: bytes,
    received: list[tuple[int, tuple[int, int]]],
    secrets: list[tuple[int, bytes]],
) -> None:
    """Check the seed against its commitment and each share secret against its exchange."""
    if keys is None:
        if seed or commitment or received or secrets:
            raise DeserializationError("the saved state holds round secrets but no roster")
        return
    if bool(seed) != bool(commitment):
        raise DeserializationError("the saved self-mask seed and its commitment disagree")
    if seed and not hmac.compare_digest(
        commit_self_mask_seed(seed, keys.session_id, client.client_id), commitment
    ):
        raise DeserializationError("the saved self-mask seed does not match its commitment")
    neighbours = keys.neighbours_of(client.client_id)
    if not {sender for sender, _ in received} <= neighbours:
        raise DeserializationError("the saved state holds shares from a non-neighbour")
    for holder, shared in secrets:
        if holder not in neighbours:
            raise DeserializationError("the saved state holds a secret for a non-neighbour")
        peer = X25519PublicKey.from_public_bytes(keys.adverts[holder].share_public_key)
        try:
            expected = client._share_key.exchange(peer)
        except ValueError as exc:
            raise DeserializationError("the saved state names an invalid peer key") from exc
        if not hmac.compare_digest(expected, shared):
            raise DeserializationError("a saved share-encryption secret does not match its keys")
