"""Turn array-like input into numpy, refusing framework tensors with the fix in the message.

``secagg`` works on numpy arrays. A ``torch.Tensor`` is refused rather than converted
silently: ``np.asarray`` would fail on a tensor that requires grad or lives on a GPU, and
succeed on the others, so the same call would behave differently by tensor. The check looks
at the type's module name, so ``torch`` is never imported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from secagg.errors import InvalidArgument

__all__ = ["as_numpy", "refuse_tensor"]


def refuse_tensor(x: object, name: str) -> None:
    """Raise :class:`InvalidArgument` naming ``.numpy()`` when ``x`` is a torch tensor."""
    module = type(x).__module__ or ""
    if module == "torch" or module.startswith("torch."):
        raise InvalidArgument(
            f"{name} is a {module}.{type(x).__name__}; secagg takes numpy arrays: pass "
            f"{name}.detach().cpu().numpy()"
        )


def as_numpy(x: object, name: str) -> NDArray[Any]:
    """Return ``np.asarray(x)``, refusing torch tensors (see :func:`refuse_tensor`)."""
    refuse_tensor(x, name)
    return np.asarray(x)
