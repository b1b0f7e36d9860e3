"""The client state machine of SecAgg+ (Bonawitz et al. CCS 2017, Figure 4; Bell et al. 2020).

One method per round; each takes the server's message for that round and returns the
client's reply. The client aborts (raises :class:`~secagg.errors.ProtocolAbort` or another
:class:`~secagg.errors.ProtocolError`) on anything that could leak its input, and stays
aborted: no later call releases anything.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from secagg.errors import (
    DecryptionFailure,
    InvalidArgument,
    ProtocolAbort,
    ProtocolError,
    SecAggError,
)
from secagg.masking import _shamir
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._errors import TooFewSurvivors
from secagg.masking._kdf import (
    commit_self_mask_seed,
    pair_mask_key,
    self_mask_key,
    share_encryption_key,
)
from secagg.masking._messages import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    EncryptedShare,
    KeyRoster,
    MaskedInput,
    ShareBundle,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.masking._prg import add_prgs
from secagg.masking._roster import (
    RoundKeys,
    advert_payload,
    check_signature,
    client_round_keys,
    consistency_payload,
)
from secagg.masking._state import StateKey, dump_client, load_client
from secagg.masking._vectors import as_ring_vector

__all__ = ["Client", "share_aad", "SHARE_PLAINTEXT_BYTES"]

_NONCE_BYTES = 12
SHARE_PLAINTEXT_BYTES = 8 + 2 * _shamir.SHARE_BYTES

_T = TypeVar("_T")


def share_aad(session: bytes, sender: int, receiver: int) -> bytes:
    """Associated data of a share ciphertext: session id, sender and receiver."""
    return b"fedcrypt/secagg-masking/share/v1" + session + struct.pack(">II", sender, receiver)


def raw_public(key: X25519PrivateKey) -> bytes:
    """The 32 raw bytes of an X25519 public key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _exchange(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError as exc:  # low-order point: all-zero shared secret
        raise ProtocolAbort("a peer advertised an invalid X25519 key") from exc


class Client:
    """One client of a SecAgg+ round: holds its keys and shares, enforces the rules.

    Call, in order: :meth:`advertise_keys`, :meth:`share_keys`, :meth:`masked_input`,
    :meth:`consistency_check`, :meth:`unmask`. Any error aborts the client for good.

    Args:
        config: the round's configuration, identical at every party.
        client_id: this client's id, one of ``config.client_ids``.
        signing_key: this client's Ed25519 private key; required iff ``config.verify_keys``
            is set, and must match this client's entry there.
    """

    def __init__(
        self,
        config: MaskingConfig,
        client_id: int,
        *,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        if not isinstance(config, MaskingConfig):
            raise InvalidArgument("config must be a MaskingConfig")
        if client_id not in config.client_ids:
            raise InvalidArgument(f"client id {client_id} is not in the configuration")
        if config.signed:
            if not isinstance(signing_key, Ed25519PrivateKey):
                raise InvalidArgument("a signed configuration needs this client's signing key")
            public = signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            if public != config.verify_key(client_id):
                raise InvalidArgument("the signing key does not match the configured verify key")
        elif signing_key is not None:
            raise InvalidArgument("an unsigned configuration takes no signing key")
        self.config = config
        self.client_id = client_id
        self._signing_key = signing_key
        self._next: Stage | None = Stage.ADVERTISE_KEYS
        self._finished = False
        self._share_key = X25519PrivateKey.generate()
        self._mask_key = X25519PrivateKey.generate()
        self._keys: RoundKeys | None = None
        self._seed = b""
        self._own_shares: tuple[int, int] = (0, 0)
        self._received: dict[int, tuple[int, int]] = {}
        self._share_secrets: dict[int, bytes] = {}
        self._survivors: tuple[int, ...] | None = None
        self._released: dict[int, str] = {}

    # -- state ------------------------------------------------------------------------------

    def save_state(self, key: StateKey) -> bytes:
        """The client's round state, sealed under ``key``, to resume in another process.

        The bytes are encrypted and authenticated with AES-256-GCM (see
        :mod:`secagg.masking._state`): keep ``key`` apart from them (the bytes alone reveal
        nothing and cannot be altered undetected), and erase both when the round ends. The
        signing key is not included.

        Raises:
            InvalidArgument: ``key`` is not a :class:`~secagg.masking.StateKey`.
        """
        return dump_client(self, key)

    @classmethod
    def load_state(
        cls,
        data: bytes,
        config: MaskingConfig,
        client_id: int,
        *,
        key: StateKey,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> Client:
        """Resume a client saved by :meth:`save_state` (same key, configuration and id).

        Raises:
            InvalidArgument: ``key`` is not a :class:`~secagg.masking.StateKey`.
            DeserializationError: malformed bytes, another version, client or
                configuration, a wrong key or altered bytes (the AES-GCM tag does not
                verify), or a field inconsistent with the client's public data.
        """
        return load_client(cls, data, key, config, client_id, signing_key)

    @property
    def aborted(self) -> bool:
        """Whether the client aborted (it then refuses every further call)."""
        return self._next is None and not self._finished

    @property
    def finished(self) -> bool:
        """Whether the client completed its unmask step (it then refuses every further call)."""
        return self._finished

    @property
    def released(self) -> dict[int, str]:
        """For each owner id, which of its secrets this client released (``seed``/``key``)."""
        return dict(self._released)

    def _enter(self, stage: Stage) -> None:
        if self._finished:
            raise ProtocolAbort(f"the round is over: {stage.name} refused after unmasking")
        if self._next is None:
            raise ProtocolAbort("this client has aborted the round")
        if self._next != stage:
            self._next = None
            raise ProtocolAbort(f"{stage.name} requested out of order (expected a different step)")

    def _run(self, stage: Stage, step: Callable[[], _T]) -> _T:
        self._enter(stage)
        try:
            out = step()
        except SecAggError:
            self._next = None
            raise
        except Exception as exc:
            self._next = None
            raise ProtocolAbort(f"{stage.name} failed: {exc}") from exc
        if stage == Stage.UNMASK:
            self._next, self._finished = None, True
        else:
            self._next = Stage(stage + 1)
        return out

    # -- round 0 ----------------------------------------------------------------------------

    def advertise_keys(self) -> AdvertiseKeys:
        """Round 0: publish two fresh X25519 public keys (signed when configured)."""
        return self._run(Stage.ADVERTISE_KEYS, self.own_advert)

    def own_advert(self) -> AdvertiseKeys:
        """This client's advertisement of its round keys, as sent in round 0.

        Ed25519 signatures are deterministic, so it is the same every time: the roster
        must hold exactly this.
        """
        advert = AdvertiseKeys(
            self.client_id,
            self.config.digest(),
            raw_public(self._share_key),
            raw_public(self._mask_key),
        )
        if self._signing_key is None:
            return advert
        signature = self._signing_key.sign(advert_payload(advert))
        return AdvertiseKeys(
            advert.client_id,
            advert.config_digest,
            advert.share_public_key,
            advert.mask_public_key,
            signature,
        )

    # -- round 1 ----------------------------------------------------------------------------

    def share_keys(self, roster: KeyRoster) -> ShareKeys:
        """Round 1: check the roster slice, then Shamir-share the self-mask seed and mask key.

        ``roster`` is this client's slice of the committed roster (its own advert, its
        neighbours' and the two adjacent in id order, with RFC 9162 inclusion proofs); see
        :func:`~secagg.masking._roster.client_round_keys` for every check.

        Each neighbour receives one AES-GCM ciphertext holding its share of both secrets,
        under a key agreed from the share-encryption key pair, with the session id,
        sender and receiver as associated data.
        """
        return self._run(Stage.SHARE_KEYS, lambda: self._share_keys(roster))

    def _share_keys(self, roster: KeyRoster) -> ShareKeys:
        if not isinstance(roster, KeyRoster):
            raise ProtocolAbort("expected a KeyRoster")
        keys = client_round_keys(
            self.config, roster, self.own_advert(), error=ProtocolAbort, too_few=TooFewSurvivors
        )
        self._keys = keys
        session = keys.session_id
        holders = sorted(keys.neighbourhood(self.client_id))
        xs = [h + 1 for h in holders]
        t = self.config.threshold
        self._seed = os.urandom(32)
        mask_secret = self._mask_key.private_bytes_raw()
        seed_shares = _shamir.split(int.from_bytes(self._seed, "big"), xs, t)
        key_shares = _shamir.split(int.from_bytes(mask_secret, "big"), xs, t)
        out: list[EncryptedShare] = []
        for holder, s_seed, s_key in zip(holders, seed_shares, key_shares, strict=True):
            if holder == self.client_id:
                self._own_shares = (s_seed, s_key)
                continue
            plaintext = (
                struct.pack(">II", self.client_id, holder)
                + _shamir.encode_element(s_seed)
                + _shamir.encode_element(s_key)
            )
            shared = _exchange(self._share_key, keys.adverts[holder].share_public_key)
            self._share_secrets[holder] = shared
            aead = AESGCM(share_encryption_key(shared, session, self.client_id, holder))
            nonce = os.urandom(_NONCE_BYTES)
            ct = aead.encrypt(nonce, plaintext, share_aad(session, self.client_id, holder))
            out.append(EncryptedShare(self.client_id, holder, nonce + ct))
        commitment = commit_self_mask_seed(self._seed, session, self.client_id)
        return ShareKeys(session, self.client_id, commitment, tuple(out))

    # -- round 2 ----------------------------------------------------------------------------

    def masked_input(self, bundle: ShareBundle, vector: npt.NDArray[Any]) -> MaskedInput:
        """Round 2: decrypt the shares received, then mask ``vector``.

        ``y = x + PRG(b) + sum_v (+/-) PRG(s_uv) mod 2^B`` over the neighbours ``v`` that
        completed round 1 (sign ``+`` when ``u < v``).

        Args:
            bundle: the ciphertexts the server forwards to this client.
            vector: ``vector_length`` integers in ``[0, 2^B)`` (any integer dtype).
        """
        return self._run(Stage.MASKED_INPUT, lambda: self._masked_input(bundle, vector))

    def _masked_input(self, bundle: ShareBundle, vector: npt.NDArray[Any]) -> MaskedInput:
        keys = self._require_keys()
        cfg = self.config
        words = as_ring_vector(vector, cfg.vector_length, cfg.modulus_bits)
        if not isinstance(bundle, ShareBundle):
            raise ProtocolAbort("expected a ShareBundle")
        session = keys.session_id
        if bundle.session_id != session:
            raise ProtocolAbort("share bundle from another session")
        if bundle.receiver != self.client_id:
            raise ProtocolAbort("share bundle addressed to another client")
        mine = keys.neighbours_of(self.client_id)
        received: dict[int, tuple[int, int]] = {}
        for share in bundle.shares:
            sender = share.sender
            if share.receiver != self.client_id:
                raise ProtocolAbort("a share is addressed to another client")
            if sender not in mine:
                raise ProtocolAbort(f"a share comes from {sender}, not a neighbour")
            if sender in received:
                raise ProtocolAbort(f"two shares come from {sender}")
            received[sender] = self._decrypt_share(keys, share)
        if len(received) + 1 < cfg.threshold:
            raise TooFewSurvivors("fewer than threshold neighbours completed ShareKeys")
        self._received = received
        streams = [(self_mask_key(self._seed, session, self.client_id), 1)]
        for other in sorted(received):
            shared = _exchange(self._mask_key, keys.adverts[other].mask_public_key)
            sign = 1 if self.client_id < other else -1
            streams.append((pair_mask_key(shared, session, self.client_id, other), sign))
        add_prgs(words, streams)
        if cfg.modulus_bits < words.dtype.itemsize * 8:
            np.bitwise_and(words, (1 << cfg.modulus_bits) - 1, out=words)
        words.flags.writeable = False  # ours alone: MaskedInput keeps it without a copy
        return MaskedInput(session, self.client_id, words)

    def _decrypt_share(self, keys: RoundKeys, share: EncryptedShare) -> tuple[int, int]:
        session = keys.session_id
        data = share.ciphertext
        if len(data) != _NONCE_BYTES + SHARE_PLAINTEXT_BYTES + 16:
            raise DecryptionFailure(f"the share from {share.sender} has the wrong length")
        shared = self._share_secrets[share.sender]  # agreed in share_keys, same key pair
        aead = AESGCM(share_encryption_key(shared, session, share.sender, self.client_id))
        try:
            plain = aead.decrypt(
                data[:_NONCE_BYTES],
                data[_NONCE_BYTES:],
                share_aad(session, share.sender, self.client_id),
            )
        except InvalidTag as exc:
            raise DecryptionFailure(f"the share from {share.sender} does not decrypt") from exc
        if struct.unpack(">II", plain[:8]) != (share.sender, self.client_id):
            raise DecryptionFailure("the share's inner sender/receiver labels do not match")
        size = _shamir.SHARE_BYTES
        try:
            seed_share = _shamir.decode_element(plain[8 : 8 + size])
            key_share = _shamir.decode_element(plain[8 + size :])
        except SecAggError as exc:
            raise DecryptionFailure(f"the share from {share.sender} is malformed") from exc
        return seed_share, key_share

    # -- round 3 ----------------------------------------------------------------------------

    def consistency_check(self, request: ConsistencyRequest) -> ConsistencyResponse:
        """Round 3: record the survivor list ``U_3`` and sign it (when configured)."""
        return self._run(Stage.CONSISTENCY_CHECK, lambda: self._consistency(request))

    def _consistency(self, request: ConsistencyRequest) -> ConsistencyResponse:
        keys = self._require_keys()
        if not isinstance(request, ConsistencyRequest):
            raise ProtocolAbort("expected a ConsistencyRequest")
        if request.session_id != keys.session_id:
            raise ProtocolAbort("consistency request from another session")
        survivors = self._check_survivors(keys, request.survivors)
        self._survivors = survivors
        signature = b""
        if self._signing_key is not None:
            signature = self._signing_key.sign(consistency_payload(keys.session_id, survivors))
        return ConsistencyResponse(keys.session_id, self.client_id, signature)

    def _check_survivors(self, keys: RoundKeys, survivors: tuple[int, ...]) -> tuple[int, ...]:
        alive = set(survivors)
        if len(alive) != len(survivors):
            raise ProtocolAbort("the survivor list repeats an id")
        if not all(map(self.config.has_client, alive)):
            raise ProtocolAbort("the survivor list names an unknown client")
        if self.client_id not in alive:
            raise ProtocolAbort("the survivor list omits this client")
        mine = keys.neighbours_of(self.client_id)
        if not (alive & mine).issubset(self._received):
            raise ProtocolAbort("the survivor list names a neighbour that sent no shares")
        if len(alive & keys.neighbourhood(self.client_id)) < self.config.threshold:
            raise TooFewSurvivors("fewer than threshold clients of this neighbourhood are alive")
        return tuple(sorted(survivors))

    # -- round 4 ----------------------------------------------------------------------------

    def unmask(self, request: UnmaskRequest) -> UnmaskResponse:
        """Round 4: release one share per neighbour: seed if alive, mask key if dropped.

        Aborts on an id both alive and dead, an unknown or repeated id, this client listed
        dead, fewer than ``t`` alive, a survivor list that differs from round 3, missing or
        invalid consistency signatures, or any second request.
        """
        return self._run(Stage.UNMASK, lambda: self._unmask(request))

    def _unmask(self, request: UnmaskRequest) -> UnmaskResponse:
        keys = self._require_keys()
        if not isinstance(request, UnmaskRequest):
            raise ProtocolAbort("expected an UnmaskRequest")
        if request.session_id != keys.session_id:
            raise ProtocolAbort("unmask request from another session")
        survivors = self._check_survivors(keys, request.survivors)
        if survivors != self._survivors:
            raise ProtocolAbort("the survivor list differs from the consistency check")
        dropped = request.dropped
        dead = set(dropped)
        if len(dead) != len(dropped):
            raise ProtocolAbort("the dropped list repeats an id")
        if self.client_id in dead:
            raise ProtocolAbort("this client is listed as dropped")
        alive = set(survivors)
        if not dead.isdisjoint(alive):
            raise ProtocolAbort("an id is listed both alive and dropped")
        if not all(map(self.config.has_client, dead)):
            raise ProtocolAbort("the dropped list names an unknown client")
        mine = keys.neighbours_of(self.client_id)
        dead_neighbours = dead & mine
        if not dead_neighbours.issubset(self._received):
            raise ProtocolAbort("the dropped list names a neighbour that sent no shares")
        alive_neighbours = alive & mine
        if alive_neighbours | dead_neighbours != set(self._received):
            raise ProtocolAbort("a neighbour is listed neither alive nor dropped")
        if self.config.signed:
            self._check_consistency_signatures(keys, survivors, request.signatures)
        for owner in alive_neighbours | {self.client_id}:
            if self._released.get(owner, "seed") != "seed":
                raise ProtocolAbort(f"the mask key of {owner} was already released")
        for owner in dead_neighbours:
            if self._released.get(owner, "key") != "key":
                raise ProtocolAbort(f"the seed of {owner} was already released")
        seed_shares = []
        for owner in sorted(alive_neighbours | {self.client_id}):
            share = self._own_shares[0] if owner == self.client_id else self._received[owner][0]
            seed_shares.append((owner, _shamir.encode_element(share)))
            self._released[owner] = "seed"
        key_shares = []
        for owner in sorted(dead_neighbours):
            key_shares.append((owner, _shamir.encode_element(self._received[owner][1])))
            self._released[owner] = "key"
        return UnmaskResponse(
            keys.session_id, self.client_id, tuple(seed_shares), tuple(key_shares)
        )

    def _check_consistency_signatures(
        self,
        keys: RoundKeys,
        survivors: tuple[int, ...],
        signatures: tuple[tuple[int, bytes], ...],
    ) -> None:
        payload = consistency_payload(keys.session_id, survivors)
        alive = set(survivors)
        listed = [signer for signer, _ in signatures]
        if len(set(listed)) != len(listed):
            raise ProtocolAbort("a consistency signature is repeated")
        if not alive.issuperset(listed):
            raise ProtocolAbort("a consistency signature comes from a non-survivor")
        # Verify until enough distinct signers are proven (n // 2 + 1 of them, not all n):
        # the acceptance rule is unchanged, and any invalid one seen still aborts.
        signers: set[int] = set()
        for signer, signature in signatures:
            if len(signers) >= keys.signatures_needed:
                break
            if not check_signature(self.config, signer, signature, payload):
                raise ProtocolAbort(f"the consistency signature of {signer} is invalid")
            signers.add(signer)
        if len(signers) < keys.signatures_needed:
            raise ProtocolAbort(
                f"{len(signers)} clients signed the survivor list, "
                f"{keys.signatures_needed} needed (threshold and a majority of the roster)"
            )

    def _require_keys(self) -> RoundKeys:
        if self._keys is None:
            raise ProtocolError("the roster is not known yet")
        return self._keys
