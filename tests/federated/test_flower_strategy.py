"""SecureFedAvg as a Flower Strategy: FedAvg's parameters, metrics and loop; epsilon warnings.

Runs on the in-process :class:`LocalGrid` of ``test_flower_protocol`` (no Ray, no network),
so each test is a real multi-round SecAgg+ run in well under a second.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Iterable

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg, Result, Strategy

from federated import PrivacyWarning
from federated._warnings import DEFAULT_EPSILON_WARNING, warn_if_epsilon_exceeds
from federated.errors import InsufficientClients, InvalidArgument
from federated.flower import (
    DistributedDP,
    MaskingAggregation,
    PlainInsecureAggregation,
    SecureFedAvg,
    fedcrypt_mod,
)
from tests.federated.test_flower_protocol import (  # noqa: F401 - the autouse fixture
    CLIP,
    LocalGrid,
    _task_identity,
    delta_of,
    evaluate,
    initial,
    make_app,
    plain_sum,
)


def weight_of(node: int) -> int:
    return 1 + node % 3


def train_with_metrics(msg: Message, context: Context) -> Message:
    """Train as ``test_flower_protocol.train`` and report a weight and a loss per node."""
    weights = msg.content["arrays"]["w"].numpy()
    trained = ArrayRecord({"w": Array(weights + delta_of(context.node_id))})
    metrics = MetricRecord(
        {
            "num-examples": weight_of(context.node_id),
            "train-loss": float(context.node_id % 5),
            "per-class": [float(context.node_id % 2), 1.0],
        }
    )
    return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)


def metrics_app() -> ClientApp:
    app = ClientApp(mods=[fedcrypt_mod])
    app.train()(train_with_metrics)
    app.evaluate()(evaluate)
    return app


def weighted(nodes: Iterable[int], value: object) -> float:
    nodes = list(nodes)
    total = sum(weight_of(n) for n in nodes)
    return sum(weight_of(n) * value(n) for n in nodes) / total  # type: ignore[operator]


def test_is_a_flower_strategy_with_fedavgs_parameters_and_defaults() -> None:
    assert issubclass(SecureFedAvg, Strategy)
    ours = inspect.signature(SecureFedAvg.__init__).parameters
    theirs = inspect.signature(FedAvg.__init__).parameters
    for name, parameter in theirs.items():
        if name == "self":
            continue
        assert name in ours, name
        assert ours[name].default == parameter.default, name
    # The same positional order, so even FedAvg(0.5, 0.0) reads the same here.
    assert list(ours)[: len(theirs)] == list(theirs)
    start = inspect.signature(SecureFedAvg.start).parameters
    assert list(start) == list(inspect.signature(Strategy.start).parameters)


def test_train_and_evaluate_metrics_are_aggregated_as_fedavg_does() -> None:
    grid = LocalGrid(metrics_app(), 6)
    strategy = SecureFedAvg(aggregation=MaskingAggregation(), clip_norm=CLIP)
    result = strategy.start(grid, initial(), num_rounds=2)
    assert isinstance(result, Result)
    nodes = sorted(grid.contexts)
    for round_number in (1, 2):
        train = result.train_metrics_clientapp[round_number]
        assert "num-examples" not in train  # the weight itself is not averaged, as FedAvg
        assert train["train-loss"] == pytest.approx(weighted(nodes, lambda n: n % 5))
        assert train["per-class"] == pytest.approx([weighted(nodes, lambda n: n % 2), 1.0])
    np.testing.assert_allclose(result.arrays["w"].numpy(), 2 * plain_sum(nodes) / 6, atol=1e-5)


def test_client_side_evaluation_is_a_weighted_mean_over_the_sampled_nodes() -> None:
    grid = LocalGrid(make_app(), 5)
    strategy = SecureFedAvg(aggregation=PlainInsecureAggregation(), clip_norm=CLIP)
    result = strategy.start(grid, initial(), num_rounds=1)
    nodes = sorted(grid.contexts)
    w = result.arrays["w"].numpy()
    expected = weighted(nodes, lambda n: float(np.sum(w**2)) + n % 7)
    assert result.evaluate_metrics_clientapp[1]["loss"] == pytest.approx(expected)
    evaluated = [m for m in grid.sent if m.metadata.message_type == "evaluate"]
    assert sorted(m.metadata.dst_node_id for m in evaluated) == nodes
    assert all(m.content["config"]["server-round"] == 1 for m in evaluated)


def test_fraction_train_and_min_train_nodes_size_the_cohort_as_fedavg() -> None:
    grid = LocalGrid(make_app(), 10)
    half = SecureFedAvg(fraction_train=0.5, fraction_evaluate=0.0, clip_norm=CLIP)
    result = half.start(grid, initial(), num_rounds=2)
    assert [r.selected for r in result.records] == [5, 5]
    floor = SecureFedAvg(
        fraction_train=0.3, min_train_nodes=4, fraction_evaluate=0.0, clip_norm=CLIP
    )
    assert [r.selected for r in floor.start(grid, initial(), 1).records] == [4]
    with pytest.raises(InsufficientClients):
        SecureFedAvg(min_available_nodes=11, wait_for_nodes=0.0).start(grid, initial(), 1)
    for bad in ({"fraction_train": 0.0}, {"fraction_train": 1.5}, {"min_train_nodes": 1}):
        with pytest.raises(InvalidArgument):
            SecureFedAvg(**bad)  # type: ignore[arg-type]


def test_no_train_metrics_leave_a_client_in_a_distributed_dp_round() -> None:
    class RecordingGrid(LocalGrid):
        def deliver(self, message: Message, context: Context) -> Message:
            reply = super().deliver(message, context)
            replies.append(reply)
            return reply

    replies: list[Message] = []
    grid = RecordingGrid(metrics_app(), 6)
    privacy = DistributedDP(4.0, delta=1e-5)
    result = SecureFedAvg(
        fraction_evaluate=0.0, aggregation=MaskingAggregation(), privacy=privacy, clip_norm=CLIP
    ).start(grid, initial(), num_rounds=1)
    assert result.records[0].status.value == "completed"
    assert result.train_metrics_clientapp == {}
    assert all(o.metrics == {} for o in result.outcomes)
    assert len(replies) == 5 * 6  # five SecAgg+ stages, six nodes, no error
    assert all(not r.has_error() and not r.content.metric_records for r in replies)


def test_dp_run_past_the_bound_warns_once_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    grid = LocalGrid(make_app(), 6)
    strategy = SecureFedAvg(
        fraction_evaluate=0.0,
        aggregation=MaskingAggregation(),
        privacy=DistributedDP(0.5, delta=1e-5),
        clip_norm=CLIP,
    )
    with (
        caplog.at_level(logging.WARNING, logger="fedcrypt"),
        pytest.warns(PrivacyWarning, match="above 10") as caught,
    ):
        result = strategy.start(grid, initial(), num_rounds=3)
    assert result.final_epsilon is not None
    assert result.final_epsilon > DEFAULT_EPSILON_WARNING
    privacy_warnings = [w for w in caught if issubclass(w.category, PrivacyWarning)]
    assert len(privacy_warnings) == 1  # once per run, when epsilon first passes the bound
    assert any(r.name == "fedcrypt.privacy" for r in caplog.records)
    quiet = SecureFedAvg(
        fraction_evaluate=0.0,
        aggregation=MaskingAggregation(),
        privacy=DistributedDP(0.5, delta=1e-5),
        clip_norm=CLIP,
        epsilon_warning=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyWarning)
        quiet.start(LocalGrid(make_app(), 6), initial(), num_rounds=1)


def test_dp_with_client_side_evaluation_warns_that_metrics_are_not_covered() -> None:
    strategy = SecureFedAvg(
        aggregation=MaskingAggregation(),
        privacy=DistributedDP(8.0, delta=1e-5),
        clip_norm=CLIP,
    )
    with pytest.warns(PrivacyWarning, match="in the clear"):
        strategy.start(LocalGrid(make_app(), 6), initial(), num_rounds=1)


def test_warn_if_epsilon_exceeds() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_epsilon_exceeds(None, 1e-5) is None
        assert warn_if_epsilon_exceeds(9.99, 1e-5) is None
        assert warn_if_epsilon_exceeds(50.0, 1e-5, bound=None) is None
        assert warn_if_epsilon_exceeds(3.0, 1e-5, budget=3.0) is None
    with pytest.warns(PrivacyWarning, match="past its budget of 2"):
        warn_if_epsilon_exceeds(3.0, 1e-5, budget=2.0)
    with pytest.warns(PrivacyWarning, match="epsilon = 36.7"):
        message = warn_if_epsilon_exceeds(36.7, 1e-3, what="the run")
    assert message is not None
    assert "delta = 0.001" in message
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="finite"):
            warn_if_epsilon_exceeds(1.0, 1e-5, bound=bad)


def test_flowers_own_strategy_loop_runs_secure_fedavg() -> None:
    """Flower's ``Strategy.start`` drives the round through configure/aggregate_train."""

    class SendingGrid(LocalGrid):
        def send_and_receive(
            self, messages: Iterable[Message], *, timeout: float | None = None
        ) -> Iterable[Message]:
            return self.pull_messages(list(self.push_messages(messages)))

    grid = SendingGrid(make_app(), 4)
    strategy = SecureFedAvg(aggregation=MaskingAggregation(), clip_norm=CLIP)
    result = Strategy.start(strategy, grid, initial(), num_rounds=2, timeout=60)
    nodes = sorted(grid.contexts)
    np.testing.assert_allclose(result.arrays["w"].numpy(), 2 * plain_sum(nodes) / 4, atol=1e-5)
    assert set(result.evaluate_metrics_clientapp) == {1, 2}
    # A second run of Flower's loop starts a new run (Flower does not say so: round 1 does).
    again = Strategy.start(strategy, grid, initial(), num_rounds=1, timeout=60)
    np.testing.assert_allclose(again.arrays["w"].numpy(), plain_sum(nodes) / 4, atol=1e-5)
    assert strategy._run is not None
    assert len(strategy._run.outcomes) == 1


def test_deprecated_names_still_work_with_a_warning() -> None:
    grid = LocalGrid(make_app(), 5)
    with pytest.warns(DeprecationWarning, match="deprecated") as caught:
        old = SecureFedAvg(
            MaskingAggregation(), min_nodes=5, sample_size=3, timeout=60, clip_norm=CLIP
        )
    assert len(caught) == 4  # the positional backend, min_nodes, sample_size, timeout
    assert isinstance(old.aggregation, MaskingAggregation)
    assert old.min_available_nodes == old.min_nodes == 5
    result = old.start(grid, initial(), num_rounds=1)
    assert result.records[0].selected == 3
