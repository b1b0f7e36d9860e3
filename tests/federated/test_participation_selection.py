"""ParticipationSelection: the tracker never lets a client break the participation schema."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federated.config import (
    DPMode,
    FederatedConfig,
    FtrlSettings,
    ParticipationSelection,
    PrivacyConfig,
    UniformSelection,
)
from federated.errors import InvalidArgument
from federated.selection import ParticipationTracker, expected_cohort_size, sample_clients


def _obeys(rounds: tuple[int, ...], k: int, b: int, n: int) -> bool:
    """The schema, written out independently of the tracker."""
    return (
        len(rounds) <= k
        and all(1 <= r <= n for r in rounds)
        and all(later - earlier >= b for earlier, later in itertools.pairwise(rounds))
    )


@st.composite
def _runs(draw: st.DrawFn) -> tuple[ParticipationSelection, int, int, list[list[int]]]:
    population = draw(st.integers(1, 12))
    rounds = draw(st.integers(1, 30))
    selection = ParticipationSelection(
        cohort_size=draw(st.integers(1, 8)),
        max_participations=draw(st.integers(1, 5)),
        min_separation=draw(st.integers(1, 8)),
    )
    # Who checks in each round: any ids, including unknown ones and repeats.
    check_ins = draw(
        st.lists(
            st.lists(st.integers(-2, population + 2), max_size=16), min_size=rounds, max_size=rounds
        )
    )
    return selection, rounds, population, check_ins


@given(_runs())
def test_admitted_clients_never_break_the_schema(
    run: tuple[ParticipationSelection, int, int, list[list[int]]],
) -> None:
    selection, rounds, population, check_ins = run
    tracker = ParticipationTracker(selection, rounds, population)
    k, b = selection.max_participations, selection.min_separation
    history: dict[int, list[int]] = {}
    for t, clients in enumerate(check_ins, start=1):
        before = {c: tuple(history.get(c, ())) for c in range(population)}
        admitted, refused = tracker.admit(t, clients)
        assert len(admitted) <= selection.cohort_size
        assert len(set(admitted)) == len(admitted)
        assert sorted([*admitted, *refused]) == sorted(clients)
        for c in admitted:
            history.setdefault(c, []).append(t)
            assert _obeys(tuple(history[c]), k, b, rounds)
        # A refusal is never arbitrary: the schema forbade it, it was a repeat or unknown
        # id, or the cohort was full.
        full = len(admitted) == selection.cohort_size
        for c in set(refused):
            if full or c not in range(population) or c in admitted:
                continue
            assert not _obeys((*before[c], t), k, b, rounds)
    for c in range(population):
        assert tracker.participations(c) == tuple(history.get(c, ()))


@given(_runs())
def test_drawn_cohorts_never_break_the_schema(
    run: tuple[ParticipationSelection, int, int, list[list[int]]],
) -> None:
    selection, rounds, population, _ = run
    tracker = ParticipationTracker(selection, rounds, population)
    for t in range(1, rounds + 1):
        eligible = tracker.eligible(t)
        cohort = tracker.select(t)
        assert list(cohort) == sorted(set(cohort))
        assert set(cohort) <= set(eligible)
        # Full availability: the cohort is as large as the schema and the cap allow.
        assert len(cohort) == min(selection.cohort_size, len(eligible))
    for c in range(population):
        assert _obeys(tracker.participations(c), selection.max_participations,
                      selection.min_separation, rounds)  # fmt: skip


def test_schema_is_what_the_accountant_gets() -> None:
    tracker = ParticipationTracker(ParticipationSelection(5, 3, 10), rounds=40, population=20)
    schema = (tracker.rounds, tracker.max_participations, tracker.min_separation)
    assert schema == (40, 3, 10)
    # k above the rounds is capped at the rounds (the event requires k <= n).
    assert ParticipationTracker(ParticipationSelection(5, 9), 4, 5).max_participations == 4


def test_rounds_only_go_forward_and_stay_inside_the_schema() -> None:
    tracker = ParticipationTracker(ParticipationSelection(2), rounds=3, population=4)
    tracker.admit(2, [0])
    for bad in (2, 1, 4, 0):
        with pytest.raises(InvalidArgument):
            tracker.admit(bad, [1])
    with pytest.raises(InvalidArgument):
        tracker.select(4)  # outside the run
    with pytest.raises(InvalidArgument):
        ParticipationTracker(ParticipationSelection(2), rounds=0, population=4)


def test_single_participation_example() -> None:
    tracker = ParticipationTracker(ParticipationSelection(2, 1), rounds=5, population=3)
    assert tracker.admit(1, [0, 1, 2]) == ((0, 1), (2,))  # cohort full
    assert tracker.admit(2, [0, 2]) == ((2,), (0,))  # 0 already took part once
    assert tracker.admit(3, [0, 1, 2]) == ((), (0, 1, 2))


def test_separation_example() -> None:
    tracker = ParticipationTracker(ParticipationSelection(1, 2, 3), rounds=10, population=1)
    assert tracker.admit(1, [0])[0] == (0,)
    assert tracker.admit(3, [0])[0] == ()  # 2 rounds later: too soon
    assert tracker.admit(4, [0])[0] == (0,)  # 3 rounds later
    assert tracker.admit(9, [0])[0] == ()  # k = 2 reached


def test_config_checks() -> None:
    for bad in (
        lambda: ParticipationSelection(0),
        lambda: ParticipationSelection(2, 0),
        lambda: ParticipationSelection(2, 1, 0),
        lambda: ParticipationSelection(2, availability=0.0),
        lambda: FtrlSettings(mechanism="magic"),
        lambda: FtrlSettings(buffers=0),
    ):
        with pytest.raises(InvalidArgument):
            bad()
    central = PrivacyConfig(DPMode.CENTRAL, 1.0, delta=1e-6, neighbouring="zero_out")
    selection = ParticipationSelection(5, 2, 3)
    FederatedConfig(10, selection, privacy=central, ftrl=FtrlSettings())
    FederatedConfig(10, selection)  # no DP: no schema needed
    with pytest.raises(InvalidArgument, match="DP-FTRL"):
        FederatedConfig(10, selection, privacy=central)  # no amplification to claim
    with pytest.raises(InvalidArgument, match="ParticipationSelection"):
        FederatedConfig(10, UniformSelection(5), privacy=central, ftrl=FtrlSettings())
    with pytest.raises(InvalidArgument, match="zero_out"):
        FederatedConfig(
            10,
            selection,
            privacy=PrivacyConfig(DPMode.CENTRAL, 1.0, delta=1e-6),
            ftrl=FtrlSettings(),
        )
    with pytest.raises(InvalidArgument, match="CENTRAL"):
        FederatedConfig(10, selection, ftrl=FtrlSettings())
    with pytest.raises(InvalidArgument, match="ParticipationTracker"):
        sample_clients(selection, 10)
    assert expected_cohort_size(selection, 3) == 3
