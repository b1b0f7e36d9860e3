"""secagg and dp take numpy arrays: a torch tensor is refused everywhere with the same fix.

Without the check, ``np.asarray`` converted a plain CPU tensor but raised torch's own
RuntimeError for a tensor that requires grad, so the same call worked or not by tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import dp.errors
import secagg.errors
from dp.mechanisms import GaussianMechanism, clip_l1, clip_l2
from secagg import encoding
from secagg.masking._vectors import as_ring_vector

torch = pytest.importorskip("torch")

CALLS: dict[str, tuple[Callable[[Any], object], type[Exception]]] = {
    "secagg.encoding.clip_l2": (lambda x: encoding.clip_l2(x, 1.0), secagg.errors.InvalidArgument),
    "secagg.encoding.stochastic_round": (encoding.stochastic_round, secagg.errors.InvalidArgument),
    "secagg.encoding.to_ring": (lambda x: encoding.to_ring(x, 32), secagg.errors.InvalidArgument),
    "secagg masking input": (lambda x: as_ring_vector(x, 4, 32), secagg.errors.InvalidArgument),
    "dp.clip_l2": (lambda x: clip_l2(x, 1.0), dp.errors.InvalidArgument),
    "dp.clip_l1": (lambda x: clip_l1(x, 1.0), dp.errors.InvalidArgument),
    "dp GaussianMechanism.release": (
        lambda x: GaussianMechanism(1.0, l2_sensitivity=1.0, dimension=4).release(x),
        dp.errors.InvalidArgument,
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_tensors_are_refused_naming_numpy(name: str, requires_grad: bool) -> None:
    call, error = CALLS[name]
    tensor = torch.ones(4, requires_grad=requires_grad)
    with pytest.raises(error, match=r"\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        call(tensor)
    # The fix in the message works.
    call(
        tensor.detach()
        .cpu()
        .numpy()
        .astype(np.int64 if ("ring" in name or "masking" in name) else np.float64)
    )
