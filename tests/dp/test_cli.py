"""The command line: real subprocesses for the contract, in-process calls for the details."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from dp.__main__ import main
from dp.report import PrivacyReport


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dp", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
    )


def test_report_json_from_flags_is_a_valid_report() -> None:
    out = _run(
        "report",
        "--sampling-rate",
        "0.01",
        "--noise-multiplier",
        "1.1",
        "--steps",
        "50",
        "--delta",
        "1e-5",
        "--population",
        "60000",
        "--curve-points",
        "3",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    report = PrivacyReport.from_json(out.stdout)
    assert report.rounds == 50
    expected = dp.PldAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 50)
    assert report.epsilon_pld == pytest.approx(expected.get_epsilon(1e-5))


def test_calibrate_answers_what_noise_for_epsilon_3() -> None:
    out = _run(
        "calibrate", "--epsilon", "3", "--delta", "1e-5", "--sampling-rate", "0.01",
        "--steps", "100", "--format", "json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    sigma = answer["noise_multiplier"]
    epsilon = (
        dp.PldAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(sigma)), 100)
    ).get_epsilon(1e-5)
    assert epsilon <= 3.0
    assert epsilon > 2.9  # and not wastefully more noise than needed


@pytest.mark.parametrize(
    "args", [("report", "--steps", "ten"), ("report", "--config", "/definitely/not/here.toml")]
)
def test_bad_flags_and_files_give_one_line_and_nonzero_exit(args: tuple[str, ...]) -> None:
    out = _run(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "error" in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--noise-multiplier", "-1", "--steps", "3"],
        ["report", "--format", "pdf"],
        ["report", "--steps", "0"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_flags_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _in_process(args, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def _in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits on usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_toml_config_with_markdown_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    config = tmp_path / "run.toml"
    config.write_text(
        'title = "TOML run"\nsampling_rate = 0.02\nnoise_multiplier = 1.0\nsteps = 8\n'
        'delta = 1e-6\ntarget_epsilon = 2\nprivacy_unit = "client"\ncurve_points = 3\n'
    )
    plot = tmp_path / "eps.png"
    code, out, err = _in_process(
        ["report", "--config", str(config), "--format", "markdown", "--plot", str(plot)], capsys
    )
    assert code == 0, err
    assert out.startswith("# TOML run")
    assert "| privacy unit | client |" in out
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_saved_ledger_and_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc = dp.RdpAccountant()
    for _ in range(3):
        acc.compose(dp.PoissonSampled(0.05, dp.Gaussian(2.0)))
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps(acc.ledger_to_dict()))
    target = tmp_path / "report.html"
    code, out, err = _in_process(
        [
            "report",
            "--ledger",
            str(ledger),
            "--no-pld",
            "--delta",
            "1e-5",
            "--format",
            "html",
            "--output",
            str(target),
        ],
        capsys,
    )
    assert code == 0, err
    assert out == ""
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not (tmp_path / "report.html.partial").exists()


def test_json_config_pointing_at_a_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = dp.ledger_to_dict([(dp.Gaussian(3.0), 1), (dp.Gaussian(3.0), 1)])
    (tmp_path / "ledger.json").write_text(json.dumps(ledger))
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"ledger_file": "ledger.json", "delta": 1e-6}))
    code, out, err = _in_process(["report", "--config", str(config), "--no-pld"], capsys)
    assert code == 0, err
    assert "rounds" in out
    assert "2" in out


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("steps = ", ".toml", "invalid TOML"),
        ("{", ".json", "not valid JSON"),
        ("[1, 2]", ".json", "must be a table"),
        ('{"colour": 1}', ".json", "unknown setting"),
        ('{"steps": "many", "delta": 1e-5}', ".json", "steps must be an integer, got 'many'"),
        ('{"steps": 3, "delta": 1e-5}', ".json", "missing --noise-multiplier"),
        (
            '{"delta": 1e-5, "ledger": {"type": "ledger", "version": 7, "entries": []}}',
            ".json",
            "version",
        ),
        ('{"noise_multiplier": 1.0, "steps": 2, "delta": 5.0}', ".json", "delta"),
    ],
)
def test_bad_config_files_are_one_line_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    suffix: str,
    message: str,
) -> None:
    config = tmp_path / f"bad{suffix}"
    config.write_text(content)
    code, out, err = _in_process(["report", "--config", str(config), "--no-pld"], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_calibrate_needs_exactly_one_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _in_process(["calibrate", "--epsilon", "1", "--delta", "1e-5"], capsys)
    assert code == 2
    assert "exactly one" in err
    code, out, err = _in_process(
        ["calibrate", "--epsilon", "2", "--noise-multiplier", "1.0", "--sampling-rate", "0.01",
         "--accountant", "rdp", "--delta", "1e-5"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "steps" in out


def test_calibrate_reports_impossible_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _in_process(
        ["calibrate", "--epsilon", "0.5", "--noise-multiplier", "0.3", "--delta", "1e-5"], capsys
    )
    assert code == 2
    assert "error" in err


# --------------------------------------------------------------------------------------
# Issue 15 and 16: the CLI accounts what ran, refuses what it cannot, answers quickly.


def _report_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> PrivacyReport:
    code, out, err = _in_process([*argv, "--format", "json"], capsys)
    assert code == 0, err
    return PrivacyReport.from_json(out)


def test_fixed_size_sampling_builds_fixed_size_events(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "--sampling", "fixed_size", "--population", "60000", "--noise-multiplier",
            "1.0", "--steps", "1000", "--delta", "1e-5", "--curve-points", "2"]  # fmt: skip
    report = _report_json([*base, "--sampling-rate", "0.01"], capsys)
    expected = dp.SampledWithoutReplacement(60000, 600, dp.Gaussian(1.0))
    assert report.ledger == ((expected, 1000),)
    assert report.sampling == "fixed_size"
    poisson = dp.PldAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.0)), 1000)
    assert report.epsilon > 2 * poisson.get_epsilon(1e-5)
    # The audit's case: the truth is at least 13.31 (displacement pair's lower bound).
    pair = dp.PoissonSampled(600 / 60001, dp.Gaussian(0.5))
    lower = dp.PldAccountant().compose(pair, 1000).get_epsilon(1e-5, bound="lower")
    assert lower > 13.3
    assert report.epsilon >= lower
    same = _report_json([*base, "--sample-size", "600"], capsys)
    assert same.ledger == report.ledger
    assert same.epsilon == report.epsilon


def test_fixed_size_cohort_from_a_rate_rounds_up(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report_json(
        ["report", "--sampling", "fixed_size", "--population", "1000", "--sampling-rate",
         "0.0101", "--noise-multiplier", "2", "--steps", "3", "--delta", "1e-5", "--no-pld"],
        capsys,
    )  # fmt: skip
    event = report.ledger[0][0]
    assert isinstance(event, dp.SampledWithoutReplacement)
    assert event.sample_size == 11  # 10.1 rounded up
    exact = _report_json(
        ["report", "--sampling", "fixed_size", "--population", "60000", "--sampling-rate",
         "0.01", "--noise-multiplier", "2", "--steps", "3", "--delta", "1e-5", "--no-pld"],
        capsys,
    )  # fmt: skip
    assert exact.ledger[0][0].sample_size == 600  # type: ignore[attr-defined]


@pytest.mark.parametrize("rate", ["1.5", "0", "-0.1", "nan", "inf", "1e999"])
def test_sampling_rates_outside_0_1_are_refused(
    rate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process(
        ["report", "--sampling-rate", rate, "--noise-multiplier", "1", "--steps", "3",
         "--delta", "1e-5"],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert "--sampling-rate" in err
    assert len(err.strip().splitlines()) == 1


def test_neighbouring_flag_and_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "--noise-multiplier", "2", "--steps", "4", "--delta", "1e-5"]
    default = _report_json(argv, capsys)
    assert default.neighbouring == "add_remove"
    replace = _report_json([*argv, "--neighbouring", "replace_one"], capsys)
    expected = dp.PldAccountant(neighbouring="replace_one").compose(dp.Gaussian(2.0), 4)
    assert replace.neighbouring == "replace_one"
    assert replace.epsilon == pytest.approx(expected.get_epsilon(1e-5))
    config = tmp_path / "run.toml"
    config.write_text(
        'noise_multiplier = 2.0\nsteps = 4\ndelta = 1e-5\nneighbouring = "zero_out"\n'
    )
    zero = _report_json(["report", "--config", str(config)], capsys)
    assert zero.neighbouring == "zero_out"
    code, out, _ = _in_process(["report", "--config", str(config)], capsys)
    assert code == 0
    assert "zero-out (explicit choice, not add/remove" in out


def test_a_saved_ledger_keeps_its_relation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acc = dp.RdpAccountant(neighbouring="zero_out").compose(dp.Gaussian(2.0), 3)
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps(acc.ledger_to_dict()))
    report = _report_json(["report", "--ledger", str(ledger), "--delta", "1e-5"], capsys)
    assert report.neighbouring == "zero_out"
    other = _report_json(
        ["report", "--ledger", str(ledger), "--delta", "1e-5", "--neighbouring", "add_remove"],
        capsys,
    )
    assert other.neighbouring == "add_remove"


def test_calibrate_takes_the_relation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _in_process(
        ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--steps", "10",
         "--neighbouring", "replace_one", "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    assert answer["neighbouring"] == "replace_one"
    sigma = answer["noise_multiplier"]
    acc = dp.PldAccountant(neighbouring="replace_one").compose(dp.Gaussian(sigma), 10)
    assert acc.get_epsilon(1e-5) <= 3.0
    code, out, err = _in_process(
        ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--steps", "10",
         "--sampling-rate", "0.1", "--neighbouring", "replace_one"],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "replace_one" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--noise-multiplier", "1", "--steps", "3"],
        ["calibrate", "--epsilon", "3", "--steps", "10"],
    ],
)
def test_delta_has_no_silent_default(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _in_process(argv, capsys)
    assert code == 2
    assert out == ""
    assert "--delta" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--noise-multiplier", "1", "--steps", "3", "--population", "5000"],
        ["calibrate", "--epsilon", "3", "--steps", "10", "--population", "5000"],
    ],
)
def test_delta_above_one_over_n_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process([*argv, "--delta", "1e-3"], capsys)
    assert code == 2
    assert out == ""
    assert "exceeds 1/N" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("pld", [[], ["--no-pld"]])
def test_a_trillion_steps_answer_in_seconds(
    pld: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report_json(
        ["report", "--sampling-rate", "0.01", "--noise-multiplier", "1.1", "--steps",
         str(10**12), "--delta", "1e-5", *pld],
        capsys,
    )  # fmt: skip
    assert report.rounds == 10**12
    assert report.ledger == ((dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 10**12),)
    rdp = dp.RdpAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 10**12)
    assert report.epsilon == pytest.approx(rdp.get_epsilon(1e-5))


def test_a_hundred_thousand_sampled_steps_do_not_take_minutes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = _report_json(
        ["report", "--sampling-rate", "0.01", "--noise-multiplier", "1.1", "--steps", "100000",
         "--delta", "1e-5"],
        capsys,
    )  # fmt: skip
    expected = dp.PldAccountant().compose(dp.PoissonSampled(0.01, dp.Gaussian(1.1)), 100_000)
    assert report.epsilon_pld == pytest.approx(expected.get_epsilon(1e-5))


def test_colluders_clip_norm_and_release_from_flags(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report_json(
        ["report", "--noise-multiplier", "2", "--steps", "3", "--delta", "1e-5",
         "--threat-model", "distributed", "--n-min", "5", "--colluders", "2",
         "--clip-norm", "0.1", "--released", "the final model only", "--no-pld"],
        capsys,
    )  # fmt: skip
    assert report.threat_model.colluders == 2
    assert report.clip_norm == 0.1
    assert report.noise_multiplier == 2.0
    assert report.released == "the final model only"


BAD_ARGV = [
    ["report", "--steps", "1" + "0" * 5000, "--delta", "1e-5"],
    ["report", "--steps", "१२", "--delta", "1e-5"],
    ["report", "--noise-multiplier", "1e-5000", "--steps", "3", "--delta", "1e-5"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "nan"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sampling",
     "fixed_size"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-6", "--sampling",
     "fixed_size", "--population", "100", "--sample-size", "101"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-6", "--sampling",
     "fixed_size", "--population", "100", "--sample-size", "5", "--sampling-rate", "0.5"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sample-size",
     "5", "--sampling", "poisson", "--sampling-rate", "0.1"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sampling",
     "shuffled", "--sampling-rate", "0.1"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sampling",
     "full_batch", "--sampling-rate", "0.1"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sampling",
     "poisson"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--sampling-rate",
     "0.1", "--neighbouring", "replace_one"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--colluders", "1"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--colluders",
     "-1", "--threat-model", "distributed"],
    ["report", "--noise-multiplier", "1", "--steps", "3", "--delta", "1e-5", "--curve-points",
     "1000000000"],
    ["report", "--noise-multiplier", "1", "--steps", str(2**60), "--delta", "1e-5"],
    ["report", "--neighbouring", "sideways", "--delta", "1e-5"],
    ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--steps", "10", "--sampling-rate", "2"],
    ["calibrate", "--epsilon", "inf", "--delta", "1e-5", "--steps", "10"],
]  # fmt: skip


@pytest.mark.parametrize("argv", BAD_ARGV)
def test_every_bad_flag_is_one_line_and_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process(argv, capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert "internal error" not in err
    assert len(err) < 400


BAD_FILES = [
    (b"\xff\xfe\x00", ".json"),
    (b"\xff\xfe\x00", ".toml"),
    (b"[" * 100_000, ".json"),
    (b"a = " + b"[" * 100_000, ".toml"),
    (b"steps = 1" + b"0" * 5000 + b"\ndelta = 1e-5", ".toml"),
    (b'{"steps": 1' + b"0" * 5000 + b', "delta": 1e-5}', ".json"),
    (b'{"steps": 3, "delta": 1e-5, "noise_multiplier": 1e999}', ".json"),
    (b'{"steps": 3, "delta": 1e-5, "noise_multiplier": NaN}', ".json"),
    (b"steps = 3\ndelta = 1e-5\nnoise_multiplier = inf", ".toml"),
    (b"steps = 3\ndelta = 1e-5\nnoise_multiplier = 1\nsampling_rate = 1.5", ".toml"),
    (b'{"steps": 3, "delta": true, "noise_multiplier": 1}', ".json"),
    (b'{"steps": 3.5, "delta": 1e-5, "noise_multiplier": 1}', ".json"),
    (b'{"steps": 3, "delta": 1e-5, "noise_multiplier": [1]}', ".json"),
    (b'{"steps": 3, "delta": 1e-5, "noise_multiplier": 1, "neighbouring": 3}', ".json"),
    (b"steps = 3\ndelta = 1e-5\nnoise_multiplier = 1\nwhen = 1979-05-27", ".toml"),
    (b'{"delta": 1e-5, "ledger": {"type": "ledger", "version": 2}}', ".json"),
    (b'{"delta": 1e-5, "ledger": [1, 2]}', ".json"),
    (b'{"delta": 1e-5, "ledger_file": "/definitely/not/here.json"}', ".json"),
    (b'{"delta": 1e-5, "ledger_file": "."}', ".json"),
    (b"", ".json"),
    (b"", ".toml"),
    (b"a = [" + b"[1]," * 300_000 + b"[1]]\n", ".toml"),
    (b"[" + b"[1]," * 2_000_000 + b"[1]]", ".json"),
]


@pytest.mark.parametrize(("content", "suffix"), BAD_FILES)
def test_every_bad_settings_file_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, suffix: str
) -> None:
    config = tmp_path / f"run{suffix}"
    config.write_bytes(content)
    code, out, err = _in_process(["report", "--config", str(config), "--no-pld"], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "internal error" not in err


_LEDGER_HEAD = (
    b'{"type": "ledger", "version": 2, "neighbouring": "add_remove", "entries": [{"event": '
    b'{"type": "gaussian", "version": 1, "noise_multiplier": 1.0}, "count": '
)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff",
        b"[" * 100_000,
        _LEDGER_HEAD + b"1" + b"0" * 5000 + b"}]}",
        _LEDGER_HEAD + str(2**60).encode() + b"}]}",  # over the report's 2^53 rounds
        _LEDGER_HEAD + b'"3"}]}',
        b'{"type": "ledger", "version": 2, "neighbouring": "sideways", "entries": []}',
        b'{"type": "ledger", "version": 1, "entries": []}',
    ],
)
def test_every_bad_ledger_file_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    ledger = tmp_path / "ledger.json"
    ledger.write_bytes(content)
    code, out, err = _in_process(["report", "--ledger", str(ledger), "--delta", "1e-5"], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "internal error" not in err


def test_fixed_size_report_in_a_subprocess() -> None:
    out = _run(
        "report", "--sampling", "fixed_size", "--population", "5000", "--sample-size", "100",
        "--noise-multiplier", "1.0", "--steps", "30", "--delta", "1e-5", "--format", "json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = PrivacyReport.from_json(out.stdout)
    assert report.epsilon >= 7.03  # the audit's lower bound on the truth (it reported 1.78)
    assert report.neighbouring == "add_remove"


def test_a_ledger_report_names_the_selection_its_events_describe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wor = dp.SampledWithoutReplacement(1000, 10, dp.Gaussian(1.0))
    for events, expected in [
        ([(wor, 3)], "fixed_size"),
        ([(dp.PoissonSampled(0.1, dp.Gaussian(1.0)), 3)], "poisson"),
        ([(dp.Gaussian(2.0), 3)], "full_batch"),
    ]:
        ledger = tmp_path / "ledger.json"
        ledger.write_text(json.dumps(dp.ledger_to_dict(events)))
        report = _report_json(
            ["report", "--ledger", str(ledger), "--delta", "1e-5", "--no-pld"], capsys
        )
        assert report.sampling == expected


def test_calibrate_for_a_fixed_size_cohort(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _in_process(
        ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--sampling", "fixed_size",
         "--population", "60000", "--sample-size", "600", "--steps", "1000", "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    sigma = answer["noise_multiplier"]
    event = dp.SampledWithoutReplacement(60000, 600, dp.Gaussian(sigma))
    assert dp.PldAccountant().compose(event, 1000).get_epsilon(1e-5) <= 3.0
    poisson = dp.calibrate_noise_multiplier(3.0, 1e-5, sampling_rate=0.01, steps=1000)
    assert sigma > 1.9 * poisson  # a Poisson calibration would understate the noise
    code, out, err = _in_process(
        ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--sampling", "fixed_size",
         "--population", "60000", "--sampling-rate", "0.01", "--noise-multiplier", "3",
         "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    steps = json.loads(out)["steps"]
    event = dp.SampledWithoutReplacement(60000, 600, dp.Gaussian(3.0))
    assert dp.PldAccountant().compose(event, steps).get_epsilon(1e-5) <= 3.0
    assert dp.PldAccountant().compose(event, steps + 50).get_epsilon(1e-5) > 3.0


@pytest.mark.parametrize(
    "extra",
    [
        ["--neighbouring", "zero_out", "--population", "100", "--sample-size", "10"],
        ["--sample-size", "10"],
        ["--population", "100", "--sample-size", "101"],
        ["--sampling", "poisson"],
        ["--sampling", "full_batch", "--sampling-rate", "0.5"],
    ],
)
def test_calibrate_refuses_what_it_cannot_calibrate(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["calibrate", "--epsilon", "3", "--delta", "1e-5", "--steps", "10"]
    if "--sampling" not in extra:
        argv += ["--sampling", "fixed_size"]
    code, out, err = _in_process([*argv, *extra], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_a_trillion_steps_in_a_subprocess_use_bounded_memory(tmp_path: Path) -> None:
    # The child records the high-water mark of its own address space (VmHWM, reset by exec).
    # getrusage would not do: RUSAGE_CHILDREN counts every earlier child of this test
    # worker, and a child's RUSAGE_SELF keeps its parent's peak across fork and exec.
    peak_file = tmp_path / "peak"
    code = (
        "import sys\n"
        "from dp.__main__ import main\n"
        "try:\n"
        "    status = main(sys.argv[2:])\n"
        "finally:\n"
        "    with open('/proc/self/status') as f:\n"
        "        peak = [l.split()[1] for l in f if l.startswith('VmHWM:')][0]\n"
        "    open(sys.argv[1], 'w').write(peak)\n"
        "sys.exit(status)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(peak_file), "report", "--sampling-rate", "0.01",
         "--noise-multiplier", "1.1", "--steps", str(10**12), "--delta", "1e-5",
         "--format", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    peak_kib = int(peak_file.read_text())  # kB
    assert peak_kib < 1_000_000  # the old CLI built a list of 10^12 entries
    assert PrivacyReport.from_json(out.stdout).rounds == 10**12


@settings(max_examples=12, deadline=None)
@given(
    population=st.integers(min_value=20, max_value=100_000),
    fraction=st.floats(min_value=0.001, max_value=0.5),
    z=st.floats(min_value=0.6, max_value=4.0),
    steps=st.integers(min_value=1, max_value=2000),
)
def test_cli_fixed_size_epsilon_is_never_below_the_displacement_lower_bound(
    population: int, fraction: float, z: float, steps: int
) -> None:
    sample_size = max(1, int(population * fraction))
    argv = ["report", "--sampling", "fixed_size", "--population", str(population),
            "--sample-size", str(sample_size), "--noise-multiplier", repr(z), "--steps",
            str(steps), "--delta", "1e-6", "--format", "json", "--curve-points", "2"]  # fmt: skip
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == 0
    report = PrivacyReport.from_json(buffer.getvalue())
    pair = dp.PoissonSampled(sample_size / (population + 1), dp.Gaussian(z / 2))
    lower = dp.PldAccountant().compose(pair, steps).get_epsilon(1e-6, bound="lower")
    assert report.epsilon >= lower
