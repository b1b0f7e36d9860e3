"""The client, leader and helper of validated aggregation, as pure state machines.

No sockets, no clocks, no global state: each method takes messages and returns messages (see
:mod:`secagg.validated._messages` for the flow). Per-report failures never abort the round:
the report is left out of the sum with a :class:`RejectReason`; a malformed or inconsistent
message *between the aggregators* raises a typed error (DeserializationError, WrongSession,
AggregatorMismatch, or ProtocolError for a call out of order), since an honest peer never
sends one.

Replay protection (draft-irtf-cfrg-vdaf-07 section 9.2: every report is prepared once): each
aggregator refuses a nonce it has seen, in this round or in the ``seen_nonces`` the driver
carries over from earlier rounds (``party.seen_nonces`` after the round).
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from secagg._arrays import refuse_tensor
from secagg.errors import (
    DecryptionFailure,
    DeserializationError,
    InvalidArgument,
    InvalidProof,
    ProtocolError,
)
from secagg.validated._config import ValidatedConfig
from secagg.validated._errors import (
    AggregatorMismatch,
    JointRandMismatch,
    VerificationFailed,
    WrongSession,
)
from secagg.validated._field import FieldVec
from secagg.validated._messages import (
    AggregateShare,
    PrepareItem,
    PrepareRequest,
    PrepareResponse,
    PrepareResult,
    RejectReason,
    Report,
)
from secagg.validated._pine import WraparoundRetry
from secagg.validated._prio3 import InputShare, PrepShare, PrepState
from secagg.validated._seal import HelperKeyPair, seal
from secagg.validated._state import open_state, seal_state
from secagg.validated._wire import Reader, Writer

_K_LEADER_STATE, _K_HELPER_STATE = 10, 11
_WR_ATTEMPTS = 8
"""An honest PINE client fails one of its 128 wraparound tests with probability <= 2^-46.6."""

__all__ = ["Client", "Leader", "Helper", "RoundResult", "Rejection"]


def _aad(config: ValidatedConfig, nonce: bytes) -> bytes:
    return b"fedcrypt/validated/helper-share" + config.digest + nonce


def _reports_digest(nonces: Sequence[bytes]) -> bytes:
    return hashlib.sha256(b"".join(sorted(nonces))).digest()


def _need_key(verify_key: object) -> None:
    if not isinstance(verify_key, bytes) or len(verify_key) != 16:
        raise InvalidArgument("the aggregators' verification key is 16 random bytes")


class _Stage(enum.Enum):
    START = 0
    PREPARING = 1
    PREPARED = 2
    DONE = 3


@dataclass(frozen=True, slots=True)
class Rejection:
    """A report left out of the sum: its position in the leader's input, nonce and reason."""

    index: int
    nonce: bytes | None
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What the leader learns: the sum of the accepted updates and who was rejected why."""

    sum: list[int]
    accepted: tuple[bytes, ...]
    rejected: tuple[Rejection, ...]


class Client:
    """Shards, proves and seals one update (draft 7.2.1, ``shard``)."""

    def __init__(self, config: ValidatedConfig) -> None:
        self.config = config

    def report(self, update: Sequence[int]) -> Report:
        """A :class:`Report` for ``update``; InvalidArgument if the update is itself invalid.

        The coordinates must be integers (Python or numpy ints; floats, bools, strings and
        NaN are refused rather than truncated: encode floats first, e.g. with
        :mod:`secagg.encoding`).
        """
        refuse_tensor(update, "update")
        given: object = update  # numpy arrays are welcome too
        if isinstance(given, np.ndarray):
            integral = given.dtype.kind in "iu"
        else:
            integral = not isinstance(update, str | bytes) and all(
                isinstance(v, int | np.integer) and not isinstance(v, bool) for v in update
            )
        if not integral:
            raise InvalidArgument("an update is a sequence of integers (encode floats first)")
        cfg = self.config
        vdaf = cfg.vdaf
        if cfg.circuit == "pine":
            # PINE bounds coordinates only through the norm; an honest client keeps the
            # configuration's per-coordinate range too.
            half = 1 << (cfg.bits - 1)
            try:
                coords = np.array([int(v) for v in update], dtype=np.int64)
                outside = bool(np.any((coords < -half) | (coords >= half)))
            except OverflowError:
                outside = True
            if outside:
                raise InvalidArgument(
                    f"a coordinate lies outside [-2^{cfg.bits - 1}, 2^{cfg.bits - 1})"
                )
        nonce = os.urandom(vdaf.NONCE_SIZE)
        for attempt in range(_WR_ATTEMPTS):
            try:
                public, shares = vdaf.shard(update, nonce, os.urandom(vdaf.RAND_SIZE))
                break
            except WraparoundRetry:  # draft-chen-cfrg-vdaf-pine 4.1.4: retry, fresh randomness
                if attempt == _WR_ATTEMPTS - 1:
                    raise
        return seal_report(cfg, nonce, public, shares)


def seal_report(
    config: ValidatedConfig,
    nonce: bytes,
    public: list[bytes] | None,
    shares: Sequence[InputShare],
) -> Report:
    """The :class:`Report` carrying a sharding's output, the helper's share sealed.

    The leader's share travels in the clear, the helper's is sealed to the helper's key
    (bound to the configuration and the nonce). Seals whatever shares it is given:
    :meth:`Client.report` is the checked way in (tests and simulated attackers pass shares
    a malicious client computed).
    """
    vdaf = config.vdaf
    enc, ciphertext = seal(
        config.helper_public_key, vdaf.encode_input_share(shares[1]), _aad(config, nonce)
    )
    return Report(
        config.digest,
        config.round_number,
        nonce,
        vdaf.encode_public_share(public),
        vdaf.encode_input_share(shares[0]),
        enc,
        ciphertext,
    )


class _Aggregator:
    def __init__(
        self, config: ValidatedConfig, verify_key: bytes, seen_nonces: frozenset[bytes]
    ) -> None:
        _need_key(verify_key)
        self.config = config
        self._key = verify_key
        self._seen = set(seen_nonces)
        self._stage = _Stage.START
        self._accepted: list[bytes] = []
        self._agg: FieldVec = config.vdaf.aggregate([])

    @property
    def seen_nonces(self) -> frozenset[bytes]:
        """Every nonce this aggregator has prepared or refused as a replay."""
        return frozenset(self._seen)

    def _check_session(self, digest: bytes, round_number: int) -> None:
        if digest != self.config.digest or round_number != self.config.round_number:
            raise WrongSession("message for another configuration or round")

    def _expect(self, stage: _Stage, what: str) -> None:
        if self._stage is not stage:
            raise ProtocolError(f"{what} called out of order (stage {self._stage.name})")

    def _decide(
        self, state: PrepState, shares: list[PrepShare]
    ) -> tuple[RejectReason, FieldVec | None]:
        vdaf = self.config.vdaf
        try:
            message = vdaf.prep_shares_to_prep(shares)
            return RejectReason.ACCEPTED, vdaf.prep_next(state, message)
        except JointRandMismatch:
            return RejectReason.JOINT_RAND, None
        except VerificationFailed:
            return RejectReason.INVALID, None

    def _write_common(self, w: Writer) -> None:
        w.fixed(self.config.digest)
        w.u64(self.config.round_number)
        w.u8(self._stage.value)
        for group in (sorted(self._seen), self._accepted):
            w.u32(len(group))
            for nonce in group:
                w.fixed(nonce)
        w.blob(self.config.vdaf.field.encode_vec(self._agg))

    def _read_common(self, r: Reader) -> None:
        self._check_session(r.fixed(32), r.u64())
        try:
            self._stage = _Stage(r.u8())
        except ValueError as exc:
            raise DeserializationError("unknown stage") from exc
        # Not capped at MAX_ITEMS: the nonces carried over from earlier rounds can outgrow it,
        # and the state is authenticated (a lying count fails at the first missing nonce).
        self._seen = {r.fixed(16) for _ in range(r.u32())}
        self._accepted = [r.fixed(16) for _ in range(r.count())]
        agg = self.config.vdaf.field.decode_vec(r.blob())
        if len(agg) != self.config.vdaf.flp.OUTPUT_LEN:
            raise DeserializationError("aggregate of the wrong length")
        self._agg = agg

    def _accept(self, nonce: bytes, out_share: FieldVec) -> None:
        self._accepted.append(nonce)
        self._agg = self.config.vdaf.field.add(self._agg, out_share)


class Leader(_Aggregator):
    """Aggregator 0: receives reports, drives preparation, learns the sum."""

    def __init__(
        self,
        config: ValidatedConfig,
        verify_key: bytes,
        *,
        seen_nonces: frozenset[bytes] = frozenset(),
    ) -> None:
        super().__init__(config, verify_key, seen_nonces)
        self._pending: list[tuple[int, bytes, PrepState, PrepShare]] = []
        self._rejected: list[Rejection] = []

    def prepare(self, reports: Sequence[Report | bytes]) -> PrepareRequest:
        """Query every well-formed fresh report; the request for the helper."""
        if isinstance(reports, bytes | bytearray | memoryview | str | Report) or not isinstance(
            reports, Sequence
        ):
            raise InvalidArgument("reports must be a list of Report or bytes")
        self._expect(_Stage.START, "prepare")
        vdaf = self.config.vdaf
        items = []
        for index, raw in enumerate(reports):
            nonce: bytes | None = None
            try:
                report = raw if isinstance(raw, Report) else Report.from_bytes(raw)
                nonce = report.nonce
                self._check_session(report.config_digest, report.round_number)
                if nonce in self._seen:
                    self._rejected.append(Rejection(index, nonce, RejectReason.REPLAYED))
                    continue
                self._seen.add(nonce)
                public = vdaf.decode_public_share(report.public_share)
                share = vdaf.decode_input_share(0, report.leader_share)
                state, prep_share = vdaf.prep_init(self._key, 0, nonce, public, share)
            except WrongSession:
                self._rejected.append(Rejection(index, nonce, RejectReason.WRONG_SESSION))
                continue
            except (DeserializationError, InvalidArgument):
                self._rejected.append(Rejection(index, nonce, RejectReason.MALFORMED))
                continue
            except InvalidProof:  # query point a root of unity (draft ERR_ABORT), p ~ 2^-116
                self._rejected.append(Rejection(index, nonce, RejectReason.INVALID))
                continue
            self._pending.append((index, nonce, state, prep_share))
            items.append(
                PrepareItem(
                    nonce,
                    report.public_share,
                    report.helper_enc,
                    report.helper_ciphertext,
                    vdaf.encode_prep_share(prep_share),
                )
            )
        self._stage = _Stage.PREPARING
        return PrepareRequest(self.config.digest, self.config.round_number, tuple(items))

    def finish_prepare(self, response: PrepareResponse | bytes) -> None:
        """Decide every report from both prep shares (the helper decides the same way)."""
        self._expect(_Stage.PREPARING, "finish_prepare")
        if not isinstance(response, PrepareResponse):
            response = PrepareResponse.from_bytes(response)
        self._check_session(response.config_digest, response.round_number)
        if [r.nonce for r in response.results] != [p[1] for p in self._pending]:
            raise AggregatorMismatch("the helper answered for other reports or in another order")
        vdaf = self.config.vdaf
        # Parse every helper prep share before acting on any: a malformed response changes
        # nothing and raises DeserializationError.
        helper_shares = [
            vdaf.decode_prep_share(r.helper_prep_share)
            if r.reason is RejectReason.ACCEPTED
            else None
            for r in response.results
        ]
        for (index, nonce, state, own), helper_share in zip(
            self._pending, helper_shares, strict=True
        ):
            if helper_share is None:
                self._rejected.append(Rejection(index, nonce, RejectReason.HELPER_REFUSED))
                continue
            reason, out = self._decide(state, [own, helper_share])
            if out is None:
                self._rejected.append(Rejection(index, nonce, reason))
            else:
                self._accept(nonce, out)
        self._pending = []
        self._stage = _Stage.PREPARED

    def collect(self, helper_share: AggregateShare | bytes) -> RoundResult:
        """The sum of the accepted updates, from the helper's aggregate share."""
        self._expect(_Stage.PREPARED, "collect")
        if not isinstance(helper_share, AggregateShare):
            helper_share = AggregateShare.from_bytes(helper_share)
        self._check_session(helper_share.config_digest, helper_share.round_number)
        if helper_share.count != len(self._accepted) or helper_share.reports_digest != (
            _reports_digest(self._accepted)
        ):
            raise AggregatorMismatch("the helper summed another set of reports")
        vdaf = self.config.vdaf
        other = vdaf.field.decode_vec(helper_share.share)
        if len(other) != vdaf.flp.OUTPUT_LEN:
            raise DeserializationError("aggregate share of the wrong length")
        total = vdaf.unshard([self._agg, other], len(self._accepted))
        self._stage = _Stage.DONE
        return RoundResult(
            list(total),
            tuple(self._accepted),
            tuple(sorted(self._rejected, key=lambda r: r.index)),
        )

    def save_state(self) -> bytes:
        """The leader's state between calls: versioned bytes, sealed (AES-256-GCM).

        It holds the leader's output shares of pending reports and its aggregate share,
        encrypted and authenticated under a key derived from the verification key, so
        :meth:`load_state` refuses any altered byte (see :mod:`secagg.validated._state`).
        """
        vdaf = self.config.vdaf
        w = Writer(_K_LEADER_STATE)
        self._write_common(w)
        w.u32(len(self._pending))
        for index, nonce, state, share in self._pending:
            w.u32(index)
            w.fixed(nonce)
            w.blob(vdaf.field.encode_vec(state.out_share))
            w.blob(state.corrected_joint_rand_seed or b"")
            w.blob(vdaf.encode_prep_share(share))
        w.u32(len(self._rejected))
        for rej in self._rejected:
            w.u32(rej.index)
            w.u8(int(rej.reason))
            w.blob(rej.nonce or b"")
        return seal_state(w.finish(), self._key, _K_LEADER_STATE)

    @classmethod
    def load_state(cls, data: bytes, config: ValidatedConfig, verify_key: bytes) -> Leader:
        """Inverse of :meth:`save_state`; DeserializationError or WrongSession on mismatch."""
        leader = cls(config, verify_key)
        vdaf = config.vdaf
        plain = open_state(data, verify_key, _K_LEADER_STATE)
        r = Reader(plain, _K_LEADER_STATE)
        leader._read_common(r)
        pending = []
        for _ in range(r.count()):
            index, nonce = r.u32(), r.fixed(16)
            out = vdaf.field.decode_vec(r.blob())
            seed = r.blob()
            if len(out) != vdaf.flp.OUTPUT_LEN or len(seed) not in (0, 16, 32):
                raise DeserializationError("malformed pending report")
            share = vdaf.decode_prep_share(r.blob())
            pending.append((index, nonce, PrepState(out, seed or None), share))
        rejected = []
        for _ in range(r.count()):
            index, code, nonce = r.u32(), r.u8(), r.blob()
            try:
                reason = RejectReason(code)
            except ValueError as exc:
                raise DeserializationError("unknown reject reason") from exc
            if len(nonce) not in (0, 16):
                raise DeserializationError("malformed rejection")
            rejected.append(Rejection(index, nonce or None, reason))
        r.done()
        leader._pending, leader._rejected = pending, rejected
        return leader


class Helper(_Aggregator):
    """Aggregator 1: opens its sealed shares, prepares, decides and sends its sum share."""

    def __init__(
        self,
        config: ValidatedConfig,
        verify_key: bytes,
        keys: HelperKeyPair,
        *,
        seen_nonces: frozenset[bytes] = frozenset(),
        min_batch_size: int = 2,
    ) -> None:
        super().__init__(config, verify_key, seen_nonces)
        if keys.public != config.helper_public_key:
            raise InvalidArgument("the key pair does not match the configuration")
        if isinstance(min_batch_size, bool) or not isinstance(min_batch_size, int):
            raise InvalidArgument("min_batch_size must be an int")
        if min_batch_size < 0:
            raise InvalidArgument("min_batch_size must be >= 0")
        self._keys = keys
        # DAP's minimum batch size (draft-ietf-ppm-dap, a task's min_batch_size): a leader relaying
        # one report would otherwise learn it from this share of the sum. The default 2 refuses
        # exactly that (a safe default); deployments set it to their cohort's threshold, and
        # reports carry no client identity, so a leader that adds reports of its own is
        # bounded only by the transport's client authentication (docs/secagg/validated.md).
        self._min_batch = min_batch_size

    def prepare(self, request: PrepareRequest | bytes) -> PrepareResponse:
        """Prepare every report of the request; accept those both prep shares validate."""
        self._expect(_Stage.START, "prepare")
        if not isinstance(request, PrepareRequest):
            request = PrepareRequest.from_bytes(request)
        self._check_session(request.config_digest, request.round_number)
        vdaf = self.config.vdaf
        results = []
        for item in request.items:
            if item.nonce in self._seen:
                results.append(PrepareResult(item.nonce, RejectReason.REPLAYED))
                continue
            self._seen.add(item.nonce)
            try:
                plain = self._keys.open(
                    item.helper_enc, item.helper_ciphertext, _aad(self.config, item.nonce)
                )
            except DecryptionFailure:
                results.append(PrepareResult(item.nonce, RejectReason.UNDECRYPTABLE))
                continue
            try:
                share = vdaf.decode_input_share(1, plain)
                public = vdaf.decode_public_share(item.public_share)
                leader_share = vdaf.decode_prep_share(item.leader_prep_share)
                state, own = vdaf.prep_init(self._key, 1, item.nonce, public, share)
            except (DeserializationError, InvalidArgument):
                results.append(PrepareResult(item.nonce, RejectReason.MALFORMED))
                continue
            except InvalidProof:  # query point a root of unity (draft ERR_ABORT), p ~ 2^-116
                results.append(PrepareResult(item.nonce, RejectReason.INVALID))
                continue
            results.append(
                PrepareResult(item.nonce, RejectReason.ACCEPTED, vdaf.encode_prep_share(own))
            )
            _, out = self._decide(state, [leader_share, own])
            if out is not None:
                self._accept(item.nonce, out)
        self._stage = _Stage.PREPARED
        return PrepareResponse(self.config.digest, self.config.round_number, tuple(results))

    def aggregate_share(self) -> AggregateShare:
        """This aggregator's share of the sum, committing to the reports in it.

        Raises ProtocolError (and keeps the share for good) when fewer reports than
        ``min_batch_size`` are valid.
        """
        self._expect(_Stage.PREPARED, "aggregate_share")
        self._stage = _Stage.DONE
        if len(self._accepted) < self._min_batch:
            raise ProtocolError(
                f"{len(self._accepted)} valid reports, fewer than the minimum batch "
                f"{self._min_batch}: the share of the sum is not released"
            )
        return AggregateShare(
            self.config.digest,
            self.config.round_number,
            len(self._accepted),
            _reports_digest(self._accepted),
            self.config.vdaf.encode_agg_share(self._agg),
        )

    def save_state(self) -> bytes:
        """The helper's state between calls (its aggregate share), sealed like the leader's."""
        w = Writer(_K_HELPER_STATE)
        self._write_common(w)
        return seal_state(w.finish(), self._key, _K_HELPER_STATE)

    @classmethod
    def load_state(
        cls,
        data: bytes,
        config: ValidatedConfig,
        verify_key: bytes,
        keys: HelperKeyPair,
        *,
        min_batch_size: int = 2,
    ) -> Helper:
        """Inverse of :meth:`save_state`; DeserializationError or WrongSession on mismatch."""
        helper = cls(config, verify_key, keys, min_batch_size=min_batch_size)
        plain = open_state(data, verify_key, _K_HELPER_STATE)
        r = Reader(plain, _K_HELPER_STATE)
        helper._read_common(r)
        r.done()
        return helper
