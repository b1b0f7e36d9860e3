"""Shared keys for the threshold-Paillier tests (no tests here).

Safe primes are generated once per process and cached; dealing a committee from known
primes is cheap, so each test builds exactly the committee it needs. 512-bit moduli are
insecure and used only to keep the suite fast.
"""

from __future__ import annotations

import functools

from secagg.paillier import _threshold_math as tmath
from secagg.paillier._threshold_keys import keys_from_dealt
from secagg.paillier.threshold import ThresholdKeys

TEST_BITS = 512


@functools.cache
def _safe_primes(slot: int) -> tuple[int, int]:
    del slot  # only distinguishes cache entries
    return tmath.generate_safe_modulus(TEST_BITS)


def safe_primes(slot: int = 0) -> tuple[int, int]:
    """Two distinct safe primes whose product has ``TEST_BITS`` bits (cached per ``slot``)."""
    return _safe_primes(slot)


@functools.cache
def committee(n_parties: int, threshold: int, slot: int = 0) -> ThresholdKeys:
    """Threshold keys for a committee over the cached modulus ``slot`` (cached)."""
    p, q = safe_primes(slot)
    dealt = tmath.deal_from_primes(p, q, n_parties, threshold)
    return keys_from_dealt(dealt, allow_insecure=True)
