"""The ``paillier`` backend: packed Paillier ciphertexts, threshold decryption of the sum.

Each client rounds its clipped update stochastically onto the grid ``2^-scale_bits``
(:func:`secagg.encoding.stochastic_round`, unbiased) and encrypts the integers as a packed
:class:`secagg.paillier.EncryptedVector` (BatchCrypt-style packing, Zhang et al. 2020). The
server adds the ciphertexts homomorphically (Paillier 1999) and asks the key-holder
committee for decryption shares of the sum only; any ``decryption_threshold`` of them
decrypt it (Shoup 2000; Damgard and Jurik 2001), fewer learn nothing. No single party can
decrypt one client's ciphertext. The committee key is dealt once per run by a trusted
dealer that keeps no state (see :mod:`secagg.paillier.threshold`).
"""

from __future__ import annotations

import math

import numpy as np

from federated._aggregation import AggregateResult, RoundInput, StageTimer
from federated.config import PaillierSettings
from federated.errors import InvalidArgument
from federated.server import AggregationServer
from secagg.encoding import stochastic_round
from secagg.paillier.threshold import ThresholdKeys, deal_threshold_keys

__all__ = ["PaillierAggregator", "value_bits"]


def value_bits(bound: float, scale_bits: int) -> int:
    """Bits of one packed entry: room for ``bound * 2^scale_bits``, its rounding and a sign."""
    return math.ceil(math.log2(bound * float(2**scale_bits) + 2)) + 2


class PaillierAggregator:
    """Sum the cohort's updates as Paillier ciphertexts; a committee decrypts the sum."""

    name = "paillier"

    def __init__(
        self,
        server: AggregationServer,
        settings: PaillierSettings,
        bound: float,
        keys: ThresholdKeys | None = None,
    ) -> None:
        self._server = server
        self._settings = settings
        self._bound = bound
        self._keys = keys
        if keys is not None:
            if len(keys.shares) < settings.decryption_threshold:
                raise InvalidArgument("the committee key has fewer holders than the threshold")
            bits = keys.public_key.bits
            if bits < 2048 and not settings.allow_insecure_key:
                raise InvalidArgument(
                    f"the committee key has {bits} bits; below 2048 needs "
                    "PaillierSettings(allow_insecure_key=True) (tests only)"
                )

    @property
    def keys(self) -> ThresholdKeys:
        """The committee key of the run: the one given, or one dealt on first use."""
        if self._keys is None:
            self._keys = deal_threshold_keys(
                self._settings.key_bits,
                self._settings.key_holders,
                self._settings.decryption_threshold,
                allow_insecure=self._settings.allow_insecure_key,
            )
        return self._keys

    def client_codec(self, cohort_size: int) -> None:
        """Clients send float contributions to this backend."""
        del cohort_size

    def aggregate(self, round_input: RoundInput, timer: StageTimer) -> AggregateResult:
        """Encrypt (clients), add (server), threshold-decrypt (committee), decode."""
        senders = tuple(sorted(round_input.contributions))
        if len(senders) < round_input.threshold:
            return AggregateResult(None, (), 0, note="fewer inputs than the threshold")
        with timer.stage("keygen"):
            keys = self.keys
        scale = float(2**self._settings.scale_bits)
        entry_bits = value_bits(self._bound, self._settings.scale_bits)
        with timer.stage("encrypt"):
            ciphertexts = [
                keys.public_key.encrypt_vector(
                    stochastic_round(round_input.contributions[c] * scale),
                    value_bits=entry_bits,
                    max_summands=len(round_input.cohort),
                )
                for c in senders
            ]
            bytes_sent = sum(len(v.to_bytes()) for v in ciphertexts)
        with timer.stage("aggregate"):
            encrypted_sum = self._server.paillier_sum(ciphertexts)
        with timer.stage("decrypt"):
            committee = keys.shares[: self._settings.decryption_threshold]
            shares = [holder.partial_decrypt_vector(encrypted_sum) for holder in committee]
            plain = self._server.paillier_combine(keys.verification, encrypted_sum, shares)
        total = np.asarray(plain, dtype=np.float64) / scale
        return AggregateResult(total, senders, bytes_sent)
