"""Tree aggregation with Honaker's online estimator (the original DP-FTRL noise).

Kairouz, McMahan, Song, Thakkar, Thakurta and Xu 2021, "Practical and private (deep)
learning without sampling or shuffling", section 3 and appendix: the binary-tree mechanism
(Dwork, Naor, Pitassi and Rothblum 2010; Chan, Shi and Song 2011) releases, for every
dyadic interval ``[j 2^h, (j + 1) 2^h)`` completed by round ``t``, its sum plus fresh
``N(0, sigma^2)`` noise. Honaker's estimator (Honaker 2015, "Efficient use of differentially
private binary trees"), in its online form (a prefix sum uses only the nodes completed by
then, as streaming requires), re-estimates each completed node as the inverse-variance
combination of its own noisy value and the sum of its children's estimates, so a node at
height ``h`` has noise variance

    v_h = sigma^2 2^h / (2^(h+1) - 1)        (v_0 = sigma^2, 1/v_h = 1/sigma^2 + 1/(2 v_(h-1))),

and the prefix sum of rounds ``0..t`` is the sum of the estimates of the dyadic nodes in the
binary expansion of ``t + 1``: its squared error is ``sum_{h in bits(t+1)} v_h`` (the closed
form :meth:`TreeAggregation.prefix_variances` returns). The per-round noise added to
``x_t`` is the change of that prefix noise, so the stream keeps one estimate per height on
the current frontier: ``floor(log2 n) + 1`` vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dp.errors import InvalidArgument
from dp.ftrl._gaussian import ByteSource
from dp.ftrl._sensitivity import (
    best_pattern_sum,
    generic_upper_bound,
    gram_pattern_value,
    strided_pattern,
)
from dp.ftrl._workload import check_kind, reduce_rows
from dp.ftrl.schema import ParticipationSchema
from dp.ftrl.strategy import NoiseStream, Strategy

__all__ = ["TreeAggregation", "TreeNoiseStream"]


def _node_variance(height: int) -> float:
    """Honaker's online variance of a height-``h`` node estimate, in units of ``sigma^2``."""
    return float(2**height) / float(2 ** (height + 1) - 1)


class _Frontier:
    """The online estimator's state, generic in how a node's fresh noise is drawn."""

    def __init__(self, draw: Callable[[], NDArray[np.float64]]) -> None:
        self._draw = draw
        self.stack: list[tuple[int, NDArray[np.float64]]] = []
        self.peak = 0

    def step(self) -> NDArray[np.float64]:
        """Complete the next leaf (and the nodes it closes); return that round's noise."""
        estimate = self._draw()
        height = 0
        removed: NDArray[np.float64] | None = None
        while self.stack and self.stack[-1][0] == height:
            _, left = self.stack.pop()
            # The new node's children are `left` (kept on the stack until now) and the
            # current estimate (the right child, already counted in this round's output).
            removed = left if removed is None else removed + left
            children = left + estimate
            child_var = 2.0 * _node_variance(height)
            own = self._draw()
            height += 1
            weight = 1.0 / (1.0 + 1.0 / child_var)  # weight on the node's own noisy value
            estimate = weight * own + (1.0 - weight) * children
        self.stack.append((height, estimate))
        self.peak = max(self.peak, len(self.stack))
        # A fresh array: the caller may add the aggregate into it, and the stack keeps estimate.
        return estimate.copy() if removed is None else estimate - removed


class TreeNoiseStream(NoiseStream):
    """Streaming tree-aggregation noise: one vector per height on the frontier."""

    def __init__(
        self,
        strategy: TreeAggregation,
        dimension: object,
        noise_std: object,
        seed_source: ByteSource | None,
    ) -> None:
        super().__init__(strategy.rounds, dimension, noise_std, seed_source)
        self._frontier = _Frontier(self._gaussian)
        self._levels = strategy.rounds.bit_length()

    @property
    def state_floats(self) -> int:
        """At most ``floor(log2 n) + 1`` node estimates of ``dimension`` floats."""
        return self._levels * self.dimension

    def _step(self) -> NDArray[np.float64]:
        return self._frontier.step()


class TreeAggregation(Strategy):
    """Binary-tree aggregation over ``rounds`` rounds with Honaker's online estimator.

    Raises:
        InvalidArgument: ``rounds`` not an int in ``[1, 100000]``.
    """

    mechanism = "tree"

    def __init__(self, rounds: object) -> None:
        super().__init__(rounds)

    def __repr__(self) -> str:
        return f"TreeAggregation({self.rounds})"

    # --- structure ----------------------------------------------------------------------

    def _levels(self) -> list[int]:
        return list(range(self.rounds.bit_length()))  # heights h with 2^h <= n

    def node_count(self) -> int:
        """How many dyadic nodes complete within ``rounds`` rounds."""
        return sum(self.rounds >> h for h in self._levels())

    def encoder_matrix(self) -> NDArray[np.float64]:
        """The completed nodes' indicator rows, in completion order (leaf first, then parents)."""
        rows: list[NDArray[np.float64]] = []
        for t in range(self.rounds):
            height = 0
            while True:
                row = np.zeros(self.rounds)
                row[t + 1 - 2**height : t + 1] = 1.0
                rows.append(row)
                if (t + 1) % 2 ** (height + 1):
                    break
                height += 1
        return np.array(rows)

    def noise_matrix(self) -> NDArray[np.float64]:
        """The online estimator as a matrix: run it on the unit vectors of node noise."""
        m = self.node_count()
        counter = iter(range(m))
        frontier = _Frontier(lambda: np.eye(1, m, next(counter)).ravel())
        return np.array([frontier.step() for _ in range(self.rounds)])

    # --- closed forms -------------------------------------------------------------------

    def prefix_variances(self) -> NDArray[np.float64]:
        """Closed-form squared error of each prefix sum at unit noise (Honaker, online)."""
        out = np.zeros(self.rounds)
        for h in self._levels():
            bit = ((np.arange(1, self.rounds + 1) >> h) & 1).astype(np.float64)
            out += bit * _node_variance(h)
        return out

    def _row_errors(self, beta: float) -> NDArray[np.float64]:
        """Closed form for prefix sums; for iterates, the estimator run row by row.

        Row ``t`` of ``A N`` follows ``y_t = beta y_(t-1) + N_t`` and ``P_t = P_(t-1) + y_t``,
        so the dense ``n x m`` matrix is never held.

        Raises:
            InvalidArgument: the iterate error is asked for more than 8192 rounds.
        """
        if beta == 0.0:
            return self.prefix_variances()
        if self.rounds > 8192:
            raise InvalidArgument("the tree's iterate error is computed for at most 8192 rounds")
        m = self.node_count()
        counter = iter(range(m))
        frontier = _Frontier(lambda: np.eye(1, m, next(counter)).ravel())
        filtered, prefix = np.zeros(m), np.zeros(m)
        out = np.empty(self.rounds)
        for t in range(self.rounds):
            filtered *= beta
            filtered += frontier.step()
            prefix += filtered
            out[t] = float(np.einsum("i,i->", prefix, prefix))
        return out

    def expected_error(
        self,
        kind: str = "prefix",
        *,
        schema: ParticipationSchema | None = None,
        reduction: str = "mean",
        momentum: float = 0.9,
    ) -> float:
        """As :meth:`Strategy.expected_error`; the prefix error is the closed form."""
        beta = check_kind(kind, reduction, momentum)
        scale = 1.0 if schema is None else self.sensitivity(schema) ** 2
        return scale * reduce_rows(self._row_errors(beta), reduction)

    # --- sensitivity --------------------------------------------------------------------

    def _pattern_value(self, pattern: list[int]) -> float:
        """``sum over completed nodes of (participations inside)^2`` for one pattern."""
        idx = np.asarray(pattern, dtype=np.int64)
        total = 0.0
        for h in self._levels():
            complete = self.rounds >> h
            nodes = idx >> h
            counts = np.bincount(nodes[nodes < complete])
            total += float(np.sum(counts.astype(np.float64) ** 2))
        return total

    def sensitivity_squared_bounds(self, schema: ParticipationSchema) -> tuple[float, float]:
        """Exact for single participation (``floor(log2 n) + 1``); bounds otherwise.

        Upper bound, level by level: a node of ``2^h`` rounds holds at most
        ``m_h = min(k, floor((2^h - 1) / b) + 1)`` participations and the nodes of one level
        are disjoint, so their squared counts sum to at most ``q m_h^2 + r^2``
        (``k = q m_h + r``). Lower bound: the best strided pattern. They agree when ``b`` is
        a power of two and the pattern fits; otherwise the (conservative) upper bound is
        used, or (``n <= 512``, where it sometimes helps) the generic Gram bound when smaller.
        """
        schema = self._check_schema(schema)
        k, b = schema.effective_participations, schema.min_separation
        upper = 0.0
        for h in self._levels():
            nodes = self.rounds >> h
            cap = min(k, (2**h - 1) // b + 1)
            full = min(k // cap, nodes)
            rest = min(k - full * cap, cap) if full < nodes else 0
            upper += full * cap * cap + rest * rest
        starts = range(min(b, schema.rounds, 64))
        lower = max(self._pattern_value(strided_pattern(schema.rounds, k, b, s)) for s in starts)
        if k > 1 and upper > lower * (1 + 1e-9) and self.rounds <= 512:
            gram = self._gram()[: schema.rounds, : schema.rounds]
            upper = min(upper, generic_upper_bound(gram, k, b))
            _, pattern = best_pattern_sum(np.diagonal(gram).copy(), k, b)
            lower = max(lower, gram_pattern_value(gram, pattern))
        return lower, max(lower, upper)

    def _gram(self) -> NDArray[np.float64]:
        """``C^T C``: the number of completed nodes two rounds share."""
        i = np.arange(self.rounds)
        gram = np.zeros((self.rounds, self.rounds))
        for h in self._levels():
            complete = self.rounds >> h
            same = (i[:, None] >> h) == (i[None, :] >> h)
            gram += same & ((i[:, None] >> h) < complete)
        return gram

    # --- noise and serialisation --------------------------------------------------------

    def noise_stream(
        self, dimension: int, noise_std: float, seed_source: ByteSource | None = None
    ) -> TreeNoiseStream:
        """A streaming tree-aggregation noise generator (see :meth:`Strategy.noise_stream`)."""
        return TreeNoiseStream(self, dimension, noise_std, seed_source)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the tree is determined by its number of rounds."""
        return self._header()

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> TreeAggregation:
        return cls(data["rounds"])
