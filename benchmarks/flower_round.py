"""Benchmark: one secure-aggregation round on Flower's simulation engine, ours vs Flower's.

Same n clients, same model size d, same dropouts (a fraction of the clients fails after
ShareKeys, i.e. before sending its masked vector), complete graph, threshold 60%:

* fedcrypt: :class:`federated.flower.SecureFedAvg` with :class:`MaskingAggregation`
  (and, as a second line, with distributed DP) over Flower messages;
* Flower: ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` with FedAvg and the
  ``secaggplus_mod`` client mod.

Both run in one ``run_simulation`` (Ray backend, 2 CPUs, one ClientApp routing our
messages to our mod and the rest to Flower's), after a warm-up exchange so Ray's actor
start-up is not counted; ours reports its second round (the first warms the code paths),
Flower's the whole ``DefaultWorkflow`` of one round. The table shows wall times and ratios.

Usage: ``python benchmarks/flower_round.py [--quick] [--json] [--n N] [--d D]
[--dropout F]`` (run with ``.venv-bench``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("RAY_DEDUP_LOGS", "0")

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from federated.flower import (
    DistributedDP,
    MaskingAggregation,
    SecureFedAvg,
    dropout_mod,
    fedcrypt_mod,
    has_envelope,
)

BACKEND = {"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}}
CLIP = 8.0


def _delta(node_id: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(node_id % (2**32))
    return rng.uniform(-0.05, 0.05, d)


def _warm_up(grid: Grid, n: int) -> None:
    deadline = time.monotonic() + 120
    nodes = list(grid.get_node_ids())
    while len(nodes) < n and time.monotonic() < deadline:
        time.sleep(0.1)
        nodes = list(grid.get_node_ids())
    messages = [
        Message(RecordDict({"c": ConfigRecord({"w": 1})}), dst_node_id=node, message_type="query")
        for node in nodes
    ]
    list(grid.send_and_receive(messages, timeout=120))


def _flower_pieces(d: int, dropped: int) -> tuple[Any, list[Any], Any]:
    """Flower's SecAgg+ client (legacy NumPyClient + secaggplus_mod) and its server workflow."""
    from flwr.client import NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    class Flat(NumPyClient):  # type: ignore[misc]
        def __init__(self, node_id: int) -> None:
            self.node_id = node_id

        def get_parameters(self, config: Any) -> list[np.ndarray]:
            return [np.zeros(d)]

        def fit(self, parameters: list[np.ndarray], config: Any) -> Any:
            return [parameters[0] + _delta(self.node_id, d)], 1, {}

    def client_fn(context: Context) -> Any:
        return Flat(context.node_id).to_client()

    def drop_mod(msg: Message, ctxt: Context, call_next: Any) -> Message:
        configs = msg.content.config_records.get(RECORD_KEY_CONFIGS)
        partition = int(ctxt.node_config.get("partition-id", -1))
        stage = None if configs is None else configs.get(Key.STAGE)
        if stage == Stage.COLLECT_MASKED_VECTORS and partition < dropped:
            raise RuntimeError("simulated dropout")
        return call_next(msg, ctxt)

    workflow = DefaultWorkflow(
        fit_workflow=SecAggPlusWorkflow(
            num_shares=1.0, reconstruction_threshold=0.6, clipping_range=CLIP
        )
    )
    return client_fn, [drop_mod, secaggplus_mod], workflow


def run(n: int, d: int, dropped: int) -> dict[str, Any]:
    """One Ray start; the ServerApp runs ours, ours with DP, then Flower's workflow."""
    from flwr.common import ndarrays_to_parameters
    from flwr.server import ServerConfig
    from flwr.server.compat.legacy_context import LegacyContext
    from flwr.server.strategy import FedAvg

    client_fn, flower_mods, workflow = _flower_pieces(d, dropped)
    ours_drop = dropout_mod({2: dict.fromkeys(range(dropped), "masked_input")})

    def our_train(msg: Message, context: Context) -> Message:
        weights = msg.content["arrays"]["w"].numpy()
        trained = ArrayRecord({"w": Array(weights + _delta(context.node_id, d))})
        metrics = MetricRecord({"num-examples": 1})
        return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)

    def router(msg: Message, ctxt: Context, call_next: Any) -> Message:
        """fedcrypt messages go to our mod (and our train function), the rest to Flower's."""
        if msg.metadata.message_type == "query":
            return Message(RecordDict(), reply_to=msg)
        if msg.has_content() and has_envelope(msg.content):
            return ours_drop(msg, ctxt, lambda m, c: fedcrypt_mod(m, c, our_train))
        return call_next(msg, ctxt)

    client = ClientApp(client_fn=client_fn, mods=[router, *flower_mods])
    out: dict[str, Any] = {}
    server = ServerApp()

    def ours(grid: Grid, privacy: bool) -> dict[str, Any]:
        strategy = SecureFedAvg(
            fraction_evaluate=0.0,  # this benchmark's clients train only
            min_available_nodes=n,
            aggregation=MaskingAggregation(threshold_fraction=0.6),
            privacy=DistributedDP(noise_multiplier=1.0, delta=min(1e-5, 1 / (10 * n)))
            if privacy
            else None,
            clip_norm=CLIP,
        )
        arrays = ArrayRecord({"w": Array(np.zeros(d))})
        # round 2 has the dropouts
        result = strategy.start(grid, arrays, num_rounds=2, timeout=600)
        outcome = result.outcomes[1]
        return {
            "seconds": sum(outcome.stage_seconds.values()),
            "first_round_seconds": sum(result.outcomes[0].stage_seconds.values()),
            "stages": outcome.stage_seconds,
            "survivors": len(outcome.survivors),
            "completed": outcome.completed,
        }

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        _warm_up(grid, n)
        out["fedcrypt"] = ours(grid, privacy=False)
        out["fedcrypt_dp"] = ours(grid, privacy=True)
        strategy = FedAvg(
            fraction_fit=1.0,
            min_fit_clients=n,
            min_available_clients=n,
            fraction_evaluate=0.0,
            initial_parameters=ndarrays_to_parameters([np.zeros(d)]),
        )
        legacy = LegacyContext(context, config=ServerConfig(num_rounds=1), strategy=strategy)
        start = time.perf_counter()
        workflow(grid, legacy)
        out["flower"] = {"seconds": time.perf_counter() - start}

    run_simulation(server, client, num_supernodes=n, backend_config=BACKEND)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s of rounds)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--n", type=int, default=None, help="clients")
    parser.add_argument("--d", type=int, default=None, help="model size")
    parser.add_argument("--dropout", type=float, default=0.1, help="fraction dropping")
    args = parser.parse_args(argv)
    n = args.n or (10 if args.quick else 30)
    d = args.d or (1_000 if args.quick else 100_000)
    dropped = int(args.dropout * n)
    logging.getLogger("flwr").setLevel(logging.ERROR)
    measured = run(n, d, dropped)
    ours, ours_dp, flower = measured["fedcrypt"], measured["fedcrypt_dp"], measured["flower"]
    if not (ours["completed"] and ours_dp["completed"]):
        raise SystemExit(f"a fedcrypt round did not complete: {measured}")
    rows = [
        ("fedcrypt SecAgg+ round", ours["seconds"]),
        ("fedcrypt SecAgg+ + distributed DP round", ours_dp["seconds"]),
        ("flwr SecAggPlusWorkflow round (DefaultWorkflow)", flower["seconds"]),
    ]
    result = {
        "n": n,
        "d": d,
        "dropped_after_share_keys": dropped,
        "fedcrypt": ours,
        "fedcrypt_dp": ours_dp,
        "flower": flower,
        "speedup_vs_flower": flower["seconds"] / ours["seconds"],
        "speedup_dp_vs_flower": flower["seconds"] / ours_dp["seconds"],
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"n = {n}, d = {d}, {dropped} clients drop after ShareKeys, Ray backend, 2 CPUs")
    print(f"{'benchmark':<50} {'seconds':>9} {'flwr / this':>12}")
    for name, seconds in rows:
        print(f"{name:<50} {seconds:>9.2f} {flower['seconds'] / seconds:>12.2f}")
    stages = ", ".join(f"{k} {v:.2f}" for k, v in ours["stages"].items())
    print(f"fedcrypt per stage (s): {stages}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
