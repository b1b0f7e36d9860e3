"""The configuration of one SecAgg+ round and the stages a client can drop out at.

The configuration is fixed by the server before the round and shared with every client; its
digest enters the session id (Bonawitz et al., CCS 2017, section 4; Bell et al., CCS 2020,
section 3), so two parties that disagree on any field never agree on a key.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass, field

from secagg.errors import InvalidArgument

__all__ = ["MaskingConfig", "Stage", "MAX_CLIENT_ID", "MAX_MODULUS_BITS"]

MAX_CLIENT_ID = 2**31 - 1
"""Largest client id; ids map to the Shamir evaluation points ``id + 1``."""

MAX_MODULUS_BITS = 64
"""Masked vectors live in ``Z_{2^B}`` with ``1 <= B <= 64`` (one numpy word per entry)."""

_DIGEST_DOMAIN = b"fedcrypt/secagg-masking/config/v1"


class Stage(enum.IntEnum):
    """The protocol rounds, in order; a dropout at stage ``S`` sends nothing from ``S`` on.

    Bonawitz et al. 2017, Figure 4: rounds 0 (AdvertiseKeys) to 4 (Unmasking), with round 3
    (ConsistencyCheck) always run here so every driver follows the same sequence.
    """

    ADVERTISE_KEYS = 0
    SHARE_KEYS = 1
    MASKED_INPUT = 2
    CONSISTENCY_CHECK = 3
    UNMASK = 4


@dataclass(frozen=True, slots=True)
class MaskingConfig:
    """Everything the parties of one masking round must agree on.

    Attributes:
        client_ids: the ids of the clients invited to the round (distinct, ``0..2^31-1``).
        threshold: ``t``, the Shamir threshold: shares needed to rebuild a client's secrets.
            Must exceed half of a neighbourhood (``2t > k + 1``, where ``k + 1`` counts the
            client itself) and be at most ``k + 1`` (Bell et al. 2020, Theorem 3.6).
        vector_length: the number of entries of every input vector.
        modulus_bits: ``B``; inputs and the sum live in ``Z_{2^B}``, ``1 <= B <= 64``.
        neighbours: ``k``, the degree of the SecAgg+ Harary graph (even, ``>= 2``), or
            ``None`` for the complete graph of the original SecAgg.
        verify_keys: optional Ed25519 public keys (32 raw bytes each), one per entry of
            ``client_ids``; when given, advertised keys and consistency checks are signed
            (the malicious-server variant, Bonawitz et al. 2017, section 6.2).
        round_number: the federated round this masking session belongs to; it enters the
            session id so no message can be replayed into another round.
    """

    client_ids: tuple[int, ...]
    threshold: int
    vector_length: int
    modulus_bits: int = 32
    neighbours: int | None = None
    verify_keys: tuple[bytes, ...] | None = None
    round_number: int = 0
    _digest: bytes = field(init=False, repr=False, compare=False, default=b"")
    _verify_keys_by_id: dict[int, bytes] | None = field(
        init=False, repr=False, compare=False, default=None
    )
    _id_set: frozenset[int] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        ids = self.client_ids
        if not isinstance(ids, tuple) or not ids:
            raise InvalidArgument("client_ids must be a non-empty tuple of ints")
        for cid in ids:
            if isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid <= MAX_CLIENT_ID:
                raise InvalidArgument(f"client id {cid!r} is not an int in [0, 2^31 - 1]")
        id_set = frozenset(ids)
        if len(id_set) != len(ids):
            raise InvalidArgument("client_ids contains a duplicated id")
        object.__setattr__(self, "_id_set", id_set)
        _check_int("vector_length", self.vector_length, 1, 2**40)
        _check_int("modulus_bits", self.modulus_bits, 1, MAX_MODULUS_BITS)
        _check_int("round_number", self.round_number, 0, 2**63 - 1)
        if self.neighbours is not None:
            _check_int("neighbours", self.neighbours, 2, 2**31)
            if self.neighbours % 2:
                raise InvalidArgument("neighbours must be even (Harary graph H(k, n), k = 2m)")
        _check_int("threshold", self.threshold, 1, len(ids))
        size = self.neighbourhood_size
        if self.threshold > size:
            raise InvalidArgument(
                f"threshold {self.threshold} exceeds the neighbourhood size {size} "
                "(neighbours + the client itself)"
            )
        if 2 * self.threshold <= size:
            raise InvalidArgument(
                f"threshold {self.threshold} must exceed half the neighbourhood size {size}, "
                "or a server could rebuild both secrets of one client"
            )
        if self.verify_keys is not None:
            if not isinstance(self.verify_keys, tuple) or len(self.verify_keys) != len(ids):
                raise InvalidArgument("verify_keys must be a tuple with one key per client id")
            for key in self.verify_keys:
                if not isinstance(key, bytes) or len(key) != 32:
                    raise InvalidArgument("each verify key must be 32 raw Ed25519 bytes")
            if len(set(self.verify_keys)) != len(self.verify_keys):
                raise InvalidArgument("verify_keys contains a duplicated key")

    @property
    def neighbourhood_size(self) -> int:
        """Clients holding shares of one client's secrets: its neighbours plus itself."""
        n = len(self.client_ids)
        if self.neighbours is None:
            return n
        return min(self.neighbours, n - 1) + 1

    def has_client(self, client_id: object) -> bool:
        """Whether ``client_id`` is one of ``client_ids`` (a set lookup)."""
        return client_id in self._id_set

    @property
    def signed(self) -> bool:
        """Whether advertised keys and consistency checks carry Ed25519 signatures."""
        return self.verify_keys is not None

    def verify_key(self, client_id: int) -> bytes:
        """The Ed25519 public key of ``client_id`` (signed configurations only)."""
        if self.verify_keys is None:
            raise InvalidArgument("this configuration has no verify keys")
        by_id = self._verify_keys_by_id
        if by_id is None:  # built once: a client checks k keys, the server n, in O(1) each
            by_id = dict(zip(self.client_ids, self.verify_keys, strict=True))
            object.__setattr__(self, "_verify_keys_by_id", by_id)
        if client_id not in by_id:
            raise ValueError(f"{client_id} is not in client_ids")
        return by_id[client_id]

    def digest(self) -> bytes:
        """SHA-256 over a canonical encoding of every field (enters the session id)."""
        if not self._digest:
            object.__setattr__(self, "_digest", self._compute_digest())
        return self._digest

    def _compute_digest(self) -> bytes:
        h = hashlib.sha256(_DIGEST_DOMAIN)
        h.update(
            struct.pack(
                ">QQQQq",
                len(self.client_ids),
                self.threshold,
                self.vector_length,
                self.modulus_bits,
                -1 if self.neighbours is None else self.neighbours,
            )
        )
        h.update(struct.pack(">Q", self.round_number))
        h.update(b"".join(cid.to_bytes(4, "big") for cid in self.client_ids))
        if self.verify_keys is None:
            h.update(b"\x00")
        else:
            h.update(b"\x01" + b"".join(self.verify_keys))
        return h.digest()


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an int in [{low}, {high}], got {value!r}")
