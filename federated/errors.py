"""The exceptions of :mod:`federated`: one root, typed subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from federated.history import History

__all__ = [
    "FederatedError",
    "InvalidArgument",
    "InvalidUpdate",
    "InsufficientClients",
    "BudgetExhausted",
    "ServerViewViolation",
    "MissingExtra",
    "RunInterrupted",
]


class FederatedError(Exception):
    """Root of every error raised by :mod:`federated`."""


class InvalidArgument(FederatedError, ValueError):
    """A configuration or argument is invalid (e.g. a threshold above the cohort size)."""


class InvalidUpdate(InvalidArgument):
    """A client returned an unusable update (NaN, wrong shape, bad example count).

    Attributes:
        client: the client's id, when the runner knows it.
        round_number: the round, when the runner knows it.
    """

    def __init__(
        self, message: str, *, client: int | None = None, round_number: int | None = None
    ) -> None:
        where = []
        if client is not None:
            where.append(f"client {client}")
        if round_number is not None:
            where.append(f"round {round_number}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.reason = message
        self.client = client
        self.round_number = round_number


class InsufficientClients(FederatedError):
    """Too few clients survived a round for the protocol to recover the sum."""


class BudgetExhausted(FederatedError):
    """The next round would spend more privacy than the run's target epsilon allows."""


class ServerViewViolation(FederatedError, TypeError):
    """Something other than a masked vector or a ciphertext was handed to the server."""


class MissingExtra(FederatedError, ImportError):
    """An optional part of fedcrypt was imported without its extra; ``extra`` names it.

    The message says what to install (``pip install 'fedcrypt[<extra>]'``).
    """

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({missing} is not installed): "
            f"pip install 'fedcrypt[{extra}]'",
            name=missing,
        )
        self.extra = extra
        self.feature = feature


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`federated.run`; ``history`` holds what was done until then.

    A ``KeyboardInterrupt`` still (so a script that does not catch it stops as before, and
    ``except Exception`` does not swallow it). ``history`` has the completed rounds' records,
    the parameters of the last round the accountant recorded (never a release it has not
    accounted for) and the privacy ledger, so the report can still be written::

        try:
            history = federated.run(config, clients, start)
        except federated.RunInterrupted as stop:
            history = stop.history
        history.write_privacy_report("report")
    """

    def __init__(self, history: History) -> None:
        super().__init__(history.stop_reason)
        self.history = history
