"""The client side of a round: turn the global parameters into an update and a weight.

Any object with a ``fit`` method and a ``num_examples`` attribute is a client; the PyTorch
adapter :class:`federated.torch.TorchClient` is one. Updates are numpy vectors (the model
flattened), so the cryptography never depends on a deep-learning framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from federated.errors import InvalidArgument, InvalidUpdate

__all__ = ["ClientUpdate", "FederatedClient", "check_update", "check_example_count"]


@dataclass(frozen=True, slots=True)
class ClientUpdate:
    """What local training produces: the change of the parameters and the client's weight.

    Attributes:
        delta: local parameters minus the global parameters, a float vector.
        num_examples: the number of local examples (the FedAvg weight when allowed).
        metrics: local training metrics; they stay on the client and are never sent.
    """

    delta: NDArray[np.float64]
    num_examples: int
    metrics: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class FederatedClient(Protocol):
    """A participant in federated training."""

    @property
    def num_examples(self) -> int:
        """The number of local training examples."""
        ...

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        """Train locally from the global ``parameters`` and return the update."""
        ...


def check_update(
    update: ClientUpdate,
    dimension: int,
    *,
    client: int | None = None,
    round_number: int | None = None,
) -> NDArray[np.float64]:
    """Validate a client's update and return its delta as a float64 vector.

    Every backend calls this on the client's side before clipping, so a bad update is
    refused the same way whatever the aggregation: in particular the example count, which
    weights the update under ``Weighting.EXAMPLES`` and would otherwise turn the model into
    NaN (plain) or fail deep inside an encoding (masking, Paillier).

    ``client`` and ``round_number`` (when the caller knows them) go into the error, so a
    NaN in a long run says whose update and when.

    Raises:
        InvalidUpdate: (an :class:`InvalidArgument`) on something other than a
            :class:`ClientUpdate`, a delta that is not a real vector of the right shape
            (bool, complex, object or text included) or has a non-finite value, or an
            example count that is not a non-negative integer (a bool, float, NaN, inf or
            non-number included).
    """

    def refuse(message: str) -> InvalidUpdate:
        return InvalidUpdate(message, client=client, round_number=round_number)

    if not isinstance(update, ClientUpdate):
        raise refuse(f"fit must return a ClientUpdate, got {type(update).__name__}")
    if type(update.delta).__module__.split(".")[0] == "torch":
        raise refuse("update.delta is a torch tensor: pass delta.detach().cpu().numpy()")
    try:
        raw = np.asarray(update.delta)
    except (TypeError, ValueError, OverflowError) as exc:
        raise refuse(f"update.delta is not a numeric vector: {exc}") from exc
    if raw.dtype.kind not in "iuf":
        raise refuse(f"update.delta must be real numbers, got dtype {raw.dtype}")
    delta = raw.astype(np.float64, copy=False)
    if delta.shape != (dimension,):
        raise refuse(f"update has shape {delta.shape}, expected ({dimension},)")
    if not np.all(np.isfinite(delta)):
        bad = int(np.flatnonzero(~np.isfinite(delta))[0])
        raise refuse(f"update contains NaN or Inf (first at coordinate {bad})")
    try:
        check_example_count(update.num_examples)
    except InvalidArgument as exc:
        raise refuse(str(exc)) from exc
    return delta


def check_example_count(count: object) -> int:
    """Return a client's example count as an int, or raise :class:`InvalidArgument`.

    Only integers (Python or numpy) are counts; bools, floats (NaN and inf included) and
    anything else are refused, as are negative values.
    """
    if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)):
        raise InvalidArgument(
            f"num_examples must be a non-negative int, got {type(count).__name__} {count!r}"
        )
    value = int(count)
    if value < 0:
        raise InvalidArgument(f"num_examples must be >= 0, got {value}")
    return value
