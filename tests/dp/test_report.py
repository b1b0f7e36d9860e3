"""Privacy reports: accounting, warnings, JSON round trips, renderings and the golden Markdown."""

from __future__ import annotations

import functools
import json
import math
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
GOLDEN_DISTRIBUTED = Path(__file__).parent / "golden" / "report_distributed.md"
GOLDEN_V1 = Path(__file__).parent / "golden" / "report_v1.json"
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


@functools.cache
def _golden_distributed_report() -> PrivacyReport:
    cohort = dp.SampledWithoutReplacement(2000, 50, dp.Gaussian(1.2))
    return PrivacyReport.from_ledger(
        [(cohort, 1)] * 4 + [(cohort, 96)],
        delta=1e-6,
        population=2000,
        target_epsilon=8.0,
        sampling="fixed_size",
        privacy_unit="client",
        threat_model=ThreatModel(
            "distributed", n_min=40, min_survivors=45, dropouts=True, colluders=5
        ),
        clip_norm=0.25,
        noise_multiplier=1.2,
        title="Golden distributed report",
        curve_points=4,
        **FIXED,
    )


def test_distributed_markdown_matches_the_golden_file() -> None:
    text = _golden_distributed_report().to_markdown()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN_DISTRIBUTED.write_text(text, encoding="utf-8")
    assert text == GOLDEN_DISTRIBUTED.read_text(encoding="utf-8")


def test_a_real_version_1_report_still_loads() -> None:
    old = PrivacyReport.from_json(GOLDEN_V1.read_bytes())
    assert old.neighbouring == "zero_out"
    assert old.rounds == 6  # compositions: counts 1, 1, 1, 2, 1
    assert [p.round for p in old.curve] == [1, 3, 6]  # entry indices 1, 3, 5
    assert old.epsilon == pytest.approx(1.5994343891008573)
    assert "version 1 report" in old.warnings[0]  # its fixed-size epsilon is stale
    assert old.threat_model.colluders is None
    assert old.released is None
    assert "| released | not stated |" in old.to_markdown()
    again = PrivacyReport.from_json(old.to_json())
    assert again == old
    assert json.loads(old.to_json())["version"] == REPORT_FORMAT_VERSION
    fresh = PrivacyReport.from_ledger(
        old.ledger, delta=old.delta, neighbouring=old.neighbouring, sampling=old.sampling
    )
    assert fresh.epsilon > 2 * old.epsilon  # the old bound understated it


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
        neighbouring="zero_out",
        **FIXED,
    )
    assert report.epsilon_rdp is not None
    if report.epsilon_pld is None:
        assert report.epsilon == report.epsilon_rdp
        assert any("No tight (PLD) bound" in w for w in report.warnings)
    else:
        assert report.epsilon == report.epsilon_pld <= report.epsilon_rdp
    assert any("fewer than n_min" in w for w in report.warnings)
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


# --------------------------------------------------------------------------------------
# Issue 15: every reported epsilon is for the relation the report names.


def _displacement_lower(population: int, sample_size: int, z: float, rounds: int) -> float:
    """Certified lower bound on the add/remove epsilon of fixed-size selection (delta 1e-5).

    Adding a client displaces a selected one with probability m/(N+1): the pair is a
    Poisson(m/(N+1))-sampled Gaussian at noise multiplier z/2.
    """
    pair = dp.PoissonSampled(sample_size / (population + 1), dp.Gaussian(z / 2))
    return dp.PldAccountant().compose(pair, rounds).get_epsilon(1e-5, bound="lower")


@pytest.mark.parametrize(
    ("population", "sample_size", "z", "rounds", "truth_at_least"),
    [(5000, 100, 1.0, 30, 7.03), (200, 20, 1.5, 50, 9.19)],
)
def test_fixed_size_report_is_never_below_the_displacement_lower_bound(
    population: int, sample_size: int, z: float, rounds: int, truth_at_least: float
) -> None:
    event = dp.SampledWithoutReplacement(population, sample_size, dp.Gaussian(z))
    report = PrivacyReport.from_ledger(
        [(event, rounds)], delta=1e-5, sampling="fixed_size", population=population, **FIXED
    )
    lower = _displacement_lower(population, sample_size, z, rounds)
    assert lower >= truth_at_least - 0.01
    assert report.epsilon >= lower
    assert report.epsilon_rdp >= lower
    assert report.epsilon_pld is not None  # the displacement pair has a PLD
    assert any("displacement" in w for w in report.warnings)  # says how it was accounted


def test_the_relation_changes_the_accounting_not_only_the_label() -> None:
    event = dp.Gaussian(2.0)
    reports = {
        relation: PrivacyReport.from_ledger(
            [(event, 5)], delta=1e-5, neighbouring=relation, **FIXED
        )
        for relation in ("add_remove", "zero_out", "replace_one")
    }
    for relation, report in reports.items():
        expected = dp.PldAccountant(neighbouring=relation).compose(event, 5).get_epsilon(1e-5)
        assert report.neighbouring == relation
        assert report.epsilon == pytest.approx(expected)
    # Replace-one doubles the sensitivity: same as add/remove at half the noise.
    half = dp.PldAccountant().compose(dp.Gaussian(1.0), 5).get_epsilon(1e-5)
    assert reports["replace_one"].epsilon == pytest.approx(half)
    assert reports["replace_one"].epsilon > reports["add_remove"].epsilon


def test_fixed_size_under_zero_out_is_accounted_by_rdp_and_labelled() -> None:
    event = dp.SampledWithoutReplacement(1000, 50, dp.Gaussian(1.0))
    report = PrivacyReport.from_ledger(
        [(event, 10)], delta=1e-5, neighbouring="zero_out", sampling="fixed_size", **FIXED
    )
    expected = dp.RdpAccountant(neighbouring="zero_out").compose(event, 10).get_epsilon(1e-5)
    assert report.epsilon_pld is None
    assert report.epsilon == pytest.approx(expected)
    assert any("zero-out" in w and "not an add/remove" in w for w in report.warnings)
    assert any("Wang, Balle, Kasiviswanathan" in w for w in report.warnings)


def test_poisson_sampling_under_replace_one_is_refused() -> None:
    with pytest.raises(dp.UnsupportedEvent):
        PrivacyReport.from_ledger(
            [(dp.PoissonSampled(0.1, dp.Gaussian(1.0)), 3)], delta=1e-5, neighbouring="replace_one"
        )


def test_an_unknown_relation_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger(
            [(dp.Gaussian(1.0), 1)],
            delta=1e-5,
            neighbouring="substitution",  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("relation", "words"),
    [
        ("add_remove", "add/remove"),
        ("zero_out", "zero-out (explicit choice, not add/remove"),
        ("replace_one", "replace-one"),
    ],
)
def test_every_rendering_names_the_relation(relation: str, words: str) -> None:
    report = PrivacyReport.from_ledger(
        [(dp.Gaussian(3.0), 2)],
        delta=1e-5,
        neighbouring=relation,  # type: ignore[arg-type]
        tight=False,
        **FIXED,
    )
    assert json.loads(report.to_json())["neighbouring"] == relation
    assert json.loads(report.to_json())["ledger"]["neighbouring"] == relation
    assert words in report.to_markdown()
    assert words in report.to_table()
    assert html_escape(words) in report.to_html(include_plot=False)


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_user_units_colluders_and_release_are_stated() -> None:
    event = dp.DistributedDiscreteGaussian(
        sigma=50.0, n_min=8, dimension=64, sensitivity_l1=400.0, sensitivity_l2=60.0
    )
    report = PrivacyReport.from_ledger(
        [(event, 4)],
        delta=1e-6,
        privacy_unit="client",
        threat_model=ThreatModel("distributed", n_min=8, min_survivors=9, colluders=2),
        neighbouring="zero_out",
        clip_norm=0.5,
        noise_multiplier=1.3,
        released="the noised sum of every round",
        **FIXED,
    )
    markdown = report.to_markdown()
    assert "| clip norm (L2 bound per client) | 0.5 |" in markdown
    assert "| noise multiplier (noise std / clip norm) | 1.3 |" in markdown
    assert "| released | the noised sum of every round |" in markdown
    assert "| clients colluding with the server | 2 |" in markdown
    assert "Up to 2 clients may collude with the server" in markdown
    assert "honest survivors only" in markdown
    data = report.to_dict()
    assert data["clip_norm"] == 0.5
    assert data["noise_multiplier"] == 1.3
    assert data["threat_model"]["colluders"] == 2
    assert PrivacyReport.from_json(report.to_json()) == report
    assert not any("colluding" in w for w in report.warnings)


def test_distributed_without_a_colluder_count_says_none_is_assumed() -> None:
    threat = ThreatModel("distributed", n_min=5)
    assert "assumes that none does" in threat.describe()
    report = PrivacyReport.from_ledger(
        [(dp.Skellam(mu=1e4, sensitivity_l1=10.0, sensitivity_l2=5.0), 2)],
        delta=1e-5,
        threat_model=threat,
        **FIXED,
    )
    assert any("colluding clients" in w for w in report.warnings)


def test_two_aggregators_threat_model_is_stated_and_round_trips() -> None:
    threat = ThreatModel("two_aggregators", dropouts=True)
    assert "either one colludes" in threat.describe()
    report = PrivacyReport.from_ledger(
        [(dp.DiscreteGaussian(40.0, 10.0), 3)], delta=1e-5, threat_model=threat, **FIXED
    )
    assert "two aggregators" in report.to_markdown()
    assert PrivacyReport.from_json(report.to_json()) == report


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "trusted_server", "colluders": 1},
        {"kind": "two_aggregators", "colluders": 1},
        {"kind": "two_aggregators", "n_min": 3},
        {"kind": "distributed", "colluders": -1},
        {"kind": "distributed", "colluders": True},
        {"kind": "distributed", "colluders": 1.5},
    ],
)
def test_bad_colluder_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        ThreatModel(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clip_norm": 0.0},
        {"clip_norm": float("inf")},
        {"noise_multiplier": -1.0},
        {"noise_multiplier": "1"},
        {"noise_multiplier": 10**400},
        {"released": 3},
        {"curve_points": 10**9},
        {"curve_points": 10**5000},
        {"population": 10**5000},
        {"population": -(10**5000)},
        {"threat_model": "distributed"},
    ],
)
def test_bad_user_unit_fields_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger(
            [(dp.Gaussian(1.0), 1)],
            delta=1e-5,
            tight=False,
            **kwargs,  # type: ignore[arg-type]
        )


def test_inverse_n_is_a_labelled_comparison_kept_off_the_default_plot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    report = _golden_report()
    markdown = report.to_markdown()
    assert "| comparison only: epsilon at delta = 1/N (N = 1000) |" in markdown
    assert "PLD at 1/N (comparison)" in markdown
    labels: list[str] = []
    original = Axes.plot

    def spy(self: Axes, *args: object, **kwargs: object) -> object:
        labels.append(str(kwargs.get("label")))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Axes, "plot", spy)
    report.plot_png()
    assert labels
    assert not any("1/N" in label for label in labels)
    labels.clear()
    report.plot_png(include_inverse_n=True)
    assert any("comparison" in label and "1/N" in label for label in labels)


# --------------------------------------------------------------------------------------
# Issue 16: reports compose by counts.


def test_a_report_over_a_trillion_rounds_answers_in_seconds() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.1))
    report = PrivacyReport.from_ledger([(event, 10**12)], delta=1e-5, curve_points=25, **FIXED)
    assert report.rounds == 10**12
    assert report.curve[-1].round == 10**12
    assert len(report.curve) == 25
    rdp = dp.RdpAccountant().compose(event, 10**12).get_epsilon(1e-5)
    assert report.epsilon == pytest.approx(rdp)
    assert report.epsilon_pld is None  # too wide for a PLD grid: skipped and said so
    assert any("skipped" in w for w in report.warnings)


def test_curve_points_are_compositions_by_counts() -> None:
    event = dp.PoissonSampled(0.01, dp.Gaussian(1.1))
    report = PrivacyReport.from_ledger(
        [(event, 100_000)], delta=1e-5, population=60_000, curve_points=5, **FIXED
    )
    assert [p.round for p in report.curve] == [1, 25_000, 50_000, 75_000, 100_000]
    headline = dp.PldAccountant().compose(event, 100_000)
    assert report.epsilon_pld == pytest.approx(headline.get_epsilon(1e-5))
    assert report.curve[-1].epsilon_pld == report.epsilon_pld
    for point in report.curve:
        k = point.round
        assert point.epsilon_rdp == pytest.approx(
            dp.RdpAccountant().compose(event, k).get_epsilon(1e-5)
        )
        assert point.epsilon_pld is not None
        lower = dp.PldAccountant().compose(event, k).get_epsilon(1e-5, bound="lower")
        assert point.epsilon_pld >= lower
    values = [p.epsilon_pld for p in report.curve]
    assert values == sorted(values)  # type: ignore[type-var]


def test_ordinary_ledgers_keep_one_curve_point_per_round() -> None:
    event = dp.PoissonSampled(0.02, dp.Gaussian(1.0))
    report = PrivacyReport.from_ledger([(event, 1)] * 12, delta=1e-5, **FIXED)
    assert [p.round for p in report.curve] == list(range(1, 13))
    runs = PrivacyReport.from_ledger([(event, 3), (dp.Gaussian(4.0), 2)], delta=1e-5, **FIXED)
    assert runs.rounds == 5
    assert [p.round for p in runs.curve] == [1, 2, 3, 4, 5]


def test_too_many_rounds_are_a_typed_refusal() -> None:
    with pytest.raises(InvalidArgument):
        PrivacyReport.from_ledger([(dp.Gaussian(1.0), 2**60)], delta=1e-5)


# --------------------------------------------------------------------------------------
# Report JSON: version 2, version 1 still read, hostile input typed and bounded.


def test_version_1_reports_still_load() -> None:
    event = dp.PoissonSampled(0.02, dp.Gaussian(1.0))
    current = PrivacyReport.from_ledger(
        [(event, 2), (dp.Gaussian(3.0), 1)], delta=1e-5, curve_points=3, tight=False, **FIXED
    )
    old = current.to_dict()
    old["version"] = 1
    for key in ("clip_norm", "noise_multiplier", "released", "audits"):
        del old[key]
    del old["threat_model"]["colluders"]
    old["ledger"] = {"type": "ledger", "version": 1, "entries": old["ledger"]["entries"]}
    old["rounds"] = 2  # version 1 counted ledger entries
    old["curve"] = [dict(p, round=i) for i, p in enumerate(old["curve"][::2], start=1)]
    loaded = PrivacyReport.from_dict(old)
    assert loaded.rounds == 3
    assert [p.round for p in loaded.curve] == [2, 3]  # entry ends, in compositions
    assert loaded.released is None
    assert loaded.threat_model.colluders is None
    assert json.loads(loaded.to_json())["version"] == REPORT_FORMAT_VERSION == 3
    wor = dp.SampledWithoutReplacement(100, 10, dp.Gaussian(1.0))
    old["ledger"] = dp.ledger_to_dict([(wor, 1), (wor, 1)])
    old["ledger"] = {"type": "ledger", "version": 1, "entries": old["ledger"]["entries"]}
    old["rounds"] = 2
    stale = PrivacyReport.from_dict(old)
    assert "version 1 report" in stale.warnings[0]


def test_the_ledger_relation_must_match_the_report() -> None:
    data = PrivacyReport.from_ledger(
        [(dp.Gaussian(2.0), 1)], delta=1e-5, tight=False, **FIXED
    ).to_dict()
    data["ledger"]["neighbouring"] = "zero_out"
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(data)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{" * 100_000,
        b"\xff\xfe",
        b"\xff\xfe\x00",
        b"\x80{}",
        b'{"type": "privacy_report", "version": 2\xff}',
        "1" * 5000,
        '{"version": ' + "9" * 5000 + "}",
        '{"version": 2, "delta": 1e999}',
        '{"version": NaN}',
        '{"version": 2, "version": 2}',
        12,
        None,
        "",
    ],
)
def test_hostile_report_json_gives_a_typed_error_quickly(text: object) -> None:
    with pytest.raises(SerializationError):
        PrivacyReport.from_json(text)  # type: ignore[arg-type]


def test_deeply_nested_dicts_are_refused_without_recursion() -> None:
    nested: dict[str, object] = {}
    inner = nested
    for _ in range(100_000):
        inner["x"] = {}
        inner = inner["x"]  # type: ignore[assignment]
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(nested)
    data = _valid_dict()
    data["ledger"]["entries"][0]["event"] = nested  # type: ignore[index]
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(delta=10**400),
        lambda d: d.update(epsilon_rdp=10**400),
        lambda d: d.update(clip_norm="big"),
        lambda d: d.update(noise_multiplier=-2.0),
        lambda d: d.update(released=7),
        lambda d: d.update(neighbouring="replace_all"),
        lambda d: d["threat_model"].update(colluders=-1),
        lambda d: d["threat_model"].pop("colluders"),
        lambda d: d["curve"][0].update(round=10**400),
        lambda d: d["ledger"]["entries"][0].update(count=10**400),
        lambda d: d["ledger"]["entries"][0].update(count=2**60),
        lambda d: d["ledger"]["entries"][0]["event"].update(noise_multiplier=10**400),
        lambda d: d.update(rounds=1),
        lambda d: d.update(title=["x"]),
        lambda d: d.update(version=10**5000),
        lambda d: d.update(population=-(10**5000)),
        lambda d: d["threat_model"].update(n_min=10**5000),
    ],
)
def test_malformed_version_2_fields_are_refused(mutate: object) -> None:
    data = _valid_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SerializationError):
        PrivacyReport.from_dict(data)


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([dp.Gaussian(2.0), dp.Gaussian(5.0), dp.Laplace(20.0)]),
            st.integers(min_value=1, max_value=10**6),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=2, max_value=9),
)
def test_every_curve_point_is_the_prefix_composed_by_counts(
    ledger: list[tuple[dp.DpEvent, int]], points: int
) -> None:
    report = PrivacyReport.from_ledger(
        ledger, delta=1e-6, population=10**7, curve_points=points, tight=False, **FIXED
    )
    total = sum(count for _, count in ledger)
    marks = [p.round for p in report.curve]
    assert report.rounds == total
    assert marks[0] == 1
    assert marks[-1] == total
    assert len(marks) == min(points, total)
    for point in report.curve:
        prefix, left = [], point.round
        for event, count in ledger:
            if left == 0:
                break
            prefix.append((event, min(count, left)))
            left -= min(count, left)
        acc = dp.RdpAccountant().compose_ledger(prefix)
        assert point.epsilon_rdp == pytest.approx(acc.get_epsilon(1e-6), rel=1e-9)
        assert point.epsilon_rdp_at_inverse_n == pytest.approx(acc.get_epsilon(1e-7), rel=1e-9)


def test_the_reported_epsilon_is_the_smaller_upper_bound() -> None:
    data = _golden_report().to_dict()
    assert PrivacyReport.from_dict(data).epsilon == data["epsilon_pld"]
    data["epsilon_pld"] = "inf"  # a PLD grid that could not resolve the loss
    loaded = PrivacyReport.from_dict(data)
    assert loaded.epsilon == loaded.epsilon_rdp
    assert "| epsilon (the guarantee at delta) | 1.334 |" in loaded.to_markdown()
    event = dp.PoissonSampled(1e-5, dp.Gaussian(1.1))
    report = PrivacyReport.from_ledger([(event, 4 * 10**10)], delta=1e-5, **FIXED)
    assert report.epsilon <= report.epsilon_rdp
    assert report.epsilon < math.inf
    if report.epsilon_pld is not None and report.epsilon_pld > report.epsilon_rdp:
        assert any("looser than the RDP bound" in w for w in report.warnings)


def test_fixed_size_cohorts_accounted_without_sampling_warn_under_add_remove() -> None:
    # A displaced participant moves the sum by up to 2C; Gaussian(z) at C understates it.
    ledger = [(dp.Gaussian(2.0), 5)]
    report = PrivacyReport.from_ledger(ledger, delta=1e-5, sampling="fixed_size", **FIXED)
    assert any("displaces another" in w and "understated" in w for w in report.warnings)
    zero = PrivacyReport.from_ledger(
        ledger, delta=1e-5, sampling="fixed_size", neighbouring="zero_out", **FIXED
    )
    assert not any("displaces another" in w for w in zero.warnings)
    wor = dp.SampledWithoutReplacement(100, 10, dp.Gaussian(2.0))
    honest = PrivacyReport.from_ledger([(wor, 5)], delta=1e-5, sampling="fixed_size", **FIXED)
    assert not any("understated" in w for w in honest.warnings)


def test_huge_report_texts_are_refused_before_parsing() -> None:
    with pytest.raises(SerializationError, match="arrays and objects"):
        PrivacyReport.from_json("[" + "[1]," * 2_000_000 + "[1]]")
    with pytest.raises(SerializationError, match="limit"):
        PrivacyReport.from_json(b" " * (33 * 1024 * 1024))


def test_user_text_cannot_break_the_markdown_tables() -> None:
    report = PrivacyReport.from_ledger(
        [(dp.Gaussian(2.0), 1)],
        delta=1e-5,
        released="sums | and\n| forged | row |",
        title="Run\n# injected heading",
        tight=False,
        **FIXED,
    )
    markdown = report.to_markdown()
    assert "| released | sums \\| and \\| forged \\| row \\| |" in markdown
    assert "\n# injected heading" not in markdown
    assert markdown.startswith("# Run # injected heading\n")
