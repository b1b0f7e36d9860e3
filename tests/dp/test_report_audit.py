"""The privacy report's audit section (issue 19): renderings, JSON version 3, old versions.

A report carries the run's :class:`dp.audit.AuditResult` records; every rendering shows
each one, a refuted claim is announced under the title and first among the warnings, and
the ``audits`` field is validated on the way in (fuzzed here: only
:class:`dp.SerializationError` escapes, quickly).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dp
from dp.audit import AuditResult
from dp.errors import InvalidArgument, SerializationError
from dp.report import MAX_AUDITS, REFUTED_WARNING, REPORT_FORMAT_VERSION, PrivacyReport

CREATED = "2026-01-01T00:00:00Z"

CONSISTENT = AuditResult(
    method="one_run_gdp",
    delta=1e-5,
    epsilon_lower_bound=2.781,
    confidence=0.95,
    epsilon_estimate=4.362,
    mu_lower_bound=0.71,
    mu_estimate=1.02,
    claimed_epsilon=4.377,
    canaries=10_000,
    guesses=1250,
    correct=1180,
)
REFUTED = AuditResult(
    method="one_run",
    delta=1e-5,
    epsilon_lower_bound=6.71,
    confidence=0.95,
    epsilon_estimate=None,
    mu_lower_bound=None,
    mu_estimate=None,
    claimed_epsilon=4.377,
    canaries=10_000,
    guesses=1250,
    correct=1249,
)
ESTIMATE_ONLY = AuditResult(
    method="canary_clients",
    delta=1e-5,
    epsilon_lower_bound=None,
    confidence=None,
    epsilon_estimate=3.94,
    mu_lower_bound=None,
    mu_estimate=0.93,
    claimed_epsilon=4.377,
    canaries=1000,
)
CLOPPER_PEARSON = AuditResult(
    method="clopper_pearson",
    delta=1e-5,
    epsilon_lower_bound=1.2,
    confidence=0.95,
    epsilon_estimate=None,
    mu_lower_bound=None,
    mu_estimate=None,
    claimed_epsilon=None,
    canaries=200_000,
)


@functools.cache
def _report(*audits: AuditResult) -> PrivacyReport:
    return PrivacyReport.from_ledger(
        [(dp.Gaussian(1.0), 1)],
        delta=1e-5,
        tight=False,
        audits=audits,
        created=CREATED,
        library_version="0.1.0",
    )


def test_a_consistent_audit_is_shown_in_every_rendering() -> None:
    report = _report(CONSISTENT, ESTIMATE_ONLY, CLOPPER_PEARSON)
    assert report.audits == (CONSISTENT, ESTIMATE_ONLY, CLOPPER_PEARSON)
    markdown = report.to_markdown()
    assert "## Empirical privacy audits" in markdown
    assert (
        "| one_run_gdp | 1e-05 | 4.377 | 2.781 (95%) | 4.362 | 10000 canaries | consistent |"
        in (markdown)
    )
    assert "| canary_clients | 1e-05 | 4.377 | none (estimate only) | 3.94 | 1000 canaries |" in (
        markdown
    )
    assert "| clopper_pearson | 1e-05 | n/a | 1.2 (95%) | n/a | 200000 runs |" in markdown
    assert "not drawn on the epsilon-against-rounds plot" in markdown
    assert "| empirical privacy audit | no claim refuted (3 audits) |" in markdown
    table = report.to_table()
    assert CONSISTENT.describe() in table
    assert ESTIMATE_ONLY.describe() in table
    page = report.to_html(include_plot=False)
    assert "<h2>Empirical privacy audits</h2>" in page
    assert "<td>2.781 (95%)</td>" in page
    assert "<td>10000 canaries</td>" in page
    for text in (markdown, table, page):
        assert REFUTED_WARNING not in text
        assert "REFUTED" not in text
    assert not any("AUDIT" in w for w in report.warnings)


def test_a_refuted_claim_is_loud_in_every_rendering() -> None:
    report = _report(CONSISTENT, REFUTED)
    assert report.warnings[0].startswith("AUDIT REFUTES THE CLAIM (one_run)")
    assert REFUTED_WARNING in report.warnings[0]
    markdown = report.to_markdown()
    banner = markdown.index(REFUTED_WARNING)
    assert banner < markdown.index("| quantity | value |")  # before any number
    assert "| one_run | 1e-05 | 4.377 | 6.71 (95%) | n/a | 10000 canaries | REFUTED |" in markdown
    assert "| empirical privacy audit | CLAIM REFUTED by 1 of 2 audits |" in markdown
    table = report.to_table()
    assert table.splitlines()[2].startswith("!!! WARNING: the claimed epsilon is refuted")
    assert REFUTED.describe() in table
    page = report.to_html(include_plot=False)
    assert page.index('<p class="refuted">') < page.index("<table>")
    assert "<td>REFUTED</td>" in page
    data = report.to_dict()
    assert data["audits"] == [CONSISTENT.to_dict(), REFUTED.to_dict()]
    assert REFUTED_WARNING in data["warnings"][0]


def test_a_report_without_audits_renders_as_before() -> None:
    report = _report()
    assert report.audits == ()
    assert report.to_dict()["audits"] == []
    for text in (report.to_markdown(), report.to_table(), report.to_html(include_plot=False)):
        assert "audit" not in text.lower()


def test_json_round_trip_with_audits() -> None:
    report = _report(CONSISTENT, REFUTED, ESTIMATE_ONLY, CLOPPER_PEARSON)
    text = report.to_json()
    assert json.loads(text)["version"] == REPORT_FORMAT_VERSION == 3
    again = PrivacyReport.from_json(text)
    assert again == report
    assert again.to_json() == text
    assert again.to_markdown() == report.to_markdown()
    assert PrivacyReport.from_dict(json.loads(text)) == report


def test_version_2_reports_still_load_without_audits() -> None:
    old = _report().to_dict()
    old["version"] = 2
    del old["audits"]
    loaded = PrivacyReport.from_dict(old)
    assert loaded.audits == ()
    assert loaded == _report()
    assert PrivacyReport.from_json(json.dumps(old)) == _report()
    with_audits = _report(CONSISTENT).to_dict()
    with_audits["version"] = 2
    with pytest.raises(SerializationError, match="audits"):
        PrivacyReport.from_dict(with_audits)  # version 2 has no audits field
    missing = _report(CONSISTENT).to_dict()
    del missing["audits"]
    with pytest.raises(SerializationError, match="audits"):
        PrivacyReport.from_dict(missing)


@pytest.mark.parametrize(
    "audits",
    [
        [CONSISTENT.to_dict()],
        [None],
        "one_run",
        {"audit": CONSISTENT},
        [CONSISTENT] * (MAX_AUDITS + 1),
    ],
)
def test_from_ledger_takes_audit_records_only(audits: Any) -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger([(dp.Gaussian(1.0), 1)], delta=1e-5, tight=False, audits=audits)


def test_the_plot_keeps_the_audits_off() -> None:
    pytest.importorskip("matplotlib")
    assert _report(REFUTED).plot_png() == _report().plot_png()


# ----------------------------------------------------------------------------- fuzzing


def _nested(depth: int) -> object:
    """``depth`` lists inside each other."""
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 2**62 + 1, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["inf", "nan", "one_run", "audit_result", "privacy_report"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.integers(min_value=60, max_value=3000).map(lambda depth: _nested(depth)),
)


def _check(tree: dict[str, Any]) -> None:
    try:
        report = PrivacyReport.from_dict(tree)
    except SerializationError:
        pass
    else:
        assert PrivacyReport.from_json(report.to_json()) == report
    try:
        text = json.dumps(tree, allow_nan=False)
    except (ValueError, RecursionError):
        text = None
    if text is not None:
        with contextlib.suppress(SerializationError):
            PrivacyReport.from_json(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile)
def test_a_hostile_audits_field_is_refused(value: object) -> None:
    tree = _report(CONSISTENT).to_dict()
    tree["audits"] = value
    _check(tree)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_hostile_value_in_an_audit_record_is_loaded_or_refused(data: st.DataObject) -> None:
    tree = copy.deepcopy(_report(CONSISTENT, ESTIMATE_ONLY).to_dict())
    record = tree["audits"][data.draw(st.integers(0, 1))]
    key = data.draw(st.sampled_from([*sorted(record), "extra"]))
    record[key] = data.draw(hostile)
    _check(tree)


@pytest.mark.parametrize(
    "audits",
    [
        [{**CONSISTENT.to_dict(), "canaries": 10**400}],
        [{**CONSISTENT.to_dict(), "claimed_epsilon": 10**400}],
        [{**CONSISTENT.to_dict(), "delta": True}],
        [{**CONSISTENT.to_dict(), "version": 2}],
        [{**CONSISTENT.to_dict(), "correct": 5000}],
        [CONSISTENT.to_dict(), 7],
        [CONSISTENT.to_dict()] * (MAX_AUDITS + 1),
    ],
)
def test_malformed_audits_are_serialization_errors(audits: list[Any]) -> None:
    tree = _report().to_dict()
    tree["audits"] = audits
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(tree)


def test_deeply_nested_audits_text_is_refused_before_parsing() -> None:
    text = _report().to_json().replace('"audits": []', '"audits": ' + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(SerializationError, match="nested"):
        PrivacyReport.from_json(text)
