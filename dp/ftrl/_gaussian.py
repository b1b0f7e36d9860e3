"""Continuous Gaussian noise for DP-FTRL from the kernel CSPRNG.

The correlated-noise mechanisms add real-valued noise to a real-valued aggregate, so their
noise is a float64 Gaussian: Marsaglia's polar method (Marsaglia and Bray 1964) on uniforms built
from 53 random bits each, the bits drawn through :mod:`dp._rng` (AES-256-CTR keyed from
:func:`os.urandom`, or :func:`os.urandom` itself for small requests). Never numpy's or
Python's generators.

Floating-point caveat: these are float64 approximations of Gaussians. The uniforms lie on a
grid of step 2**-53 and the transform rounds, so the sample's low-order bits are not exactly
distributed as a real Gaussian's, and the tail beyond about 8.6 standard deviations is
never produced. Mironov (2012, "On significance of the least significant bits for
differential privacy") shows such artefacts can leak through a naive release; the accounting
treats the noise as an ideal Gaussian, as every deployed DP-FTRL system does. Where the
aggregate is integer (secure aggregation), :mod:`dp.mechanisms` offers exact discrete
Gaussians instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from dp._rng import random_bytes

__all__ = ["ByteSource", "standard_normals"]

#: A source of uniform random bytes: called with a count, returns that many bytes.
ByteSource = Callable[[int], "bytes | NDArray[np.uint8]"]

_TWO_POW_M53 = 2.0**-53


def _words(count: int, source: ByteSource | None) -> NDArray[np.uint64]:
    raw = random_bytes(8 * count) if source is None else source(8 * count)
    data = np.frombuffer(bytes(raw), dtype=np.uint8) if isinstance(raw, bytes) else raw
    if data.dtype != np.uint8 or data.shape != (8 * count,):
        raise ValueError(
            f"the byte source returned {data.shape} {data.dtype}, not {8 * count} bytes"
        )
    return np.ascontiguousarray(data).view(np.uint64)


def standard_normals(count: int, source: ByteSource | None = None) -> NDArray[np.float64]:
    """``count`` independent N(0, 1) float64 samples (Marsaglia's polar method).

    Pairs of uniforms on ``(-1, 1)`` with 53 random bits each are kept when they fall
    inside the unit disc (probability pi/4) and mapped to two independent normals by
    ``x sqrt(-2 ln s / s)`` (Marsaglia and Bray 1964): no trigonometric functions, which
    dominate Box-Muller's cost for a million coordinates. ``source`` defaults to the project
    CSPRNG; a deterministic source is for tests only.
    """
    half = (count + 1) // 2
    out = np.empty(2 * half, dtype=np.float64)
    filled = 0
    while filled < half:
        want = half - filled
        pairs = int(want / 0.78) + 64
        u = (_words(2 * pairs, source) >> np.uint64(11)).astype(np.float64)
        u += 0.5
        u *= 2.0 * _TWO_POW_M53
        u -= 1.0  # in (-1, 1), symmetric
        x, y = u[:pairs], u[pairs:]
        s = x * x
        s += y * y
        keep = (s < 1.0) & (s > 0.0)
        x, y, s = x[keep][:want], y[keep][:want], s[keep][:want]
        factor = np.log(s)
        factor *= -2.0
        factor /= s
        np.sqrt(factor, out=factor)
        got = s.size
        np.multiply(x, factor, out=out[filled : filled + got])
        np.multiply(y, factor, out=out[half + filled : half + filled + got])
        filled += got
    return out[:count]
