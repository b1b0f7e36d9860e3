"""A real Flower deployment on loopback: SuperLink + three SuperNodes as separate processes.

The example app (``examples/flower-app``) is submitted with ``flwr run`` in insecure mode
and runs a few SecAgg+ rounds with distributed DP over Flower's HTTP transport; every
process is started in its own session and killed (by process group) in the teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
BINARIES = ("flower-superlink", "flower-supernode", "flwr")
APP = Path(__file__).resolve().parents[2] / "examples" / "flower-app"

missing = [b for b in BINARIES if not (BIN / b).exists() and shutil.which(b) is None]
if missing:  # pragma: no cover - depends on the environment
    pytest.skip(f"flwr binaries not installed: {', '.join(missing)}", allow_module_level=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else str(shutil.which(name))


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("flwr-home")
    env = {
        **os.environ,
        "FLWR_HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.1",  # Flower setting: start ClientApps sooner
    }
    link_port = _free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
        f'address = "127.0.0.1:{link_port}"\ninsecure = true\n'
    )
    processes: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(args: list[str], name: str) -> None:
        log = (home / f"{name}.log").open("wb")
        logs.append(log)
        processes.append(
            subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    try:
        start(
            [
                _binary("flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(link_port),
                "--disable-runtime-dependency-installation",
            ],
            "superlink",
        )
        _wait_for_port(link_port, time.monotonic() + 60)
        for i in range(3):
            start(
                [
                    _binary("flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{link_port}",
                    "--port",
                    str(_free_port()),
                    "--node-config",
                    f"partition-id={i} num-partitions=3",
                    "--max-wait-time",
                    "60",
                ],
                f"supernode{i}",
            )
        yield {"env": env, "home": home}
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        for log in logs:
            log.close()


def test_flwr_run_with_masking_and_distributed_dp(deployment: dict[str, object]) -> None:
    home = deployment["home"]
    assert isinstance(home, Path)
    result_path = home / "result.json"
    overrides = f'num-rounds=2 noise-multiplier=0.5 result-path="{result_path}"'
    run = subprocess.run(
        [_binary("flwr"), "run", str(APP), "local", "--stream", "--run-config", overrides],
        env=deployment["env"],  # type: ignore[arg-type]
        capture_output=True,
        timeout=240,
        check=False,
    )
    output = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")
    deadline = time.monotonic() + 60
    while not result_path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert result_path.exists(), f"the ServerApp wrote no result:\n{output[-4000:]}"
    summary = json.loads(result_path.read_text())
    run_summary = summary["run"]
    statuses = [r["status"] for r in run_summary["rounds"]]
    assert statuses == ["completed"] * 2
    assert all(r["survivors"] == 3 and r["selected"] == 3 for r in run_summary["rounds"])
    assert run_summary["epsilon"] > 0
    assert run_summary["privacy_report"]["rounds"] == 2
    assert summary["weight"] > 0  # moved from 0 towards the true weight 2
