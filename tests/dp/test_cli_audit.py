"""``python -m dp audit``: exit 0 when consistent, 1 when a claim is refuted, 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dp
from dp.__main__ import main
from dp.audit import AuditResult
from dp.report import REFUTED_WARNING, PrivacyReport

DELTA = 1e-5


def _audit(bound: float | None, claim: float | None, method: str = "one_run") -> AuditResult:
    return AuditResult(
        method=method,  # type: ignore[arg-type]
        delta=DELTA,
        epsilon_lower_bound=bound,
        confidence=None if bound is None else 0.95,
        epsilon_estimate=3.9,
        mu_lower_bound=None,
        mu_estimate=None,
        claimed_epsilon=claim,
        canaries=1000,
    )


CONSISTENT = _audit(2.5, 4.377)
REFUTED = _audit(6.7, 4.377)


def _write(tmp_path: Path, name: str, payload: object) -> str:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_consistent_record_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "audit.json", CONSISTENT.to_dict())
    code, out, err = _run(["audit", path], capsys)
    assert (code, err) == (0, "")
    assert out == CONSISTENT.describe() + "\n"


def test_a_refuted_claim_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "audits.json", [CONSISTENT.to_dict(), REFUTED.to_dict()])
    code, out, err = _run(["audit", path], capsys)
    assert code == 1
    assert out.splitlines() == [CONSISTENT.describe(), REFUTED.describe()]
    assert len(err.strip().splitlines()) == 1
    assert "CLAIM REFUTED by 1 of 2 audits" in err
    assert REFUTED_WARNING in err


def test_a_report_s_audits_and_json_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = PrivacyReport.from_ledger(
        [(dp.Gaussian(1.0), 1)], delta=DELTA, tight=False, audits=[CONSISTENT, REFUTED]
    )
    path = _write(tmp_path, "report.json", report.to_json())
    code, out, err = _run(["audit", path, "--format", "json"], capsys)
    assert code == 1
    assert [AuditResult.from_dict(item) for item in json.loads(out)] == [CONSISTENT, REFUTED]
    assert "CLAIM REFUTED" in err


def test_the_claim_is_recomputed_from_a_saved_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unclaimed = _audit(2.5, None)
    path = _write(tmp_path, "audit.json", unclaimed.to_dict())
    # Under zero-out a Gaussian(1.0) step is accounted at sensitivity 1: epsilon 4.377...
    loose = _write(
        tmp_path, "loose.json", dp.ledger_to_dict([(dp.Gaussian(1.0), 1)], neighbouring="zero_out")
    )
    code, out, err = _run(
        ["audit", path, "--ledger", loose, "--delta", "1e-5", "--format", "json"], capsys
    )
    assert code == 0, err
    claim = json.loads(out)[0]["claimed_epsilon"]
    expected = dp.PldAccountant(neighbouring="zero_out").compose(dp.Gaussian(1.0))
    assert claim == pytest.approx(expected.get_epsilon(1e-5))
    # ... and 20 steps at noise 8 claim less than the audit's bound of 2.5: refuted.
    tight = _write(tmp_path, "tight.json", dp.ledger_to_dict([(dp.Gaussian(8.0), 20)]))
    code, out, err = _run(["audit", path, "--ledger", tight, "--delta", "1e-5"], capsys)
    assert code == 1
    assert "recomputed from" in out.splitlines()[0]
    assert "under add_remove" in out.splitlines()[0]
    assert out.splitlines()[1].endswith("CLAIM REFUTED")
    assert len(err.strip().splitlines()) == 1


_BAD_FILES = [
    b"",
    b"\xff\xfe",
    b"{",
    b"[" * 100_000,
    b"3",
    b"[]",
    b'{"type": "audit_result", "version": 1}',
    json.dumps({**CONSISTENT.to_dict(), "version": 9}).encode(),
    json.dumps({**CONSISTENT.to_dict(), "canaries": "many"}).encode(),
    json.dumps({**CONSISTENT.to_dict(), "claimed_epsilon": -1}).encode(),
    json.dumps(CONSISTENT.to_dict()).replace("1000", "1" + "0" * 5000).encode(),
    json.dumps(CONSISTENT.to_dict()).replace("4.377", "1e999").encode(),
    json.dumps([CONSISTENT.to_dict(), [1]]).encode(),
    json.dumps([CONSISTENT.to_dict()] * 1001).encode(),
    PrivacyReport.from_ledger([(dp.Gaussian(1.0), 1)], delta=DELTA, tight=False)
    .to_json()
    .encode(),  # a report without audits: nothing to check
    json.dumps(dp.ledger_to_dict([(dp.Gaussian(1.0), 1)])).encode(),
]


@pytest.mark.parametrize("content", _BAD_FILES)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "audit.json"
    path.write_bytes(content)
    code, out, err = _run(["audit", str(path)], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "error" in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--delta", "1e-5"],  # --delta without --ledger
        ["--ledger", "LEDGER"],  # --ledger without --delta
        ["--ledger", "LEDGER", "--delta", "1e-6"],  # not the audit's delta
        ["--ledger", "LEDGER", "--delta", "2"],
        ["--ledger", "/definitely/not/here.json", "--delta", "1e-5"],
        ["--ledger", "AUDIT", "--delta", "1e-5"],  # not a ledger
        ["--format", "yaml"],
    ],
)
def test_bad_flags_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    audit = _write(tmp_path, "audit.json", CONSISTENT.to_dict())
    ledger = _write(tmp_path, "ledger.json", dp.ledger_to_dict([(dp.Gaussian(1.0), 1)]))
    names = {"LEDGER": ledger, "AUDIT": audit}
    code, out, err = _run(["audit", audit, *[names.get(a, a) for a in extra]], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "internal error" not in err


def test_a_refuted_claim_in_a_subprocess(tmp_path: Path) -> None:
    path = _write(tmp_path, "audits.json", [REFUTED.to_dict()])
    out = subprocess.run(
        [sys.executable, "-m", "dp", "audit", path],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stdout == REFUTED.describe() + "\n"
    assert out.stderr.strip().splitlines() == [
        f"fedcrypt-dp audit: CLAIM REFUTED by 1 of 1 audit: {REFUTED_WARNING}"
    ]
