"""Shared keys and hypothesis strategies for the Paillier tests.

Keys are cached per process (each xdist worker makes its own): 1024-bit keys with the explicit
insecure flag keep the properties fast; 2048-bit keys are only used by a couple of tests.
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from secagg.paillier import PrivateKey, PublicKey, generate_keypair

TEST_BITS = 1024


@functools.cache
def keypair(bits: int = TEST_BITS, which: int = 0) -> tuple[PublicKey, PrivateKey]:
    """Return a cached key pair; ``which`` selects independent pairs of the same size."""
    del which
    return generate_keypair(bits, allow_insecure=bits < 2048)


def signed_plaintexts(public_key: PublicKey) -> st.SearchStrategy[int]:
    """Integers over the whole signed plaintext range ``[-max_int, max_int]``."""
    return st.integers(-public_key.max_int, public_key.max_int)


@st.composite
def float_vectors(
    draw: st.DrawFn, *, scale_bits: int = 16, value_bits: int = 32, max_size: int = 300
) -> np.ndarray:
    """Float arrays (any shape up to 3-D) whose scaled values fit ``value_bits``."""
    bound = 2.0 ** (value_bits - 1 - scale_bits) * 0.999
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=max_size))
    if int(np.prod(shape)) > max_size:
        shape = (draw(st.integers(1, max_size)),)
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64)
    return draw(hnp.arrays(np.float64, shape, elements=elements))


@st.composite
def int_vectors(draw: st.DrawFn, *, value_bits: int = 32, max_size: int = 300) -> np.ndarray:
    """int64 arrays with values in ``[-2^(value_bits-1), 2^(value_bits-1))``."""
    half = 1 << (value_bits - 1)
    size = draw(st.integers(1, max_size))
    return draw(hnp.arrays(np.int64, (size,), elements=st.integers(-half, half - 1)))


@st.composite
def packing_parameters(draw: st.DrawFn) -> dict[str, int]:
    """Valid ``(scale_bits, value_bits, max_summands)`` with slots of at most 64 bits."""
    max_summands = draw(st.integers(1, 1 << 12))
    headroom = (max_summands - 1).bit_length()
    value_bits = draw(st.integers(2, min(63, 64 - headroom)))
    scale_bits = draw(st.integers(0, value_bits - 1))
    return {"scale_bits": scale_bits, "value_bits": value_bits, "max_summands": max_summands}
