"""Opacus (1.6.0) with our accountants: a real DP-SGD loop on CPU, calibration, checkpoints,
and the IAccountant contract."""

from __future__ import annotations

import math
from pathlib import Path

import opacus
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from opacus.accountants import IAccountant, RDPAccountant, create_accountant
from opacus.accountants import registry as opacus_registry
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dp
from dp.interop import (
    OpacusAccountant,
    OpacusPldAccountant,
    OpacusRdpAccountant,
    register_opacus_accountants,
)

DELTA = 1e-5

pytestmark = [
    pytest.mark.filterwarnings("ignore:Secure RNG turned off"),
    pytest.mark.filterwarnings("ignore:Full backward hook is firing"),
    pytest.mark.filterwarnings("ignore:Optimal order is the"),
]


@pytest.fixture(autouse=True)
def _registered() -> None:
    assert register_opacus_accountants() == ("fedcrypt_pld", "fedcrypt_rdp")


def _train(
    engine: opacus.PrivacyEngine, epochs: int, **private: float
) -> tuple[int, float, nn.Module, torch.optim.Optimizer]:
    """A 2-layer model on random data made here; returns the steps, sample rate and model."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(64, 4, generator=generator)
    labels = torch.randint(0, 2, (64,), generator=generator)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(features, labels), batch_size=16)
    if "target_epsilon" in private:
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            max_grad_norm=1.0,
            epochs=epochs,
            target_delta=DELTA,
            **private,
        )
    else:
        model, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, max_grad_norm=1.0, **private
        )
    steps = 0
    for _ in range(epochs):
        for batch, target in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(batch), target).backward()
            optimizer.step()
            steps += 1
    return steps, 16 / 64, model, optimizer


@pytest.mark.parametrize(
    ("name", "ours"), [("fedcrypt_pld", dp.PldAccountant), ("fedcrypt_rdp", dp.RdpAccountant)]
)
def test_privacy_engine_trains_with_our_accountant(
    name: str, ours: type[dp.PldAccountant] | type[dp.RdpAccountant]
) -> None:
    engine = opacus.PrivacyEngine(accountant=name)
    assert isinstance(engine.accountant, OpacusAccountant)
    assert isinstance(engine.accountant, IAccountant)
    steps, rate, _, _ = _train(engine, epochs=2, noise_multiplier=1.1)
    assert steps == 8
    assert engine.accountant.history == [(1.1, rate, steps)]
    assert len(engine.accountant) == steps
    direct = ours().compose(dp.PoissonSampled(rate, dp.Gaussian(1.1)), steps)
    assert engine.get_epsilon(DELTA) == direct.get_epsilon(DELTA)  # 4.6466 (PLD), 5.3196 (RDP)
    # Opacus' own RDP on the same history: ours uses more orders, never looser.
    theirs = RDPAccountant()
    theirs.history = list(engine.accountant.history)
    assert direct.get_epsilon(DELTA) <= theirs.get_epsilon(DELTA) * (1 + 1e-9)


def test_make_private_with_epsilon_calibrates_with_ours() -> None:
    engine = opacus.PrivacyEngine(accountant="fedcrypt_pld")
    steps, rate, _, _ = _train(engine, epochs=2, target_epsilon=2.0)
    (noise, recorded_rate, recorded_steps) = engine.accountant.history[0]
    assert (recorded_rate, recorded_steps) == (rate, steps)
    spent = dp.PldAccountant().compose(dp.PoissonSampled(rate, dp.Gaussian(noise)), steps)
    assert 1.9 < spent.get_epsilon(DELTA) <= 2.0
    assert engine.get_epsilon(DELTA) == spent.get_epsilon(DELTA)


def test_checkpoints_keep_the_history(tmp_path: Path) -> None:
    engine = opacus.PrivacyEngine(accountant="fedcrypt_pld")
    _, _, model, optimizer = _train(engine, epochs=1, noise_multiplier=1.3)
    state = engine.accountant.state_dict()
    assert state == {"history": [(1.3, 0.25, 4)], "mechanism": "fedcrypt_pld"}
    engine.save_checkpoint(path=tmp_path / "run.pt", module=model, optimizer=optimizer)
    resumed = opacus.PrivacyEngine(accountant="fedcrypt_pld")
    resumed.load_checkpoint(path=tmp_path / "run.pt", module=model, optimizer=optimizer)
    assert resumed.accountant.history == [(1.3, 0.25, 4)]
    assert resumed.get_epsilon(DELTA) == engine.get_epsilon(DELTA)  # 2.7019
    again = OpacusPldAccountant()
    # JSON-like state (lists for tuples) loads too; other mechanisms and bad runs do not.
    again.load_state_dict({"history": [[1.3, 0.25, 4]], "mechanism": "fedcrypt_pld"})
    assert again.history == [(1.3, 0.25, 4)]
    with pytest.raises(dp.InvalidArgument, match="fedcrypt_rdp"):
        OpacusRdpAccountant().load_state_dict(state)
    bad_states = [
        {},
        {"history": []},
        {"history": "x", "mechanism": "fedcrypt_pld"},
        {"history": [(1.0, 0.1)], "mechanism": "fedcrypt_pld"},
        {"history": [(1.0, 1.5, 3)], "mechanism": "fedcrypt_pld"},
        {"history": [(1.0, 0.1, 0)], "mechanism": "fedcrypt_pld"},
        {"history": [("1", 0.1, 3)], "mechanism": "fedcrypt_pld"},
    ]
    assert issubclass(dp.InvalidArgument, ValueError)  # what Opacus' own accountants raise
    for bad in bad_states:
        with pytest.raises(dp.InvalidArgument):
            again.load_state_dict(bad)


def test_steps_merge_into_runs_like_opacus() -> None:
    accountant = OpacusRdpAccountant()
    assert len(accountant) == 0
    assert accountant.get_epsilon(DELTA) == 0.0
    for noise, rate in [(1.0, 0.1), (1.0, 0.1), (2.0, 0.1), (1.0, 0.1)]:
        accountant.step(noise_multiplier=noise, sample_rate=rate)
    assert accountant.history == [(1.0, 0.1, 2), (2.0, 0.1, 1), (1.0, 0.1, 1)]
    assert len(accountant) == 4
    ledger = accountant.to_accountant().ledger
    assert [count for _, count in ledger] == [2, 1, 1]
    assert accountant.to_accountant() is not accountant.to_accountant()  # each one new
    mine = accountant.to_accountant().compose(dp.Gaussian(1.0))  # does not touch the adapter
    assert mine.get_epsilon(DELTA) > accountant.get_epsilon(DELTA)
    first = accountant.get_epsilon(DELTA)
    accountant.step(noise_multiplier=1.0, sample_rate=0.1)
    assert accountant.get_epsilon(DELTA) > first


@settings(max_examples=15)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from([0.8, 1.1, 2.0]),
            st.sampled_from([0.01, 0.1]),
            st.booleans(),  # query after this step
        ),
        min_size=1,
        max_size=12,
    )
)
def test_queries_between_steps_compose_only_the_new_steps(
    plan: list[tuple[float, float, bool]],
) -> None:
    accountant = OpacusRdpAccountant()
    for noise, rate, query in plan:
        accountant.step(noise_multiplier=noise, sample_rate=rate)
        if query:
            accountant.get_epsilon(DELTA)
    fresh = accountant.to_accountant().get_epsilon(DELTA)
    assert accountant.get_epsilon(DELTA) == pytest.approx(fresh, rel=1e-12)


def test_pld_queries_after_each_step_match_the_whole_history() -> None:
    accountant = OpacusPldAccountant()
    for step in range(30):
        accountant.step(noise_multiplier=1.0 if step < 20 else 1.5, sample_rate=0.05)
        incremental = accountant.get_epsilon(DELTA)
    whole = accountant.to_accountant().get_epsilon_bounds(DELTA)
    assert whole[0] <= incremental
    assert incremental == pytest.approx(whole[1], rel=1e-3)
    accountant.history = [(2.0, 0.05, 30)]  # what Opacus' calibration does: replaced whole
    replaced = dp.PldAccountant().compose(dp.PoissonSampled(0.05, dp.Gaussian(2.0)), 30)
    assert accountant.get_epsilon(DELTA) == replaced.get_epsilon(DELTA)


def test_step_validation_and_limits() -> None:
    accountant = OpacusPldAccountant()
    for noise, rate in [(-1.0, 0.1), (math.nan, 0.1), (1.0, 1.5), (1.0, -0.1), ("1", 0.1)]:
        with pytest.raises(dp.InvalidArgument):
            accountant.step(noise_multiplier=noise, sample_rate=rate)  # type: ignore[arg-type]
    assert accountant.history == []
    accountant.step(noise_multiplier=1.0, sample_rate=0.0)  # samples nothing: free
    assert accountant.get_epsilon(DELTA) == 0.0
    accountant.step(noise_multiplier=0.0, sample_rate=0.1)  # no noise: no finite epsilon
    assert accountant.get_epsilon(DELTA) == math.inf
    lower_and_upper = OpacusPldAccountant()
    lower_and_upper.step(noise_multiplier=1.0, sample_rate=0.1)
    lower = lower_and_upper.get_epsilon(DELTA, bound="lower")
    assert lower <= lower_and_upper.get_epsilon(DELTA, alphas=[2, 3])


def test_registration_is_idempotent_and_refuses_a_clash(monkeypatch: pytest.MonkeyPatch) -> None:
    assert register_opacus_accountants() == ("fedcrypt_pld", "fedcrypt_rdp")
    assert isinstance(create_accountant("fedcrypt_rdp"), OpacusRdpAccountant)
    monkeypatch.setitem(opacus_registry._ACCOUNTANTS, "fedcrypt_pld", RDPAccountant)
    with pytest.raises(dp.InvalidArgument, match="fedcrypt_pld"):
        register_opacus_accountants()
