"""The server state machine of SecAgg+ (Bonawitz et al. CCS 2017, Figure 4; Bell et al. 2020).

The server only ever holds public keys, ciphertexts it cannot read, masked vectors and the
shares clients release during unmasking; from these it rebuilds exactly the sum of the
surviving clients' inputs. Each ``collect_*`` method takes the clients' replies of one
round and returns what the server sends next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from secagg.errors import (
    InsufficientShares,
    InvalidArgument,
    InvalidShare,
    ProtocolError,
    SecAggError,
)
from secagg.masking import _shamir
from secagg.masking._config import MaskingConfig, Stage
from secagg.masking._kdf import commit_self_mask_seed, pair_mask_key, self_mask_key
from secagg.masking._messages import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    EncryptedShare,
    MaskedInput,
    ShareBundle,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.masking._prg import add_prgs, word_dtype
from secagg.masking._roster import (
    RosterViews,
    RoundKeys,
    advert_payload,
    check_signature,
    commit_roster,
    consistency_payload,
)

__all__ = ["Server", "RoundResult"]

_Check = Callable[[int, int], "bytes | None"]


@dataclass(frozen=True, slots=True, eq=False)
class RoundResult:
    """The outcome of one round.

    Attributes:
        sum: the sum mod ``2^B`` of the inputs of ``survivors`` (``uint64``, read-only).
        survivors: ids of the clients whose masked input is in the sum (``U_3``), sorted.
        dropped: ids of invited clients whose input is not in the sum, sorted.
    """

    sum: npt.NDArray[np.uint64] = field(repr=False)
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]


class Server:
    """The aggregator of a SecAgg+ round.

    Call, in order: :meth:`collect_keys`, :meth:`collect_shares`,
    :meth:`collect_masked_inputs`, :meth:`collect_consistency`, :meth:`collect_unmask`.
    A message that breaks the protocol raises :class:`~secagg.errors.ProtocolError`
    (``strict=True``) or is set aside and its sender treated as dropped (``strict=False``,
    see :attr:`rejected`); too few clients raises :class:`~secagg.errors.InsufficientShares`.

    Args:
        config: the round's configuration, identical at every party.
        strict: fail the round on the first bad message (default), or drop bad messages
            so one misbehaving client cannot stop the round.
    """

    def __init__(self, config: MaskingConfig, *, strict: bool = True) -> None:
        if not isinstance(config, MaskingConfig):
            raise InvalidArgument("config must be a MaskingConfig")
        self.config = config
        self.strict = bool(strict)
        self._rejected: list[tuple[Stage, int | None, str]] = []
        self._next: Stage | None = Stage.ADVERTISE_KEYS
        self._keys: RoundKeys | None = None
        self._commitments: dict[int, bytes] = {}
        self._masked: frozenset[int] = frozenset()
        self._total: npt.NDArray[np.unsignedinteger] = np.zeros(0, dtype=np.uint64)
        self._u2: frozenset[int] = frozenset()
        self._u3: tuple[int, ...] = ()
        self._u4: frozenset[int] = frozenset()
        self._weights: dict[tuple[int, ...], list[int]] = {}
        self._unmask_request: UnmaskRequest | None = None

    @property
    def session_id(self) -> bytes:
        """The session id, known once :meth:`collect_keys` succeeded."""
        return self._require_keys().session_id

    @property
    def rejected(self) -> tuple[tuple[Stage, int | None, str], ...]:
        """Messages set aside in non-strict mode: ``(stage, sender id or None, reason)``."""
        return tuple(self._rejected)

    def _screen(self, stage: Stage, sender: object, exc: ProtocolError | InvalidShare) -> None:
        """Raise ``exc`` in strict mode; otherwise record the message as rejected."""
        if self.strict:
            raise exc
        self._rejected.append((stage, sender if isinstance(sender, int) else None, str(exc)))

    @property
    def survivors(self) -> tuple[int, ...]:
        """``U_3``: the clients whose masked input arrived (known after round 2)."""
        return self._u3

    def _enter(self, stage: Stage) -> None:
        if self._next is None:
            raise ProtocolError("this round is over or failed")
        if self._next != stage:
            raise ProtocolError(f"{stage.name} called out of order")

    def _advance(self, stage: Stage) -> None:
        self._next = Stage(stage + 1) if stage < Stage.UNMASK else None

    def _fail(self) -> None:
        self._next = None

    # -- round 0 ----------------------------------------------------------------------------

    def collect_keys(self, adverts: Iterable[AdvertiseKeys]) -> RosterViews:
        """Round 0: validate the advertisements and commit to the roster.

        Returns the per-client slices to send (a mapping from each id in the roster to its
        :class:`~secagg.masking.KeyRoster`): the Merkle root of all adverts and, for each
        client, the entries and inclusion proofs it needs (``O(k log n)`` bytes each).
        """
        self._enter(Stage.ADVERTISE_KEYS)
        items = tuple(adverts)
        if not all(isinstance(a, AdvertiseKeys) for a in items):
            raise ProtocolError("expected AdvertiseKeys messages")
        if not self.strict:
            items = self._screen_adverts(items)
        try:
            views = commit_roster(
                self.config, items, error=ProtocolError, too_few=InsufficientShares
            )
        except SecAggError:
            self._fail()
            raise
        self._keys = views.round_keys
        self._advance(Stage.ADVERTISE_KEYS)
        return views

    def _screen_adverts(self, items: tuple[AdvertiseKeys, ...]) -> tuple[AdvertiseKeys, ...]:
        cfg = self.config
        digest = cfg.digest()
        kept: dict[int, AdvertiseKeys] = {}
        public_keys: set[bytes] = set()
        for advert in items:
            cid = advert.client_id
            own = {advert.share_public_key, advert.mask_public_key}
            reason = None
            if not cfg.has_client(cid):
                reason = f"advertisement from unknown client {cid}"
            elif cid in kept:
                reason = f"second advertisement from {cid}"
            elif advert.config_digest != digest:
                reason = f"client {cid} advertised keys for another configuration or round"
            elif len(own) < 2 or own & public_keys:
                reason = f"client {cid} advertised a public key already in use"
            elif cfg.signed and not check_signature(
                cfg, cid, advert.signature, advert_payload(advert)
            ):
                reason = f"the advertisement of client {cid} is not validly signed"
            if reason is not None:
                self._screen(Stage.ADVERTISE_KEYS, cid, ProtocolError(reason))
                continue
            kept[cid] = advert
            public_keys |= own
        return tuple(kept.values())

    # -- round 1 ----------------------------------------------------------------------------

    def collect_shares(self, messages: Iterable[ShareKeys]) -> dict[int, ShareBundle]:
        """Round 1: check every sender's ciphertexts, return each receiver's bundle."""
        self._enter(Stage.SHARE_KEYS)
        keys = self._require_keys()
        by_sender: dict[int, ShareKeys] = {}
        try:
            for msg in messages:
                try:
                    self._check_share_keys(keys, msg, by_sender)
                except ProtocolError as exc:
                    self._screen(Stage.SHARE_KEYS, getattr(msg, "client_id", None), exc)
                    continue
                by_sender[msg.client_id] = msg
            if len(by_sender) < self.config.threshold:
                raise InsufficientShares(
                    f"{len(by_sender)} clients shared keys, threshold {self.config.threshold}"
                )
        except SecAggError:
            self._fail()
            raise
        self._u2 = frozenset(by_sender)
        self._commitments = {cid: m.seed_commitment for cid, m in by_sender.items()}
        inbox: dict[int, list[EncryptedShare]] = {cid: [] for cid in by_sender}
        for sender in sorted(by_sender):
            for share in by_sender[sender].shares:
                if share.receiver in inbox:
                    inbox[share.receiver].append(share)
        self._advance(Stage.SHARE_KEYS)
        return {
            cid: ShareBundle(keys.session_id, cid, tuple(shares)) for cid, shares in inbox.items()
        }

    def _check_share_keys(self, keys: RoundKeys, msg: object, seen: dict[int, ShareKeys]) -> None:
        if not isinstance(msg, ShareKeys):
            raise ProtocolError("expected ShareKeys messages")
        self._check_session(msg.session_id)
        sender = msg.client_id
        if sender not in keys.adverts:
            raise ProtocolError(f"ShareKeys from {sender}, who advertised no keys")
        if sender in seen:
            raise ProtocolError(f"two ShareKeys messages from {sender}")
        receivers = [s.receiver for s in msg.shares]
        if any(s.sender != sender for s in msg.shares) or sorted(receivers) != sorted(
            keys.neighbours_of(sender)
        ):
            raise ProtocolError(f"{sender} did not send one share to each neighbour")

    # -- round 2 ----------------------------------------------------------------------------

    def collect_masked_inputs(self, messages: Iterable[MaskedInput]) -> ConsistencyRequest:
        """Round 2: sum the masked vectors, return the survivor list ``U_3`` for round 3.

        Only the running sum is kept (memory ``O(d)``, not ``O(n d)``).
        """
        self._enter(Stage.MASKED_INPUT)
        cfg = self.config
        dtype = word_dtype(cfg.modulus_bits)
        total = np.zeros(cfg.vector_length, dtype=dtype)
        masked: set[int] = set()
        try:
            for msg in messages:
                try:
                    self._check_masked_input(msg, masked, dtype)
                except ProtocolError as exc:
                    self._screen(Stage.MASKED_INPUT, getattr(msg, "client_id", None), exc)
                    continue
                masked.add(msg.client_id)
                np.add(total, msg.vector, out=total)
            if len(masked) < cfg.threshold:
                raise InsufficientShares(
                    f"{len(masked)} masked inputs arrived, threshold {cfg.threshold}"
                )
        except SecAggError:
            self._fail()
            raise
        self._masked = frozenset(masked)
        self._total = total
        self._u3 = tuple(sorted(masked))
        self._advance(Stage.MASKED_INPUT)
        return ConsistencyRequest(self.session_id, self._u3)

    def _check_masked_input(
        self, msg: object, seen: set[int], dtype: np.dtype[np.unsignedinteger]
    ) -> None:
        cfg = self.config
        if not isinstance(msg, MaskedInput):
            raise ProtocolError("expected MaskedInput messages")
        self._check_session(msg.session_id)
        cid = msg.client_id
        if cid not in self._u2:
            raise ProtocolError(f"masked input from {cid}, who shared no keys")
        if cid in seen:
            raise ProtocolError(f"two masked inputs from {cid}")
        vec = msg.vector
        if vec.shape != (cfg.vector_length,) or vec.dtype.kind != "u":
            raise ProtocolError(f"masked input of {cid} has the wrong shape or dtype")
        if vec.dtype.itemsize != dtype.itemsize:
            raise ProtocolError(f"masked input of {cid} has the wrong word size")
        if cfg.modulus_bits < 64 and int(vec.max()) >> cfg.modulus_bits:
            raise ProtocolError(f"masked input of {cid} leaves Z_(2^B)")

    # -- round 3 ----------------------------------------------------------------------------

    def collect_consistency(self, messages: Iterable[ConsistencyResponse]) -> UnmaskRequest:
        """Round 3: check the survivors' signatures, return the unmask request for all."""
        self._enter(Stage.CONSISTENCY_CHECK)
        cfg = self.config
        payload = consistency_payload(self.session_id, self._u3)
        signatures: dict[int, bytes] = {}
        try:
            for msg in messages:
                try:
                    if not isinstance(msg, ConsistencyResponse):
                        raise ProtocolError("expected ConsistencyResponse messages")
                    self._check_session(msg.session_id)
                    cid = msg.client_id
                    if cid not in self._masked:
                        raise ProtocolError(f"consistency response from non-survivor {cid}")
                    if cid in signatures:
                        raise ProtocolError(f"two consistency responses from {cid}")
                    if cfg.signed and not check_signature(cfg, cid, msg.signature, payload):
                        raise ProtocolError(f"the consistency signature of {cid} is invalid")
                except ProtocolError as exc:
                    self._screen(Stage.CONSISTENCY_CHECK, getattr(msg, "client_id", None), exc)
                    continue
                signatures[cid] = msg.signature
            needed = self._require_keys().signatures_needed if cfg.signed else cfg.threshold
            if len(signatures) < needed:
                raise InsufficientShares(
                    f"{len(signatures)} consistency responses, {needed} needed"
                )
        except SecAggError:
            self._fail()
            raise
        self._u4 = frozenset(signatures)
        dropped = tuple(sorted(self._u2 - set(self._u3)))
        signed = tuple(sorted(signatures.items())) if cfg.signed else ()
        self._advance(Stage.CONSISTENCY_CHECK)
        self._unmask_request = UnmaskRequest(self.session_id, self._u3, dropped, signed)
        return self._unmask_request

    # -- per-client requests (rounds 3 and 4) -----------------------------------------------

    def consistency_request_for(self, client_id: int) -> ConsistencyRequest:
        """The round-3 request to send ``client_id``: ``O(k)`` ids in unsigned rounds.

        A client acts only on its own neighbourhood, so in an unsigned round it receives
        ``U_3`` restricted to its neighbourhood (Bell et al. 2020, section 3: each client
        talks to its ``k`` neighbours only). In a signed round every client must sign the
        same, whole list (two lists cannot then both gather a majority of signatures; see
        :attr:`RoundKeys.signatures_needed`), so it receives the whole ``U_3``.
        """
        if self._next not in (Stage.CONSISTENCY_CHECK, Stage.UNMASK) or not self._u3:
            raise ProtocolError("no survivor list yet: call collect_masked_inputs first")
        if self.config.signed:
            return ConsistencyRequest(self.session_id, self._u3)
        return ConsistencyRequest(self.session_id, self._local(client_id, self._u3))

    def unmask_request_for(self, client_id: int) -> UnmaskRequest:
        """The round-4 request to send ``client_id``: ``O(k)`` ids in unsigned rounds.

        Unsigned: the survivors of its neighbourhood (the same list as its round-3 request)
        and its dropped neighbours. Signed: the whole request with every signature.
        """
        request = self._unmask_request
        if request is None:
            raise ProtocolError("no unmask request yet: call collect_consistency first")
        if self.config.signed:
            return request
        survivors = self._local(client_id, request.survivors)
        neighbours = self._require_keys().neighbours_of(client_id)
        dropped = tuple(sorted(neighbours.intersection(request.dropped)))
        return UnmaskRequest(self.session_id, survivors, dropped)

    def _local(self, client_id: int, ids: tuple[int, ...]) -> tuple[int, ...]:
        keys = self._require_keys()
        if client_id not in keys.adverts:
            raise ProtocolError(f"client {client_id} is not in the roster")
        return tuple(sorted(keys.neighbourhood(client_id).intersection(ids)))

    # -- round 4 ----------------------------------------------------------------------------

    def collect_unmask(self, messages: Iterable[UnmaskResponse]) -> RoundResult:
        """Round 4: rebuild the seeds of survivors and mask keys of dropped clients; unmask.

        Each secret is rebuilt from exactly ``t`` shares; a rebuilt seed is checked against
        its commitment and a rebuilt mask key against its advertised public key. When more
        than ``t`` shares exist, other ``t``-subsets are tried so one corrupted share does
        not stop the round; otherwise :class:`~secagg.errors.InvalidShare` is raised.
        """
        self._enter(Stage.UNMASK)
        try:
            result = self._unmask(messages)
        except SecAggError:
            self._fail()
            raise
        self._advance(Stage.UNMASK)
        return result

    def _unmask(self, messages: Iterable[UnmaskResponse]) -> RoundResult:
        keys = self._require_keys()
        cfg = self.config
        session = keys.session_id
        alive = set(self._u3)
        dead = self._u2 - alive
        seed_points: dict[int, list[tuple[int, int]]] = {cid: [] for cid in alive}
        key_points: dict[int, list[tuple[int, int]]] = {cid: [] for cid in dead}
        responders: set[int] = set()
        for msg in messages:
            try:
                parsed = self._check_unmask_response(keys, msg, responders, alive, dead)
            except (ProtocolError, InvalidShare) as exc:
                self._screen(Stage.UNMASK, getattr(msg, "client_id", None), exc)
                continue
            assert isinstance(msg, UnmaskResponse)
            responders.add(msg.client_id)
            for owner, point in parsed[0]:
                seed_points[owner].append(point)
            for owner, point in parsed[1]:
                key_points[owner].append(point)
        total = self._total.copy()
        streams: list[tuple[bytes, int]] = []
        for owner in sorted(alive):
            seed = self._rebuild(owner, seed_points[owner], self._seed_ok)
            streams.append((self_mask_key(seed, session, owner), -1))
        for owner in sorted(dead):
            partners = sorted(keys.neighbours_of(owner) & alive)
            if not partners:
                continue
            secret = self._rebuild(owner, key_points[owner], self._mask_key_ok)
            private = X25519PrivateKey.from_private_bytes(secret)
            for partner in partners:
                try:
                    shared = private.exchange(
                        X25519PublicKey.from_public_bytes(keys.adverts[partner].mask_public_key)
                    )
                except ValueError as exc:  # a low-order point advertised as a public key
                    raise ProtocolError(f"client {partner} advertised an invalid key") from exc
                # The survivor added sign(partner, owner) * PRG; take it away.
                sign = -1 if partner < owner else 1
                streams.append((pair_mask_key(shared, session, partner, owner), sign))
        add_prgs(total, streams)
        if cfg.modulus_bits < total.dtype.itemsize * 8:
            np.bitwise_and(total, (1 << cfg.modulus_bits) - 1, out=total)
        out = total.astype(np.uint64)
        out.flags.writeable = False
        dropped = tuple(sorted(set(cfg.client_ids) - alive))
        return RoundResult(out, self._u3, dropped)

    def _check_unmask_response(
        self,
        keys: RoundKeys,
        msg: object,
        responders: set[int],
        alive: set[int],
        dead: frozenset[int],
    ) -> tuple[list[tuple[int, tuple[int, int]]], list[tuple[int, tuple[int, int]]]]:
        """Validate one response whole; return its (owner, (x, y)) seed and key shares."""
        if not isinstance(msg, UnmaskResponse):
            raise ProtocolError("expected UnmaskResponse messages")
        self._check_session(msg.session_id)
        cid = msg.client_id
        if cid not in self._u4:
            raise ProtocolError(f"unmask response from {cid}, who did not pass round 3")
        if cid in responders:
            raise ProtocolError(f"two unmask responses from {cid}")
        parsed: tuple[list[tuple[int, tuple[int, int]]], list[tuple[int, tuple[int, int]]]]
        parsed = ([], [])
        for shares, owners_allowed, out, kind in (
            (msg.seed_shares, alive, parsed[0], "seed"),
            (msg.key_shares, dead, parsed[1], "mask key"),
        ):
            owners = [owner for owner, _ in shares]
            if len(set(owners)) != len(owners):
                raise ProtocolError(f"{cid} sent two {kind} shares of one client")
            for owner, data in shares:
                if owner not in owners_allowed or cid not in keys.neighbourhood(owner):
                    raise ProtocolError(f"{cid} sent a {kind} share it must not hold")
                out.append((owner, (cid + 1, _shamir.decode_element(data))))
        return parsed

    def _seed_ok(self, owner: int, secret: int) -> bytes | None:
        if secret >> 256:
            return None
        seed = secret.to_bytes(32, "big")
        expected = self._commitments[owner]
        return seed if commit_self_mask_seed(seed, self.session_id, owner) == expected else None

    def _mask_key_ok(self, owner: int, secret: int) -> bytes | None:
        if secret >> 256:
            return None
        raw = secret.to_bytes(32, "big")
        public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
        return raw if public == self._require_keys().adverts[owner].mask_public_key else None

    def _rebuild(
        self,
        owner: int,
        points: list[tuple[int, int]],
        check: _Check,
    ) -> bytes:
        t = self.config.threshold
        if len(points) < t:
            raise InsufficientShares(f"{len(points)} shares of client {owner}, {t} needed")
        for subset in _candidate_subsets(sorted(points), t):
            xs = tuple(x for x, _ in subset)
            weights = self._weights.get(xs)
            if weights is None:
                weights = self._weights[xs] = _shamir.lagrange_weights(xs)
            secret = _shamir.combine(subset, t, weights=weights)
            value = check(owner, secret)
            if value is not None:
                return value
        raise InvalidShare(f"the shares of client {owner} do not rebuild its secret", party=owner)

    def _check_session(self, session: bytes) -> None:
        if session != self.session_id:
            raise ProtocolError("a message belongs to another session or round")

    def _require_keys(self) -> RoundKeys:
        if self._keys is None:
            raise ProtocolError("no roster yet: call collect_keys first")
        return self._keys


def _candidate_subsets(
    points: Sequence[tuple[int, int]], t: int
) -> Iterator[Sequence[tuple[int, int]]]:
    """The first ``t`` shares, then, if spares exist, the first ``t`` without each one share."""
    yield points[:t]
    if len(points) > t:
        for skip in range(t):
            yield [*points[:skip], *points[skip + 1 : t + 1]]
