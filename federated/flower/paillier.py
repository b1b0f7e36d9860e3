"""Server side of packed Paillier aggregation over Flower, decrypted by a key committee.

Flower has no homomorphic encryption (flower issue 907). Here each client trains, clips its
update and encrypts it as a packed :class:`secagg.paillier.EncryptedVector` (BatchCrypt-style
packing); the server only adds ciphertexts. The sum is decrypted by a committee of key-holder
nodes with threshold Paillier (Shoup 2000; Damgard and Jurik 2001, section 4.1;
:mod:`secagg.paillier.threshold`): each holder returns a decryption share with a proof, and
any ``threshold`` valid shares give the sum; fewer holders learn nothing. A committee of one
(``n_parties = threshold = 1``) is the designated-decryptor setting.

Key provisioning follows the dealer model of :func:`secagg.paillier.threshold.deal_threshold_keys`:
the operator deals the key once, installs each :class:`~secagg.paillier.threshold.KeyShare`
on its key-holder node (see :func:`federated.flower.make_fedcrypt_mod`) and gives the server
only the public :class:`~secagg.paillier.threshold.VerificationKeys`.

Round: ``encrypt`` (model to the cohort, ciphertexts back), the homomorphic sum, then
``decrypt`` (the sum to every node; key holders answer with a share, others with nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from flwr.serverapp import Grid

from federated.errors import InvalidArgument
from federated.flower._arrays import flatten
from federated.flower._envelope import Envelope, Protocol
from federated.flower._exchange import exchange
from federated.flower._round import Observer, RoundOutcome
from federated.flower._training import ARRAYS_KEY, CONFIG_KEY, reply_metrics
from federated.flower.errors import MalformedMessage
from secagg.errors import SecAggError
from secagg.paillier import EncryptedVector, PublicKey
from secagg.paillier.threshold import (
    VectorDecryptionShare,
    VerificationKeys,
    combine_vector_shares,
)

__all__ = ["PaillierAggregation", "paillier_scale_bits"]


def paillier_scale_bits(value_bits: int, clip: float) -> int:
    """Fixed-point fraction bits such that every clipped entry fits ``value_bits`` signed bits."""
    headroom = max(0, math.ceil(math.log2(clip))) if clip > 1 else 0
    bits = value_bits - 2 - headroom
    if bits < 1:
        raise InvalidArgument(f"value_bits {value_bits} cannot hold entries up to {clip}")
    return bits


@dataclass(frozen=True, slots=True)
class PaillierAggregation:
    """Packed Paillier aggregation with threshold decryption by key-holder nodes.

    Attributes:
        verification: the public data of the dealt threshold key.
        value_bits: signed bits of one scaled entry (slot width adds summand headroom).
        min_survivors_fraction: a round releases nothing if fewer of the cohort encrypt.
        allow_insecure_key: accept a modulus below 2048 bits (tests only).
    """

    verification: VerificationKeys
    value_bits: int = 32
    min_survivors_fraction: float = 0.5
    allow_insecure_key: bool = False
    public_key: PublicKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.verification, VerificationKeys):
            raise InvalidArgument("verification must be secagg.paillier.threshold.VerificationKeys")
        if not 8 <= self.value_bits <= 62:
            raise InvalidArgument("value_bits must be in [8, 62]")
        if not 0.0 < self.min_survivors_fraction <= 1.0:
            raise InvalidArgument("min_survivors_fraction must be in (0, 1]")
        try:
            key = self.verification.public_key(allow_insecure=self.allow_insecure_key)
        except SecAggError as exc:
            raise InvalidArgument(f"unusable Paillier key: {exc}") from exc
        object.__setattr__(self, "public_key", key)

    def run_round(
        self,
        grid: Grid,
        nodes: Sequence[int],
        round_number: int,
        global_arrays: ArrayRecord,
        *,
        clip: float,
        train_config: ConfigRecord | None = None,
        timeout: float | None = 600.0,
        observer: Observer | None = None,
    ) -> RoundOutcome:
        """Encrypt on the cohort, add ciphertexts, decrypt the sum with the committee."""
        _, layout = flatten(global_arrays)
        scale_bits = paillier_scale_bits(self.value_bits, clip)
        minimum = max(1, math.ceil(self.min_survivors_fraction * len(nodes)))
        plan = {
            "verification": self.verification.to_bytes(),
            "vector_length": layout.size,
            "clip": float(clip),
            "scale_bits": scale_bits,
            "value_bits": self.value_bits,
            "max_summands": len(nodes),
            "min_summands": minimum,
        }
        requests: dict[int, RecordDict] = {}
        for node in nodes:
            content = Envelope(Protocol.PAILLIER, "encrypt", round_number).to_content(plan)
            content[ARRAYS_KEY] = global_arrays
            content[CONFIG_KEY] = train_config if train_config is not None else ConfigRecord()
            requests[node] = content
        replies = exchange(grid, requests, group_id=str(round_number), timeout=timeout)
        seconds = {"encrypt": replies.seconds}
        dropped: dict[str, tuple[int, ...]] = {}
        vectors: dict[int, EncryptedVector] = {}
        metrics: dict[int, MetricRecord] = {}
        bad = set(replies.failures)
        for node, content in replies.replies.items():
            try:
                vector = self._ciphertext(content, round_number, layout.size, scale_bits, nodes)
            except (MalformedMessage, SecAggError):
                bad.add(node)
                continue
            if observer is not None:
                observer("encrypt", node, Envelope.from_content(content).body)
            vectors[node] = vector
            record = reply_metrics(content)
            if record is not None:
                metrics[node] = record
        dropped["encrypt"] = tuple(sorted(bad))
        received = replies.bytes_received
        survivors = tuple(sorted(vectors))

        def outcome(total: np.ndarray | None, note: str) -> RoundOutcome:
            return RoundOutcome(
                total,
                tuple(nodes),
                survivors if total is not None else (),
                minimum,
                dropped,
                seconds,
                received,
                note,
                metrics=metrics if total is not None else {},
            )

        if len(vectors) < minimum:
            return outcome(
                None, f"{len(vectors)} ciphertexts, fewer than {minimum}: nothing decrypted"
            )
        total_ct = EncryptedVector.sum(vectors[n] for n in survivors)
        decrypt = Envelope(Protocol.PAILLIER, "decrypt", round_number, total_ct.to_bytes())
        everyone = sorted(int(n) for n in grid.get_node_ids())
        requests = {node: decrypt.to_content(plan) for node in everyone}
        replies = exchange(grid, requests, group_id=str(round_number), timeout=timeout)
        seconds["decrypt"] = replies.seconds
        received += replies.bytes_received
        shares: list[VectorDecryptionShare] = []
        for node, content in replies.replies.items():
            try:
                envelope = Envelope.from_content(content)
                if envelope.protocol is not Protocol.PAILLIER or envelope.stage != "decrypt":
                    continue
                if envelope.body:
                    shares.append(
                        VectorDecryptionShare.from_bytes(envelope.body, self.verification)
                    )
                    if observer is not None:
                        observer("decrypt", node, envelope.body)
            except (MalformedMessage, SecAggError):
                continue
        try:
            combined = combine_vector_shares(self.verification, total_ct, shares)
        except SecAggError as exc:
            return outcome(None, f"the committee did not decrypt the sum: {exc}")
        return outcome(np.asarray(combined.values, dtype=np.float64).ravel(), "")

    def _ciphertext(
        self,
        content: RecordDict,
        round_number: int,
        length: int,
        scale_bits: int,
        nodes: Sequence[int],
    ) -> EncryptedVector:
        envelope = Envelope.from_content(content)
        if (
            envelope.protocol is not Protocol.PAILLIER
            or envelope.stage != "encrypt"
            or envelope.round_number != round_number
        ):
            raise MalformedMessage("not this round's ciphertext")
        vector = EncryptedVector.from_bytes(envelope.body, self.public_key)
        if (
            vector.shape != (length,)
            or vector.summands != 1
            or vector.scale_bits != scale_bits
            or vector.max_summands != len(nodes)
            or vector.layout.value_bits != self.value_bits
        ):
            raise MalformedMessage("the ciphertext's layout differs from the round's")
        return vector
