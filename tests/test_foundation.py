"""The ground rules every package keeps: error roots, typing marker, no heavy imports."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import dp
import federated
import secagg

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("package", "root"),
    [(secagg, secagg.SecAggError), (dp, dp.DPError), (federated, federated.FederatedError)],
)
def test_one_error_root_and_invalid_argument_is_value_error(package: object, root: type) -> None:
    invalid = package.InvalidArgument  # type: ignore[attr-defined]
    assert issubclass(invalid, root)
    assert issubclass(invalid, ValueError)
    for name in package.__all__:  # type: ignore[attr-defined]
        obj = getattr(package, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            if issubclass(obj, KeyboardInterrupt):
                # Ctrl-C carrying a partial result (federated.RunInterrupted) stays an
                # interrupt, so ``except Exception`` (or the error root) cannot swallow it.
                assert not issubclass(obj, Exception), name
                continue
            if issubclass(obj, Warning):
                continue  # a warning category (federated.PrivacyWarning) is not an error
            assert issubclass(obj, root), name


@pytest.mark.parametrize("name", ["secagg", "dp", "federated"])
def test_package_is_typed(name: str) -> None:
    assert (ROOT / name / "py.typed").is_file()


@pytest.mark.parametrize("name", ["secagg", "dp", "federated"])
def test_public_names_resolve(name: str) -> None:
    package = importlib.import_module(name)
    for public in package.__all__:
        assert hasattr(package, public), f"{name}.{public} is exported but missing"


def _submodules(name: str) -> list[str]:
    package = importlib.import_module(name)
    return [
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}.")
        if not info.name.endswith("__main__")
    ]


def test_secagg_and_dp_import_without_torch_or_matplotlib() -> None:
    # A meta-path finder that refuses the heavy packages behaves like an environment where
    # they are not installed (unlike ``sys.modules[name] = None``, which libraries probing
    # ``"torch" in sys.modules`` would mistake for a loaded torch).
    modules = ["secagg", "dp", *_submodules("secagg"), *_submodules("dp")]
    code = (
        "import sys\n"
        "BLOCKED = {'torch', 'matplotlib'}\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Refuse())\n"
        f"for module in {modules!r}:\n"
        "    __import__(module)\n"
        "assert not BLOCKED & {name.partition('.')[0] for name in sys.modules}\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
