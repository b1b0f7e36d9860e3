"""Benchmark one federated round per aggregation mode: wall time per stage, and ratios.

Every mode runs the same round in this process: ``clients`` PyTorch clients (one local
epoch of 64 examples of an MLP with about 100k parameters, 784-126-10), then

* ``plain``: the ``plain_insecure`` baseline (the server adds plaintext updates): the
  reference every ratio is taken against;
* ``masking``: SecAgg+ (Bell et al. 2020) with ``--neighbours`` neighbours per client;
* ``masking+ddp``: SecAgg+ plus distributed DP (each client adds discrete Gaussian noise
  shares, Kairouz et al. 2021);
* ``paillier``: packed Paillier ciphertexts, summed by the server and decrypted by a
  2-of-3 threshold committee (the key is dealt before timing).

``--workers 2`` runs the client work (training, encoding, noise) in a process pool.
Times are the median over ``--rounds`` rounds (wall clock, the stage split from
:class:`federated.RoundRecord.stage_seconds`) and the CPU seconds of this process per round
(the development machine is shared, so CPU time is the steadier figure). Target of issue 8:
masking + distributed DP costs at most 1.5x the plain round.

    .venv-bench/bin/python benchmarks/round.py            # 100 clients, ~100k parameters
    .venv-bench/bin/python benchmarks/round.py --quick    # 20 clients, ~10k parameters, < 60 s
    .venv-bench/bin/python benchmarks/round.py --json     # machine-readable output
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

import federated
from federated.torch import TorchClient, initial_parameters
from secagg.paillier.threshold import deal_threshold_keys

MODES = ("plain", "masking", "masking+ddp", "paillier")


def mlp(inputs: int, hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )


def make_clients(count: int, inputs: int, hidden: int) -> list[TorchClient]:
    generator = torch.Generator().manual_seed(0)
    factory = functools.partial(mlp, inputs, hidden)
    clients = []
    for _ in range(count):
        x = torch.randn(64, inputs, generator=generator)
        y = torch.randint(0, 10, (64,), generator=generator)
        clients.append(TorchClient(factory, x, y, torch.nn.functional.cross_entropy, batch_size=32))
    return clients


def config_for(mode: str, clients: int, rounds: int, neighbours: int) -> federated.FederatedConfig:
    masking = federated.MaskingSettings(neighbours=neighbours, threshold_fraction=0.6)
    selection = federated.UniformSelection(clients)
    if mode == "plain":
        return federated.FederatedConfig(
            rounds=rounds, selection=selection, aggregation=federated.Aggregation.PLAIN_INSECURE
        )
    if mode == "masking":
        return federated.FederatedConfig(rounds=rounds, selection=selection, masking=masking)
    if mode == "masking+ddp":
        privacy = federated.PrivacyConfig(
            mode=federated.DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=1e-5
        )
        return federated.FederatedConfig(
            rounds=rounds, selection=selection, masking=masking, privacy=privacy
        )
    return federated.FederatedConfig(
        rounds=rounds,
        selection=selection,
        aggregation=federated.Aggregation.PAILLIER,
        paillier=federated.PaillierSettings(key_bits=2048, key_holders=3, decryption_threshold=2),
    )


def bench_mode(
    mode: str, args: argparse.Namespace, clients: list[TorchClient], start: Any
) -> dict[str, Any]:
    keys = None
    if mode == "paillier":
        keys = deal_threshold_keys(2048, n_parties=3, threshold=2)
    config = config_for(mode, len(clients), args.rounds, args.neighbours)
    cpu = time.process_time()
    executor = federated.ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    try:
        history = federated.run(
            config, clients, start, paillier_keys=keys, progress=False, executor=executor
        )
    finally:
        if executor is not None:
            executor.close()
    cpu = (time.process_time() - cpu) / args.rounds
    walls = [sum(r.stage_seconds.values()) for r in history.records]
    stages: dict[str, float] = {}
    for name in history.records[0].stage_seconds:
        stages[name] = statistics.median(r.stage_seconds.get(name, 0.0) for r in history.records)
    return {
        "mode": mode,
        "round_wall_s": statistics.median(walls),
        "round_cpu_s": cpu,
        "bytes_sent": history.records[-1].bytes_sent,
        "stages_s": stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 clients, ~10k parameters")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None, help="MLP hidden width")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--neighbours", type=int, default=14)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="client work (training, encoding, noise) in a process pool of this size; "
        "CPU figures then count this process only",
    )
    args = parser.parse_args()
    clients_count = args.clients or (20 if args.quick else 100)
    hidden = args.hidden or (12 if args.quick else 126)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    clients = make_clients(clients_count, 784, hidden)
    start = initial_parameters(functools.partial(mlp, 784, hidden))
    # Warm-up (torch kernels, imports, caches): one unmeasured plain round.
    federated.run(config_for("plain", clients_count, 1, args.neighbours), clients, start)
    results = [bench_mode(mode, args, clients, start) for mode in args.modes.split(",")]
    reference = next((r for r in results if r["mode"] == "plain"), results[0])
    for row in results:
        row["ratio_wall"] = row["round_wall_s"] / reference["round_wall_s"]
        row["ratio_cpu"] = row["round_cpu_s"] / reference["round_cpu_s"]
    summary = {
        "clients": clients_count,
        "parameters": int(start.size),
        "neighbours": args.neighbours,
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "workers": args.workers,
        "results": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"one round, {clients_count} clients, {start.size:,} parameters, SecAgg+ k = "
        f"{args.neighbours}; median of {args.rounds} rounds; ratios against plain"
    )
    head = ("mode", "wall s", "x plain", "cpu s", "x plain", "MB sent")
    print(f"{head[0]:<12} " + " ".join(f"{h:>8}" for h in head[1:]) + "  top stages")
    for row in results:
        top = sorted(row["stages_s"].items(), key=lambda kv: -kv[1])[:4]
        stages = ", ".join(f"{k} {v:.2f}" for k, v in top)
        print(
            f"{row['mode']:<12} {row['round_wall_s']:8.2f} {row['ratio_wall']:8.2f} "
            f"{row['round_cpu_s']:8.2f} {row['ratio_cpu']:8.2f} "
            f"{row['bytes_sent'] / 1e6:8.1f}  {stages}"
        )


if __name__ == "__main__":
    main()
