"""The common interface of the DP-FTRL noise strategies (matrix factorisations).

DP-FTRL releases the prefix sums ``A x`` of the per-round aggregates ``x_t`` through a
factorisation ``A = B C`` (Denisov, McMahan, Rush, Smith and Thakurta 2022; Kairouz et al.
2021 for the tree): the encoder ``C x`` is privatised with i.i.d. Gaussian noise ``z`` and
the decoder post-processes it. Equivalently, the server adds the correlated noise
``w = N z`` to round ``t``'s aggregated sum, ``w_t = (C^{-1} z)_t`` for a square lower-
triangular ``C`` (``N`` is a causal left inverse of ``C`` in general), and runs ordinary
FTRL/SGD on the noisy sums. Privacy depends on ``C`` through its sensitivity under the
participation schema; utility on ``A N`` through the expected error.

A :class:`Strategy` knows ``C`` and ``N`` for ``n`` rounds, computes both, and produces a
streaming :class:`NoiseStream` that draws ``w_t`` round by round from the CSPRNG without
materialising ``N``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from dp.errors import InvalidArgument, SerializationError
from dp.ftrl._gaussian import ByteSource, standard_normals
from dp.ftrl._sensitivity import (
    best_pattern_sum,
    generic_upper_bound,
    gram_pattern_value,
    strided_pattern,
)
from dp.ftrl._workload import apply_workload, check_kind, reduce_rows
from dp.ftrl.schema import ParticipationSchema

__all__ = ["STRATEGY_FORMAT_VERSION", "NoiseStream", "Strategy"]

STRATEGY_FORMAT_VERSION = 1
"""Version written into every serialised strategy; :meth:`Strategy.from_dict` refuses others."""

#: Largest noise vector a stream produces in one round (8 GiB of float64).
MAX_DIMENSION = 2**30

_REGISTRY: dict[str, type[Strategy]] = {}


def check_rounds(rounds: object) -> int:
    """``rounds`` as an int in ``[1, 100000]``."""
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)):
        raise InvalidArgument(f"rounds must be an int, got {type(rounds).__name__}")
    if not 1 <= int(rounds) <= 100_000:
        raise InvalidArgument(f"rounds must be in [1, 100000], got {rounds}")
    return int(rounds)


def float_vector(name: str, values: object, *, length: int | None = None) -> NDArray[np.float64]:
    """A finite 1-D float64 vector (refuses text, bool, complex and ragged input)."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        raise InvalidArgument(f"{name} must be a 1-D vector of reals") from None
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise InvalidArgument(f"{name} must be a 1-D vector of reals")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{name} must be finite")
    if length is not None and out.size != length:
        raise InvalidArgument(f"{name} must have {length} entries, got {out.size}")
    return out


class NoiseStream(abc.ABC):
    """Draws the correlated noise ``w_t`` to add to round ``t``'s aggregated sum, in order.

    ``next()`` returns a fresh float64 array of shape ``(dimension,)``; after ``rounds``
    calls the stream is exhausted and refuses further rounds, since the strategy's
    sensitivity and error only cover ``rounds`` rounds.
    """

    def __init__(
        self, rounds: int, dimension: object, noise_std: object, seed_source: ByteSource | None
    ) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)):
            raise InvalidArgument(f"dimension must be an int, got {type(dimension).__name__}")
        if not 1 <= int(dimension) <= MAX_DIMENSION:
            raise InvalidArgument(f"dimension must be in [1, 2**30], got {dimension}")
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float, np.floating)):
            raise InvalidArgument("noise_std must be a real number")
        if not (math.isfinite(float(noise_std)) and float(noise_std) >= 0.0):
            raise InvalidArgument(f"noise_std must be finite and >= 0, got {noise_std!r}")
        if seed_source is not None and not callable(seed_source):
            raise InvalidArgument("seed_source must be None or a callable returning random bytes")
        self.rounds = rounds
        self.dimension = int(dimension)
        self.noise_std = float(noise_std)
        self._source = seed_source
        self._round = 0

    @property
    def round(self) -> int:
        """The 0-based index of the round the next call to :meth:`next` serves."""
        return self._round

    @property
    @abc.abstractmethod
    def state_floats(self) -> int:
        """How many floats the stream keeps between rounds."""

    def _gaussian(self) -> NDArray[np.float64]:
        z = standard_normals(self.dimension, self._source)
        z *= self.noise_std
        return z

    def next(self) -> NDArray[np.float64]:
        """The noise for the next round.

        Raises:
            InvalidArgument: the stream already served all its rounds.
        """
        if self._round >= self.rounds:
            raise InvalidArgument(f"the noise stream is exhausted after {self.rounds} rounds")
        out = self._step()
        self._round += 1
        return out

    @abc.abstractmethod
    def _step(self) -> NDArray[np.float64]: ...


class Strategy(abc.ABC):
    """A factorisation of the prefix-sum workload over ``rounds`` rounds.

    Subclasses: :class:`~dp.ftrl.TreeAggregation`, :class:`~dp.ftrl.BandedStrategy`,
    :class:`~dp.ftrl.BLTStrategy`.
    """

    mechanism: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.mechanism:
            _REGISTRY[cls.mechanism] = cls

    def __init__(self, rounds: object) -> None:
        self._rounds = check_rounds(rounds)
        self._bounds_cache: dict[ParticipationSchema, tuple[float, float]] = {}

    @property
    def rounds(self) -> int:
        """The number of rounds ``n`` the strategy covers."""
        return self._rounds

    # --- the matrices -------------------------------------------------------------------

    @abc.abstractmethod
    def encoder_matrix(self) -> NDArray[np.float64]:
        """The encoder ``C`` (``m x n``) whose sensitivity is accounted."""

    @abc.abstractmethod
    def noise_matrix(self) -> NDArray[np.float64]:
        """``N`` (``n x m``, causal, ``N C = I``): round ``t`` gets ``(N z)_t``."""

    # --- privacy ------------------------------------------------------------------------

    def _check_schema(self, schema: ParticipationSchema) -> ParticipationSchema:
        if not isinstance(schema, ParticipationSchema):
            raise InvalidArgument(
                f"schema must be a ParticipationSchema, got {type(schema).__name__}"
            )
        if schema.rounds > self.rounds:
            raise InvalidArgument(
                f"the schema covers {schema.rounds} rounds but the strategy only {self.rounds}"
            )
        return schema

    def sensitivity_squared_bounds(self, schema: ParticipationSchema) -> tuple[float, float]:
        """``(lower, upper)`` bounds on the squared sensitivity; equal when it is exact.

        The default works from the Gram matrix: the lower bound is attained by sending one
        unit vector at every round of the best strided or column-norm pattern, the upper is
        :func:`~dp.ftrl._sensitivity.generic_upper_bound`. Subclasses override it with exact
        structured results.
        """
        schema = self._check_schema(schema)
        c = self.encoder_matrix()[:, : schema.rounds]
        gram = c.T @ c
        k, b = schema.effective_participations, schema.min_separation
        upper = generic_upper_bound(gram, k, b)
        _, diag_pattern = best_pattern_sum(np.diagonal(gram).copy(), k, b)
        lower = max(
            gram_pattern_value(gram, diag_pattern),
            gram_pattern_value(gram, strided_pattern(schema.rounds, k, b)),
        )
        if k == 1:  # one column: the largest column norm, whatever the signs
            upper = lower = float(np.max(np.diagonal(gram)))
        return lower, max(lower, upper)

    def sensitivity(self, schema: ParticipationSchema) -> float:
        """L2 sensitivity of ``C x`` for unit-clipped contributions under ``schema``.

        The maximum over participation patterns allowed by ``schema`` and unit vectors, or a
        proven upper bound on it where the maximum is not computed exactly
        (:meth:`sensitivity_is_exact` says which); never an under-estimate.

        Raises:
            InvalidArgument: ``schema`` is not a schema or covers more rounds than the strategy.
        """
        _, upper = self._cached_bounds(schema)
        return math.sqrt(upper)

    def sensitivity_is_exact(self, schema: ParticipationSchema) -> bool:
        """Whether :meth:`sensitivity` is the exact maximum rather than an upper bound."""
        lower, upper = self._cached_bounds(schema)
        return upper <= lower * (1.0 + 1e-9)

    def _cached_bounds(self, schema: ParticipationSchema) -> tuple[float, float]:
        """:meth:`sensitivity_squared_bounds`, memoised per schema (strategies are immutable)."""
        schema = self._check_schema(schema)
        if schema not in self._bounds_cache:
            self._bounds_cache[schema] = self.sensitivity_squared_bounds(schema)
        return self._bounds_cache[schema]

    # --- utility ------------------------------------------------------------------------

    def _row_errors(self, beta: float) -> NDArray[np.float64]:
        """Per-round squared error of the workload with momentum ``beta`` at unit noise."""
        product = apply_workload(self.noise_matrix(), beta)
        out: NDArray[np.float64] = np.einsum("ij,ij->i", product, product)
        return out

    def expected_error(
        self,
        kind: str = "prefix",
        *,
        schema: ParticipationSchema | None = None,
        reduction: str = "mean",
        momentum: float = 0.9,
    ) -> float:
        """Expected squared error of the released workload, per unit of noise.

        ``kind="prefix"``: the prefix sums ``S x`` (the DP-FTRL state); ``kind="iterate"``: the
        iterates of SGD with heavy-ball ``momentum`` (``A = S M_beta``). ``reduction="mean"``
        averages the per-round squared error over the ``n`` rounds (``||A N||_F^2 / n``, the
        square of the RMSE in Choquette-Choo et al. 2023's tables); ``"max"`` takes the worst
        round (the square of MaxErr in Dvijotham et al. 2024's). With ``schema`` the noise
        standard deviation is the sensitivity (noise multiplier 1, as in those tables); without
        it the noise standard deviation is 1.

        Raises:
            InvalidArgument: unknown ``kind`` or ``reduction``, or a momentum outside [0, 1).
        """
        beta = check_kind(kind, reduction, momentum)
        scale = 1.0 if schema is None else self.sensitivity(schema) ** 2
        return scale * reduce_rows(self._row_errors(beta), reduction)

    # --- noise --------------------------------------------------------------------------

    @abc.abstractmethod
    def noise_stream(
        self, dimension: int, noise_std: float, seed_source: ByteSource | None = None
    ) -> NoiseStream:
        """A stream of ``rounds`` noise vectors ``w_t = (N z)_t``, ``z ~ N(0, noise_std^2 I)``.

        ``seed_source`` (a callable returning that many random bytes) defaults to the
        project CSPRNG; pass another only in tests.

        Raises:
            InvalidArgument: ``dimension`` not in ``[1, 2**30]`` or ``noise_std`` negative.
        """

    # --- serialisation ------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        return {
            "version": STRATEGY_FORMAT_VERSION,
            "mechanism": self.mechanism,
            "rounds": self.rounds,
        }

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, read back by :meth:`from_dict`."""

    @classmethod
    @abc.abstractmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> Strategy: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Strategy:
        """Rebuild a strategy from :meth:`to_dict` output (dispatching on its mechanism).

        Raises:
            SerializationError: unknown version or mechanism, a mechanism other than the class
                it is called on, or malformed fields.
        """
        if not isinstance(data, Mapping) or data.get("version") != STRATEGY_FORMAT_VERSION:
            raise SerializationError("not a version-1 DP-FTRL strategy")
        mechanism = data.get("mechanism")
        target = _REGISTRY.get(mechanism) if isinstance(mechanism, str) else None
        if target is None:
            raise SerializationError(f"unknown DP-FTRL mechanism {mechanism!r}")
        if cls is not Strategy and not issubclass(target, cls):
            raise SerializationError(f"a {mechanism!r} strategy is not a {cls.__name__}")
        try:
            return target._from_fields(data)
        except KeyError as exc:
            raise SerializationError(f"strategy lacks {exc.args[0]!r}") from None
        except SerializationError:
            raise
        except (InvalidArgument, TypeError, ValueError) as exc:
            raise SerializationError(f"malformed {mechanism} strategy: {exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Strategy):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.mechanism, self.rounds))
