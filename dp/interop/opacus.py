"""Opacus accountants backed by our PLD and RDP accountants.

Opacus (tested with 1.6.0) builds its accountant from a name, ``PrivacyEngine(accountant=
"rdp" | "gdp" | "prv")``; any other name raised ``ValueError: Unexpected accounting
mechanism``. Opacus 1.6 keeps a registry of names, so :func:`register_opacus_accountants`
adds ``"fedcrypt_pld"`` (:class:`OpacusPldAccountant`) and ``"fedcrypt_rdp"``
(:class:`OpacusRdpAccountant`); then ``PrivacyEngine(accountant="fedcrypt_pld")`` trains
with our accounting, and ``make_private_with_epsilon`` calibrates with it too.

Opacus reports each optimiser step as ``step(noise_multiplier=z, sample_rate=q)``: a
Gaussian of standard deviation ``z`` times the per-sample clipping norm on a Poisson
sample of rate ``q``, under add/remove of one sample. That is exactly
``dp.PoissonSampled(q, dp.Gaussian(z))`` under ``add_remove``, composed once per step.
Like Opacus' own accountants these classes keep only the ``history`` of
``(noise_multiplier, sample_rate, steps)`` runs (Opacus' calibration writes it directly)
and compose it when asked; nothing here imports Opacus except
:func:`register_opacus_accountants`.
"""

from __future__ import annotations

import abc
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from dp.accountants import PldAccountant, PrivacyAccountant, RdpAccountant
from dp.accountants.base import Bound
from dp.errors import InvalidArgument
from dp.events import Gaussian, PoissonSampled
from dp.interop._imports import import_peer

__all__ = [
    "OpacusAccountant",
    "OpacusPldAccountant",
    "OpacusRdpAccountant",
    "register_opacus_accountants",
]

_Run = tuple[float, float, int]
"""One entry of an Opacus history: ``(noise_multiplier, sample_rate, steps)``."""


def _run(entry: object) -> _Run:
    """Validate one history entry (a tuple or, after a JSON round trip, a list)."""
    if not isinstance(entry, (tuple, list)) or len(entry) != 3:
        raise InvalidArgument(
            f"a history entry must be (noise_multiplier, sample_rate, steps), got {entry!r}"
        )
    noise, rate, steps = entry
    for name, value in (("noise_multiplier", noise), ("sample_rate", rate)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(noise) and noise >= 0.0):
        raise InvalidArgument(f"noise_multiplier must be finite and >= 0, got {noise!r}")
    if not 0.0 <= rate <= 1.0:
        raise InvalidArgument(f"sample_rate must be in [0, 1], got {rate!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidArgument(f"steps must be an int >= 1, got {steps!r}")
    return float(noise), float(rate), steps


def _compose_runs(accountant: PrivacyAccountant, runs: tuple[_Run, ...]) -> None:
    for noise, rate, steps in runs:
        if noise > 0.0 and rate > 0.0:
            accountant.compose(PoissonSampled(rate, Gaussian(noise)), steps)


def _added_runs(before: tuple[_Run, ...], after: tuple[_Run, ...]) -> tuple[_Run, ...] | None:
    """The steps ``after`` holds beyond ``before``, if it only added steps; else None."""
    if not before:
        return after
    last = len(before) - 1
    if len(after) <= last or after[:last] != before[:last]:
        return None
    old, new = before[last], after[last]
    if old[:2] != new[:2] or new[2] < old[2]:
        return None
    grown = ((old[0], old[1], new[2] - old[2]),) if new[2] > old[2] else ()
    return grown + after[last + 1 :]


class OpacusAccountant(abc.ABC):
    """Opacus' ``IAccountant`` interface over one of our accountants (add/remove).

    Use :class:`OpacusPldAccountant` or :class:`OpacusRdpAccountant`, by name through
    :func:`register_opacus_accountants` or as ``engine.accountant = OpacusPldAccountant()``.
    Opacus calls :meth:`step` after every optimiser step and :meth:`get_epsilon` when
    asked; ``history`` holds the runs of identical steps, as in Opacus.
    """

    kind: ClassVar[type[PldAccountant] | type[RdpAccountant]]

    def __init__(self) -> None:
        self.history: list[_Run] = []
        self._cached: tuple[tuple[_Run, ...], PrivacyAccountant] | None = None

    @classmethod
    @abc.abstractmethod
    def mechanism(cls) -> str:
        """The name Opacus knows this accountant by (and writes into its state dict)."""

    def step(self, *, noise_multiplier: float, sample_rate: float) -> None:
        """Record one optimiser step: a Poisson(``sample_rate``)-sampled Gaussian.

        Raises:
            InvalidArgument: a noise multiplier that is not a finite real >= 0, or a rate
                outside ``[0, 1]``.
        """
        noise, rate, _ = _run((noise_multiplier, sample_rate, 1))
        if self.history and self.history[-1][:2] == (noise, rate):
            self.history[-1] = (noise, rate, self.history[-1][2] + 1)
        else:
            self.history.append((noise, rate, 1))

    def __len__(self) -> int:
        """Number of optimiser steps recorded."""
        return sum(_run(entry)[2] for entry in self.history)

    def to_accountant(self) -> PrivacyAccountant:
        """A new accountant of ours holding the history, one ledger entry per run of steps.

        Yours to compose more into or to report from; the adapter keeps its own. A run
        without noise (``noise_multiplier == 0``) cannot be an event: it makes
        :meth:`get_epsilon` infinite and is left out here. Runs at rate 0 cost nothing.
        """
        accountant = self.kind()
        _compose_runs(accountant, tuple(_run(entry) for entry in self.history))
        return accountant

    def _composed(self) -> PrivacyAccountant:
        """The history composed; steps added since the last query are composed onto it.

        So querying after every epoch (or step) costs one composition of the new steps,
        the per-round pattern of :class:`~dp.PldAccountant`, not the whole history again.
        """
        runs = tuple(_run(entry) for entry in self.history)
        if self._cached is not None:
            before, accountant = self._cached
            added = _added_runs(before, runs)
            if added is not None:
                _compose_runs(accountant, added)
                self._cached = (runs, accountant)
                return accountant
        self._cached = (runs, self.to_accountant())
        return self._cached[1]

    def get_epsilon(
        self, delta: float, *args: object, bound: Bound = "upper", **kwargs: object
    ) -> float:
        """Epsilon spent so far at ``delta`` (our accountant's upper bound by default).

        Args:
            delta: target delta in (0, 1).
            *args: ignored (Opacus' own accountants take ``alphas`` here).
            bound: ``"upper"`` or, for the PLD, ``"lower"`` (how tight the upper bound is).
            **kwargs: ignored (``alphas``, ``eps_error`` of Opacus' own accountants).
        """
        if any(noise == 0.0 and rate > 0.0 for noise, rate, _ in map(_run, self.history)):
            return math.inf
        return self._composed().get_epsilon(delta, bound=bound)

    def get_optimizer_hook_fn(self, sample_rate: float) -> Callable[[Any], None]:
        """The hook Opacus attaches to its ``DPOptimizer``: one :meth:`step` per optimiser step.

        As in Opacus, the rate is multiplied by the optimiser's accumulated iterations
        (virtual steps, distributed training).
        """

        def hook(optimizer: Any) -> None:
            self.step(
                noise_multiplier=optimizer.noise_multiplier,
                sample_rate=sample_rate * optimizer.accumulated_iterations,
            )

        return hook

    def state_dict(self, destination: Any = None) -> Any:
        """``history`` and ``mechanism``, as Opacus' checkpoints save them."""
        if destination is None:
            destination = OrderedDict()
        destination["history"] = [_run(entry) for entry in self.history]
        destination["mechanism"] = self.mechanism()
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict` of the same mechanism.

        Raises:
            InvalidArgument: a missing key, another mechanism, or a malformed history.
        """
        if not isinstance(state_dict, Mapping) or not {"history", "mechanism"} <= set(state_dict):
            raise InvalidArgument("an accountant state needs the keys history and mechanism")
        if state_dict["mechanism"] != self.mechanism():
            raise InvalidArgument(
                f"a state of {state_dict['mechanism']!r} cannot be loaded into {self.mechanism()!r}"
            )
        history = state_dict["history"]
        if not isinstance(history, (list, tuple)):
            raise InvalidArgument("history must be a list of runs")
        self.history = [_run(entry) for entry in history]


class OpacusPldAccountant(OpacusAccountant):
    """Opacus accounting by :class:`~dp.PldAccountant` (tight; ``"fedcrypt_pld"``)."""

    kind = PldAccountant

    @classmethod
    def mechanism(cls) -> str:
        """``"fedcrypt_pld"``."""
        return "fedcrypt_pld"


class OpacusRdpAccountant(OpacusAccountant):
    """Opacus accounting by :class:`~dp.RdpAccountant` (``"fedcrypt_rdp"``)."""

    kind = RdpAccountant

    @classmethod
    def mechanism(cls) -> str:
        """``"fedcrypt_rdp"``."""
        return "fedcrypt_rdp"


_ADAPTERS: tuple[type[OpacusAccountant], ...] = (OpacusPldAccountant, OpacusRdpAccountant)


def register_opacus_accountants() -> tuple[str, ...]:
    """Make our accountants known to Opacus by name; returns the names.

    After it, ``opacus.PrivacyEngine(accountant="fedcrypt_pld")`` (or ``"fedcrypt_rdp"``)
    uses ours, ``make_private_with_epsilon`` calibrates with it, and our classes count as
    Opacus ``IAccountant`` instances. Calling it again is harmless.

    Raises:
        InteropNotInstalled: Opacus is not installed.
        InvalidArgument: another accountant is already registered under one of the names.
    """
    import_peer("opacus", "registering accountants with Opacus")
    accountants = import_peer("opacus.accountants", "registering accountants with Opacus")
    names = []
    for adapter in _ADAPTERS:
        name = adapter.mechanism()
        try:
            accountants.register_accountant(name, adapter)
        except ValueError:
            if not isinstance(accountants.create_accountant(name), adapter):
                raise InvalidArgument(
                    f"Opacus already has another accountant named {name!r}"
                ) from None
        names.append(name)
    accountants.IAccountant.register(OpacusAccountant)
    return tuple(names)
