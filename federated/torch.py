"""PyTorch adapter: wrap a ``torch.nn.Module`` factory and a local dataset as a client.

This is the only module of :mod:`federated` that imports :mod:`torch`; the rest of the
package works on flat numpy vectors, so the cryptography never depends on a framework.
Parameters are flattened in ``module.parameters()`` order into one float64 vector.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from federated.client import ClientUpdate
from federated.errors import InvalidArgument, MissingExtra

try:
    import torch
except ImportError as _error:  # the 'torch' extra
    raise MissingExtra("federated.torch", "torch", "torch") from _error

__all__ = [
    "flatten_parameters",
    "load_parameters",
    "initial_parameters",
    "TorchClient",
    "TorchEvaluator",
]

ModelFactory = Callable[[], torch.nn.Module]
LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flatten_parameters(module: torch.nn.Module) -> NDArray[np.float64]:
    """Concatenate the module's parameters into one float64 numpy vector."""
    with torch.no_grad():
        parts = [p.detach().reshape(-1) for p in module.parameters()]
        if not parts:
            return np.zeros(0, dtype=np.float64)
        # One concatenation in the parameters' dtype, then one widening copy (exact).
        flat = torch.cat(parts).to("cpu", torch.float64)
    return np.asarray(flat.numpy(), dtype=np.float64)


def load_parameters(module: torch.nn.Module, vector: NDArray[np.floating]) -> None:
    """Write a flat vector (as made by :func:`flatten_parameters`) into the module, in place.

    Raises:
        InvalidArgument: if the vector's length differs from the module's parameter count.
    """
    flat = np.asarray(vector, dtype=np.float64)
    parameters = list(module.parameters())
    total = sum(p.numel() for p in parameters)
    if flat.shape != (total,):
        raise InvalidArgument(f"vector has shape {flat.shape}, the module has {total} parameters")
    # A read-only array (e.g. a broadcast global model) cannot back a tensor: copy it once.
    source = torch.from_numpy(flat if flat.flags.writeable else flat.copy())
    offset = 0
    with torch.no_grad():
        for parameter in parameters:
            count = parameter.numel()
            # copy_ converts float64 to the parameter's dtype as it writes.
            parameter.copy_(source[offset : offset + count].reshape(parameter.shape))
            offset += count


def initial_parameters(model_fn: ModelFactory) -> NDArray[np.float64]:
    """The flattened parameters of a freshly built model: the run's starting point."""
    return flatten_parameters(model_fn())


def _make_optimizer(
    name: str, parameters: list[torch.nn.Parameter], learning_rate: float, momentum: float
) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=learning_rate, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate)
    raise InvalidArgument(f"unknown optimiser {name!r}; use 'sgd' or 'adam'")


@dataclass(slots=True)
class TorchClient:
    """A federated client that trains a PyTorch model on its local tensors.

    The factory, loss and tensors must be picklable (a module-level function or class, or a
    :func:`functools.partial`) when the run uses a process pool.

    Attributes:
        model_fn: builds the model (same architecture on every client and the server).
        features: local inputs, first dimension = examples.
        targets: local labels or regression targets.
        loss_fn: e.g. ``torch.nn.functional.mse_loss`` or ``cross_entropy``.
        learning_rate: local optimiser step size.
        local_epochs: passes over the local data per round.
        batch_size: minibatch size.
        optimizer: ``"sgd"`` or ``"adam"``.
        momentum: SGD momentum.
    """

    model_fn: ModelFactory
    features: torch.Tensor
    targets: torch.Tensor
    loss_fn: LossFunction
    learning_rate: float = 0.1
    local_epochs: int = 1
    batch_size: int = 32
    optimizer: str = "sgd"
    momentum: float = 0.0
    _model: torch.nn.Module | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.features) != len(self.targets):
            raise InvalidArgument("features and targets must have the same number of examples")
        if self.local_epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise InvalidArgument("local_epochs, batch_size and learning_rate must be positive")

    @property
    def num_examples(self) -> int:
        """The number of local examples."""
        return len(self.features)

    def __getstate__(self) -> dict[str, object]:
        state = {name: getattr(self, name) for name in self.__slots__ if name != "_model"}
        state["_model"] = None
        return state

    def __setstate__(self, state: Mapping[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        """Train for ``local_epochs`` from the global parameters; return the parameter change."""
        if self._model is None:
            self._model = self.model_fn()
        model = self._model
        load_parameters(model, parameters)
        model.train()
        optimiser = _make_optimizer(
            self.optimizer, list(model.parameters()), self.learning_rate, self.momentum
        )
        # Shuffling order is not a privacy mechanism here (the privacy unit is the client),
        # but seeding from the OS keeps the package free of predictable generators.
        generator = torch.Generator().manual_seed(secrets.randbits(63))
        count = self.num_examples
        total_loss = 0.0
        steps = 0
        for _ in range(self.local_epochs):
            order = torch.randperm(count, generator=generator)
            for start in range(0, count, self.batch_size):
                batch = order[start : start + self.batch_size]
                optimiser.zero_grad()
                loss = self.loss_fn(model(self.features[batch]), self.targets[batch])
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                total_loss += float(loss.detach())
                steps += 1
        delta = flatten_parameters(model) - np.asarray(parameters, dtype=np.float64)
        return ClientUpdate(
            delta=delta,
            num_examples=count,
            metrics={"train_loss": total_loss / max(steps, 1)},
        )


@dataclass(slots=True)
class TorchEvaluator:
    """Server-side evaluation of the global parameters on a held-out set.

    Calling it returns ``{"loss": ...}`` and, for classification, ``{"accuracy": ...}``.

    Attributes:
        model_fn: builds the model.
        features: evaluation inputs.
        targets: evaluation targets.
        loss_fn: the loss to report.
        classification: also report accuracy (argmax of the outputs).
    """

    model_fn: ModelFactory
    features: torch.Tensor
    targets: torch.Tensor
    loss_fn: LossFunction
    classification: bool = False
    _model: torch.nn.Module | None = field(default=None, init=False, repr=False)

    def __call__(self, parameters: NDArray[np.float64]) -> dict[str, float]:
        """Evaluate the model with the given flat parameters."""
        if self._model is None:
            self._model = self.model_fn()
        model = self._model
        load_parameters(model, parameters)
        model.eval()
        with torch.no_grad():
            outputs = model(self.features)
            metrics = {"loss": float(self.loss_fn(outputs, self.targets))}
            if self.classification:
                correct = (outputs.argmax(dim=1) == self.targets).float().mean()
                metrics["accuracy"] = float(correct)
        return metrics
