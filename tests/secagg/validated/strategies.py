"""Shared hypothesis strategies for validated aggregation tests."""

from __future__ import annotations

from hypothesis import strategies as st

from secagg.validated import Field, Field64, Field128
from secagg.validated._field import PrimeField


def field_elements(field: Field) -> st.SearchStrategy[int]:
    p = field.MODULUS
    edges = st.sampled_from([0, 1, 2, p - 1, p - 2, 2**32 - 1, 2**32, (p - 1) // 2, 2**63 % p])
    return st.one_of(edges, st.integers(0, p - 1))


fields = st.sampled_from([Field64, Field128])


def toy_field(p: int = 193) -> PrimeField:
    """A deliberately small FFT-friendly field: 193 = 3 * 2^6 + 1, so a subgroup of order 64."""
    order = 1 << ((p - 1) & -(p - 1)).bit_length() - 1
    for g0 in range(2, p):
        g = pow(g0, (p - 1) // order, p)
        if order == 1 or pow(g, order // 2, p) != 1:
            return PrimeField(f"Toy{p}", p, 1, order, g)
    raise AssertionError("no generator")


def signed_updates(length: int, bits: int, norm_bound: int) -> st.SearchStrategy[list[int]]:
    """Updates with ``length`` coordinates in ``[-2^(bits-1), 2^(bits-1))`` and norm^2 <= B."""
    half = 1 << (bits - 1)
    coords = st.lists(st.integers(-half, half - 1), min_size=length, max_size=length)

    def shrink(v: list[int]) -> list[int]:
        while sum(x * x for x in v) > norm_bound:
            v = [int(x / 2) for x in v]  # towards zero, so the norm strictly drops
        return v

    return coords.map(shrink)
