"""Client selection with randomness from the OS CSPRNG.

Which clients take part in a round is part of the privacy mechanism (privacy amplification
by subsampling), so it is drawn with :mod:`secrets`, never with :mod:`random` or numpy. Each
sampler states the subsampling scheme the accountant must use for it.
"""

from __future__ import annotations

import secrets

from federated.config import PoissonSelection, Selection, UniformSelection
from federated.errors import InvalidArgument

__all__ = ["sample_clients", "expected_cohort_size"]

_UNIT_BITS = 53
_SYSTEM_RANDOM = secrets.SystemRandom()


def sample_clients(selection: Selection, population: int) -> tuple[int, ...]:
    """Draw the ids (0 .. population - 1, sorted) of the clients taking part in a round.

    Args:
        selection: fixed-size uniform sampling without replacement, or Poisson sampling.
        population: the number of clients.

    Returns:
        The sorted ids of the selected clients (possibly empty under Poisson sampling).

    Raises:
        InvalidArgument: if the population is empty or smaller than the fixed sample size.
    """
    if population < 1:
        raise InvalidArgument("the client population must not be empty")
    if isinstance(selection, UniformSelection):
        if selection.sample_size > population:
            raise InvalidArgument(
                f"sample_size {selection.sample_size} exceeds the population {population}"
            )
        return tuple(sorted(_SYSTEM_RANDOM.sample(range(population), selection.sample_size)))
    if isinstance(selection, PoissonSelection):
        threshold = round(selection.rate * (1 << _UNIT_BITS))
        return tuple(
            client for client in range(population) if secrets.randbits(_UNIT_BITS) < threshold
        )
    raise InvalidArgument(f"unknown selection {selection!r}")


def expected_cohort_size(selection: Selection, population: int) -> float:
    """The expected number of selected clients: the FedAvg denominator under DP.

    A declared ``PoissonSelection.expected_cohort`` (a public constant) takes precedence.
    """
    if isinstance(selection, UniformSelection):
        return float(selection.sample_size)
    if selection.expected_cohort is not None:
        return float(selection.expected_cohort)
    return selection.rate * population
