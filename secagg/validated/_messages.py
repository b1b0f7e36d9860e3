"""The messages of one validated-aggregation round: frozen dataclasses with versioned bytes.

Flow (draft-irtf-cfrg-vdaf-07 section 5.8's ping-pong topology, one round of preparation):
the client sends a :class:`Report` to the leader (its own input share in the clear, the
helper's sealed); the leader queries its shares and sends a :class:`PrepareRequest` (per
report: nonce, public share, sealed helper share, the leader's prep share); the helper
queries, decides and answers with a :class:`PrepareResponse` (its prep share, or why it
refused the report); both now hold both prep shares and decide identically. At the end the
helper sends its :class:`AggregateShare`, committing to the set of reports it summed.

Every message carries the configuration digest and round number; ``from_bytes`` validates
every length and the field encodings, raising :class:`~secagg.errors.DeserializationError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from secagg.errors import DeserializationError, InvalidArgument
from secagg.validated._config import DIGEST_BYTES
from secagg.validated._prio3 import NONCE_SIZE
from secagg.validated._seal import KEY_BYTES
from secagg.validated._wire import Reader, Writer

__all__ = [
    "Report",
    "PrepareItem",
    "PrepareRequest",
    "PrepareResult",
    "PrepareResponse",
    "AggregateShare",
    "RejectReason",
]

_K_REPORT, _K_PREP_REQ, _K_PREP_RESP, _K_AGG = 1, 2, 3, 4


class RejectReason(enum.IntEnum):
    """Why a report is not in the sum (0 means it is)."""

    ACCEPTED = 0
    MALFORMED = 1  # bytes that do not parse, unreduced field elements, wrong lengths
    REPLAYED = 2  # a nonce already seen (draft section 9.2)
    UNDECRYPTABLE = 3  # the helper's sealed share does not open under this round's binding
    INVALID = 4  # the proof of validity rejects (draft 7.2.2, prep_shares_to_prep)
    JOINT_RAND = 5  # the client's joint randomness hint is wrong (draft 7.2.2, prep_next)
    HELPER_REFUSED = 6  # the helper could not prepare the report (one of the above, its side)
    WRONG_SESSION = 7  # a report for another configuration or round


def _need(name: str, value: object, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidArgument(f"{name} must be {size} bytes")


def _need_u64(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise InvalidArgument(f"{name} must be an int in [0, 2^64)")


@dataclass(frozen=True, slots=True)
class Report:
    """Client to leader: one update, validated without being seen.

    ``leader_share`` is the Prio3 leader input share (measurement and proof share vectors and
    the blind); ``helper_enc``/``helper_ciphertext`` seal the helper's 48-byte seed share.
    """

    config_digest: bytes
    round_number: int
    nonce: bytes
    public_share: bytes
    leader_share: bytes
    helper_enc: bytes
    helper_ciphertext: bytes

    def __post_init__(self) -> None:
        _need("config_digest", self.config_digest, DIGEST_BYTES)
        _need_u64("round_number", self.round_number)
        _need("nonce", self.nonce, NONCE_SIZE)
        _need("helper_enc", self.helper_enc, KEY_BYTES)
        for name in ("public_share", "leader_share", "helper_ciphertext"):
            if not isinstance(getattr(self, name), bytes):
                raise InvalidArgument(f"{name} must be bytes")

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(_K_REPORT)
        w.fixed(self.config_digest)
        w.u64(self.round_number)
        w.fixed(self.nonce)
        w.blob(self.public_share)
        w.blob(self.leader_share)
        w.fixed(self.helper_enc)
        w.blob(self.helper_ciphertext)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> Report:
        """Parse and validate; raises DeserializationError."""
        r = Reader(data, _K_REPORT)
        out = cls(
            r.fixed(DIGEST_BYTES),
            r.u64(),
            r.fixed(NONCE_SIZE),
            r.blob(),
            r.blob(),
            r.fixed(KEY_BYTES),
            r.blob(),
        )
        r.done()
        return out


@dataclass(frozen=True, slots=True)
class PrepareItem:
    """One report in a :class:`PrepareRequest`."""

    nonce: bytes
    public_share: bytes
    helper_enc: bytes
    helper_ciphertext: bytes
    leader_prep_share: bytes

    def __post_init__(self) -> None:
        _need("nonce", self.nonce, NONCE_SIZE)
        _need("helper_enc", self.helper_enc, KEY_BYTES)
        for name in ("public_share", "helper_ciphertext", "leader_prep_share"):
            if not isinstance(getattr(self, name), bytes):
                raise InvalidArgument(f"{name} must be bytes")


@dataclass(frozen=True, slots=True)
class PrepareRequest:
    """Leader to helper: the reports the leader could prepare, with its prep shares."""

    config_digest: bytes
    round_number: int
    items: tuple[PrepareItem, ...]

    def __post_init__(self) -> None:
        _need("config_digest", self.config_digest, DIGEST_BYTES)
        _need_u64("round_number", self.round_number)
        if not isinstance(self.items, tuple) or not all(
            isinstance(i, PrepareItem) for i in self.items
        ):
            raise InvalidArgument("items must be a tuple of PrepareItem")

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(_K_PREP_REQ)
        w.fixed(self.config_digest)
        w.u64(self.round_number)
        w.u32(len(self.items))
        for it in self.items:
            w.fixed(it.nonce)
            w.blob(it.public_share)
            w.fixed(it.helper_enc)
            w.blob(it.helper_ciphertext)
            w.blob(it.leader_prep_share)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> PrepareRequest:
        """Parse and validate; raises DeserializationError."""
        r = Reader(data, _K_PREP_REQ)
        digest, rnd = r.fixed(DIGEST_BYTES), r.u64()
        items = tuple(
            PrepareItem(r.fixed(NONCE_SIZE), r.blob(), r.fixed(KEY_BYTES), r.blob(), r.blob())
            for _ in range(r.count())
        )
        r.done()
        return cls(digest, rnd, items)


@dataclass(frozen=True, slots=True)
class PrepareResult:
    """The helper's answer for one report: its prep share, or why it refused."""

    nonce: bytes
    reason: RejectReason
    helper_prep_share: bytes = b""

    def __post_init__(self) -> None:
        _need("nonce", self.nonce, NONCE_SIZE)
        if not isinstance(self.reason, RejectReason):
            raise InvalidArgument("reason must be a RejectReason")
        if not isinstance(self.helper_prep_share, bytes):
            raise InvalidArgument("helper_prep_share must be bytes")
        if (self.reason == RejectReason.ACCEPTED) != bool(self.helper_prep_share):
            raise InvalidArgument("a prep share comes with, and only with, ACCEPTED")


@dataclass(frozen=True, slots=True)
class PrepareResponse:
    """Helper to leader: one result per item of the request, in order."""

    config_digest: bytes
    round_number: int
    results: tuple[PrepareResult, ...]

    def __post_init__(self) -> None:
        _need("config_digest", self.config_digest, DIGEST_BYTES)
        _need_u64("round_number", self.round_number)
        if not isinstance(self.results, tuple) or not all(
            isinstance(i, PrepareResult) for i in self.results
        ):
            raise InvalidArgument("results must be a tuple of PrepareResult")

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(_K_PREP_RESP)
        w.fixed(self.config_digest)
        w.u64(self.round_number)
        w.u32(len(self.results))
        for res in self.results:
            w.fixed(res.nonce)
            w.u8(int(res.reason))
            w.blob(res.helper_prep_share)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> PrepareResponse:
        """Parse and validate; raises DeserializationError."""
        r = Reader(data, _K_PREP_RESP)
        digest, rnd = r.fixed(DIGEST_BYTES), r.u64()
        results = []
        for _ in range(r.count()):
            nonce, code, share = r.fixed(NONCE_SIZE), r.u8(), r.blob()
            try:
                results.append(PrepareResult(nonce, RejectReason(code), share))
            except (ValueError, InvalidArgument) as exc:
                raise DeserializationError(f"bad prepare result: {exc}") from exc
        r.done()
        return cls(digest, rnd, tuple(results))


@dataclass(frozen=True, slots=True)
class AggregateShare:
    """Helper to leader: its share of the sum over the reports both accepted.

    ``reports_digest`` is SHA-256 over the sorted nonces the helper summed; the leader
    refuses the share unless it summed the very same reports.
    """

    config_digest: bytes
    round_number: int
    count: int
    reports_digest: bytes
    share: bytes

    def __post_init__(self) -> None:
        _need("config_digest", self.config_digest, DIGEST_BYTES)
        _need_u64("round_number", self.round_number)
        _need_u64("count", self.count)
        _need("reports_digest", self.reports_digest, DIGEST_BYTES)
        if not isinstance(self.share, bytes):
            raise InvalidArgument("share must be bytes")

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(_K_AGG)
        w.fixed(self.config_digest)
        w.u64(self.round_number)
        w.u64(self.count)
        w.fixed(self.reports_digest)
        w.blob(self.share)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> AggregateShare:
        """Parse and validate; raises DeserializationError."""
        r = Reader(data, _K_AGG)
        out = cls(r.fixed(DIGEST_BYTES), r.u64(), r.u64(), r.fixed(DIGEST_BYTES), r.blob())
        r.done()
        return out
