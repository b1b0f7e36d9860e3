"""The Ray executor on a local two-core Ray runtime, shared by the whole module.

Ray takes seconds to start, so one runtime serves every test here: the module's executor
starts it, and the executors the tests build join it (and leave it running when closed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

pytest.importorskip("ray")

from federated.client import ClientUpdate
from federated.config import (
    DPMode,
    FederatedConfig,
    MaskingSettings,
    PrivacyConfig,
    UniformSelection,
)
from federated.errors import FederatedError, InvalidArgument
from federated.executors import Executor, SerialExecutor
from federated.history import RoundStatus
from federated.ray_executor import RayExecutor, WorkerLost
from federated.runner import run
from tests.federated._linear import START, LinearClient, make_clients


@dataclass
class StallingClient(LinearClient):
    """Writes its worker's pid to ``marker`` and stalls, the first time only, to be killed."""

    marker: str = ""

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        path = Path(self.marker)
        if not path.exists():
            path.write_text(str(os.getpid()))
            time.sleep(120)  # the test kills this worker long before
        return super().fit(parameters)


@dataclass
class FailingClient(LinearClient):
    """A client whose own code fails: an error to report, not a dead worker."""

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        raise ArithmeticError("client code failed")


def fit(job: tuple[LinearClient, NDArray[np.float64]]) -> ClientUpdate:
    client, parameters = job
    return client.fit(parameters)


ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 50
CHUNK = 5
OBJECT_STORE = 128 * 2**20


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    """One local Ray runtime for the module; this executor owns it and shuts it down."""
    import ray

    if ray.is_initialized():  # left over by another module in this worker: start afresh
        ray.shutdown()
    with RayExecutor(
        num_cpus=2, workers=2, cpus_per_client=0.5, object_store_memory=OBJECT_STORE
    ) as ray_executor:
        yield ray_executor


def _trajectory(executor: Executor, clients: list, rounds: int) -> list[np.ndarray]:  # type: ignore[type-arg]
    """A minimal FedAvg loop over the executor: the mean update of all clients per round."""
    parameters = START.copy()
    trajectory = []
    for _ in range(rounds):
        updates = executor.map(fit, [(client, parameters) for client in clients])
        parameters = parameters + np.mean([u.delta for u in updates], axis=0)
        trajectory.append(parameters)
    return trajectory


def test_map_matches_serial_and_places_each_client_once(executor: RayExecutor) -> None:
    assert isinstance(executor, Executor)
    clients = make_clients(CLIENTS)
    sent_before = executor.clients_sent
    ours = _trajectory(executor, clients, rounds=3)
    serial = _trajectory(SerialExecutor(), clients, rounds=3)
    for mine, theirs in zip(ours, serial, strict=True):
        np.testing.assert_array_equal(mine, theirs)  # same clients, same order: exact
    assert executor.clients_sent - sent_before == CLIENTS  # placed once, not once a round
    assert executor.map(fit, []) == []


def test_release_forgets_placed_clients(executor: RayExecutor) -> None:
    clients = make_clients(6)
    executor.map(fit, [(client, START) for client in clients])
    assert executor.placed_clients >= 6
    executor.release()
    assert executor.placed_clients == 0
    sent = executor.clients_sent
    updates = executor.map(fit, [(client, START) for client in clients])
    assert executor.clients_sent == sent + 6  # placed afresh
    assert len(updates) == 6


def _record(trajectory: list[np.ndarray]):  # type: ignore[no-untyped-def]
    def evaluate(parameters: np.ndarray) -> dict[str, float]:
        trajectory.append(parameters.copy())
        return {}

    return evaluate


def test_runner_with_masking_equals_serial_within_quantisation_bound(
    executor: RayExecutor,
) -> None:
    rounds, bits, clip = 3, 32, 1.0
    config = FederatedConfig(
        rounds=rounds,
        selection=UniformSelection(CLIENTS),  # everyone, so both runs have the same cohorts
        clip_norm=clip,
        masking=MaskingSettings(neighbours=8, modulus_bits=bits),
    )
    clients = make_clients(CLIENTS)
    ours: list[np.ndarray] = []
    serial: list[np.ndarray] = []
    run(config, clients, START, executor=executor, evaluate=_record(ours))
    run(config, clients, START, evaluate=_record(serial))
    # Stochastic rounding puts each run's mean update within one grid step of the exact
    # mean (FixedPointCodec: step = cohort * clip / 2^(B-2)); a round's update map is
    # 1-Lipschitz here (clipped local gradient descent), so after t rounds the two runs
    # differ by at most 2 t steps per coordinate.
    step = CLIENTS * clip / 2 ** (bits - 2)
    assert len(ours) == len(serial) == rounds
    for t, (mine, theirs) in enumerate(zip(ours, serial, strict=True), start=1):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=2 * t * step)
    assert not np.allclose(ours[-1], START)  # the model did move


def test_runner_with_distributed_dp_accounts_like_serial(executor: RayExecutor) -> None:
    config = FederatedConfig(
        rounds=2,
        selection=UniformSelection(20),
        masking=MaskingSettings(neighbours=6),
        privacy=PrivacyConfig(mode=DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=1e-5),
    )
    clients = make_clients(CLIENTS)
    ours = run(config, clients, START, executor=executor)
    serial = run(config, clients, START)
    assert ours.completed_rounds == serial.completed_rounds == 2
    assert [r.epsilon for r in ours.records] == [r.epsilon for r in serial.records]
    assert all(np.isfinite(ours.parameters))


def _kill_when_stalled(marker: Path, killed: list[int]) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGKILL)  # the worker process our stalled client runs in
                killed.append(pid)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_killed_worker_loses_only_its_tasks_and_the_next_round_runs(
    executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "stalled.pid"
    clients = make_clients(CLIENTS)
    stalled = 7
    base = clients[stalled]
    clients[stalled] = StallingClient(base.x, base.y, marker=str(marker))
    with RayExecutor(workers=2, cpus_per_client=0.5, chunk_size=CHUNK) as ray_executor:
        ray_executor.place(clients)
        assert ray_executor.clients_sent == CLIENTS
        killed: list[int] = []
        killer = _kill_when_stalled(marker, killed)
        jobs = [(client, START) for client in clients]
        with pytest.raises(WorkerLost) as caught:
            ray_executor.map(fit, jobs)
        killer.join()
        assert len(killed) == 1
        lost = caught.value.lost
        assert stalled in lost
        # Only the chunk the worker was running is lost; its queued chunks ran elsewhere.
        assert len(lost) <= CHUNK
        expected = SerialExecutor().map(fit, [(c, START) for c in make_clients(CLIENTS)])
        completed = caught.value.completed()
        assert set(completed) == set(range(CLIENTS)) - set(lost)
        for position, update in completed.items():
            np.testing.assert_array_equal(update.delta, expected[position].delta)  # type: ignore[attr-defined]
        assert ray_executor.workers_lost == 1
        assert ray_executor.tasks_lost == len(lost)
        # The dead worker was replaced and its clients placed again: the run goes on.
        assert ray_executor.worker_count == 2
        assert ray_executor.clients_sent > CLIENTS
        after = ray_executor.map(fit, jobs)
        for mine, theirs in zip(after, expected, strict=True):
            np.testing.assert_array_equal(mine.delta, theirs.delta)


def test_runner_counts_a_killed_worker_as_dropouts_and_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "stalled.pid"
    clients = make_clients(CLIENTS)
    stalled = 7
    base = clients[stalled]
    clients[stalled] = StallingClient(base.x, base.y, marker=str(marker))
    config = FederatedConfig(
        rounds=3,
        selection=UniformSelection(CLIENTS),
        # 16 neighbours, threshold ceil(0.6 * 17) = 11: losing one chunk (<= 5 clients)
        # leaves every survivor >= 12 of its neighbourhood, so no survivor can abort for
        # want of neighbours, whichever way the random graph falls (with 8 neighbours,
        # threshold 6, about 6% of graphs gave some survivor 4 lost neighbours).
        masking=MaskingSettings(neighbours=16),
        privacy=PrivacyConfig(mode=DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=1e-5),
    )
    assert CHUNK <= 5
    with RayExecutor(workers=2, cpus_per_client=0.5, chunk_size=CHUNK) as ray_executor:
        killed: list[int] = []
        killer = _kill_when_stalled(marker, killed)
        history = run(config, clients, START, executor=ray_executor)
        killer.join()
        assert len(killed) == 1
        lost = ray_executor.tasks_lost
    assert 0 < lost <= CHUNK
    first, *rest = history.records
    # The lost clients dropped before their masked input: the protocol recovered the sum
    # of the others, and the accountant counted only them.
    assert first.status is RoundStatus.COMPLETED
    assert first.survivors == CLIENTS - lost
    assert all(r.status is RoundStatus.COMPLETED and r.survivors == CLIENTS for r in rest)
    assert history.completed_rounds == 3


def test_runner_builds_a_ray_executor_by_name_and_leaves_a_joined_runtime(
    executor: RayExecutor,
) -> None:
    import ray

    config = FederatedConfig(rounds=1, selection=UniformSelection(10))
    history = run(config, make_clients(10), START, executor="ray", executor_options={"workers": 1})
    assert history.completed_rounds == 1
    assert ray.is_initialized()  # the module's runtime was joined, not shut down


def test_client_code_errors_are_raised_not_counted_as_dropouts(executor: RayExecutor) -> None:
    clients = make_clients(4)
    base = clients[2]
    clients[2] = FailingClient(base.x, base.y)
    lost_before = executor.tasks_lost
    with pytest.raises(ArithmeticError, match="client code failed"):
        executor.map(fit, [(client, START) for client in clients])
    assert executor.tasks_lost == lost_before
    assert len(executor.map(fit, [(clients[0], START)])) == 1


def test_joined_runtime_survives_close_and_closed_executor_refuses(executor: RayExecutor) -> None:
    import ray

    borrowing = RayExecutor(workers=1, cpus_per_client=0.5)
    borrowing.close()
    borrowing.close()  # idempotent
    assert ray.is_initialized()  # the module's runtime is not ours to stop
    with pytest.raises(FederatedError, match="closed"):
        borrowing.map(fit, [(make_clients(1)[0], START)])
    assert executor.map(fit, [(make_clients(1)[0], START)])


@pytest.mark.parametrize(
    "options",
    [
        {"workers": 0},
        {"cpus_per_client": 0.0},
        {"gpus_per_client": -1.0},
        {"chunk_size": 0},
        {"num_cpus": 0},
        {"start_timeout": 0.0},
        {"workers": 64},  # more CPUs than the runtime has
    ],
)
def test_bad_arguments_are_rejected(executor: RayExecutor, options: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        RayExecutor(**options)  # type: ignore[arg-type]


def test_documented_example_runs(executor: RayExecutor) -> None:
    page = (ROOT / "docs" / "federated" / "ray.md").read_text()
    example = page.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {"__name__": "ray_docs_example"}
    exec(compile(example, "docs/federated/ray.md", "exec"), namespace)  # joins our runtime
    history = namespace["history"]
    assert history.completed_rounds == 3  # type: ignore[attr-defined]
    assert history.final_epsilon > 0  # type: ignore[attr-defined]


def test_federated_imports_without_ray() -> None:
    code = (
        "import sys\n"
        "sys.modules['ray'] = None\n"
        "import federated, federated.runner, federated.ray_executor as rx\n"
        "try:\n"
        "    rx.RayExecutor()\n"
        "except rx.RayNotInstalled as error:\n"
        "    assert isinstance(error, ImportError)\n"
        "    assert isinstance(error, federated.FederatedError)\n"
        "    print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
