"""The command line: real subprocesses for the contract, in-process calls for the details."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
