"""The messages of one SecAgg+ round: frozen dataclasses with versioned bytes encodings.

Round numbering follows Bonawitz et al. (CCS 2017, Figure 4): AdvertiseKeys (0), ShareKeys
(1), MaskedInputCollection (2), ConsistencyCheck (3), Unmasking (4). Every message after the
first carries the session id, so a message from another round or session is refused.
``to_bytes``/``from_bytes`` give a stable wire format for transports that need one; the
receiving party validates content (membership, lengths, ranges) either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from secagg.errors import DeserializationError, InvalidArgument
from secagg.masking._merkle import HASH_BYTES, inclusion_path_length
from secagg.masking._shamir import SHARE_BYTES
from secagg.masking._wire import Reader, Writer

__all__ = [
    "AdvertiseKeys",
    "KeyRoster",
    "RosterEntry",
    "EncryptedShare",
    "ShareKeys",
    "ShareBundle",
    "MaskedInput",
    "ConsistencyRequest",
    "ConsistencyResponse",
    "UnmaskRequest",
    "UnmaskResponse",
]

KEY_BYTES = 32
SIGNATURE_BYTES = 64
SESSION_BYTES = 32
MAX_ROSTER_SIZE = 2**31
_SIGNATURE_SIZES = (0, SIGNATURE_BYTES)
_DTYPES: dict[int, np.dtype[np.unsignedinteger]] = {
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}

_K_ADVERTISE, _K_ROSTER, _K_SHARE, _K_SHARE_KEYS, _K_BUNDLE = 1, 2, 3, 4, 5
_K_MASKED, _K_CONS_REQ, _K_CONS_RESP, _K_UNMASK_REQ, _K_UNMASK_RESP = 6, 7, 8, 9, 10


def _need_bytes(name: str, value: object, sizes: tuple[int, ...]) -> None:
    if not isinstance(value, bytes) or len(value) not in sizes:
        raise InvalidArgument(f"{name} must be bytes of length {' or '.join(map(str, sizes))}")


def _need_id(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise InvalidArgument(f"{name} must be an int in [0, 2^32)")


def _need_ids(name: str, values: object) -> None:
    if not isinstance(values, tuple):
        raise InvalidArgument(f"{name} must be a tuple of ints")
    for v in values:
        _need_id(name, v)


def _need_shares(name: str, values: object) -> None:
    if not isinstance(values, tuple):
        raise InvalidArgument(f"{name} must be a tuple of (id, share) pairs")
    for item in values:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidArgument(f"{name} must be a tuple of (id, share) pairs")
        _need_id(name, item[0])
        _need_bytes(name, item[1], (SHARE_BYTES,))


def _write_ids(w: Writer, ids: tuple[int, ...]) -> None:
    w.u32(len(ids))
    for i in ids:
        w.u32(i)


def _read_ids(r: Reader) -> tuple[int, ...]:
    return tuple(r.u32() for _ in range(r.count()))


def _write_pairs(w: Writer, pairs: tuple[tuple[int, bytes], ...]) -> None:
    w.u32(len(pairs))
    for cid, data in pairs:
        w.u32(cid)
        w.blob(data)


def _read_pairs(r: Reader, sizes: tuple[int, ...]) -> tuple[tuple[int, bytes], ...]:
    return tuple((r.u32(), r.blob(allowed=sizes)) for _ in range(r.count()))


@dataclass(frozen=True, slots=True)
class AdvertiseKeys:
    """Round 0, client to server: two fresh X25519 public keys for this round.

    ``share_public_key`` serves share encryption, ``mask_public_key`` the pairwise masks
    (Bonawitz et al. 2017, ``c_u^PK`` and ``s_u^PK``). ``signature`` is an Ed25519 signature
    over the configuration digest, id and keys (empty when the round is unsigned).
    """

    client_id: int
    config_digest: bytes
    share_public_key: bytes
    mask_public_key: bytes
    signature: bytes = b""
    _KIND = _K_ADVERTISE

    def __post_init__(self) -> None:
        _need_id("client_id", self.client_id)
        _need_bytes("config_digest", self.config_digest, (32,))
        _need_bytes("share_public_key", self.share_public_key, (KEY_BYTES,))
        _need_bytes("mask_public_key", self.mask_public_key, (KEY_BYTES,))
        _need_bytes("signature", self.signature, _SIGNATURE_SIZES)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.u32(self.client_id)
        w.fixed(self.config_digest + self.share_public_key + self.mask_public_key)
        w.blob(self.signature)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> AdvertiseKeys:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        cid = r.u32()
        digest, share_pk, mask_pk = r.fixed(32), r.fixed(KEY_BYTES), r.fixed(KEY_BYTES)
        sig = r.blob(allowed=_SIGNATURE_SIZES)
        r.done()
        return cls(cid, digest, share_pk, mask_pk, sig)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One advertisement of the committed roster, with its leaf index and inclusion proof.

    ``proof`` is the RFC 9162 (section 2.1.3) audit path of leaf ``index`` in the tree of
    all adverts; it is empty when the message carries the whole roster (complete graph).
    """

    index: int
    advert: AdvertiseKeys
    proof: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _need_id("index", self.index)
        if not isinstance(self.advert, AdvertiseKeys):
            raise InvalidArgument("advert must be an AdvertiseKeys")
        if not isinstance(self.proof, tuple):
            raise InvalidArgument("proof must be a tuple of 32-byte hashes")
        for node in self.proof:
            _need_bytes("proof", node, (HASH_BYTES,))


@dataclass(frozen=True, slots=True)
class KeyRoster:
    """Round 0 result, server to one client: its slice of the committed roster (version 2).

    The server sorts all ``size`` adverts by client id and commits to them with an RFC 9162
    Merkle tree of root ``root``. A client receives the entries it needs, each with its
    inclusion proof: its own, its SecAgg+ neighbours' and the two adjacent in id order
    (``O(k log n)`` bytes); for the complete graph (or ``size <= 2``), every entry in leaf
    order without proofs, from which it recomputes the root (``O(n)``, as SecAgg needs).
    """

    size: int
    root: bytes
    entries: tuple[RosterEntry, ...]
    _KIND = _K_ROSTER
    _VERSION = 2

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise InvalidArgument("size must be an int")
        if not 1 <= self.size <= MAX_ROSTER_SIZE:
            raise InvalidArgument(f"size must be in [1, {MAX_ROSTER_SIZE}]")
        _need_bytes("root", self.root, (HASH_BYTES,))
        entries = self.entries
        if not isinstance(entries, tuple) or not all(isinstance(e, RosterEntry) for e in entries):
            raise InvalidArgument("entries must be a tuple of RosterEntry")
        if not entries:
            raise InvalidArgument("a roster slice holds at least the receiver's own entry")
        indices = [e.index for e in entries]
        if any(b <= a for a, b in pairwise(indices)):
            raise InvalidArgument("roster entries must be in strictly increasing leaf order")
        if indices[-1] >= self.size:
            raise InvalidArgument("a roster entry's leaf index is outside the tree")
        if self.whole:
            return
        for entry in entries:
            if len(entry.proof) != inclusion_path_length(entry.index, self.size):
                raise InvalidArgument(
                    f"the inclusion proof of leaf {entry.index} does not have the RFC 9162 "
                    f"length for a tree of {self.size}"
                )

    @property
    def whole(self) -> bool:
        """Whether this is the whole roster without proofs (every leaf, in order)."""
        return len(self.entries) == self.size and all(not e.proof for e in self.entries)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND, self._VERSION)
        w.u32(self.size)
        w.fixed(self.root)
        w.u32(len(self.entries))
        for entry in self.entries:
            w.u32(entry.index)
            w.blob(entry.advert.to_bytes())
            w.u32(len(entry.proof))
            w.fixed(b"".join(entry.proof))
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyRoster:
        """Parse and validate :meth:`to_bytes` output (lengths, ranges, proof lengths)."""
        r = Reader(data, cls._KIND, cls._VERSION)
        size, root = r.u32(), r.fixed(HASH_BYTES)
        if not 1 <= size <= MAX_ROSTER_SIZE:
            raise DeserializationError(f"roster size {size} out of range")
        count = r.count()
        if count > size:
            raise DeserializationError("more roster entries than leaves")
        entries = []
        for _ in range(count):
            index = r.u32()
            if index >= size:
                raise DeserializationError(f"leaf index {index} is outside a tree of {size}")
            advert = AdvertiseKeys.from_bytes(r.blob())
            depth = r.u32()
            if depth not in (0, inclusion_path_length(index, size)):
                raise DeserializationError(f"the proof of leaf {index} has the wrong length")
            proof = tuple(r.fixed(HASH_BYTES) for _ in range(depth))
            entries.append(RosterEntry(index, advert, proof))
        r.done()
        try:
            return cls(size, root, tuple(entries))
        except InvalidArgument as exc:
            raise DeserializationError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """One AEAD ciphertext (nonce + ciphertext + tag) of a sender's two shares for a receiver."""

    sender: int
    receiver: int
    ciphertext: bytes
    _KIND = _K_SHARE

    def __post_init__(self) -> None:
        _need_id("sender", self.sender)
        _need_id("receiver", self.receiver)
        if not isinstance(self.ciphertext, bytes):
            raise InvalidArgument("ciphertext must be bytes")

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.u32(self.sender)
        w.u32(self.receiver)
        w.blob(self.ciphertext)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptedShare:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        out = cls(r.u32(), r.u32(), r.blob())
        r.done()
        return out


def _need_encrypted_shares(values: object) -> None:
    if not isinstance(values, tuple) or not all(isinstance(s, EncryptedShare) for s in values):
        raise InvalidArgument("shares must be a tuple of EncryptedShare")


def _write_encrypted_shares(w: Writer, shares: tuple[EncryptedShare, ...]) -> None:
    w.u32(len(shares))
    for share in shares:
        w.blob(share.to_bytes())


def _read_encrypted_shares(r: Reader) -> tuple[EncryptedShare, ...]:
    return tuple(EncryptedShare.from_bytes(r.blob()) for _ in range(r.count()))


@dataclass(frozen=True, slots=True)
class ShareKeys:
    """Round 1, client to server: encrypted shares for each neighbour and a seed commitment.

    ``seed_commitment`` is SHA-256 over the session id, the client id and the self-mask seed;
    it lets the server check a rebuilt seed (a corrupted share is then detected, not summed).
    """

    session_id: bytes
    client_id: int
    seed_commitment: bytes
    shares: tuple[EncryptedShare, ...]
    _KIND = _K_SHARE_KEYS

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_id("client_id", self.client_id)
        _need_bytes("seed_commitment", self.seed_commitment, (32,))
        _need_encrypted_shares(self.shares)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        w.u32(self.client_id)
        w.fixed(self.seed_commitment)
        _write_encrypted_shares(w, self.shares)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShareKeys:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        sid, cid, commitment = r.fixed(SESSION_BYTES), r.u32(), r.fixed(32)
        shares = _read_encrypted_shares(r)
        r.done()
        return cls(sid, cid, commitment, shares)


@dataclass(frozen=True, slots=True)
class ShareBundle:
    """Round 1 result, server to one client: the ciphertexts addressed to it.

    The senders present define, for the receiver, which neighbours completed ShareKeys
    (the set ``U_2`` of Bonawitz et al.).
    """

    session_id: bytes
    receiver: int
    shares: tuple[EncryptedShare, ...]
    _KIND = _K_BUNDLE

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_id("receiver", self.receiver)
        _need_encrypted_shares(self.shares)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        w.u32(self.receiver)
        _write_encrypted_shares(w, self.shares)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShareBundle:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        sid, receiver = r.fixed(SESSION_BYTES), r.u32()
        shares = _read_encrypted_shares(r)
        r.done()
        return cls(sid, receiver, shares)


@dataclass(frozen=True, slots=True, eq=False)
class MaskedInput:
    """Round 2, client to server: the masked vector ``y_u`` in ``Z_{2^B}`` (read-only)."""

    session_id: bytes
    client_id: int
    vector: npt.NDArray[np.unsignedinteger] = field(repr=False)
    _KIND = _K_MASKED

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_id("client_id", self.client_id)
        vec = self.vector
        if not isinstance(vec, np.ndarray) or vec.ndim != 1 or vec.dtype.kind != "u":
            raise InvalidArgument("vector must be a 1-D unsigned integer numpy array")
        if vec.flags.writeable:
            vec = vec.copy()
            vec.flags.writeable = False
            object.__setattr__(self, "vector", vec)

    def to_bytes(self) -> bytes:
        """Versioned encoding (little-endian words)."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        w.u32(self.client_id)
        vec = self.vector.astype(self.vector.dtype.newbyteorder("<"), copy=False)
        w.u32(vec.dtype.itemsize)
        w.u64(vec.shape[0])
        w.fixed(vec.tobytes())
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> MaskedInput:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        sid, cid, width = r.fixed(SESSION_BYTES), r.u32(), r.u32()
        if width not in _DTYPES:
            raise DeserializationError(f"unsupported word size {width}")
        length = r.u64()
        if length > 2**40:
            raise DeserializationError("vector too long")
        raw = r.fixed(length * width)
        r.done()
        vec = np.frombuffer(raw, dtype=_DTYPES[width])
        return cls(sid, cid, vec)


@dataclass(frozen=True, slots=True)
class ConsistencyRequest:
    """Round 3, server to every survivor: the clients whose masked input arrived (``U_3``)."""

    session_id: bytes
    survivors: tuple[int, ...]
    _KIND = _K_CONS_REQ

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_ids("survivors", self.survivors)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        _write_ids(w, self.survivors)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> ConsistencyRequest:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        out = cls(r.fixed(SESSION_BYTES), _read_ids(r))
        r.done()
        return out


@dataclass(frozen=True, slots=True)
class ConsistencyResponse:
    """Round 3, client to server: its Ed25519 signature on the survivor list (empty if unsigned)."""

    session_id: bytes
    client_id: int
    signature: bytes = b""
    _KIND = _K_CONS_RESP

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_id("client_id", self.client_id)
        _need_bytes("signature", self.signature, _SIGNATURE_SIZES)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        w.u32(self.client_id)
        w.blob(self.signature)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> ConsistencyResponse:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        out = cls(r.fixed(SESSION_BYTES), r.u32(), r.blob(allowed=_SIGNATURE_SIZES))
        r.done()
        return out


@dataclass(frozen=True, slots=True)
class UnmaskRequest:
    """Round 4, server to every survivor: who is alive, who dropped, and the signatures.

    ``survivors`` is ``U_3`` (their self-mask seeds are requested), ``dropped`` is
    ``U_2`` minus ``U_3`` (their mask keys are requested), ``signatures`` the consistency
    signatures ``(id, signature)`` of ``U_4`` (empty when unsigned).
    """

    session_id: bytes
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[tuple[int, bytes], ...] = ()
    _KIND = _K_UNMASK_REQ

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_ids("survivors", self.survivors)
        _need_ids("dropped", self.dropped)
        if not isinstance(self.signatures, tuple):
            raise InvalidArgument("signatures must be a tuple of (id, signature) pairs")
        for item in self.signatures:
            if not isinstance(item, tuple) or len(item) != 2:
                raise InvalidArgument("signatures must be a tuple of (id, signature) pairs")
            _need_id("signatures", item[0])
            _need_bytes("signatures", item[1], (SIGNATURE_BYTES,))

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        _write_ids(w, self.survivors)
        _write_ids(w, self.dropped)
        _write_pairs(w, self.signatures)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> UnmaskRequest:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        sid, survivors, dropped = r.fixed(SESSION_BYTES), _read_ids(r), _read_ids(r)
        signatures = _read_pairs(r, (SIGNATURE_BYTES,))
        r.done()
        return cls(sid, survivors, dropped, signatures)


@dataclass(frozen=True, slots=True)
class UnmaskResponse:
    """Round 4, client to server: for each neighbour exactly one share, ``(owner id, share)``.

    ``seed_shares`` hold shares of the self-mask seeds of survivors, ``key_shares`` shares of
    the mask private keys of dropped clients (66-byte field elements).
    """

    session_id: bytes
    client_id: int
    seed_shares: tuple[tuple[int, bytes], ...]
    key_shares: tuple[tuple[int, bytes], ...]
    _KIND = _K_UNMASK_RESP

    def __post_init__(self) -> None:
        _need_bytes("session_id", self.session_id, (SESSION_BYTES,))
        _need_id("client_id", self.client_id)
        _need_shares("seed_shares", self.seed_shares)
        _need_shares("key_shares", self.key_shares)

    def to_bytes(self) -> bytes:
        """Versioned encoding."""
        w = Writer(self._KIND)
        w.fixed(self.session_id)
        w.u32(self.client_id)
        _write_pairs(w, self.seed_shares)
        _write_pairs(w, self.key_shares)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> UnmaskResponse:
        """Parse and validate :meth:`to_bytes` output."""
        r = Reader(data, cls._KIND)
        sid, cid = r.fixed(SESSION_BYTES), r.u32()
        seed_shares = _read_pairs(r, (SHARE_BYTES,))
        key_shares = _read_pairs(r, (SHARE_BYTES,))
        r.done()
        return cls(sid, cid, seed_shares, key_shares)
