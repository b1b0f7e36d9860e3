"""The epsilon-against-rounds plot of a privacy report (matplotlib, imported only here).

The plot shows the guarantee, epsilon at the report's delta; the ``delta = 1/N`` curve is a
comparison and appears only on request.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dp.errors import DPError

if TYPE_CHECKING:
    from dp.report._model import PrivacyReport

__all__ = ["plot_png"]


def _nan_for_none(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def plot_png(report: PrivacyReport, *, include_inverse_n: bool = False) -> bytes:
    """The epsilon-against-rounds plot as PNG bytes (needs matplotlib).

    The plot shows the guarantee (epsilon at :attr:`delta`); ``include_inverse_n`` adds
    the ``delta = 1/N`` curve, labelled as a comparison.

    Raises:
        DPError: matplotlib is not installed (``pip install 'fedcrypt[plot]'``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise DPError("plotting needs matplotlib: pip install 'fedcrypt[plot]'") from exc
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rounds = [p.round for p in report.curve]
    if any(p.epsilon_pld is not None for p in report.curve):
        ax.plot(rounds, _nan_for_none([p.epsilon_pld for p in report.curve]), label="PLD (tight)")
    ax.plot(rounds, [p.epsilon_rdp for p in report.curve], "--", label="RDP")
    if include_inverse_n and report.population is not None:
        ax.plot(
            rounds,
            _nan_for_none(
                [
                    p.epsilon_pld_at_inverse_n
                    if p.epsilon_pld_at_inverse_n is not None
                    else p.epsilon_rdp_at_inverse_n
                    for p in report.curve
                ]
            ),
            ":",
            label=f"comparison: delta = 1/N = {1 / report.population:.2g}",
        )
    if report.target_epsilon is not None:
        ax.axhline(report.target_epsilon, color="red", linewidth=1, label="target")
    ax.set_xlabel("round")
    ax.set_ylabel("epsilon")
    relation = report.neighbouring.replace("_", "/" if report.neighbouring == "add_remove" else "-")
    heading = f"{report.title} (delta = {report.delta:.2g}, {relation})"
    ax.set_title(textwrap.fill(heading, width=70), fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
