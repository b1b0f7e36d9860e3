"""ServerApp: SecureFedAvg (a Flower Strategy) with SecAgg+ masking and optional distributed DP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp

from fedcrypt_flower_app.task import TRUE_BIAS, TRUE_WEIGHT
from federated.flower import (
    DistributedDP,
    MaskingAggregation,
    PlainInsecureAggregation,
    SecureFedAvg,
)

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    noise = float(cfg["noise-multiplier"])
    aggregation = (
        PlainInsecureAggregation()
        if cfg["aggregation"] == "plain_insecure"
        else MaskingAggregation()
    )
    # FedAvg's parameters, plus how updates are protected. Under DP, client-side evaluation
    # is off: its metrics would travel in the clear, outside the accounted epsilon.
    strategy = SecureFedAvg(
        fraction_evaluate=0.0 if noise > 0 else 1.0,
        min_available_nodes=int(cfg["min-nodes"]),
        aggregation=aggregation,
        privacy=DistributedDP(noise_multiplier=noise, delta=float(cfg["delta"]))
        if noise > 0
        else None,
        clip_norm=float(cfg["clip-norm"]),
        epsilon_warning=float(cfg["epsilon-warning"]),
    )
    result = strategy.start(
        grid,
        ArrayRecord({"params": Array(np.zeros(2))}),
        num_rounds=int(cfg["num-rounds"]),
        timeout=float(cfg["timeout"]),
        train_config=ConfigRecord(
            {"local-epochs": int(cfg["local-epochs"]), "lr": float(cfg["learning-rate"])}
        ),
    )
    weight, bias = (float(v) for v in result.arrays["params"].numpy())
    print(f"learned weight {weight:.3f} (truth {TRUE_WEIGHT}), bias {bias:.3f} (truth {TRUE_BIAS})")
    if result.evaluate_metrics_clientapp:
        last = max(result.evaluate_metrics_clientapp)
        metrics = dict(result.evaluate_metrics_clientapp[last])
        print(f"client-side evaluation after round {last}: {metrics}")
    if result.final_epsilon is not None:
        print(f"epsilon = {result.final_epsilon:.3f} at delta = {float(cfg['delta']):g}")
    summary = {"weight": weight, "bias": bias, "run": result.to_dict()}
    if str(cfg["result-path"]):
        Path(str(cfg["result-path"])).write_text(json.dumps(summary, default=str))
