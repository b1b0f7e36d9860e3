"""The ``validated`` backend: every client proves its update is bounded (Prio3, BBCGGI19).

Each selected client rounds its clipped update onto a fixed-point grid
(:class:`BoundedEncoding`) and sends one Prio3 report (draft-irtf-cfrg-vdaf-07, section 7,
over the bounded-L2 circuit of :mod:`secagg.validated`): the leader's additive share of
the encoded update, the helper's share sealed to the helper's key, and shares of a fully
linear proof (Boneh, Boyle, Corrigan-Gibbs, Gilboa, Ishai, CRYPTO 2019) that every
coordinate is in range and the squared L2 norm is at most the bound. The server plays the
leader (:class:`federated.server.AggregationServer`); :class:`SimulatedHelper` plays the
second, non-colluding aggregator, a separate object with its own X25519 key pair. The two
exchange verifier shares, drop every report whose proof fails, and add up the valid shares;
the server learns the sum of the valid updates and which clients were rejected, nothing
about any single update.

There is no recovery phase: a client that never uploads is simply absent, and one that
uploads is in the sum if (and only if) its proof verifies. The helper sends its share of
the sum only when at least the round's survivor threshold of reports are valid (DAP's
minimum batch size), so the server never learns the sum of fewer clients. Only the cohort's
uploads are summed, and a helper that aborts or sends what the leader refuses abandons the
round: nothing is released and neither aggregator keeps the round's state.

Central DP here trusts neither aggregator with the un-noised sum: each adds exact discrete
Gaussian noise (Canonne, Kamath, Steinke 2020) of the *whole* configured scale to its share
of the sum (:class:`AggregatorNoise`) before the shares are combined, so the released sum is
protected by either aggregator's noise alone, even when the other colludes with the analyst.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dp.events import DiscreteGaussian
from dp.mechanisms.samplers import sample_discrete_gaussian_sq
from federated._aggregation import AggregateResult, RoundInput, StageTimer
from federated.config import ValidatedSettings
from federated.errors import InvalidArgument
from secagg.encoding import stochastic_round
from secagg.errors import DeserializationError, InsecureParameters, ProtocolError
from secagg.errors import InvalidArgument as SecaggInvalidArgument
from secagg.validated import (
    AggregateShare,
    Client,
    Helper,
    HelperKeyPair,
    LeaderShare,
    PrepareRequest,
    PrepareResponse,
    Report,
    ValidatedConfig,
)
from secagg.validated import RoundResult as ValidatedResult

if TYPE_CHECKING:
    from federated.server import AggregationServer

__all__ = [
    "BoundedEncoding",
    "AggregatorNoise",
    "SimulatedHelper",
    "ValidatedAggregator",
    "client_report",
]

_VERIFY_KEY_BYTES = 16
_NORM_MARGIN = 1.0 + 2.0**-40  # covers float error in the clip and the bound's arithmetic
_MAX_SCALED = 2.0**61  # a cheater's values are clamped here before rounding (stays int64)


class BoundedEncoding:
    """Fixed-point integers for the bounded-L2 circuit, and the proven bound they meet.

    The scale ``s`` is the largest power of two with ``bound * s <= 2^(bits-1) - 1``, so
    every coordinate of a clipped update rounds into the signed ``bits``-bit range. Each
    coordinate is rounded stochastically (unbiased, :func:`secagg.encoding.stochastic_round`)
    and moves by less than one grid unit, so the integers have
    ``||v|| < bound * s + sqrt(length)``; :attr:`norm_bound` is the square of that, rounded
    up with a margin for float error. It is what the client proves and the aggregators
    enforce, and its square root is the L2 sensitivity of the integer sum.

    Args:
        bits: signed bits per coordinate.
        length: coordinates per update.
        bound: the L2 bound of a clipped contribution (the clip norm, or its weighted bound).

    Raises:
        InvalidArgument: ``bits`` so few that the rounding's reach ``sqrt(length)`` exceeds
            the bound's ``bound * s`` grid units (the proven norm would more than double).
    """

    def __init__(self, bits: int, length: int, bound: float) -> None:
        if not (math.isfinite(bound) and bound > 0):
            raise InvalidArgument("the contribution bound must be finite and > 0")
        if length < 1:
            raise InvalidArgument("the update needs at least one coordinate")
        self.bits = bits
        self.length = length
        self.bound = bound
        limit = (1 << (bits - 1)) - 1
        scale = 2.0 ** math.floor(math.log2(limit / bound))
        while bound * scale > limit:  # float log2 of an exact power of two may round up
            scale /= 2.0
        if bound * scale < math.sqrt(length):
            # The rounding's reach sqrt(length) would more than double the proven norm.
            raise InvalidArgument(
                f"{bits} bits give the bound {bound:g} only {bound * scale:g} grid units, "
                f"less than the rounding's sqrt({length}): use more bits"
            )
        self.scale = scale
        reach = bound * scale + math.sqrt(length)
        self.norm_bound = math.ceil(reach * reach * _NORM_MARGIN) + 1

    @property
    def step(self) -> float:
        """The grid step ``1 / s``: a client's rounding moves each coordinate less than it."""
        return 1.0 / self.scale

    @property
    def sensitivity(self) -> float:
        """An upper bound on ``sqrt(norm_bound)``: one accepted report's L2 effect on the sum."""
        return math.nextafter(math.sqrt(self.norm_bound), math.inf)

    def encode(self, vector: NDArray[np.float64]) -> list[int]:
        """Client side: the scaled, stochastically rounded coordinates.

        A clipped vector lands inside the coordinate range and the norm bound; anything
        else (a client that skipped clipping) is clamped to the coordinate range only, and
        may exceed the norm bound (:func:`client_report` then cannot prove it).
        """
        limit = float(1 << (self.bits - 1))
        scaled = np.clip(
            np.asarray(vector, dtype=np.float64) * self.scale, -_MAX_SCALED, _MAX_SCALED
        )
        rounded = np.clip(stochastic_round(scaled), -limit, limit - 1)
        return [int(v) for v in rounded]

    def decode(self, total: Sequence[int]) -> NDArray[np.float64]:
        """Server side: the (noised) integer sum back to floats."""
        return np.asarray([int(v) for v in total], dtype=np.float64) / self.scale


@dataclass(frozen=True, slots=True)
class AggregatorNoise:
    """One aggregator's noise: exact discrete Gaussian ``N_Z(0, (z * sqrt(B))^2)`` per coordinate.

    Each aggregator adds this whole noise to its share of the integer sum, so the released
    sum stays ``z``-private by one aggregator's noise alone when the other reveals its own
    (the accountant's event is that of one share's noise; the second share's independent
    noise is post-processing). The scale does not depend on how many clients are in the
    sum, so the event holds under every neighbouring relation.

    Attributes:
        noise_multiplier: ``z``: the noise's scale in units of the sensitivity.
        norm_bound: ``B``, the proven bound on one report's squared L2 norm (grid units).
        dimension: coordinates per sum.
    """

    noise_multiplier: float
    norm_bound: int
    dimension: int

    def __post_init__(self) -> None:
        if not 2**-80 <= self.sigma_squared <= 2**80:
            raise InvalidArgument("the aggregator noise is outside the sampler's range")

    @property
    def sigma_squared(self) -> Fraction:
        """``sigma^2 = z^2 B`` in grid units, exactly."""
        return Fraction(self.noise_multiplier) ** 2 * self.norm_bound

    @property
    def event(self) -> DiscreteGaussian:
        """One share's noise on the integer sum (sigma rounded down, sensitivity up)."""
        sigma = math.nextafter(math.sqrt(self.sigma_squared), 0.0)
        sensitivity = math.nextafter(math.sqrt(self.norm_bound), math.inf)
        return DiscreteGaussian(sigma=sigma, sensitivity_l2=sensitivity)

    def sample(self, size: int) -> NDArray[np.int64]:
        """Fresh noise for one share of the sum (OS CSPRNG, exact sampler)."""
        return sample_discrete_gaussian_sq(self.sigma_squared, size)


def _forged_report(config: ValidatedConfig, values: Sequence[int]) -> Report:
    """What a client that skipped clipping sends: shares of its update, a proof of another.

    It cannot prove its out-of-bound update ``values``, so it proves a bounded one ``w``
    (``values`` scaled into the norm bound) and then adds ``values - w`` to the leader's
    measurement share: the shares now add up to the poison while the proof and the joint
    randomness are those of ``w``. Only the public API is used, so this holds whatever
    circuit the configuration runs; the aggregators reject the report, except with the
    soundness error (a client that also recomputed its joint randomness would be left
    with a false proof, the case the FLP's soundness bound covers).
    """
    norm = math.sqrt(sum(v * v for v in values))
    factor = min(1.0, math.sqrt(config.norm_bound) / norm) * (1.0 - 2.0**-30) if norm else 0.0
    bounded = [int(v * factor) for v in values]  # towards zero: inside the bound and range
    honest = Client(config).report(bounded)
    vdaf = config.vdaf
    share = vdaf.decode_input_share(0, honest.leader_share)
    if not isinstance(share, LeaderShare):
        raise InvalidArgument("the leader's input share carries its vectors")
    field = vdaf.field
    shift = [v - w for v, w in zip(values, bounded, strict=True)]
    shift += [0] * (len(share.meas) - len(shift))
    meas = field.add(share.meas, field.reduce_ints(shift))
    forged = vdaf.encode_input_share(LeaderShare(meas, share.proof, share.blind))
    return dataclasses.replace(honest, leader_share=forged)


def client_report(
    config: ValidatedConfig, encoding: BoundedEncoding, contribution: NDArray[np.float64]
) -> Report:
    """Client side: encode the contribution and prove it bounded.

    A clipped contribution always gets an honest report. A contribution beyond the bound
    (a client that skipped clipping, as the clients of :mod:`federated.adversary` do) cannot
    be proven, so it gets the forged report such a client would send, which is rejected.
    """
    values = encoding.encode(contribution)
    if sum(v * v for v in values) <= encoding.norm_bound:
        return Client(config).report(values)
    return _forged_report(config, values)


class SimulatedHelper:
    """The helper aggregator, played in-process as a party separate from the server.

    It holds its own X25519 key pair (clients seal its shares to it; the server cannot
    open them), prepares and decides every report the server relays, adds its noise to its
    share of the sum, and sends that share only when enough reports are valid.

    Args:
        noise: its noise under central DP, or ``None``.
    """

    def __init__(self, noise: AggregatorNoise | None) -> None:
        self._keys = HelperKeyPair()
        self._noise = noise
        self._helper: Helper | None = None
        self.valid_reports = 0
        """How many reports the last round's decisions accepted (known to both aggregators)."""

    @property
    def public_key(self) -> bytes:
        """The key clients seal the helper's input shares to."""
        return self._keys.public

    def begin(self, config: ValidatedConfig, verify_key: bytes) -> None:
        """Start a round (the verification key is shared with the leader, not the clients)."""
        # The round's survivor threshold is enforced in aggregate_share below (it is known
        # only then), so the protocol object has no minimum of its own here.
        self._helper = Helper(config, verify_key, self._keys, min_batch_size=0)

    def _party(self) -> Helper:
        if self._helper is None:
            raise InvalidArgument("no validated round in progress; call begin first")
        return self._helper

    def prepare(self, request: PrepareRequest) -> PrepareResponse:
        """Query its shares of every relayed report, decide, answer with its prep shares."""
        return self._party().prepare(request.to_bytes())

    def aggregate_share(self, minimum: int) -> AggregateShare | None:
        """Its noised share of the sum of the valid reports, or ``None`` below ``minimum``."""
        helper = self._party()
        self._helper = None
        share = helper.aggregate_share()
        self.valid_reports = share.count
        if share.count < minimum:
            return None
        if self._noise is None:
            return share
        field = helper.config.vdaf.field
        own = field.decode_vec(share.share)
        noised = field.add(own, field.reduce_ints(self._noise.sample(len(own)).tolist()))
        return AggregateShare(
            share.config_digest,
            share.round_number,
            share.count,
            share.reports_digest,
            helper.config.vdaf.encode_agg_share(noised),
        )

    def abort(self) -> None:
        """Forget the current round."""
        self._helper = None


class ValidatedAggregator:
    """Sum the cohort's updates under Prio3 validation, rejecting unproven ones.

    Args:
        server: the run's server, which plays the leader.
        settings: bits, field and proofs.
        encoding: the fixed-point grid and the proven norm bound.
        noise: central DP: each aggregator's noise (``None`` without DP).

    Raises:
        InvalidArgument: the settings miss the ``2^-64`` soundness target, or cannot
            encode the bound.
    """

    name = "validated"

    def __init__(
        self,
        server: AggregationServer,
        settings: ValidatedSettings,
        encoding: BoundedEncoding,
        noise: AggregatorNoise | None = None,
    ) -> None:
        self._server = server
        self._settings = settings
        self._encoding = encoding
        self._noise = noise
        self._helper = SimulatedHelper(noise)
        self._config(0)  # refuse weak or ill-fitting parameters before any client trains

    def _config(self, round_number: int) -> ValidatedConfig:
        try:
            return ValidatedConfig(
                length=self._encoding.length,
                bits=self._settings.bits,
                norm_bound=self._encoding.norm_bound,
                helper_public_key=self._helper.public_key,
                round_number=round_number,
                field=self._settings.field,
                proofs=self._settings.proofs,
                circuit=self._settings.circuit,
            )
        except (InsecureParameters, SecaggInvalidArgument) as exc:
            raise InvalidArgument(f"validated aggregation settings: {exc}") from exc

    def client_codec(self, cohort_size: int) -> None:
        """Clients send float contributions; the backend proves them on their side."""
        del cohort_size

    def _check_no_wrap(self, config: ValidatedConfig, count: int) -> None:
        """The centred sum and both noises stay far inside ``(-p/2, p/2)``."""
        reach = count * (1 << (self._settings.bits - 1))
        if self._noise is not None:
            reach += 2 * 64 * math.ceil(math.sqrt(self._noise.sigma_squared))
        if 2 * reach >= config.vdaf.field.MODULUS // 2:
            raise InvalidArgument("the sum could wrap around the field; use Field128")

    def _collect(self, share: AggregateShare) -> ValidatedResult:
        """The leader's sum from the helper's share, with the leader's own noise under DP."""
        leader_noise = None if self._noise is None else self._noise.sample
        return self._server.validated_collect(share, leader_noise)

    def aggregate(self, round_input: RoundInput, timer: StageTimer) -> AggregateResult:
        """Prove (clients), verify (leader and helper), add the valid shares, decode."""
        # Only the cohort's uploads reach here (RoundInput refuses any other client's).
        senders = tuple(sorted(round_input.contributions))
        if len(senders) < round_input.threshold:
            return AggregateResult(None, (), 0, note="fewer reports than the threshold")
        config = self._config(round_input.round_number)
        self._check_no_wrap(config, len(senders))
        with timer.stage("prove"):  # client side: each client encodes, proves and seals
            reports = [
                client_report(config, self._encoding, round_input.contributions[c]) for c in senders
            ]
            bytes_sent = sum(len(r.to_bytes()) for r in reports)
        verify_key = os.urandom(_VERIFY_KEY_BYTES)
        server, helper = self._server, self._helper
        server.validated_begin(config, verify_key)
        helper.begin(config, verify_key)
        try:
            with timer.stage("verify"):
                request = server.validated_prepare(reports)
                server.validated_finish_prepare(helper.prepare(request))
            with timer.stage("aggregate"):
                share = helper.aggregate_share(round_input.threshold)
                result = None if share is None else self._collect(share)
        except (ProtocolError, DeserializationError) as exc:
            # A helper that aborts or answers what the leader refuses (AggregatorMismatch,
            # WrongSession, unparsable bytes): the round is abandoned, nothing is released.
            server.validated_abort()
            helper.abort()
            return AggregateResult(
                None,
                (),
                bytes_sent,
                note=f"round abandoned: the aggregators' exchange failed ({exc})",
            )
        if result is None:  # the helper kept its share
            server.validated_abort()
            valid = helper.valid_reports
            return AggregateResult(
                None,
                (),
                bytes_sent,
                note=(
                    f"{valid} valid reports, fewer than the threshold "
                    f"{round_input.threshold}: the helper kept its share, nothing was released"
                ),
                rejected=len(senders) - valid,
            )
        rejected_ids = tuple(senders[r.index] for r in result.rejected)
        survivors = tuple(c for c in senders if c not in rejected_ids)
        with timer.stage("decode"):
            total = self._encoding.decode(result.sum)
        note = ""
        if result.rejected:
            reasons = sorted({r.reason.name for r in result.rejected})
            note = f"{len(result.rejected)} report(s) rejected ({', '.join(reasons)})"
        return AggregateResult(
            total,
            survivors,
            bytes_sent,
            note=note,
            rejected=len(rejected_ids),
            rejected_clients=rejected_ids,
        )
