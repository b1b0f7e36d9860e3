"""Privacy budget reports: what a run spent, in a form a paper, an auditor or a regulator reads.

A :class:`PrivacyReport` is computed from an accountant's ledger plus the run's metadata:
the privacy unit and the neighbouring relation (the accountants are built for it, so every
number is for the relation the report names), the sampling scheme actually used, the
threat model in force (with the colluders assumed under distributed DP), the clip norm and
noise multiplier in the user's units, what was released, and the target budget. It holds
the epsilon curve at the chosen delta (and, as a comparison, at ``delta = 1/N``), the tight
PLD epsilon with its certified lower bound next to the fast RDP epsilon, and warnings for
anything that may make the statement weaker than it reads (e.g. a fixed-size or shuffled
selection accounted as Poisson sampling; Lebeda, Regehr, Kamath and Steinke 2024,
"Avoiding Pitfalls for Privacy Accounting of Subsampled Mechanisms under Composition").

Ledgers are run-length ``(event, count)`` lists and reports compose them *by counts*: the
curve is evaluated at checkpoints in round space, each stretch between checkpoints composed
as one ``compose(event, k)`` (repeated squaring in the PLD, a product in the RDP), so a
report over 10^12 rounds costs a few dozen compositions and bounded memory.

Outputs: versioned JSON (:meth:`PrivacyReport.to_dict`, schema in ``docs/dp/reports.md``),
Markdown, a self-contained HTML page with an embedded PNG plot, a plain-text table, and a
PNG plot (matplotlib from the ``plot`` extra, imported only when plotting).

The package holds the model and one module per concern: ``_model`` (fields, warnings,
JSON writing), ``_accounting`` (composition by counts), ``_render`` (Markdown, table,
HTML), ``_plot`` (PNG) and ``_json`` (reading versions 1 to 3).

:func:`compare_ftrl` (``_ftrl``) sets a DP-FTRL run's claim, which assumes only a
participation schema, beside tree aggregation's and DP-FedAvg's (with Poisson sampling),
as a table and an epsilon-against-rounds plot.

A report may carry the run's empirical privacy audits (:class:`dp.audit.AuditResult`, the
``audits`` field): every rendering shows them next to the accounted epsilon, and a refuted
claim is the first warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dp.neighbouring import Neighbouring
from dp.report._accounting import MAX_CURVE_POINTS, MAX_ROUNDS, PLD_EPSILON_LIMIT
from dp.report._model import (
    DEFAULT_RELEASED,
    MAX_AUDITS,
    REFUTED_WARNING,
    REPORT_FORMAT_VERSION,
    CurvePoint,
    PrivacyReport,
    PrivacyUnit,
    SamplingScheme,
    ThreatKind,
    ThreatModel,
)
from dp.report._render import describe_event

if TYPE_CHECKING:
    from dp.report._ftrl import ComparisonCurve, FtrlComparison, compare_ftrl

_LAZY = ("ComparisonCurve", "FtrlComparison", "compare_ftrl")


def __getattr__(name: str) -> Any:
    """The DP-FTRL comparison, imported on first use (it needs :mod:`dp.ftrl` and scipy)."""
    if name in _LAZY:
        from dp.report import _ftrl

        return getattr(_ftrl, name)
    raise AttributeError(f"module 'dp.report' has no attribute {name!r}")


__all__ = [
    "REPORT_FORMAT_VERSION",
    "MAX_AUDITS",
    "REFUTED_WARNING",
    "MAX_ROUNDS",
    "MAX_CURVE_POINTS",
    "PLD_EPSILON_LIMIT",
    "DEFAULT_RELEASED",
    "PrivacyUnit",
    "Neighbouring",
    "SamplingScheme",
    "ThreatKind",
    "ThreatModel",
    "CurvePoint",
    "PrivacyReport",
    "describe_event",
    "ComparisonCurve",
    "FtrlComparison",
    "compare_ftrl",
]
