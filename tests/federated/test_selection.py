from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federated.config import PoissonSelection, UniformSelection
from federated.errors import FederatedError, InvalidArgument
from federated.selection import expected_cohort_size, sample_clients


@given(population=st.integers(1, 200), data=st.data())
def test_uniform_selection_has_fixed_size_distinct_sorted_ids(population: int, data) -> None:
    size = data.draw(st.integers(1, population))
    cohort = sample_clients(UniformSelection(size), population)
    assert len(cohort) == size
    assert len(set(cohort)) == size
    assert list(cohort) == sorted(cohort)
    assert all(0 <= c < population for c in cohort)


def test_uniform_selection_covers_every_client_eventually() -> None:
    seen: set[int] = set()
    for _ in range(200):
        seen.update(sample_clients(UniformSelection(3), 10))
    assert seen == set(range(10))


def test_poisson_selection_rate_matches_within_six_sigma() -> None:
    population, rate, rounds = 1000, 0.1, 20
    total = sum(len(sample_clients(PoissonSelection(rate), population)) for _ in range(rounds))
    mean = population * rate * rounds
    sigma = math.sqrt(population * rounds * rate * (1 - rate))
    assert abs(total - mean) < 6 * sigma


def test_poisson_rate_one_selects_everyone() -> None:
    assert sample_clients(PoissonSelection(1.0), 7) == tuple(range(7))


def test_expected_cohort_size() -> None:
    assert expected_cohort_size(UniformSelection(5), 100) == 5
    assert expected_cohort_size(PoissonSelection(0.25), 100) == 25


@pytest.mark.parametrize(
    "build",
    [
        lambda: UniformSelection(0),
        lambda: UniformSelection(True),
        lambda: PoissonSelection(0.0),
        lambda: PoissonSelection(1.5),
    ],
)
def test_bad_selection_is_refused(build) -> None:
    with pytest.raises(InvalidArgument):
        build()


def test_sample_larger_than_population_is_refused() -> None:
    with pytest.raises(FederatedError):
        sample_clients(UniformSelection(5), 4)
    with pytest.raises(InvalidArgument):
        sample_clients(UniformSelection(1), 0)
