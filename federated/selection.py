"""Client selection with randomness from the OS CSPRNG.

Which clients take part in a round is part of the privacy mechanism (privacy amplification
by subsampling), so it is drawn with :mod:`secrets`, never with :mod:`random` or numpy. Each
sampler states the subsampling scheme the accountant must use for it.

:class:`ParticipationTracker` serves :class:`~federated.config.ParticipationSelection`, the
selection without sampling of DP-FTRL: it remembers who took part when and admits a client
only if the participation schema still allows it, so the schema the accountant uses holds
for every client of the run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from federated.config import (
    ParticipationSelection,
    PoissonSelection,
    Selection,
    UniformSelection,
)
from federated.errors import InvalidArgument

__all__ = ["sample_clients", "expected_cohort_size", "ParticipationTracker"]

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
    if isinstance(selection, ParticipationSelection):
        raise InvalidArgument(
            "ParticipationSelection remembers who took part when: draw cohorts with a "
            "ParticipationTracker"
        )
    raise InvalidArgument(f"unknown selection {selection!r}")


def expected_cohort_size(selection: Selection, population: int) -> float:
    """The expected number of selected clients: the FedAvg denominator under DP.

    A declared ``PoissonSelection.expected_cohort`` (a public constant) takes precedence.
    """
    if isinstance(selection, UniformSelection):
        return float(selection.sample_size)
    if isinstance(selection, ParticipationSelection):
        return float(min(selection.cohort_size, population))
    if selection.expected_cohort is not None:
        return float(selection.expected_cohort)
    return selection.rate * population


class ParticipationTracker:
    """Enforces a participation schema over a run: who took part when, and who may next.

    A client is *eligible* for round ``t`` (1-based) if it has taken part in fewer than
    ``max_participations`` rounds and its last one was at least ``min_separation`` rounds
    before ``t``. :meth:`select` draws a cohort among the eligible clients; :meth:`admit`
    takes the clients that checked in and refuses those the schema no longer allows.
    Either way a client counts as having taken part from the moment it is admitted, even
    if it drops out later (conservative: a dropped client may still be in the sum).

    The schema is ``(rounds, max_participations, min_separation)``, the one the accountant
    is given (:func:`federated._ftrl.schema_of`), with ``k`` capped at the rounds.

    Args:
        selection: the cohort size and the schema's ``k`` and ``b``.
        rounds: the run's number of rounds ``n``.
        population: the number of clients (ids ``0 .. population - 1``).

    Raises:
        InvalidArgument: a bad selection, number of rounds or population.
    """

    def __init__(self, selection: ParticipationSelection, rounds: int, population: int) -> None:
        if not isinstance(selection, ParticipationSelection):
            raise InvalidArgument("ParticipationTracker needs a ParticipationSelection")
        if isinstance(population, bool) or not isinstance(population, int) or population < 1:
            raise InvalidArgument("the client population must not be empty")
        self.selection = selection
        self.population = population
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise InvalidArgument("rounds must be an int >= 1")
        self.rounds = rounds
        self.max_participations = min(selection.max_participations, rounds)
        self.min_separation = selection.min_separation
        self._rounds: dict[int, list[int]] = {}
        self._last_round = 0

    def participations(self, client: int) -> tuple[int, ...]:
        """The (1-based) rounds ``client`` has taken part in, in order."""
        return tuple(self._rounds.get(client, ()))

    def allows(self, client: int, round_number: int) -> bool:
        """Whether ``client`` may take part in ``round_number`` without breaking the schema."""
        if not 0 <= client < self.population:
            return False
        if not 1 <= round_number <= self.rounds:
            return False
        past = self._rounds.get(client, [])
        if len(past) >= self.max_participations:
            return False
        return not past or round_number - past[-1] >= self.min_separation

    def eligible(self, round_number: int) -> list[int]:
        """Every client the schema allows in ``round_number``."""
        return [c for c in range(self.population) if self.allows(c, round_number)]

    def _start_round(self, round_number: int) -> None:
        if isinstance(round_number, bool) or not isinstance(round_number, int):
            raise InvalidArgument("round_number must be an int")
        if not 1 <= round_number <= self.rounds:
            raise InvalidArgument(
                f"round {round_number} is outside the schema's rounds 1..{self.rounds}"
            )
        if round_number <= self._last_round:
            raise InvalidArgument(
                f"round {round_number} comes after round {self._last_round}: rounds only go forward"
            )
        self._last_round = round_number

    def admit(
        self, round_number: int, clients: Iterable[int]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Admit the clients that checked in for ``round_number``, up to the cohort size.

        Returns ``(admitted, refused)``, each sorted: a client is refused if the schema no
        longer allows it, if it is named twice, or once the cohort is full (clients are
        considered in the order given). Each round is admitted once, in increasing order.

        Raises:
            InvalidArgument: a round outside the schema, or not after the previous one.
        """
        self._start_round(round_number)
        admitted: list[int] = []
        refused: list[int] = []
        seen: set[int] = set()
        for client in clients:
            ok = (
                isinstance(client, int)
                and not isinstance(client, bool)
                and client not in seen
                and len(admitted) < self.selection.cohort_size
                and self.allows(client, round_number)
            )
            seen.add(client)
            (admitted if ok else refused).append(client)
        for client in admitted:
            self._rounds.setdefault(client, []).append(round_number)
        return tuple(sorted(admitted)), tuple(sorted(refused))

    def select(self, round_number: int) -> tuple[int, ...]:
        """Draw and admit the cohort of ``round_number`` (sorted ids; possibly empty).

        Each eligible client checks in with probability ``availability`` and up to
        ``cohort_size`` of those who did are taken uniformly at random (OS CSPRNG).
        """
        eligible = self.eligible(round_number) if 1 <= round_number <= self.rounds else []
        threshold = round(self.selection.availability * (1 << _UNIT_BITS))
        present = [c for c in eligible if secrets.randbits(_UNIT_BITS) < threshold]
        size = min(self.selection.cohort_size, len(present))
        chosen = _SYSTEM_RANDOM.sample(present, size)
        admitted, refused = self.admit(round_number, chosen)
        assert not refused  # every chosen client was eligible
        return admitted
