"""Fuzzing the report, ledger and settings loaders: only typed errors escape, quickly.

Every loader that reads a user's file (``PrivacyReport.from_json`` / ``from_dict``, the
CLI's settings and ledger files) is fed truncations, bit flips, random bytes, huge numbers,
deep nesting and wrong types. A report that loads must round-trip; anything else must be a
:class:`dp.SerializationError` (status 2 with one line on stderr for the CLI), within a
time bound, never a RecursionError, UnicodeDecodeError, OverflowError or "internal error".
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dp
from dp.__main__ import main
from dp.errors import SerializationError
from dp.report import PrivacyReport, ThreatModel

FIXED = {"created": "2026-01-01T00:00:00Z", "library_version": "0.1.0"}


@functools.cache
def _report_bytes() -> bytes:
    event = dp.SampledWithoutReplacement(500, 20, dp.Gaussian(1.5))
    report = PrivacyReport.from_ledger(
        [(event, 3), (dp.Gaussian(4.0), 2)],
        delta=1e-6,
        population=500,
        privacy_unit="client",
        sampling="fixed_size",
        threat_model=ThreatModel("distributed", n_min=10, colluders=1),
        clip_norm=1.0,
        noise_multiplier=1.5,
        curve_points=3,
        tight=False,
        **FIXED,
    )
    return report.to_json().encode()


def _load(data: bytes | str) -> None:
    try:
        report = PrivacyReport.from_json(data)
    except SerializationError:
        pass
    else:
        assert PrivacyReport.from_json(report.to_json()) == report


mutations = st.one_of(
    st.integers(min_value=0).map(lambda n: ("truncate", n)),
    st.tuples(st.integers(min_value=0), st.integers(0, 7)).map(lambda t: ("flip", t)),
    st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=16)).map(
        lambda t: ("insert", t)
    ),
)


def _mutate(data: bytes, mutation: tuple[str, Any]) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return data[: arg % (len(data) + 1)]
    if kind == "flip":
        if not data:
            return data
        index, bit = arg
        index %= len(data)
        return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]
    index, chunk = arg
    index %= len(data) + 1
    return data[:index] + chunk + data[index:]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutations, min_size=1, max_size=4))
def test_mutated_report_json_is_loaded_or_refused(muts: list[tuple[str, Any]]) -> None:
    data = _report_bytes()
    for mutation in muts:
        data = _mutate(data, mutation)
    _load(data)


@given(st.binary(max_size=512))
def test_random_bytes_are_refused(data: bytes) -> None:
    _load(data)


@given(st.text(max_size=256))
def test_random_text_is_refused(text: str) -> None:
    _load(text)


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 2**53 + 1, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["inf", "nan", "1e999", "²", "add_remove", "replace_one"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.integers(min_value=65, max_value=5000).map(
        lambda depth: functools.reduce(lambda inner, _: [inner], range(depth), [])
    ),
)


def _paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_field_replaced_by_a_hostile_value_is_loaded_or_refused(data: st.DataObject) -> None:
    original = json.loads(_report_bytes())
    tree = copy.deepcopy(original)
    paths = [p for p in _paths(tree) if p]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(hostile_values)
    parent: Any = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    try:
        report = PrivacyReport.from_dict(tree)
    except SerializationError:
        pass
    else:
        assert PrivacyReport.from_dict(report.to_dict()) == report
    # The same through JSON text (non-finite floats cannot be written as JSON).
    try:
        text = json.dumps(tree, allow_nan=False)
    except (ValueError, RecursionError):
        return
    _load(text)


# ----------------------------------------------------------------------- the CLI's files


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    if code == 2:
        assert captured.out == ""
        assert len(captured.err.strip().splitlines()) == 1
        assert "internal error" not in captured.err
    return code, captured.out, captured.err


_JSON_SETTINGS = json.dumps(
    {
        "sampling": "fixed_size",
        "population": 1000,
        "sample_size": 10,
        "noise_multiplier": 1.2,
        "steps": 50,
        "delta": 1e-5,
        "neighbouring": "add_remove",
        "curve_points": 3,
        "privacy_unit": "client",
        "title": "fuzz",
    }
).encode()

_TOML_SETTINGS = (
    b'sampling = "poisson"\nsampling_rate = 0.01\nnoise_multiplier = 1.2\nsteps = 50\n'
    b'delta = 1e-5\nneighbouring = "zero_out"\ncurve_points = 3\ntitle = "fuzz"\n'
)

_LEDGER = json.dumps(
    dp.ledger_to_dict(
        [(dp.PoissonSampled(0.01, dp.Gaussian(1.0)), 20), (dp.Laplace(5.0), 2)],
        neighbouring="add_remove",
    )
).encode()


@pytest.mark.parametrize(
    ("template", "suffix"), [(_JSON_SETTINGS, ".json"), (_TOML_SETTINGS, ".toml")]
)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=st.lists(mutations, min_size=1, max_size=3))
def test_mutated_settings_files_run_or_fail_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    template: bytes,
    suffix: str,
    muts: list[tuple[str, Any]],
) -> None:
    data = template
    for mutation in muts:
        data = _mutate(data, mutation)
    config = tmp_path / f"run{suffix}"
    config.write_bytes(data)
    _cli(["report", "--config", str(config), "--no-pld", "--format", "json"], capsys)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=st.lists(mutations, min_size=1, max_size=3))
def test_mutated_ledger_files_run_or_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], muts: list[tuple[str, Any]]
) -> None:
    data = _LEDGER
    for mutation in muts:
        data = _mutate(data, mutation)
    ledger = tmp_path / "ledger.json"
    ledger.write_bytes(data)
    code, out, _ = _cli(
        ["report", "--ledger", str(ledger), "--delta", "1e-5", "--format", "json"], capsys
    )
    if code == 0:
        PrivacyReport.from_json(out)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(json.loads(_JSON_SETTINGS))), value=hostile_values)
def test_settings_with_hostile_values_run_or_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: object
) -> None:
    settings_ = json.loads(_JSON_SETTINGS)
    settings_[key] = value
    try:
        text = json.dumps(settings_)  # NaN and Infinity are written as such: refused on read
    except (ValueError, RecursionError):
        return
    config = tmp_path / "run.json"
    config.write_text(text)
    _cli(["report", "--config", str(config), "--no-pld", "--format", "json"], capsys)


_FLAG_VALUES = {
    "--sampling-rate": ["0.01", "1", "1.5", "0", "1e-300", "nan", "0.5"],
    "--noise-multiplier": ["1", "1e-300", "1e300", "0.5", "-1", "x"],
    "--steps": ["1", "1000", "1000000000000", "0", str(2**53), str(2**53 + 1)],
    "--delta": ["1e-5", "0.5", "1", "1e-300", "0"],
    "--population": ["2", "100", "60000", "1", str(2**53)],
    "--sample-size": ["1", "10", "100", "60001"],
    "--sampling": ["poisson", "fixed_size", "shuffled", "full_batch", "x"],
    "--neighbouring": ["add_remove", "zero_out", "replace_one"],
    "--threat-model": ["trusted_server", "distributed"],
    "--colluders": ["0", "3", "-1"],
    "--n-min": ["1", "5"],
    "--min-survivors": ["1", "3"],
    "--clip-norm": ["1", "0", "inf"],
    "--curve-points": ["2", "25", "10000", "10001"],
    "--target-epsilon": ["1", "0"],
    "--format": ["table", "json", "markdown", "html"],
}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["report", "report", "report", "calibrate"]),
    picks=st.dictionaries(st.sampled_from(sorted(_FLAG_VALUES)), st.integers(0, 9), max_size=8),
    no_pld=st.booleans(),
)
def test_any_combination_of_flags_runs_or_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], command: str, picks: dict[str, int], no_pld: bool
) -> None:
    argv = [command]
    for flag, index in picks.items():
        values = _FLAG_VALUES[flag]
        argv += [flag, values[index % len(values)]]
    if command == "report" and no_pld:
        argv.append("--no-pld")
    if command == "calibrate":
        argv += ["--epsilon", "3"]
    _cli(argv, capsys)
