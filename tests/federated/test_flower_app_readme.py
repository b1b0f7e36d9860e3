"""The commands of ``examples/flower-app/README.md``, run as written, with the installed Flower.

The README is the single source: its ``bash`` blocks are read here and run verbatim with
``bash`` in the app's directory (install, simulation, deployment, in that order). Only the
environment differs from a user's shell, and only to isolate the run from this machine:
a fresh ``HOME``/``FLWR_HOME`` (so Flower creates its configuration as on a new machine),
free ports for the local simulation SuperLink that ``flwr run`` starts, a shorter SuperExec
poll interval (a Flower speed setting), and Flower's telemetry and update check off. Every
process a command leaves running is found by its id and stopped in the teardown.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "flower-app"
README = APP / "README.md"
BIN = Path(sys.executable).parent

if shutil.which("flwr", path=str(BIN)) is None:  # pragma: no cover - depends on the extra
    pytest.skip("the flower extra (flwr) is not installed", allow_module_level=True)


def bash_blocks(text: str) -> list[str]:
    """The contents of the ```bash fenced blocks of a Markdown text, in order."""
    return [m.group(1) for m in re.finditer(r"^```bash\n(.*?)^```$", text, re.S | re.M)]


BLOCKS = bash_blocks(README.read_text())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pids_with(*needles: str) -> list[int]:
    """Ids of this user's processes whose command line holds every one of ``needles``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if all(needle in args for needle in needles):
                pids.append(int(entry.name))
    return pids


def _stop(pids: list[int], *, group: bool = False) -> None:
    kill = os.killpg if group else os.kill
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                kill(pid, signal.SIGKILL)


def _environment(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(home),
        "FLWR_HOME": str(home / ".flwr"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.1",
        "FLWR_TELEMETRY_ENABLED": "0",  # no calls home from a test
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _run_bash(script: str, env: dict[str, str], log: Path, timeout: float) -> tuple[int, str]:
    """Run ``script`` with bash in the app's directory; stop all it left running; (code, output).

    The script runs in its own process group, so its background jobs can be stopped by
    group; the processes Flower starts in sessions of their own (SuperExec, ServerApp,
    ClientApps) are found by the addresses they were given.
    """
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=APP,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            _stop([process.pid], group=True)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
    return code, log.read_text(errors="replace")


def _learned_weight(output: str) -> float:
    match = re.search(r"learned weight (-?[0-9.]+)", output)
    assert match, f"the ServerApp printed no result:\n{output[-4000:]}"
    return float(match.group(1))


def test_readme_has_the_install_simulation_and_deployment_blocks() -> None:
    assert len(BLOCKS) == 3, BLOCKS
    assert BLOCKS[0].strip() == "pip install -e '.[flower]'"
    assert BLOCKS[1].strip() == "flwr run . --stream"
    assert "flwr run . deployment" in BLOCKS[2]


def test_install_command_is_what_this_environment_holds() -> None:
    """Run from the repository root, ``pip install -e '.[flower]'`` gives this environment."""
    distribution = importlib.metadata.distribution("fedcrypt")
    flower = [r for r in distribution.requires or [] if 'extra == "flower"' in r]
    assert any(r.startswith("flwr[simulation]") for r in flower)
    import federated

    assert Path(federated.__file__).resolve().is_relative_to(ROOT)
    # The app declares nothing for Flower's runtime installer to fetch from an index.
    project = tomllib.loads((APP / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == []


def test_simulation_command_runs_as_written(tmp_path: Path) -> None:
    link_port, control_port = _free_port(), _free_port()
    env = {
        **_environment(tmp_path),
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(link_port),
        "FLWR_LOCAL_CONTROL_API_PORT": str(control_port),
    }
    try:
        code, output = _run_bash(BLOCKS[1], env, tmp_path / "simulation.log", timeout=300)
    finally:  # flwr leaves its local SuperLink running for the next run: stop ours
        _stop(_pids_with("flower-superlink", "--simulation", f"--port {link_port}"))
        _stop(_pids_with("127.0.0.1:" + str(link_port)))
    assert code == 0, output[-4000:]
    assert "No non-`flwr` dependencies" in output  # nothing fetched from an index
    assert "Federation `@none/default` (2 simulated SuperNodes)" in output
    assert 1.5 < _learned_weight(output) < 2.5  # from 0 to the true weight 2, without noise
    assert "client-side evaluation after round 10" in output
    assert "PrivacyWarning" not in output  # no DP, nothing to warn about


@pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("FEDCRYPT_FLOWER_DEPLOYMENT")),
    reason="a real deployment takes 2 to 7 minutes here (Flower's SuperNodes poll every 3 s); "
    "it runs in CI (CI=true) or with FEDCRYPT_FLOWER_DEPLOYMENT=1",
)
def test_deployment_recipe_runs_as_written(tmp_path: Path) -> None:
    ports = (8000, 9100, 9101, 9102)
    busy = [p for p in ports if _port_busy(p)]
    if busy:  # pragma: no cover - depends on the machine
        pytest.skip(f"the README's ports are in use here: {busy}")
    try:
        code, output = _run_bash(
            BLOCKS[2], _environment(tmp_path), tmp_path / "deployment.log", timeout=600
        )
    finally:
        for port in ports:
            _stop(_pids_with(f"127.0.0.1:{port}"))
    assert code == 0, output[-4000:]
    # Distributed DP noise at z = 0.5 moves the model around 2 (sd about 0.3 per round).
    assert 0.0 < _learned_weight(output) < 4.0, output[-4000:]
    epsilon = re.search(r"epsilon = ([0-9.]+) at delta = 0.001", output)
    assert epsilon, output[-4000:]
    assert float(epsilon.group(1)) > 10.0
    # The run says its epsilon is past 10, once; evaluation is off under DP, so no other.
    assert output.count("PrivacyWarning: the Flower run after round 1 spent epsilon") == 1
    assert "in the clear" not in output
