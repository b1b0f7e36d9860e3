"""Say so when a run's privacy loss is past a sane bound or past its budget.

A run that reports epsilon 36.7 without a word invites the reader to take it as a
guarantee. Past epsilon = 10 a differential-privacy guarantee says little: Ponomareva et
al., "How to DP-fy ML" (JAIR 2023), section 5.2, put epsilon <= 10 as the loosest tier
that still gives "reasonable" protection and call models above it weakly protected.
:func:`warn_if_epsilon_exceeds` emits a :class:`PrivacyWarning` (a ``UserWarning``, so it
shows by default) and logs the same text on the ``fedcrypt.privacy`` logger, so both
interactive users and log pipelines see it. Every runner calls it once per run, when the
run's epsilon first passes the bound or the budget.
"""

from __future__ import annotations

import logging
import math
import warnings

__all__ = ["DEFAULT_EPSILON_WARNING", "PrivacyWarning", "warn_if_epsilon_exceeds", "logger"]

DEFAULT_EPSILON_WARNING = 10.0
"""Epsilon above which a run is flagged (Ponomareva et al. 2023, section 5.2)."""

logger = logging.getLogger("fedcrypt.privacy")
"""The logger privacy warnings are written to (a child of the ``fedcrypt`` logger)."""


class PrivacyWarning(UserWarning):
    """A run spent more privacy than is sane (epsilon above the bound) or than its budget."""


def _check_bound(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float or None")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, or None")


def warn_if_epsilon_exceeds(
    epsilon: float | None,
    delta: float,
    *,
    bound: float | None = DEFAULT_EPSILON_WARNING,
    budget: float | None = None,
    what: str = "the run",
    stacklevel: int = 2,
) -> str | None:
    """Warn (and log) if ``epsilon`` exceeds ``budget`` or ``bound``; return the message.

    Args:
        epsilon: the epsilon spent so far (``None``: no DP, nothing to say).
        delta: the delta it is reported at (named in the message).
        bound: the sane upper bound (``None``: no bound check).
        budget: the run's configured target epsilon (``None``: no budget check).
        what: how the message names the run (e.g. ``"the Flower run after round 7"``).
        stacklevel: passed to :func:`warnings.warn` (2: the caller's caller).

    Returns:
        The warning's text, or ``None`` when nothing was exceeded.

    Raises:
        TypeError, ValueError: ``bound`` or ``budget`` is not a finite positive number.
    """
    _check_bound("bound", bound)
    _check_bound("budget", budget)
    if epsilon is None:
        return None
    over_budget = budget is not None and epsilon > budget
    over_bound = bound is not None and epsilon > bound
    if not (over_budget or over_bound):
        return None
    if over_budget:
        message = (
            f"{what} spent epsilon = {epsilon:.3g} at delta = {delta:g}, past its budget "
            f"of {budget:g}"
        )
    else:
        message = (
            f"{what} spent epsilon = {epsilon:.3g} at delta = {delta:g}, above {bound:g}: "
            "a guarantee this weak says little (Ponomareva et al. 2023, section 5.2); add "
            "noise, train fewer rounds or sample fewer clients per round"
        )
    logger.warning(message)
    warnings.warn(message, PrivacyWarning, stacklevel=stacklevel + 1)
    return message
