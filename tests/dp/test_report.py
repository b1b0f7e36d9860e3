"""Privacy reports: accounting, warnings, JSON round trips, renderings and the golden Markdown."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from dp.errors import InvalidArgument, SerializationError
from dp.report import REPORT_FORMAT_VERSION, PrivacyReport, ThreatModel

GOLDEN = Path(__file__).parent / "golden" / "report.md"
FIXED = {"created": "2026-01-01T00:00:00Z", "library_version": "0.1.0"}


@functools.cache
def _golden_report() -> PrivacyReport:
    ledger = [(dp.PoissonSampled(0.02, dp.Gaussian(1.0)), 1)] * 10
    return PrivacyReport.from_ledger(
        ledger,
        delta=1e-5,
        population=1000,
        target_epsilon=2.0,
        sampling="fixed_size",
        privacy_unit="client",
        title="Golden report",
        curve_points=4,
        **FIXED,
    )


def test_markdown_matches_the_golden_file() -> None:
    text = _golden_report().to_markdown()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_report_numbers_agree_with_the_accountants() -> None:
    event = dp.PoissonSampled(0.02, dp.Gaussian(1.0))
    report = _golden_report()
    rdp = dp.RdpAccountant().compose(event, 10)
    pld = dp.PldAccountant().compose(event, 10)
    assert report.epsilon_rdp == pytest.approx(rdp.get_epsilon(1e-5))
    assert report.epsilon_pld == pytest.approx(pld.get_epsilon(1e-5))
    assert report.epsilon_pld_lower is not None
    assert report.epsilon_pld_lower <= report.epsilon_pld
    assert report.epsilon == report.epsilon_pld
    assert report.budget_left == pytest.approx(2.0 - report.epsilon)
    assert report.epsilon_at_inverse_n == pytest.approx(pld.get_epsilon(1e-3))
    rounds = [p.round for p in report.curve]
    assert rounds[0] == 1
    assert rounds[-1] == 10
    values = [p.epsilon_pld for p in report.curve]
    assert values == sorted(values)  # epsilon never decreases with rounds


def test_fixed_size_selection_accounted_as_poisson_warns() -> None:
    report = _golden_report()
    assert any("Poisson" in w and "fixed-size" in w for w in report.warnings)
    honest = PrivacyReport.from_ledger(
        [(dp.PoissonSampled(0.02, dp.Gaussian(1.0)), 1)] * 3, delta=1e-5, tight=False, **FIXED
    )
    assert not any("fixed-size" in w for w in honest.warnings)


def test_distributed_threat_model_and_dropout_warning() -> None:
    event = dp.DistributedDiscreteGaussian(
        sigma=50.0, n_min=8, dimension=64, sensitivity_l1=400.0, sensitivity_l2=60.0
    )
    report = PrivacyReport.from_ledger(
        [(event, 1)] * 5,
        delta=1e-6,
        privacy_unit="client",
        threat_model=ThreatModel("distributed", n_min=10, min_survivors=8, dropouts=True),
        **FIXED,
    )
    assert report.epsilon_pld is None  # only RDP supports the distributed event
    assert report.epsilon == report.epsilon_rdp
    assert any("fewer than n_min" in w for w in report.warnings)
    assert any("No tight (PLD) bound" in w for w in report.warnings)
    assert "secure aggregation" in report.to_markdown()


def test_over_budget_is_reported() -> None:
    report = PrivacyReport.from_ledger(
        [(dp.Gaussian(0.5), 1)] * 3, delta=1e-5, target_epsilon=1.0, tight=False, **FIXED
    )
    assert report.budget_left is not None
    assert report.budget_left < 0
    assert any("exhausted" in w for w in report.warnings)


events = st.one_of(
    st.builds(dp.Gaussian, st.floats(min_value=0.5, max_value=20)),
    st.builds(
        dp.PoissonSampled,
        st.floats(min_value=1e-4, max_value=1.0),
        st.builds(dp.Gaussian, st.floats(min_value=0.5, max_value=20)),
    ),
    st.builds(dp.Laplace, st.floats(min_value=0.5, max_value=50)),
)


@settings(max_examples=15)
@given(
    st.lists(st.tuples(events, st.integers(min_value=1, max_value=5)), min_size=1, max_size=8),
    st.floats(min_value=1e-9, max_value=0.1),
    st.one_of(st.none(), st.integers(min_value=2, max_value=10**9)),
    st.one_of(st.none(), st.floats(min_value=0.01, max_value=100)),
    st.sampled_from(["poisson", "fixed_size", "shuffled", "full_batch"]),
)
def test_json_round_trip(
    ledger: list[tuple[dp.DpEvent, int]],
    delta: float,
    population: int | None,
    target: float | None,
    sampling: str,
) -> None:
    report = PrivacyReport.from_ledger(
        ledger,
        delta=delta,
        population=population,
        target_epsilon=target,
        sampling=sampling,  # type: ignore[arg-type]
        tight=False,
        curve_points=3,
        **FIXED,
    )
    text = report.to_json()
    again = PrivacyReport.from_json(text)
    assert again == report
    assert again.to_json() == text
    assert PrivacyReport.from_dict(json.loads(text)).to_dict() == report.to_dict()


def _valid_dict() -> dict[str, object]:
    return PrivacyReport.from_ledger(
        [(dp.Gaussian(2.0), 1)] * 2, delta=1e-5, tight=False, **FIXED
    ).to_dict()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version=REPORT_FORMAT_VERSION + 1),
        lambda d: d.update(type="ledger"),
        lambda d: d.update(extra=1),
        lambda d: d.pop("delta"),
        lambda d: d.update(delta=2.0),
        lambda d: d.update(rounds=7),
        lambda d: d.update(sampling="random"),
        lambda d: d.update(epsilon_rdp=-1.0),
        lambda d: d.update(epsilon_rdp=True),
        lambda d: d.update(curve="nope"),
        lambda d: d.update(curve=[{"round": 1}]),
        lambda d: d.update(warnings=[1]),
        lambda d: d.update(threat_model={"kind": "anarchy"}),
        lambda d: d.update(population=1),
        lambda d: d.update(ledger={"type": "ledger", "version": 99, "entries": []}),
    ],
)
def test_malformed_reports_are_refused(mutate: object) -> None:
    data = _valid_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(data)


def test_non_json_is_refused() -> None:
    with pytest.raises(SerializationError):
        PrivacyReport.from_json("{not json")
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict([1, 2])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delta": 0.0},
        {"delta": 1e-5, "privacy_unit": "user"},
        {"delta": 1e-5, "population": 1},
        {"delta": 1e-5, "target_epsilon": -1.0},
        {"delta": 1e-5, "curve_points": 1},
    ],
)
def test_bad_metadata_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger([(dp.Gaussian(1.0), 1)], **kwargs)  # type: ignore[arg-type]


def test_empty_ledger_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger([], delta=1e-5)


def test_html_is_self_contained_with_an_embedded_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = _golden_report()
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in page
    assert "http://" not in page
    assert "https://" not in page
    target = tmp_path / "eps.png"
    report.plot(target)
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_html_escapes_the_title() -> None:
    report = PrivacyReport.from_ledger(
        [(dp.Gaussian(2.0), 1)], delta=1e-5, title="<script>x</script>", tight=False, **FIXED
    )
    page = report.to_html(include_plot=False)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_table_output_lists_the_key_numbers() -> None:
    table = _golden_report().to_table()
    assert "epsilon (PLD, tight)" in table
    assert "budget left" in table


def test_dp_imports_without_matplotlib() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['torch'] = None\n"
        "import dp, dp.report, dp.mechanisms, dp.__main__\n"
        "r = dp.report.PrivacyReport.from_ledger(\n"
        "    [(dp.Gaussian(2.0), 1)], delta=1e-5, tight=False)\n"
        "assert 'matplotlib' in r.to_html()\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
