"""Privacy reports of runs, the demo, and the import hygiene of the package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dp.report import PrivacyReport
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    PrivacyConfig,
    UniformSelection,
)
from federated.errors import InvalidArgument
from federated.runner import run
from tests.federated._linear import START, make_clients

ROOT = Path(__file__).resolve().parents[2]


def _private_run(mode: DPMode, aggregation: Aggregation = Aggregation.MASKING):
    config = FederatedConfig(
        rounds=3,
        selection=UniformSelection(5),
        aggregation=aggregation,
        clip_norm=0.5,
        privacy=PrivacyConfig(mode=mode, noise_multiplier=1.0, delta=1e-5, target_epsilon=80.0),
    )
    return run(config, make_clients(10), START)


def test_distributed_report_describes_the_run(tmp_path: Path) -> None:
    history = _private_run(DPMode.DISTRIBUTED)
    report = history.privacy_report()
    assert report.privacy_unit == "client"
    assert report.sampling == "fixed_size"
    assert report.rounds == 3
    assert report.population == 10
    assert report.target_epsilon == 80.0
    assert report.threat_model.kind == "distributed"
    # 5 clients, complete graph: threshold 3, so 2 colluders and 3 - 2 = 1 honest survivor.
    assert report.threat_model.n_min == 1
    assert report.threat_model.colluders == 2
    assert report.neighbouring == "add_remove"
    assert report.clip_norm == 0.5
    assert report.noise_multiplier == 1.0
    assert report.threat_model.min_survivors == 5
    assert report.epsilon == pytest.approx(history.final_epsilon, rel=1e-6)
    assert "masking" in report.title

    written = history.write_privacy_report(tmp_path)
    assert sorted(p.suffix for p in written) == [".html", ".json", ".md", ".png"]
    loaded = PrivacyReport.from_json((tmp_path / "privacy-report.json").read_text())
    assert loaded.rounds == 3
    markdown = (tmp_path / "privacy-report.md").read_text()
    assert "distributed" in markdown.lower()
    assert "client" in markdown
    assert (tmp_path / "privacy-report.png").read_bytes().startswith(b"\x89PNG")
    assert "<html" in (tmp_path / "privacy-report.html").read_text().lower()
    assert not list(tmp_path.glob(".*partial"))


def test_central_report_says_the_server_is_trusted_and_labels_plain_insecure() -> None:
    report = _private_run(DPMode.CENTRAL, Aggregation.PLAIN_INSECURE).privacy_report()
    assert report.threat_model.kind == "trusted_server"
    assert "plain_insecure" in report.title
    assert "INSECURE" in report.title


def test_no_report_without_dp() -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(3))
    history = run(config, make_clients(3), START)
    with pytest.raises(InvalidArgument, match="no DP"):
        history.privacy_report()


def test_history_to_dict_is_json() -> None:
    history = _private_run(DPMode.DISTRIBUTED)
    data = json.loads(json.dumps(history.to_dict()))
    assert data["aggregation"] == "masking"
    assert data["completed_rounds"] == 3
    assert len(data["rounds"]) == 3
    assert data["rounds"][0]["stage_seconds"]["masked_input"] >= 0


def test_importing_federated_does_not_import_torch() -> None:
    code = "import sys, federated; assert 'torch' not in sys.modules; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_the_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "federated.demo",
            "--output",
            str(tmp_path),
            "--linear-rounds",
            "3",
            "--digits-rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "truth" in out
    assert "plain_insecure" in out
    assert "epsilon" in out
    # Each private run says what earlier releases reported and why its epsilon differs.
    assert out.count("Corrected accounting") == 2
    assert "displaces another" in out
    assert "colluding with the server" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    correction = summary["accounting_correction"]
    for part in ("linear", "digits"):
        assert correction[part]["earlier_configuration_corrected_epsilon"] > 0
    for name in (
        "summary.json",
        "privacy-report.json",
        "privacy-report.md",
        "privacy-report.html",
        "privacy-report.png",
    ):
        assert (tmp_path / name).is_file()
        assert str(tmp_path / name) in out
