from __future__ import annotations

import os

import pytest

from federated.config import FederatedConfig, UniformSelection
from federated.errors import FederatedError, InvalidArgument
from federated.executors import (
    Executor,
    ProcessPoolExecutor,
    SerialExecutor,
    make_executor,
    map_allowing_losses,
)
from federated.history import RoundStatus
from federated.runner import run
from tests.federated._linear import START, make_clients


def _square(value: int) -> int:
    return value * value


def test_serial_executor_keeps_order() -> None:
    with SerialExecutor() as executor:
        assert isinstance(executor, Executor)
        assert executor.map(_square, [3, 1, 2]) == [9, 1, 4]


def test_process_pool_keeps_order() -> None:
    with ProcessPoolExecutor(2) as executor:
        assert isinstance(executor, Executor)
        assert executor.map(_square, list(range(20))) == [i * i for i in range(20)]


def test_process_pool_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        ProcessPoolExecutor(0)
    with pytest.raises(InvalidArgument):
        ProcessPoolExecutor(1, start_method="teleport")


class _Lost(FederatedError):
    def __init__(self, results: list[object], lost: list[int]) -> None:
        super().__init__("workers died")
        self.results = results
        self.lost = lost


class _LosingExecutor(SerialExecutor):
    """Loses the task at position 1 of every call, like a worker that died."""

    def map(self, function, items):  # type: ignore[no-untyped-def]
        results = [function(item) for item in items]
        if len(results) > 1:
            results[1] = None
            raise _Lost(results, [1])
        return results


def test_map_allowing_losses_returns_survivors_and_lost_positions() -> None:
    kept, lost = map_allowing_losses(_LosingExecutor(), _square, [1, 2, 3])
    assert kept == {0: 1, 2: 9}
    assert lost == (1,)
    assert map_allowing_losses(SerialExecutor(), _square, [4]) == ({0: 16}, ())


def test_other_executor_errors_propagate() -> None:
    class Broken(SerialExecutor):
        def map(self, function, items):  # type: ignore[no-untyped-def]
            raise FederatedError("no partial results")

    with pytest.raises(FederatedError, match="no partial"):
        map_allowing_losses(Broken(), _square, [1])


def test_runner_treats_lost_tasks_as_dropouts() -> None:
    config = FederatedConfig(rounds=2, selection=UniformSelection(6))
    history = run(config, make_clients(6), START, executor=_LosingExecutor())
    # The client job (training, clipping and encoding) loses one client: 5 of 6 inputs
    # arrive each round.
    assert [r.survivors for r in history.records] == [5, 5]
    assert all(r.status is RoundStatus.COMPLETED for r in history.records)


def test_executors_are_built_by_name() -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    pool = make_executor("process", workers=1)
    try:
        assert isinstance(pool, ProcessPoolExecutor)
        assert pool.map(_square, [3, 4]) == [9, 16]
    finally:
        pool.close()
    with pytest.raises(InvalidArgument, match="unknown executor"):
        make_executor("threads")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="no options"):
        make_executor("serial", workers=2)


def test_runner_builds_a_named_executor_and_refuses_options_for_an_object() -> None:
    config = FederatedConfig(rounds=1, selection=UniformSelection(4))
    clients = make_clients(4)
    history = run(config, clients, START, executor="process", executor_options={"workers": 1})
    assert history.completed_rounds == 1
    with pytest.raises(InvalidArgument, match="executor_options"):
        run(config, clients, START, executor=SerialExecutor(), executor_options={"workers": 1})


def test_worker_initializer_limits_an_already_loaded_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned worker may have torch loaded before its initializer: it is set to 1 thread."""
    torch = pytest.importorskip("torch")
    from federated.executors import _single_threaded_worker

    before = torch.get_num_threads()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(variable, "4")  # restored after the test, like the other two
    torch.set_num_threads(2)
    try:
        _single_threaded_worker()
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)
