"""The parameters of one masking round, sent to each client with the first stage.

A :class:`MaskingPlan` is the :class:`secagg.masking.MaskingConfig` of the round, the id
the recipient plays in it, and the fixed-point encoding (clip, scale) every client must
use. It travels as typed fields of a Flower :class:`~flwr.app.ConfigRecord` with a version
field, and the client rebuilds and re-validates every object from it, so a malicious server
cannot make a client use a threshold below half a neighbourhood or an encoding that wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from flwr.app import ConfigRecord
from numpy.typing import NDArray

from dp.errors import DPError
from dp.events import DpEvent
from dp.mechanisms.distributed import DistributedConfig, decode_aggregate, encode_update
from federated.flower._envelope import get_bytes, get_float, get_int, get_int_list, get_str
from federated.flower.errors import MalformedMessage
from secagg.encoding import FixedPointEncoding
from secagg.errors import SecAggError
from secagg.masking import MaskingConfig

__all__ = ["PLAN_VERSION", "MaskingPlan", "fixed_point_scale"]

PLAN_VERSION = 2
"""2: ``dp_colluders`` added; ``dp_n_min`` counts honest survivors (at most the threshold)."""


def fixed_point_scale(modulus_bits: int, n_clients: int, clip: float) -> float:
    """The largest power-of-two scale whose sum over ``n_clients`` cannot wrap mod ``2^B``.

    Each entry of a clipped update has magnitude at most ``clip``; after scaling and
    rounding at most ``ceil(clip * scale)``; the sum of ``n_clients`` of them must stay
    below ``2^(B-1)`` (:func:`secagg.encoding.check_no_wrap`).
    """
    room = (2 ** (modulus_bits - 1) - 1) / n_clients - 1
    if room < clip:
        raise MalformedMessage(
            f"{n_clients} clients do not fit in {modulus_bits} bits at clip {clip}"
        )
    return float(2 ** math.floor(math.log2(room / clip)))


@dataclass(frozen=True, slots=True)
class MaskingPlan:
    """What a client needs to take part in one masking round.

    Attributes:
        config: the SecAgg+ configuration shared by all parties.
        client_id: the id the recipient plays in ``config``.
        clip: L2 clipping bound of an update.
        scale: fixed-point scale of the encoding (without DP).
        dp: the distributed-DP parameters (Kairouz et al. 2021), or ``None``. Its ``n_min``
            is the fewest honest survivors a released round can have: the threshold minus
            ``colluders``, so each noise share is sized for them alone.
        rotation_seed: the round's public 32-byte seed of the random rotation (DP only).
        colluders: clients assumed to collude with the server (DP only): their noise
            shares count for nothing in the accounting.
    """

    config: MaskingConfig
    client_id: int
    clip: float
    scale: float
    dp: DistributedConfig | None = None
    rotation_seed: bytes = b""
    colluders: int = 0

    def encode(self, update: NDArray[np.float64]) -> NDArray[np.uint64]:
        """Client side: clip, encode (and, under DP, rotate and add a noise share)."""
        if self.dp is not None:
            return encode_update(update, self.dp, self.rotation_seed)
        return self.encoding().encode(update)

    def decode(
        self, total: NDArray[np.uint64], survivors: int
    ) -> tuple[NDArray[np.float64], DpEvent | None]:
        """Server side: the float sum of ``survivors`` encodings and its DP event.

        The event is that of the honest survivors' noise shares: ``survivors - colluders``.
        """
        if self.dp is not None:
            decoded = decode_aggregate(total, self.dp, self.rotation_seed, survivors)
            return decoded.values, self.dp.event(survivors - self.colluders)
        return self.encoding().decode(total), None

    def encoding(self) -> FixedPointEncoding:
        """The fixed-point encoding; refuses (typed error) parameters whose sum could wrap."""
        return FixedPointEncoding(
            modulus_bits=self.config.modulus_bits,
            n_clients=len(self.config.client_ids),
            clip=self.clip,
            scale=self.scale,
        )

    def for_client(self, client_id: int) -> MaskingPlan:
        """The same plan addressed to another client."""
        return MaskingPlan(
            self.config,
            client_id,
            self.clip,
            self.scale,
            self.dp,
            self.rotation_seed,
            self.colluders,
        )

    def to_record(self) -> ConfigRecord:
        """Typed fields of a Flower ConfigRecord."""
        cfg = self.config
        return ConfigRecord(
            {
                "plan_version": PLAN_VERSION,
                "client_id": self.client_id,
                "client_ids": list(cfg.client_ids),
                "threshold": cfg.threshold,
                "vector_length": cfg.vector_length,
                "modulus_bits": cfg.modulus_bits,
                "neighbours": -1 if cfg.neighbours is None else cfg.neighbours,
                "round_number": cfg.round_number,
                "clip": self.clip,
                "scale": self.scale,
                "dp_noise": "none" if self.dp is None else self.dp.noise,
                "dp_dimension": 0 if self.dp is None else self.dp.dimension,
                "dp_noise_multiplier": 0.0 if self.dp is None else self.dp.noise_multiplier,
                "dp_n_min": 0 if self.dp is None else self.dp.n_min,
                "dp_scale": 0.0 if self.dp is None else self.dp.scale,
                "rotation_seed": self.rotation_seed,
                "dp_colluders": self.colluders,
            }
        )

    @classmethod
    def from_record(cls, record: ConfigRecord) -> MaskingPlan:
        """Parse and validate a plan (configuration and encoding are rebuilt and checked).

        Raises:
            MalformedMessage: on a wrong version, field type, or invalid parameters.
        """
        if get_int(record, "plan_version") != PLAN_VERSION:
            raise MalformedMessage("unsupported masking plan version")
        neighbours = get_int(record, "neighbours")
        try:
            config = MaskingConfig(
                client_ids=tuple(get_int_list(record, "client_ids")),
                threshold=get_int(record, "threshold"),
                vector_length=get_int(record, "vector_length"),
                modulus_bits=get_int(record, "modulus_bits"),
                neighbours=None if neighbours == -1 else neighbours,
                round_number=get_int(record, "round_number"),
            )
            clip = get_float(record, "clip")
            noise = get_str(record, "dp_noise")
            dp = None
            if noise != "none":
                dp = DistributedConfig(
                    dimension=get_int(record, "dp_dimension"),
                    l2_clip=clip,
                    noise_multiplier=get_float(record, "dp_noise_multiplier"),
                    n_min=get_int(record, "dp_n_min"),
                    modulus_bits=config.modulus_bits,
                    scale=get_float(record, "dp_scale"),
                    noise=noise,  # type: ignore[arg-type]
                )
                if dp.padded_dimension != config.vector_length:
                    raise MalformedMessage("the DP dimension does not match the vector length")
                # Each share is sized for n_min honest survivors; a round may release the
                # sum of only `threshold` shares, so a larger n_min would leave it below
                # the target noise.
                if dp.n_min > config.threshold or dp.noise_multiplier <= 0:
                    raise MalformedMessage("the plan's noise is below the agreed minimum")
            colluders = get_int(record, "dp_colluders")
            if (
                colluders < 0
                or (dp is None and colluders)
                or (dp is not None and dp.n_min + colluders > config.threshold)
            ):
                raise MalformedMessage("the plan's colluder count is inconsistent")
            seed = get_bytes(record, "rotation_seed")
            if (dp is None) != (seed == b"") or (seed and len(seed) != 32):
                raise MalformedMessage("the rotation seed must be 32 bytes exactly under DP")
            plan = cls(
                config,
                get_int(record, "client_id"),
                clip,
                get_float(record, "scale"),
                dp,
                seed,
                colluders,
            )
            if plan.client_id not in config.client_ids:
                raise MalformedMessage("the plan's client id is not in its configuration")
            if dp is None:
                plan.encoding()
        except (SecAggError, DPError) as exc:
            raise MalformedMessage(f"invalid masking plan: {exc}") from exc
        return plan
