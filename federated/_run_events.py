"""What a run tells its user as it goes: a progress bar, ``fedcrypt`` log records, callbacks.

After every round the runner hands the new :class:`~federated.history.RoundRecord` to
:meth:`RunEvents.round_done`, which advances the ``tqdm.auto`` bar (epsilon and loss in its
postfix; shown on a terminal or in a notebook, not under CI, see :mod:`secagg._progress`),
logs the round on the ``fedcrypt.federated.runner`` logger (standard :mod:`logging`; a
:class:`logging.NullHandler` on ``fedcrypt`` keeps the library quiet until the application
configures logging) and calls the user's callbacks with the record, in order. Once per run,
when the epsilon spent passes the sane bound (10) or the configured budget, it emits a
:class:`~federated.PrivacyWarning` (see :mod:`federated._warnings`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from federated._warnings import warn_if_epsilon_exceeds
from federated.config import FederatedConfig
from federated.errors import InvalidArgument
from federated.history import RoundRecord, RoundStatus
from secagg._progress import progress_bar

__all__ = ["RoundCallback", "RunEvents", "LOGGER_NAME"]

#: The logger of round events; every fedcrypt logger is under ``"fedcrypt"``.
LOGGER_NAME = "fedcrypt.federated.runner"
logging.getLogger("fedcrypt").addHandler(logging.NullHandler())
_log = logging.getLogger(LOGGER_NAME)

#: A per-round callback: called with each round's record as soon as the round ends.
RoundCallback = Callable[[RoundRecord], object]


class RunEvents:
    """The progress bar, log records and callbacks of one run.

    Raises:
        InvalidArgument: a callback is not callable.
    """

    def __init__(
        self,
        config: FederatedConfig,
        records: Sequence[RoundRecord],
        *,
        progress: bool | None,
        callbacks: Sequence[RoundCallback] | None,
    ) -> None:
        if callbacks is None:
            callbacks = ()
        if callable(callbacks) or not all(callable(c) for c in callbacks):
            raise InvalidArgument("callbacks must be a sequence of callables (one per hook)")
        self._config = config
        self._records = records
        self._callbacks = tuple(callbacks)
        self._warned = False
        self._bar: Any = progress_bar(
            config.rounds, desc="federated rounds", unit="round", enabled=progress
        )
        _log.info(
            "run started: %d rounds, %s aggregation, DP %s",
            config.rounds,
            config.aggregation.value,
            config.privacy.mode.value,
        )

    def round_done(self) -> None:
        """Report the latest record: bar, log record, then every callback."""
        record = self._records[-1]
        loss = record.metrics.get("loss")
        postfix: dict[str, str] = {}
        if record.epsilon is not None:
            postfix["epsilon"] = f"{record.epsilon:.3g}"
        if loss is not None:
            postfix["loss"] = f"{loss:.4g}"
        if record.status is not RoundStatus.COMPLETED:
            postfix["last"] = record.status.value
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)
        if record.status is RoundStatus.COMPLETED:
            _log.info(
                "round %d/%d completed: %d of %d selected clients in the sum, epsilon %s, %s",
                record.round,
                self._config.rounds,
                record.survivors,
                record.selected,
                "n/a" if record.epsilon is None else f"{record.epsilon:.4g}",
                ", ".join(f"{k} {v:.4g}" for k, v in record.metrics.items()) or "no metrics",
            )
        else:
            _log.warning(
                "round %d/%d %s: %s", record.round, self._config.rounds,
                record.status.value, record.note or "no note",
            )  # fmt: skip
        privacy = self._config.privacy
        if privacy.enabled and not self._warned and record.epsilon is not None:
            # stacklevel 3 points at the user's call of federated.run (round_done <- run <-
            # the caller; warn_if_epsilon_exceeds adds its own frame).
            message = warn_if_epsilon_exceeds(
                record.epsilon,
                privacy.run_delta,
                budget=privacy.target_epsilon,
                what=f"the run after round {record.round}",
                stacklevel=3,
            )
            self._warned = message is not None
        for callback in self._callbacks:
            callback(record)

    def close(self) -> None:
        """Close the bar and log the end of the run."""
        self._bar.close()
        completed = sum(r.status is RoundStatus.COMPLETED for r in self._records)
        _log.info(
            "run ended after %d of %d rounds (%d completed)",
            len(self._records),
            self._config.rounds,
            completed,
        )
