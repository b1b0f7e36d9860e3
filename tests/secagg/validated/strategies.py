"""Shared hypothesis strategies for validated aggregation tests."""

from __future__ import annotations

from hypothesis import strategies as st

from secagg.validated import Field, Field64, Field128


def field_elements(field: Field) -> st.SearchStrategy[int]:
    p = field.MODULUS
    edges = st.sampled_from([0, 1, 2, p - 1, p - 2, 2**32 - 1, 2**32, (p - 1) // 2, 2**63 % p])
    return st.one_of(edges, st.integers(0, p - 1))


fields = st.sampled_from([Field64, Field128])
