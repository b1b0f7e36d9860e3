"""The aggregation server: it accepts masked inputs, ciphertexts and validated reports' shares.

It never accepts a plaintext update (outside the labelled baseline). Under validated
aggregation it is Prio3's leader: it receives each client's report (its own additive share
in the clear, the helper's share sealed to the helper), the helper's verifier shares and
the helper's share of the sum.

:class:`AggregationServer` is the only object of a run that plays the server. Each of its
entry points checks the type of what it is handed and raises
:class:`federated.ServerViewViolation` for anything else (in particular a numpy array or a
list of floats), so a wiring mistake cannot silently leak a client's update to the server.
An optional ``observer`` sees every object the server receives; the test-suite uses it to
check the server's view of whole runs.

The plaintext route exists only for the ``plain_insecure`` baseline: it needs an explicit
opt-in at construction, and its inputs are wrapped in :class:`InsecurePlaintextUpdate` so a
recorded view shows them for what they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from federated.errors import InvalidArgument, ServerViewViolation
from secagg.masking import (
    AdvertiseKeys,
    ConsistencyRequest,
    ConsistencyResponse,
    MaskedInput,
    MaskingConfig,
    RosterViews,
    RoundResult,
    ShareBundle,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from secagg.masking import Server as MaskingServer
from secagg.paillier import EncryptedVector
from secagg.paillier.threshold import (
    VectorDecryptionShare,
    VerificationKeys,
    combine_vector_shares,
)
from secagg.validated import (
    AggregateShare,
    Leader,
    PrepareRequest,
    PrepareResponse,
    Report,
    ValidatedConfig,
)
from secagg.validated import RoundResult as ValidatedResult

__all__ = ["InsecurePlaintextUpdate", "AggregationServer", "Observer"]

Observer = Callable[[object], None]
NoiseSampler = Callable[[int], NDArray[np.int64]]
"""Draws an aggregator's integer noise for a sum of the given length."""


@dataclass(frozen=True, slots=True, eq=False)
class InsecurePlaintextUpdate:
    """A client's update in the clear, for the ``plain_insecure`` baseline only."""

    client_id: int
    values: NDArray[np.float64] = field(repr=False)


class AggregationServer:
    """The server of a federated run; see the module docstring for what it accepts.

    Args:
        observer: called with every object the server receives (for audits and tests).
        allow_insecure_plaintext: accept :class:`InsecurePlaintextUpdate` (baseline only).
    """

    def __init__(
        self, *, observer: Observer | None = None, allow_insecure_plaintext: bool = False
    ) -> None:
        self._observer = observer
        self._allow_plaintext = allow_insecure_plaintext
        self._masking: MaskingServer | None = None
        self._leader: Leader | None = None

    def _admit(self, item: object, allowed: tuple[type, ...], route: str) -> None:
        if not isinstance(item, allowed):
            names = ", ".join(t.__name__ for t in allowed)
            raise ServerViewViolation(
                f"the server's {route} route accepts only {names}, got {type(item).__name__}"
            )
        if self._observer is not None:
            self._observer(item)

    def sum_insecure_plaintext(
        self, updates: Sequence[InsecurePlaintextUpdate]
    ) -> NDArray[np.float64]:
        """Add plaintext updates (the insecure baseline: the server sees every update).

        Raises:
            ServerViewViolation: if this server was not built for the plaintext baseline, or
                an item is not an :class:`InsecurePlaintextUpdate`.
        """
        if not self._allow_plaintext:
            raise ServerViewViolation(
                "this server refuses plaintext updates; only plain_insecure runs accept them"
            )
        if not updates:
            raise InvalidArgument("nothing to sum")
        for update in updates:
            self._admit(update, (InsecurePlaintextUpdate,), "plaintext")
        total = np.zeros_like(updates[0].values, dtype=np.float64)
        for update in updates:
            total += update.values
        return total

    # -- SecAgg+ masking (drives secagg.masking.Server, one method per protocol round) ------

    def masking_begin(self, config: MaskingConfig) -> None:
        """Start a masking round with the configuration announced to the cohort."""
        if not isinstance(config, MaskingConfig):
            raise InvalidArgument("masking_begin needs a MaskingConfig")
        self._masking = MaskingServer(config)

    def _masking_server(self) -> MaskingServer:
        if self._masking is None:
            raise InvalidArgument("no masking round in progress; call masking_begin first")
        return self._masking

    def masking_collect_keys(self, adverts: Sequence[AdvertiseKeys]) -> RosterViews:
        """Round 0: the clients' public keys in, each client's slice of the roster out."""
        for item in adverts:
            self._admit(item, (AdvertiseKeys,), "AdvertiseKeys")
        return self._masking_server().collect_keys(adverts)

    def masking_collect_shares(self, messages: Sequence[ShareKeys]) -> dict[int, ShareBundle]:
        """Round 1: encrypted shares in, one bundle per client out."""
        for item in messages:
            self._admit(item, (ShareKeys,), "ShareKeys")
        return self._masking_server().collect_shares(messages)

    def masking_collect_masked_inputs(self, messages: Sequence[MaskedInput]) -> ConsistencyRequest:
        """Round 2: masked vectors in, the survivor list out."""
        for item in messages:
            self._admit(item, (MaskedInput,), "MaskedInput")
        return self._masking_server().collect_masked_inputs(messages)

    def masking_collect_consistency(self, messages: Sequence[ConsistencyResponse]) -> UnmaskRequest:
        """Round 3: consistency responses in, the unmask request out."""
        for item in messages:
            self._admit(item, (ConsistencyResponse,), "ConsistencyResponse")
        return self._masking_server().collect_consistency(messages)

    def masking_consistency_request(self, client_id: int) -> ConsistencyRequest:
        """Round 3 request for one client (its neighbourhood's survivors when unsigned)."""
        return self._masking_server().consistency_request_for(client_id)

    def masking_unmask_request(self, client_id: int) -> UnmaskRequest:
        """Round 4 request for one client (its neighbourhood's part when unsigned)."""
        return self._masking_server().unmask_request_for(client_id)

    def masking_collect_unmask(self, messages: Sequence[UnmaskResponse]) -> RoundResult:
        """Round 4: one share per neighbour in, the sum mod 2^B of the survivors out."""
        for item in messages:
            self._admit(item, (UnmaskResponse,), "UnmaskResponse")
        server = self._masking_server()
        self._masking = None
        return server.collect_unmask(messages)

    def masking_abort(self) -> None:
        """Abandon the current masking round (too few survivors): nothing is unmasked."""
        self._masking = None

    # -- validated aggregation (the server is Prio3's leader, secagg.validated.Leader) --------

    def validated_begin(self, config: ValidatedConfig, verify_key: bytes) -> None:
        """Start a validated round: the configuration and the aggregators' verification key."""
        if not isinstance(config, ValidatedConfig):
            raise InvalidArgument("validated_begin needs a ValidatedConfig")
        self._leader = Leader(config, verify_key)

    def _validated_leader(self) -> Leader:
        if self._leader is None:
            raise InvalidArgument("no validated round in progress; call validated_begin first")
        return self._leader

    def validated_prepare(self, reports: Sequence[Report]) -> PrepareRequest:
        """The clients' reports in, the request for the helper out.

        A report holds the leader's share, the helper's sealed share and proof shares; the
        request carries, per report, the leader's verifier share.
        """
        for item in reports:
            self._admit(item, (Report,), "validated Report")
        return self._validated_leader().prepare(reports)

    def validated_finish_prepare(self, response: PrepareResponse) -> None:
        """The helper's verifier shares in; both aggregators now decide every report."""
        self._admit(response, (PrepareResponse,), "validated PrepareResponse")
        self._validated_leader().finish_prepare(response)

    def validated_collect(
        self, helper_share: AggregateShare, noise: NoiseSampler | None = None
    ) -> ValidatedResult:
        """The helper's (noised) share of the sum in; the sum of the valid reports out.

        With ``noise`` (central DP), the server adds its own noise to its share of the sum
        as the other aggregator did to its share, so neither knows the whole noise. Adding
        it to the combined sum instead is the same, the two shares being added in the field.
        """
        self._admit(helper_share, (AggregateShare,), "validated AggregateShare")
        leader = self._validated_leader()
        self._leader = None
        result = leader.collect(helper_share)
        if noise is None:
            return result
        draws = noise(len(result.sum))
        noised = [int(v) + int(e) for v, e in zip(result.sum, draws.tolist(), strict=True)]
        return ValidatedResult(noised, result.accepted, result.rejected)

    def validated_abort(self) -> None:
        """Abandon the current validated round (too few valid reports): nothing is summed."""
        self._leader = None

    # -- Paillier -----------------------------------------------------------------------------

    def paillier_sum(self, ciphertexts: Sequence[EncryptedVector]) -> EncryptedVector:
        """Add the clients' encrypted vectors homomorphically; the server cannot read them."""
        if not ciphertexts:
            raise InvalidArgument("nothing to sum")
        for item in ciphertexts:
            self._admit(item, (EncryptedVector,), "Paillier ciphertext")
        return EncryptedVector.sum(ciphertexts)

    def paillier_combine(
        self,
        verification: VerificationKeys,
        encrypted_sum: EncryptedVector,
        shares: Sequence[VectorDecryptionShare],
    ) -> NDArray[np.int64]:
        """Combine the committee's decryption shares of the sum into the summed integers.

        Each share carries a proof that its key holder used its real key share; invalid
        shares are excluded, and fewer than the threshold valid ones raise
        :class:`secagg.InsufficientShares`.
        """
        for item in shares:
            self._admit(item, (VectorDecryptionShare,), "decryption share")
        combined = combine_vector_shares(verification, encrypted_sum, shares)
        return np.asarray(combined.values, dtype=np.int64)
