"""Prio3, the VDAF of draft-irtf-cfrg-vdaf-07, section 7, over the FLP of BBCGGI19.

A client encodes its measurement, splits it into additive shares (the leader's is a vector; each
helper's is a 16-byte XofShake128 seed, so the upload is about one vector), derives the joint
randomness from the shares by Fiat-Shamir (BBCGGI19, section 6.2.3) and sends shares of an FLP
proof. Each aggregator queries its shares, the aggregators add their verifier shares and decide;
they also re-derive the joint randomness and compare it with the client's hint. Every function
here is one of the draft's algorithms, with its serialisation (section 7.2.6), and matches the
draft's published test vectors (tests/vectors/vdaf07/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secagg.errors import DeserializationError, InvalidArgument
from secagg.validated._circuits import Count, Histogram, Sum, SumVec
from secagg.validated._errors import JointRandMismatch, VerificationFailed
from secagg.validated._field import FieldVec
from secagg.validated._flp import FlpBBCGGI19, Valid
from secagg.validated._xof import SEED_SIZE, XofShake128, format_dst

__all__ = [
    "Prio3",
    "LeaderShare",
    "HelperShare",
    "InputShare",
    "PrepShare",
    "PrepState",
    "prio3_count",
    "prio3_sum",
    "prio3_sumvec",
    "prio3_histogram",
    "NONCE_SIZE",
    "USAGE_MEAS_SHARE",
    "USAGE_PROOF_SHARE",
    "USAGE_JOINT_RANDOMNESS",
    "USAGE_PROVE_RANDOMNESS",
    "USAGE_QUERY_RANDOMNESS",
    "USAGE_JOINT_RAND_SEED",
    "USAGE_JOINT_RAND_PART",
]

NONCE_SIZE = 16
USAGE_MEAS_SHARE = 1
USAGE_PROOF_SHARE = 2
USAGE_JOINT_RANDOMNESS = 3
USAGE_PROVE_RANDOMNESS = 4
USAGE_QUERY_RANDOMNESS = 5
USAGE_JOINT_RAND_SEED = 6
USAGE_JOINT_RAND_PART = 7


@dataclass(frozen=True, slots=True, eq=False)
class LeaderShare:
    """The leader's input share: its measurement and proof shares as vectors, and its blind."""

    meas: FieldVec
    proof: FieldVec
    blind: bytes | None


@dataclass(frozen=True, slots=True)
class HelperShare:
    """A helper's input share: seeds of its measurement and proof shares, and its blind."""

    meas_seed: bytes
    proof_seed: bytes
    blind: bytes | None


InputShare = LeaderShare | HelperShare


@dataclass(frozen=True, slots=True, eq=False)
class PrepShare:
    """One aggregator's verifier share and joint randomness part (draft 7.2.6.3)."""

    verifier: FieldVec
    joint_rand_part: bytes | None


@dataclass(frozen=True, slots=True, eq=False)
class PrepState:
    """What an aggregator keeps between ``prep_init`` and ``prep_next``."""

    out_share: FieldVec
    corrected_joint_rand_seed: bytes | None


class Prio3:
    """Prio3 over a validity circuit, ``shares`` aggregators, XofShake128 (draft 7.2)."""

    VERIFY_KEY_SIZE = SEED_SIZE
    NONCE_SIZE = NONCE_SIZE

    def __init__(self, valid: Valid, algo_id: int, shares: int = 2, proofs: int = 1) -> None:
        if isinstance(shares, bool) or not isinstance(shares, int) or not 2 <= shares < 256:
            raise InvalidArgument("Prio3 needs between 2 and 255 aggregators")
        if isinstance(proofs, bool) or not isinstance(proofs, int) or not 1 <= proofs < 256:
            raise InvalidArgument("Prio3 takes between 1 and 255 proofs")
        self.flp = FlpBBCGGI19(valid)
        self.field = valid.field
        self.ID = algo_id
        self.SHARES = shares
        self.PROOFS = proofs
        self.uses_joint_rand = self.flp.JOINT_RAND_LEN > 0
        seeds = 1 + 2 * (shares - 1) + (shares if self.uses_joint_rand else 0)
        self.RAND_SIZE = SEED_SIZE * seeds

    def _binder(self, rest: bytes) -> bytes:
        # Draft 08 (section 7.2.5 there) prefixes byte(PROOFS) to these binders; with one
        # proof we keep draft 07's binders exactly, so its test vectors still pass.
        return (bytes([self.PROOFS]) + rest) if self.PROOFS > 1 else rest

    def dst(self, usage: int) -> bytes:
        """The domain separation tag of this VDAF for ``usage`` (draft 5, 6.2.3)."""
        return format_dst(0, self.ID, usage)

    # -- auxiliary functions (draft 7.2.5) ---------------------------------------------
    def helper_meas_share(self, agg_id: int, seed: bytes) -> FieldVec:
        """Expand a helper's measurement share."""
        return XofShake128.expand_into_vec(
            self.field, seed, self.dst(USAGE_MEAS_SHARE), bytes([agg_id]), self.flp.MEAS_LEN
        )

    def helper_proof_share(self, agg_id: int, seed: bytes) -> FieldVec:
        """Expand a helper's proof share."""
        return XofShake128.expand_into_vec(
            self.field,
            seed,
            self.dst(USAGE_PROOF_SHARE),
            self._binder(bytes([agg_id])),
            self.flp.PROOF_LEN * self.PROOFS,
        )

    def prove_rand(self, seed: bytes) -> FieldVec:
        """The prover randomness."""
        return XofShake128.expand_into_vec(
            self.field,
            seed,
            self.dst(USAGE_PROVE_RANDOMNESS),
            self._binder(b""),
            self.flp.PROVE_RAND_LEN * self.PROOFS,
        )

    def query_rand(self, verify_key: bytes, nonce: bytes) -> FieldVec:
        """The query randomness, from the aggregators' shared verification key."""
        return XofShake128.expand_into_vec(
            self.field,
            verify_key,
            self.dst(USAGE_QUERY_RANDOMNESS),
            self._binder(nonce),
            self.flp.QUERY_RAND_LEN * self.PROOFS,
        )

    def joint_rand_part(
        self, agg_id: int, blind: bytes, meas_share: FieldVec, nonce: bytes
    ) -> bytes:
        """One aggregator's part of the joint randomness seed."""
        binder = bytes([agg_id]) + nonce + self.field.encode_vec(meas_share)
        return XofShake128.derive_seed(blind, self.dst(USAGE_JOINT_RAND_PART), binder)

    def joint_rand_seed(self, parts: Sequence[bytes]) -> bytes:
        """The joint randomness seed from its parts."""
        return XofShake128.derive_seed(
            bytes(SEED_SIZE), self.dst(USAGE_JOINT_RAND_SEED), b"".join(parts)
        )

    def joint_rand(self, seed: bytes) -> FieldVec:
        """The joint randomness from its seed."""
        return XofShake128.expand_into_vec(
            self.field,
            seed,
            self.dst(USAGE_JOINT_RANDOMNESS),
            self._binder(b""),
            self.flp.JOINT_RAND_LEN * self.PROOFS,
        )

    # -- sharding (draft 7.2.1) ---------------------------------------------------------
    def shard(
        self, measurement: Any, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """The public share (joint randomness parts) and one input share per aggregator.

        ``rand`` is ``RAND_SIZE`` uniformly random bytes (``os.urandom``), ``nonce`` 16 bytes
        unique per report.
        """
        return self.shard_encoded(self.flp.encode(measurement), nonce, rand)

    def shard_unchecked(
        self, measurement: Any, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """Hazardous: :meth:`shard` of what a client that skipped its checks would encode.

        The circuit's :meth:`~secagg.validated._flp.Valid.encode_unchecked` (for the
        bounded-L2 circuits: the update as given with a false norm claim), with honest
        proofs of it: the aggregators reject it except with the soundness error. For tests
        and simulated attackers.
        """
        return self.shard_encoded(self.flp.valid.encode_unchecked(measurement), nonce, rand)

    def shard_encoded(
        self, meas: FieldVec, nonce: bytes, rand: bytes
    ) -> tuple[list[bytes] | None, list[InputShare]]:
        """:meth:`shard` after the encoding step, for any ``MEAS_LEN`` vector.

        Hazardous: nothing checks that ``meas`` is a valid encoding; the tests use it to play
        malicious clients (the aggregators must then reject the report).
        """
        self._need_bytes("nonce", nonce, NONCE_SIZE)
        self._need_bytes("rand", rand, self.RAND_SIZE)
        f, flp, n = self.field, self.flp, self.SHARES
        if len(meas) != flp.MEAS_LEN:
            raise InvalidArgument(f"an encoded measurement has {flp.MEAS_LEN} elements")
        seeds = [rand[i : i + SEED_SIZE] for i in range(0, self.RAND_SIZE, SEED_SIZE)]
        per_helper = 3 if self.uses_joint_rand else 2
        helper_seeds = seeds[: (n - 1) * per_helper]
        rest = seeds[(n - 1) * per_helper :]
        helpers = [
            helper_seeds[i : i + per_helper] for i in range(0, len(helper_seeds), per_helper)
        ]
        leader_meas = meas
        parts: list[bytes] = []
        for j, hs in enumerate(helpers):
            share = self.helper_meas_share(j + 1, hs[0])
            leader_meas = f.sub(leader_meas, share)
            if self.uses_joint_rand:
                parts.append(self.joint_rand_part(j + 1, hs[2], share, nonce))
        if self.uses_joint_rand:
            leader_blind, k_prove = rest[0], rest[1]
            parts.insert(0, self.joint_rand_part(0, leader_blind, leader_meas, nonce))
            joint_rand = self.joint_rand(self.joint_rand_seed(parts))
        else:
            leader_blind, k_prove = None, rest[0]
            joint_rand = f.zeros(0)
        prove_rand = self.prove_rand(k_prove)
        proof = np.concatenate(
            [
                flp.prove(
                    meas,
                    prove_rand[i * flp.PROVE_RAND_LEN : (i + 1) * flp.PROVE_RAND_LEN],
                    joint_rand[i * flp.JOINT_RAND_LEN : (i + 1) * flp.JOINT_RAND_LEN],
                )
                for i in range(self.PROOFS)
            ]
        )
        for j, hs in enumerate(helpers):
            proof = f.sub(proof, self.helper_proof_share(j + 1, hs[1]))
        shares: list[InputShare] = [LeaderShare(leader_meas, proof, leader_blind)]
        shares.extend(
            HelperShare(hs[0], hs[1], hs[2] if self.uses_joint_rand else None) for hs in helpers
        )
        return (parts if self.uses_joint_rand else None), shares

    # -- preparation (draft 7.2.2) ------------------------------------------------------
    def expand_input_share(self, agg_id: int, share: InputShare) -> tuple[FieldVec, FieldVec]:
        """The measurement and proof share vectors of aggregator ``agg_id``."""
        if agg_id == 0:
            if not isinstance(share, LeaderShare):
                raise InvalidArgument("aggregator 0 holds the leader share")
            return share.meas, share.proof
        if not isinstance(share, HelperShare):
            raise InvalidArgument("helpers hold seed shares")
        return (
            self.helper_meas_share(agg_id, share.meas_seed),
            self.helper_proof_share(agg_id, share.proof_seed),
        )

    def prep_init(
        self,
        verify_key: bytes,
        agg_id: int,
        nonce: bytes,
        public_share: list[bytes] | None,
        input_share: InputShare,
    ) -> tuple[PrepState, PrepShare]:
        """Query this aggregator's shares: its state and its prep share to broadcast."""
        self._need_bytes("verify_key", verify_key, self.VERIFY_KEY_SIZE)
        self._need_bytes("nonce", nonce, NONCE_SIZE)
        if not 0 <= agg_id < self.SHARES:
            raise InvalidArgument("aggregator id out of range")
        meas, proof = self.expand_input_share(agg_id, input_share)
        out_share = self.flp.truncate(meas)
        corrected: bytes | None = None
        part: bytes | None = None
        joint_rand = self.field.zeros(0)
        if self.uses_joint_rand:
            if public_share is None or len(public_share) != self.SHARES:
                raise InvalidArgument("the public share holds one part per aggregator")
            if input_share.blind is None:
                raise InvalidArgument("the input share lacks its blind")
            part = self.joint_rand_part(agg_id, input_share.blind, meas, nonce)
            parts = list(public_share)
            parts[agg_id] = part
            corrected = self.joint_rand_seed(parts)
            joint_rand = self.joint_rand(corrected)
        flp = self.flp
        query_rand = self.query_rand(verify_key, nonce)
        verifier = np.concatenate(
            [
                flp.query(
                    meas,
                    proof[i * flp.PROOF_LEN : (i + 1) * flp.PROOF_LEN],
                    query_rand[i * flp.QUERY_RAND_LEN : (i + 1) * flp.QUERY_RAND_LEN],
                    joint_rand[i * flp.JOINT_RAND_LEN : (i + 1) * flp.JOINT_RAND_LEN],
                    self.SHARES,
                )
                for i in range(self.PROOFS)
            ]
        )
        return PrepState(out_share, corrected), PrepShare(verifier, part)

    def prep_shares_to_prep(self, prep_shares: Sequence[PrepShare]) -> bytes | None:
        """Combine the prep shares; raises VerificationFailed if the proof rejects."""
        if len(prep_shares) != self.SHARES:
            raise InvalidArgument(f"expected {self.SHARES} prep shares")
        f, size = self.field, self.flp.VERIFIER_LEN
        verifier = f.zeros(size * self.PROOFS)
        for share in prep_shares:
            if len(share.verifier) != size * self.PROOFS:
                raise InvalidArgument("verifier share of the wrong length")
            verifier = f.add(verifier, share.verifier)
        for i in range(self.PROOFS):  # every proof must verify (draft 08, multiple proofs)
            if not self.flp.decide(verifier[i * size : (i + 1) * size]):
                raise VerificationFailed("the proof of validity does not verify")
        if not self.uses_joint_rand:
            return None
        parts = [s.joint_rand_part for s in prep_shares]
        if any(p is None for p in parts):
            raise InvalidArgument("a prep share lacks its joint randomness part")
        return self.joint_rand_seed([p for p in parts if p is not None])

    def prep_next(self, state: PrepState, prep_msg: bytes | None) -> FieldVec:
        """The output share, if the joint randomness the client used is the true one."""
        if prep_msg != state.corrected_joint_rand_seed:
            raise JointRandMismatch("joint randomness check failed")
        return state.out_share

    # -- aggregation and unsharding (draft 7.2.3-7.2.4) ---------------------------------
    def aggregate(self, out_shares: Sequence[FieldVec]) -> FieldVec:
        """The sum of output shares."""
        agg = self.field.zeros(self.flp.OUTPUT_LEN)
        for s in out_shares:
            agg = self.field.add(agg, s)
        return agg

    def unshard(self, agg_shares: Sequence[FieldVec], num_measurements: int) -> Any:
        """The aggregate result from every aggregator's aggregate share."""
        return self.flp.decode(self.aggregate(agg_shares), num_measurements)

    # -- serialisation (draft 7.2.6) ----------------------------------------------------
    def encode_public_share(self, public_share: list[bytes] | None) -> bytes:
        """The joint randomness parts, concatenated (empty without joint randomness)."""
        return b"".join(public_share) if public_share is not None else b""

    def decode_public_share(self, data: bytes) -> list[bytes] | None:
        """Inverse of :meth:`encode_public_share`."""
        if not self.uses_joint_rand:
            if data:
                raise DeserializationError("this Prio3 has an empty public share")
            return None
        if len(data) != SEED_SIZE * self.SHARES:
            raise DeserializationError("public share of the wrong length")
        return [data[i : i + SEED_SIZE] for i in range(0, len(data), SEED_SIZE)]

    def encode_input_share(self, share: InputShare) -> bytes:
        """Leader: measurement and proof vectors; helper: two seeds; then the blind."""
        blind = share.blind or b""
        if isinstance(share, LeaderShare):
            return self.field.encode_vec(share.meas) + self.field.encode_vec(share.proof) + blind
        return share.meas_seed + share.proof_seed + blind

    def decode_input_share(self, agg_id: int, data: bytes) -> InputShare:
        """Inverse of :meth:`encode_input_share` for aggregator ``agg_id``."""
        blind_len = SEED_SIZE if self.uses_joint_rand else 0
        if agg_id == 0:
            size = self.field.ENCODED_SIZE
            m, p = self.flp.MEAS_LEN * size, self.flp.PROOF_LEN * self.PROOFS * size
            if len(data) != m + p + blind_len:
                raise DeserializationError("leader input share of the wrong length")
            return LeaderShare(
                self.field.decode_vec(data[:m]),
                self.field.decode_vec(data[m : m + p]),
                data[m + p :] if blind_len else None,
            )
        if len(data) != 2 * SEED_SIZE + blind_len:
            raise DeserializationError("helper input share of the wrong length")
        return HelperShare(
            data[:SEED_SIZE],
            data[SEED_SIZE : 2 * SEED_SIZE],
            data[2 * SEED_SIZE :] if blind_len else None,
        )

    def encode_prep_share(self, share: PrepShare) -> bytes:
        """The verifier share, then the joint randomness part."""
        return self.field.encode_vec(share.verifier) + (share.joint_rand_part or b"")

    def decode_prep_share(self, data: bytes) -> PrepShare:
        """Inverse of :meth:`encode_prep_share`."""
        v = self.flp.VERIFIER_LEN * self.PROOFS * self.field.ENCODED_SIZE
        extra = SEED_SIZE if self.uses_joint_rand else 0
        if len(data) != v + extra:
            raise DeserializationError("prep share of the wrong length")
        return PrepShare(self.field.decode_vec(data[:v]), data[v:] if extra else None)

    def encode_prep_message(self, msg: bytes | None) -> bytes:
        """The joint randomness seed (empty without joint randomness)."""
        return msg or b""

    def encode_agg_share(self, agg_share: FieldVec) -> bytes:
        """The aggregate share's field elements."""
        return self.field.encode_vec(agg_share)

    @staticmethod
    def _need_bytes(name: str, value: object, size: int) -> None:
        if not isinstance(value, bytes) or len(value) != size:
            raise InvalidArgument(f"{name} must be {size} bytes")


def prio3_count(shares: int = 2) -> Prio3:
    """Prio3Count (draft 7.4.1, ID 0)."""
    return Prio3(Count(), 0x00000000, shares)


def prio3_sum(bits: int, shares: int = 2) -> Prio3:
    """Prio3Sum (draft 7.4.2, ID 1)."""
    return Prio3(Sum(bits), 0x00000001, shares)


def prio3_sumvec(length: int, bits: int, chunk_length: int, shares: int = 2) -> Prio3:
    """Prio3SumVec (draft 7.4.3, ID 2)."""
    return Prio3(SumVec(length, bits, chunk_length), 0x00000002, shares)


def prio3_histogram(length: int, chunk_length: int, shares: int = 2) -> Prio3:
    """Prio3Histogram (draft 7.4.4, ID 3)."""
    return Prio3(Histogram(length, chunk_length), 0x00000003, shares)
