"""Every Python snippet of the federated documentation runs, in order, as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["docs/quickstart.md", "docs/federated/index.md"]


def _snippets(page: str) -> list[str]:
    text = (ROOT / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(page: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snippets = _snippets(page)
    assert snippets, f"{page} has no python snippet"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for snippet in snippets:
            exec(compile(snippet, page, "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out
