"""Long runs talk: progress with epsilon and loss, fedcrypt log records, per-round callbacks,
Ctrl-C that keeps the partial history and ledger, and errors that name the client and round.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import federated._run_events as run_events
from federated.client import ClientUpdate
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    PrivacyConfig,
    UniformSelection,
)
from federated.errors import InvalidArgument, InvalidUpdate, MissingExtra, RunInterrupted
from federated.history import RoundRecord, RoundStatus
from federated.runner import run
from tests.federated._linear import START, LinearClient, evaluate, make_clients

DP = PrivacyConfig(mode=DPMode.CENTRAL, noise_multiplier=1.0, delta=1e-5)


def _config(rounds: int = 3, **kwargs: Any) -> FederatedConfig:
    settings: dict[str, Any] = {
        "rounds": rounds,
        "selection": UniformSelection(4),
        "aggregation": Aggregation.PLAIN_INSECURE,
        "privacy": DP,
    }
    return FederatedConfig(**{**settings, **kwargs})


class _Bar:
    """Stands in for a tqdm bar; records postfixes and updates."""

    made: list[_Bar] = []  # noqa: RUF012 - reset by the fixture

    def __init__(self, total: int, **kwargs: Any) -> None:
        self.total, self.enabled, self.postfixes, self.updates = total, kwargs["enabled"], [], 0
        self.closed = False
        _Bar.made.append(self)

    def set_postfix(self, postfix: dict[str, str], refresh: bool = True) -> None:
        self.postfixes.append(dict(postfix))

    def update(self, count: int) -> None:
        self.updates += count

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[_Bar]:
    _Bar.made = []
    monkeypatch.setattr(run_events, "progress_bar", _Bar)
    return _Bar.made


def test_bar_log_and_callbacks_see_every_round(
    bars: list[_Bar], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[RoundRecord] = []
    caplog.set_level(logging.INFO, logger="fedcrypt")
    history = run(
        _config(), make_clients(8), START, evaluate=evaluate, progress=True, callbacks=[seen.append]
    )
    assert seen == list(history.records)
    (bar,) = bars
    assert (bar.total, bar.enabled, bar.updates, bar.closed) == (3, True, 3, True)
    last = bar.postfixes[-1]
    assert float(last["epsilon"]) == pytest.approx(history.final_epsilon, rel=1e-2)
    assert float(last["loss"]) == pytest.approx(history.metric("loss")[-1], rel=1e-3)
    messages = [r.getMessage() for r in caplog.records if r.name == run_events.LOGGER_NAME]
    assert messages[0].startswith("run started: 3 rounds")
    assert sum("completed" in m and "epsilon" in m and "loss" in m for m in messages) == 3
    assert messages[-1] == "run ended after 3 of 3 rounds (3 completed)"


def test_progress_can_be_turned_off(bars: list[_Bar]) -> None:
    run(_config(rounds=1), make_clients(8), START, progress=False)
    assert bars[0].enabled is False


def test_callbacks_must_be_callables() -> None:
    with pytest.raises(InvalidArgument, match="callbacks"):
        run(_config(rounds=1), make_clients(8), START, callbacks=print)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="callbacks"):
        run(_config(rounds=1), make_clients(8), START, callbacks=[1])  # type: ignore[list-item]


@dataclass
class _Interrupting(LinearClient):
    """A client whose ``fit`` presses Ctrl-C once the run reaches ``at_call``."""

    at_call: int = 0
    calls: int = 0

    def fit(self, parameters: np.ndarray) -> ClientUpdate:
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return super().fit(parameters)


def test_ctrl_c_keeps_the_partial_history_and_ledger(tmp_path: Path) -> None:
    clients = make_clients(4)  # every client in every round: round 3 is each one's 3rd call
    clients[0] = _Interrupting(clients[0].x, clients[0].y, at_call=3)
    seen: list[RoundRecord] = []

    def remember(record: RoundRecord) -> None:
        seen.append(record)

    full = run(_config(rounds=2), make_clients(4), START)
    with pytest.raises(RunInterrupted) as caught:
        run(_config(rounds=5), clients, START, callbacks=[remember])
    assert isinstance(caught.value, KeyboardInterrupt)
    history = caught.value.history
    assert len(history.records) == 2 == len(seen)
    assert all(r.status is RoundStatus.COMPLETED for r in history.records)
    assert "interrupted" in history.stop_reason
    # The ledger covers exactly the two rounds released; the report can be written.
    assert history.final_epsilon == pytest.approx(full.final_epsilon)
    report = history.privacy_report()
    assert report is not None
    history.write_privacy_report(tmp_path / "report")
    assert any(tmp_path.iterdir())


def test_a_nan_update_names_the_client_and_the_round() -> None:
    @dataclass
    class _Nan(LinearClient):
        def fit(self, parameters: np.ndarray) -> ClientUpdate:
            return ClientUpdate(np.array([0.0, np.nan]), self.num_examples)

    for aggregation in (Aggregation.PLAIN_INSECURE, Aggregation.MASKING):
        clients: list[Any] = make_clients(4)
        clients[2] = _Nan(clients[2].x, clients[2].y)
        with pytest.raises(InvalidUpdate, match=r"client 2, round 1: .*NaN") as caught:
            run(_config(rounds=2, aggregation=aggregation, privacy=PrivacyConfig()), clients, START)
        assert (caught.value.client, caught.value.round_number) == (2, 1)
        assert isinstance(caught.value, InvalidArgument)


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("federated.torch", "torch", "torch"),
        ("federated.demo", "sklearn", "demo"),
        ("federated.flower", "flwr", "flower"),
    ],
)
def test_optional_modules_name_their_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, blocked: str, extra: str
) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith("federated._demo")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "federated.torch", raising=False)
    monkeypatch.setitem(sys.modules, blocked, None)  # import raises ImportError
    with pytest.raises(MissingExtra, match=rf"pip install 'fedcrypt\[{extra}\]'") as caught:
        importlib.import_module(module)
    assert isinstance(caught.value, ImportError)
    assert caught.value.extra == extra


def test_torch_tensors_are_refused_with_the_fix() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(InvalidArgument, match=r"detach\(\)\.cpu\(\)\.numpy\(\)"):
        run(_config(rounds=1), make_clients(8), torch.zeros(2, requires_grad=True))

    @dataclass
    class _TorchDelta(LinearClient):
        def fit(self, parameters: np.ndarray) -> ClientUpdate:
            return ClientUpdate(torch.zeros(2), self.num_examples)  # type: ignore[arg-type]

    clients: list[Any] = make_clients(4)
    clients[1] = _TorchDelta(clients[1].x, clients[1].y)
    with pytest.raises(InvalidUpdate, match=r"client 1, round 1: .*numpy\(\)"):
        run(_config(rounds=1), clients, START)
