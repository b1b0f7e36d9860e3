"""The human renderings of a privacy report: Markdown, a plain-text table and HTML.

Every rendering names the neighbouring relation (the zero-out choice spelled out), what was
released, the clip norm and noise multiplier in the user's units when given, and labels the
``delta = 1/N`` figure as a comparison, never the headline. A report with empirical audits
gets an audit section (one row per :class:`~dp.audit.AuditResult`), and a refuted claim is
announced under the title, before any number, as well as first among the warnings.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dp.errors import DPError
from dp.events import DpEvent, MatrixFactorizationGaussian
from dp.report._accounting import _checkpoints, _grouped
from dp.report._plot import plot_png

if TYPE_CHECKING:
    from dp.audit.result import AuditResult
    from dp.report._model import PrivacyReport

__all__ = ["describe_event", "to_markdown", "to_table", "to_html"]

#: Rendered curve tables (Markdown, HTML) show at most this many rounds; JSON and the plot
#: keep every evaluated round.
_DISPLAYED_CURVE_ROWS = 50


def _unit_word(unit: str) -> str:
    return "client" if unit == "client" else "record"


def _relation_label(relation: str, unit: str) -> str:
    """How a rendering names the relation: the zero-out choice is always spelled out."""
    who = _unit_word(unit)
    if relation == "zero_out":
        return (
            f"zero-out (explicit choice, not add/remove: one {who}'s data replaced by a null "
            f"{who} contributing zero)"
        )
    if relation == "replace_one":
        return f"replace-one (one {who} replaced by any other)"
    return f"add/remove (one {who} added or removed)"


def describe_event(event: DpEvent) -> str:
    """A compact description, e.g. ``poisson_sampled(rate=0.01) of gaussian(...)``."""
    fields = {k: v for k, v in event.to_dict().items() if k not in ("type", "version")}
    inner = fields.pop("event", None)
    nested = fields.pop("events", None)
    params = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in fields.items())
    text = f"{event.kind}({params})"
    if inner is not None:
        text += " of " + describe_event(event.event)  # type: ignore[attr-defined]
    if nested is not None:
        text += " of [" + "; ".join(describe_event(e) for e in event.events) + "]"  # type: ignore[attr-defined]
    return text


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return "inf"
    return f"{value:.4g}"


def summary_rows(report: PrivacyReport) -> list[tuple[str, str]]:
    who = _unit_word(report.privacy_unit)
    rows = [
        ("privacy unit", report.privacy_unit),
        ("neighbouring relation", _relation_label(report.neighbouring, report.privacy_unit)),
        ("sampling", report.sampling.replace("_", " ")),
        ("released", report.released if report.released is not None else "not stated"),
    ]
    if report.clip_norm is not None:
        rows.append((f"clip norm (L2 bound per {who})", _fmt(report.clip_norm)))
    if report.noise_multiplier is not None:
        rows.append(("noise multiplier (noise std / clip norm)", _fmt(report.noise_multiplier)))
    rows += [
        ("rounds", str(report.rounds)),
        ("delta", f"{report.delta:.3g}"),
        ("epsilon (the guarantee at delta)", _fmt(report.epsilon)),
        ("epsilon (PLD, tight)", _fmt(report.epsilon_pld)),
        ("epsilon (PLD, lower bound)", _fmt(report.epsilon_pld_lower)),
        ("epsilon (RDP, fast)", _fmt(report.epsilon_rdp)),
    ]
    if report.sampling == "participation_schema" and report.zcdp_rho is not None:
        rows.append(("zCDP rho (DP-FTRL: one Gaussian mechanism)", _fmt(report.zcdp_rho)))
    if report.target_epsilon is not None:
        rows.append(("target epsilon", _fmt(report.target_epsilon)))
        rows.append(("budget left", _fmt(report.budget_left)))
    if report.audits:
        refuted = sum(audit.violation for audit in report.audits)
        rows.append(
            (
                "empirical privacy audit",
                f"CLAIM REFUTED by {refuted} of {len(report.audits)} "
                f"audit{_plural(len(report.audits))}"
                if refuted
                else f"no claim refuted ({len(report.audits)} audit{_plural(len(report.audits))})",
            )
        )
    if report.population is not None:
        rows.append(
            (
                f"comparison only: epsilon at delta = 1/N (N = {report.population})",
                _fmt(report.epsilon_at_inverse_n),
            )
        )
    rows.append(("threat model", report.threat_model.kind.replace("_", " ")))
    if report.threat_model.kind == "distributed":
        colluders = report.threat_model.colluders
        rows.append(
            (
                "clients colluding with the server",
                "not stated (none assumed)" if colluders is None else str(colluders),
            )
        )
    rows.append(("library version", report.library_version))
    rows.append(("created", report.created))
    return rows


#: Columns of the audit section (Markdown and HTML).
AUDIT_HEADER = (
    "method",
    "delta",
    "claimed epsilon",
    "empirical lower bound (confidence)",
    "estimate",
    "canaries",
    "claim",
)


def audit_verdict(audit: AuditResult) -> str:
    """``REFUTED``, ``consistent``, or why the audit cannot judge the claim."""
    if audit.violation:
        return "REFUTED"
    if audit.epsilon_lower_bound is None:
        return "not judged (an estimate is not a bound)"
    if audit.claimed_epsilon is None:
        return "not judged (no claimed epsilon)"
    return "consistent"


def audit_rows(report: PrivacyReport) -> list[tuple[str, ...]]:
    """One row per audit, in :data:`AUDIT_HEADER`'s columns."""
    rows: list[tuple[str, ...]] = []
    for audit in report.audits:
        bound = (
            f"{_fmt(audit.epsilon_lower_bound)} ({audit.confidence:.0%})"
            if audit.epsilon_lower_bound is not None and audit.confidence is not None
            else "none (estimate only)"
        )
        unit = "runs" if audit.method == "clopper_pearson" else "canaries"
        rows.append(
            (
                audit.method,
                f"{audit.delta:.3g}",
                _fmt(audit.claimed_epsilon),
                bound,
                _fmt(audit.epsilon_estimate),
                f"{audit.canaries} {unit}",
                audit_verdict(audit),
            )
        )
    return rows


def refuted_banner(report: PrivacyReport) -> str | None:
    """The loud line a refuted claim puts under the title, or ``None``."""
    from dp.report._model import REFUTED_WARNING

    refuted = [a for a in report.audits if a.violation]
    if not refuted:
        return None
    which = ", ".join(sorted({a.method for a in refuted}))
    return (
        f"WARNING: the claimed epsilon is refuted by {len(refuted)} of {len(report.audits)} "
        f"privacy audit{_plural(len(report.audits))} ({which}): {REFUTED_WARNING}."
    )


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


_AUDIT_NOTE = (
    "Each lower bound holds with the stated confidence; a bound above the claimed epsilon "
    "refutes the claim. An estimate is not a bound. Audits are measured once, after the "
    "run, each at its own delta, so they are not drawn on the epsilon-against-rounds plot."
)


def mechanism_rows(report: PrivacyReport) -> list[tuple[str, str]]:
    """(rounds, mechanism) rows; a DP-FTRL run's per-round prefix entries make one row."""
    return [
        (str(count), describe_event(event))
        for event, count in _grouped(_joined_prefixes(report.ledger))
    ]


def _joined_prefixes(ledger: Sequence[tuple[DpEvent, int]]) -> list[tuple[DpEvent, int]]:
    """Chain consecutive DP-FTRL prefix entries into the prefix they compose to.

    A DP-FTRL run's ledger holds one :class:`~dp.events.MatrixFactorizationGaussian` per
    round, each the growth of the released prefix from ``prior_sensitivity`` to
    ``sensitivity`` (they compose in quadrature). For display only: entries that continue
    one another (same strategy, schema and noise; each prior the previous sensitivity) are
    shown as one entry from the first prior to the last sensitivity, with the rounds they
    cover as its count; the report's figures come from the ledger itself.
    """
    out: list[tuple[DpEvent, int]] = []
    chaining = False  # whether out[-1] is a prefix that a next entry may continue
    for event, count in ledger:
        # An entry repeated ``count > 1`` times is a chain only if it adds nothing (the
        # floor case, prior == sensitivity); otherwise it is kept as it is.
        link = isinstance(event, MatrixFactorizationGaussian) and (
            count == 1 or event.prior_sensitivity == event.sensitivity
        )
        if chaining and link:
            last, rounds = out[-1]
            assert isinstance(last, MatrixFactorizationGaussian)
            assert isinstance(event, MatrixFactorizationGaussian)
            same_mechanism = dataclasses.replace(
                event, sensitivity=1.0, prior_sensitivity=0.0
            ) == dataclasses.replace(last, sensitivity=1.0, prior_sensitivity=0.0)
            if same_mechanism and event.prior_sensitivity == last.sensitivity:
                out[-1] = (dataclasses.replace(last, sensitivity=event.sensitivity), rounds + count)
                continue
        out.append((event, count))
        chaining = link
    return out


def curve_rows(report: PrivacyReport) -> list[tuple[str, ...]]:
    shown = set(_checkpoints(len(report.curve), _DISPLAYED_CURVE_ROWS))
    rows = []
    for index, p in enumerate(report.curve, start=1):
        if index not in shown:
            continue
        row = [str(p.round), _fmt(p.epsilon_pld), _fmt(p.epsilon_rdp)]
        if report.population is not None:
            row += [_fmt(p.epsilon_pld_at_inverse_n), _fmt(p.epsilon_rdp_at_inverse_n)]
        rows.append(tuple(row))
    return rows


def curve_header(report: PrivacyReport) -> tuple[str, ...]:
    head = ["round", "epsilon PLD", "epsilon RDP"]
    if report.population is not None:
        head += ["PLD at 1/N (comparison)", "RDP at 1/N (comparison)"]
    return tuple(head)


def to_markdown(report: PrivacyReport) -> str:
    """A Markdown report (tables for the summary, the mechanisms and the curve)."""
    lines = [f"# {_one_line(report.title)}", ""]
    banner = refuted_banner(report)
    if banner is not None:
        lines += [f"> **{banner}**", ""]
    lines += ["| quantity | value |", "| --- | --- |"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in summary_rows(report)]
    lines += ["", "## Threat model", "", report.threat_model.describe(), ""]
    lines += ["## Mechanisms", "", "| rounds | mechanism |", "| --- | --- |"]
    lines += [f"| {n} | `{d}` |" for n, d in mechanism_rows(report)]
    lines += ["", f"## Epsilon after each round (delta = {report.delta:.3g})", ""]
    head = curve_header(report)
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in curve_rows(report)]
    if report.audits:
        lines += ["", "## Empirical privacy audits", "", _AUDIT_NOTE, ""]
        lines += ["| " + " | ".join(AUDIT_HEADER) + " |", "|" + " --- |" * len(AUDIT_HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in audit_rows(report)]
    lines += ["", "## Warnings", ""]
    lines += [f"- {_one_line(w)}" for w in report.warnings] if report.warnings else ["None."]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """User text on one line (a newline would end a heading, a list item or a row)."""
    return " ".join(text.split())


def _cell(text: str) -> str:
    """User text as one Markdown table cell (pipes escaped)."""
    return _one_line(text).replace("|", "\\|")


def to_table(report: PrivacyReport) -> str:
    """A plain-text summary for terminals."""
    rows = summary_rows(report)
    width = max(len(k) for k, _ in rows)
    lines = [report.title, "=" * len(report.title)]
    banner = refuted_banner(report)
    if banner is not None:
        lines += [f"!!! {banner}"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    lines += ["", "mechanisms:"] + [f"  {n} x {d}" for n, d in mechanism_rows(report)]
    if report.audits:
        lines += ["", "empirical privacy audits:"]
        lines += [f"  {audit.describe()}" for audit in report.audits]
    if report.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


def to_html(
    report: PrivacyReport, *, include_plot: bool = True, include_inverse_n: bool = False
) -> str:
    """A self-contained HTML page; the plot is an embedded base64 PNG.

    Without matplotlib the page says so in place of the plot. ``include_inverse_n``
    adds the ``delta = 1/N`` comparison curve to the plot (off by default).
    """
    esc = html.escape

    def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        out = "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
        out += "</tr></thead><tbody>"
        for row in rows:
            out += "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
        return out + "</tbody></table>"

    figure = ""
    if include_plot:
        try:
            png = plot_png(report, include_inverse_n=include_inverse_n)
            data = base64.b64encode(png).decode("ascii")
            figure = f'<img alt="epsilon against rounds" src="data:image/png;base64,{data}">'
        except DPError as exc:
            figure = f"<p><em>{esc(str(exc))}</em></p>"
    banner = refuted_banner(report)
    alert = "" if banner is None else f'<p class="refuted"><strong>{esc(banner)}</strong></p>'
    audits = (
        f"<h2>Empirical privacy audits</h2><p>{esc(_AUDIT_NOTE)}</p>"
        + table(AUDIT_HEADER, audit_rows(report))
        if report.audits
        else ""
    )
    warnings = (
        "<ul>" + "".join(f"<li>{esc(w)}</li>" for w in report.warnings) + "</ul>"
        if report.warnings
        else "<p>None.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(report.title)}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;}"
        "table{border-collapse:collapse;margin:1em 0;}"
        "td,th{border:1px solid #999;padding:.25em .6em;text-align:left;}"
        ".refuted{color:#a00;border:2px solid #a00;padding:.5em;}"
        "</style></head><body>"
        f"<h1>{esc(report.title)}</h1>"
        + alert
        + table(("quantity", "value"), summary_rows(report))
        + f"<h2>Threat model</h2><p>{esc(report.threat_model.describe())}</p>"
        + "<h2>Mechanisms</h2>"
        + table(("rounds", "mechanism"), mechanism_rows(report))
        + f"<h2>Epsilon after each round (delta = {report.delta:.3g})</h2>"
        + figure
        + table(curve_header(report), curve_rows(report))
        + audits
        + "<h2>Warnings</h2>"
        + warnings
        + "</body></html>\n"
    )
