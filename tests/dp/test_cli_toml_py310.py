"""On Python 3.10 the CLI reads TOML with the tomli backport (a dependency there)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dp.__main__ import CliError, _load_toml

tomllib = pytest.importorskip("tomllib")  # stands in for tomli (the same parser, renamed)


def test_python_3_10_uses_tomli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("steps = 8\nnoise_multiplier = 1.0\n")
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    monkeypatch.setitem(sys.modules, "tomli", tomllib)
    assert _load_toml(str(config)) == {"steps": 8, "noise_multiplier": 1.0}
    monkeypatch.setitem(sys.modules, "tomli", None)  # not installed
    with pytest.raises(CliError, match="pip install tomli"):
        _load_toml(str(config))
