"""Simulated dropouts: which selected client leaves at which protocol stage."""

from __future__ import annotations

import secrets

from federated.config import DropoutSimulation, Stage

__all__ = ["draw_dropouts", "reaches_input"]

_UNIT_BITS = 53


def _coin(probability: float) -> bool:
    return secrets.randbits(_UNIT_BITS) < round(probability * (1 << _UNIT_BITS))


def draw_dropouts(
    simulation: DropoutSimulation, round_number: int, cohort: tuple[int, ...]
) -> dict[int, Stage]:
    """The stage at which each dropping client of the cohort leaves (absent: it stays).

    The fixed schedule wins for the clients it names; the others drop at the first stage
    whose coin comes up, stages taken in protocol order.
    """
    scheduled = simulation.schedule.get(round_number, {})
    dropouts: dict[int, Stage] = {}
    for client in cohort:
        if client in scheduled:
            dropouts[client] = scheduled[client]
            continue
        for stage in Stage:
            rate = simulation.rates.get(stage, 0.0)
            if rate > 0 and _coin(rate):
                dropouts[client] = stage
                break
    return dropouts


def reaches_input(client: int, dropouts: dict[int, Stage]) -> bool:
    """Whether the client sends its (masked or encrypted) input before any dropout."""
    stage = dropouts.get(client)
    return stage is None or stage > Stage.MASKED_INPUT
