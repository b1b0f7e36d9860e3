"""Refuse framework tensors where :mod:`dp` takes numpy arrays, with the fix in the message.

``np.asarray`` converts a CPU ``torch.Tensor`` but fails on one that requires grad or lives on
a GPU, so the same call would work or not depending on the tensor. Every public entry point
of :mod:`dp` that takes an array refuses tensors the same way instead. The check looks at the
type's module name, so ``torch`` is never imported here.
"""

from __future__ import annotations

from dp.errors import InvalidArgument

__all__ = ["refuse_tensor"]


def refuse_tensor(x: object, name: str) -> None:
    """Raise :class:`~dp.errors.InvalidArgument` naming ``.numpy()`` when ``x`` is a tensor."""
    module = type(x).__module__ or ""
    if module == "torch" or module.startswith("torch."):
        raise InvalidArgument(
            f"{name} is a {module}.{type(x).__name__}; dp takes numpy arrays: pass "
            f"{name}.detach().cpu().numpy()"
        )
