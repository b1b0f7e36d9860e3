"""A simulated adversary: a fraction of the clients poison the model.

Clipping runs on the client, so a malicious client simply skips it. Under secure
aggregation (SecAgg+ masking, Paillier) the server never sees an update and cannot check
it, so the malicious client can put any integer the wire format carries into the sum. This
module models that faithfully, at the level of the encoded integers, for every backend:

* ``plain_insecure``: the unclipped float update is sent as it is.
* ``masking`` with the fixed-point codec: the unclipped update is scaled by the round's
  public scale and rounded, with no clip. The codec leaves three quarters of the ring
  ``Z_{2^B}`` free above the honest clients' worst-case sum, and the ``m`` attackers of a
  round share it: each saturates its entries at ``+-floor(2^(B-2) / m)`` (in units of the
  grid step: ``+-n C / m`` per entry, for ``n`` clients and clip bound ``C``), the largest
  value whose sum never wraps into the opposite sign. Integers beyond would wrap modulo
  ``2^B`` and could cancel each other, which the attackers avoid.
* ``masking`` with distributed DP: the update is encoded as the mod-``2^B`` sum of ``k``
  honest encodings of ``update / k`` (``k`` the least that brings each part inside the clip
  bound), i.e. the integers of the unclipped update (with ``k`` noise shares, which only
  hinders the attacker).
* ``paillier``: each entry is clamped to the range one plaintext slot accepts,
  ``+-(2^(value_bits - 1) - 1) / 2^scale_bits`` (the packing's own limit, which is
  ``value_bits`` wide where an honest entry needs about ``log2(C * 2^scale_bits)`` bits); a
  malicious client that packed its plaintext by hand could also use the slot's headroom.
* ``validated``: the unclipped float update goes to the backend's client step, which puts
  it on the grid (clamped to the ``bits`` range only) and, unable to prove it bounded,
  sends what such a client would: shares of the poison with the proof of a bounded update
  (:func:`federated._validated.client_report`). The aggregators reject it, except with the
  soundness error.
* a codec of another backend that offers ``encode_unchecked(vector)`` (the encoding a
  client produces when it ignores the bound, :class:`UncheckedEncoder`) is used as such.

Three attacks (:class:`Attack`), each on the client's own trained update ``delta`` at the
global parameters ``theta``:

* ``SCALE``: ``factor * delta`` (default factor 10): boosting, as in Bhagoji et al. 2019
  ("Analyzing federated learning through an adversarial lens", explicit boosting).
* ``FLIP``: ``-factor * delta`` (default 1): the sign-flipping attack (Li, Xu, Chen,
  Giannakis, Ling 2019, "RSA: Byzantine-robust stochastic aggregation methods").
* ``REPLACE``: model replacement (Bagdasaryan, Veit, Hua, Estrin, Shmatikov 2020, "How to
  backdoor federated learning", section 4.2): ``gamma * (X - theta)`` where ``X`` is the
  model the attacker wants (``target``; without one, the client's own trained model
  ``theta + delta``) and ``gamma = n / (eta * m)`` boosts it so that FedAvg's
  ``theta + (eta / n) * sum`` lands on ``X`` (``n`` the round's cohort, ``eta`` the server
  learning rate, ``m`` the attackers in the round, which collude and share the boost);
  ``factor`` overrides ``gamma``.

The malicious clients are drawn once per run, uniformly without replacement with the OS
CSPRNG (:class:`secrets.SystemRandom`), and recorded in :attr:`federated.History.adversary`
(with the number of attackers in each round's sum on every
:class:`federated.RoundRecord`), so a poisoning experiment can be audited afterwards. The
adversary is a simulation knob of :func:`federated.run`; the Flower integration does not
read it.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from federated.errors import InvalidArgument

if TYPE_CHECKING:
    from federated._codecs import IntegerCodec
    from federated.config import FederatedConfig

__all__ = [
    "Attack",
    "Adversary",
    "AdversaryRecord",
    "MaliciousStep",
    "UncheckedEncoder",
    "choose_malicious",
    "poison",
    "encode_unchecked",
    "paillier_entry_limit",
]

DEFAULT_FACTORS: Mapping[str, float] = {"scale": 10.0, "flip": 1.0}
"""Default ``factor`` of the scale and flip attacks (replace defaults to ``n / (eta m)``)."""

_MAX_REPEATS = 1 << 16
"""Most honest encodings a malicious distributed-DP client sums (beyond: it saturates)."""


class Attack(str, enum.Enum):
    """What a malicious client sends instead of its clipped update."""

    SCALE = "scale"
    FLIP = "flip"
    REPLACE = "replace"


@dataclass(frozen=True, slots=True)
class Adversary:
    """Which clients are malicious, and how they poison their updates.

    Attributes:
        fraction: the share of the population that is malicious, in [0, 1]:
            ``ceil(fraction * population)`` clients (a positive fraction never rounds down
            to no attacker), drawn once per run with the OS CSPRNG.
            Ignored when ``clients`` is given.
        attack: the attack (:class:`Attack` or its value).
        factor: the scale (``SCALE``, default 10), the scale of the flipped update
            (``FLIP``, default 1), or the boost ``gamma`` (``REPLACE``, default
            ``n / (eta m)``); finite and > 0.
        target: ``REPLACE`` only: the flat parameters ``X`` the attackers want the model to
            become (e.g. a backdoored model they trained offline); ``None`` replaces with
            each attacker's own trained model.
        clients: explicit malicious client ids (tests, reproductions of a recorded run);
            ``None`` draws ``fraction`` of the population.
    """

    fraction: float = 0.1
    attack: Attack = Attack.SCALE
    factor: float | None = None
    target: NDArray[np.float64] | None = field(default=None, compare=False)
    clients: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fraction, bool) or not isinstance(self.fraction, (int, float)):
            raise InvalidArgument("Adversary.fraction must be a number in [0, 1]")
        if not 0.0 <= float(self.fraction) <= 1.0:
            raise InvalidArgument("Adversary.fraction must be in [0, 1]")
        try:
            attack = Attack(self.attack)
        except ValueError:
            raise InvalidArgument(
                f"Adversary.attack must be one of {[a.value for a in Attack]}, got {self.attack!r}"
            ) from None
        object.__setattr__(self, "attack", attack)
        if self.factor is not None and (
            isinstance(self.factor, bool)
            or not isinstance(self.factor, (int, float))
            or not math.isfinite(self.factor)
            or self.factor <= 0
        ):
            raise InvalidArgument("Adversary.factor must be None or finite and > 0")
        if self.target is not None:
            if attack is not Attack.REPLACE:
                raise InvalidArgument("Adversary.target applies to the replace attack only")
            try:
                raw = np.asarray(self.target)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(f"Adversary.target is not a vector: {exc}") from exc
            if raw.dtype.kind not in "iuf" or raw.ndim != 1 or raw.size == 0:
                raise InvalidArgument("Adversary.target must be a non-empty real 1-D vector")
            target = np.array(raw, dtype=np.float64)
            if not np.all(np.isfinite(target)):
                raise InvalidArgument("Adversary.target holds NaN or Inf")
            target.flags.writeable = False
            object.__setattr__(self, "target", target)
        if self.clients is not None:
            ids = tuple(self.clients)
            if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in ids):
                raise InvalidArgument("Adversary.clients must be client ids (ints)")
            if any(c < 0 for c in ids) or len(set(ids)) != len(ids):
                raise InvalidArgument("Adversary.clients must be distinct ids >= 0")
            object.__setattr__(self, "clients", tuple(sorted(int(c) for c in ids)))

    def count(self, population: int) -> int:
        """How many of ``population`` clients are malicious."""
        if self.clients is not None:
            return len(self.clients)
        # ceil, not round: a positive fraction of a small population must not silently
        # become no attacker at all (round(0.05 * 10) == 0); a product within float error
        # of an integer (0.1 * 30 = 3.0000000000000004) is that integer.
        wanted = self.fraction * population
        nearest = round(wanted)
        exact = math.isclose(wanted, nearest, rel_tol=1e-12, abs_tol=0.0)
        return min(population, nearest if exact else math.ceil(wanted))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the target as its length and L2 norm, not its values)."""
        return {
            "fraction": float(self.fraction),
            "attack": self.attack.value,
            "factor": self.factor,
            "target": None
            if self.target is None
            else {"length": int(self.target.size), "l2_norm": float(np.linalg.norm(self.target))},
            "clients": None if self.clients is None else list(self.clients),
        }


@dataclass(frozen=True, slots=True)
class AdversaryRecord:
    """What a run's adversary was, and whom it controlled (:attr:`federated.History.adversary`).

    Attributes:
        adversary: the configuration.
        malicious: the ids of the malicious clients, sorted.
    """

    adversary: Adversary
    malicious: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {**self.adversary.to_dict(), "malicious": list(self.malicious)}


def choose_malicious(adversary: Adversary, population: int) -> tuple[int, ...]:
    """The malicious client ids of a run: the given ones, or a uniform draw (OS CSPRNG).

    Raises:
        InvalidArgument: a given id is not in ``range(population)``.
    """
    if population < 0:
        raise InvalidArgument("population must be >= 0")
    if adversary.clients is not None:
        if any(c >= population for c in adversary.clients):
            raise InvalidArgument(
                f"Adversary.clients names ids beyond the population of {population}"
            )
        return adversary.clients
    chosen = secrets.SystemRandom().sample(range(population), adversary.count(population))
    return tuple(sorted(chosen))


@dataclass(frozen=True, slots=True)
class MaliciousStep:
    """One malicious client's round: the attack and what the attacker knows of the round.

    Picklable, so it travels with the client's task to an executor's worker.

    Attributes:
        adversary: the attack.
        cohort_size: ``n``, the round's cohort size (public in every protocol).
        attackers: ``m``, how many malicious clients send this round (they collude).
        learning_rate: ``eta``, the server learning rate (public).
        weighted: whether contributions carry an example weight (``Weighting.EXAMPLES``);
            a malicious client then claims the largest weight, 1.
        entry_limit: the largest magnitude an entry can have on the wire (Paillier), or
            ``None`` (no limit before encoding).
    """

    adversary: Adversary
    cohort_size: int
    attackers: int
    learning_rate: float
    weighted: bool = False
    entry_limit: float | None = None

    def contribution(
        self, delta: NDArray[np.float64], parameters: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The malicious, unclipped contribution for the client's trained ``delta``."""
        out = poison(
            self.adversary,
            delta,
            parameters,
            cohort_size=self.cohort_size,
            attackers=self.attackers,
            learning_rate=self.learning_rate,
        )
        if self.weighted:
            out = np.concatenate([out, [1.0]])
        if self.entry_limit is not None:
            np.clip(out, -self.entry_limit, self.entry_limit, out=out)
        return out


def poison(
    adversary: Adversary,
    delta: NDArray[np.float64],
    parameters: NDArray[np.float64],
    *,
    cohort_size: int,
    attackers: int,
    learning_rate: float,
) -> NDArray[np.float64]:
    """The poisoned float update of one malicious client (see the module docstring).

    Args:
        adversary: the attack.
        delta: the client's own trained update (local minus global parameters).
        parameters: the global parameters ``theta`` of the round.
        cohort_size: ``n``, the round's cohort size.
        attackers: ``m`` (>= 1), the malicious clients sending this round.
        learning_rate: ``eta``, the server learning rate.

    Raises:
        InvalidArgument: a target of the wrong length, or ``m`` or ``n`` below 1.
    """
    if cohort_size < 1 or attackers < 1:
        raise InvalidArgument("cohort_size and attackers must be >= 1")
    attack = adversary.attack
    if attack is Attack.SCALE or attack is Attack.FLIP:
        factor = adversary.factor or DEFAULT_FACTORS[attack.value]
        sign = 1.0 if attack is Attack.SCALE else -1.0
        return np.asarray(sign * factor * delta, dtype=np.float64)
    gamma = adversary.factor or cohort_size / (learning_rate * attackers)
    if adversary.target is None:
        return np.asarray(gamma * delta, dtype=np.float64)
    if adversary.target.shape != parameters.shape:
        raise InvalidArgument(
            f"Adversary.target has length {adversary.target.size}, the model {parameters.size}"
        )
    return np.asarray(gamma * (adversary.target - parameters), dtype=np.float64)


@runtime_checkable
class UncheckedEncoder(Protocol):
    """A codec that can say what a client ignoring the bound would send (see module doc)."""

    def encode_unchecked(self, vector: NDArray[np.float64]) -> NDArray[np.uint64]:
        """The encoding of ``vector`` with no clipping and no norm check."""
        ...


def encode_unchecked(
    codec: IntegerCodec, vector: NDArray[np.float64], attackers: int = 1
) -> NDArray[np.uint64]:
    """What a malicious client puts on the wire for ``vector`` under ``codec`` (no clipping).

    Args:
        codec: the round's codec.
        vector: the poisoned float contribution.
        attackers: ``m``, the colluding attackers of the round, who share the ring's
            headroom (fixed-point codec; see the module docstring).

    Raises:
        InvalidArgument: a codec the adversary cannot model, or ``attackers`` below 1.
    """
    if attackers < 1:
        raise InvalidArgument("attackers must be >= 1")
    from federated._codecs import FixedPointCodec
    from federated._distributed import DistributedCodec

    values = np.asarray(vector, dtype=np.float64)
    if isinstance(codec, UncheckedEncoder):
        return codec.encode_unchecked(values)
    if isinstance(codec, FixedPointCodec):
        room = float((1 << (codec.modulus_bits - 2)) // attackers)
        scaled = np.clip(np.rint(values / codec.step), -room, room).astype(np.int64)
        return _wrap(scaled, codec.modulus_bits)
    if isinstance(codec, DistributedCodec):
        norm = float(np.linalg.norm(values))
        parts = min(_MAX_REPEATS, max(1, math.ceil(norm / codec.config.l2_clip)))
        modulus = np.uint64((1 << codec.modulus_bits) - 1) if codec.modulus_bits < 64 else None
        total = np.zeros(codec.length, dtype=np.uint64)
        for _ in range(parts):
            total += codec.encode(values / parts)  # wraps modulo 2^64, then reduced
            if modulus is not None:
                total &= modulus
        return total
    raise InvalidArgument(f"the adversary cannot model the codec {type(codec).__name__}")


def _wrap(values: NDArray[np.int64], bits: int) -> NDArray[np.uint64]:
    words = values.astype(np.uint64)  # two's complement: exact modulo 2^64
    if bits < 64:
        words &= np.uint64((1 << bits) - 1)
    return words


def paillier_entry_limit(config: FederatedConfig) -> float:
    """The largest magnitude of one entry the Paillier packing accepts from a client."""
    from federated._codecs import weighted_bound
    from federated._paillier import value_bits
    from federated.config import Weighting

    settings = config.paillier
    bound = weighted_bound(config.clip_norm, config.weighting is Weighting.EXAMPLES)
    bits = value_bits(bound, settings.scale_bits)
    return float(2 ** (bits - 1) - 1) / float(2**settings.scale_bits)


def attackers_among(malicious: Collection[int], senders: Collection[int]) -> int:
    """How many of ``senders`` are malicious."""
    chosen = set(malicious)
    return sum(1 for c in senders if c in chosen)
