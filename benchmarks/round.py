"""Benchmark one federated round per aggregation mode: wall time per stage, and ratios.

Every mode runs the same round in this process: ``clients`` PyTorch clients training an MLP
with about 100k parameters (784-126-10) locally, then

* ``plain``: the ``plain_insecure`` baseline (the server adds plaintext updates): the
  reference every ratio is taken against;
* ``masking``: SecAgg+ (Bell et al. 2020) with ``--neighbours`` neighbours per client;
* ``masking+ddp``: SecAgg+ plus distributed DP (each client adds discrete Gaussian noise
  shares, Kairouz et al. 2021);
* ``paillier``: packed Paillier ciphertexts, summed by the server and decrypted by a
  2-of-3 threshold committee (the key is dealt before timing).

The local workload is one of four (``--workload``), or ``--local-examples`` examples per
client, ``--local-epochs`` passes with minibatches of ``--batch-size``:

* ``fedavg-E1-B10`` (the default), ``fedavg-E1-B50``, ``fedavg-E5-B10``: the MNIST 2NN
  rows of McMahan et al., "Communication-Efficient Learning of Deep Networks from
  Decentralized Data" (AISTATS 2017), Table 2, whose federation is this benchmark's: 100
  clients holding 600 examples each, and (E = 1, B = 10) u = 60, (E = 1, B = 50) u = 12,
  (E = 5, B = 10) u = 300 local updates per round (``u = E * 600 / B``). Only the local
  workload follows the paper: the model stays this benchmark's 100k-parameter MLP (the
  paper's 2NN, 784-200-200-10, has 199,210) and the data are random tensors of MNIST's
  shape, since only the time matters here;
* ``minimal``: 64 examples, E = 1, B = 32, u = 2: almost no training, which isolates the
  fixed cost of the protections (no implementation meets 1.5x there: see
  ``docs/benchmarks.md``).

``--sweep`` runs plain, masking and masking+ddp for all four and prints each one's ratios.

``--workers 2`` runs the client work (training, encoding, noise) in a process pool.
Times are the median over ``--rounds`` rounds (default 3), the modes interleaved round by
round (wall clock, the stage split from :class:`federated.RoundRecord.stage_seconds`) and
the CPU seconds of this process per round (the development machine is shared, so CPU time
is the steadier figure). Target of issue 8:
masking + distributed DP costs at most 1.5x the plain round.

    .venv-bench/bin/python benchmarks/round.py            # 100 clients, ~100k parameters, u = 60
    .venv-bench/bin/python benchmarks/round.py --quick    # 20 clients, ~10k parameters, < 60 s
    .venv-bench/bin/python benchmarks/round.py --json     # machine-readable output
    .venv-bench/bin/python benchmarks/round.py --sweep    # the McMahan et al. workloads
    .venv-bench/bin/python benchmarks/round.py --workload minimal
    .venv-bench/bin/python benchmarks/round.py --local-examples 600 --batch-size 20
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

import federated
from federated.torch import TorchClient, initial_parameters
from secagg.paillier.threshold import deal_threshold_keys

MODES = ("plain", "masking", "masking+ddp", "paillier")
SWEEP_MODES = ("plain", "masking", "masking+ddp")


@dataclass(frozen=True)
class Workload:
    """One client's local work per round: ``u = epochs * ceil(examples / batch_size)``."""

    name: str
    examples: int
    epochs: int
    batch_size: int

    @property
    def updates(self) -> int:
        return self.epochs * -(-self.examples // self.batch_size)


MINIMAL = Workload("minimal", 64, 1, 32)
# McMahan et al. 2017, Table 2, MNIST 2NN: 100 clients of 600 examples each.
FEDAVG_E1_B10 = Workload("fedavg-E1-B10", 600, 1, 10)
SWEEP = (
    MINIMAL,
    Workload("fedavg-E1-B50", 600, 1, 50),
    FEDAVG_E1_B10,
    Workload("fedavg-E5-B10", 600, 5, 10),
)
WORKLOADS = {w.name: w for w in SWEEP}


def mlp(inputs: int, hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )


def make_clients(
    count: int, inputs: int, hidden: int, workload: Workload = MINIMAL
) -> list[TorchClient]:
    generator = torch.Generator().manual_seed(0)
    factory = functools.partial(mlp, inputs, hidden)
    clients = []
    for _ in range(count):
        x = torch.randn(workload.examples, inputs, generator=generator)
        y = torch.randint(0, 10, (workload.examples,), generator=generator)
        clients.append(
            TorchClient(
                factory,
                x,
                y,
                torch.nn.functional.cross_entropy,
                local_epochs=workload.epochs,
                batch_size=workload.batch_size,
            )
        )
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


def one_round(
    mode: str,
    args: argparse.Namespace,
    clients: list[TorchClient],
    start: Any,
    keys: Any,
    executor: Any,
) -> tuple[federated.RoundRecord, float]:
    """One timed round of ``mode``: its record and the CPU seconds of this process."""
    config = config_for(mode, len(clients), 1, args.neighbours)
    cpu = time.process_time()
    history = federated.run(
        config, clients, start, paillier_keys=keys, progress=False, executor=executor
    )
    return history.records[0], time.process_time() - cpu


def summarise(mode: str, samples: list[tuple[federated.RoundRecord, float]]) -> dict[str, Any]:
    records = [record for record, _ in samples]
    stages: dict[str, float] = {}
    for name in records[0].stage_seconds:
        stages[name] = statistics.median(r.stage_seconds.get(name, 0.0) for r in records)
    return {
        "mode": mode,
        "round_wall_s": statistics.median(sum(r.stage_seconds.values()) for r in records),
        "round_cpu_s": statistics.median(cpu for _, cpu in samples),
        "bytes_sent": records[-1].bytes_sent,
        "stages_s": stages,
    }


def bench_workload(
    workload: Workload, modes: list[str], args: argparse.Namespace, clients_count: int, hidden: int
) -> dict[str, Any]:
    """Time ``args.rounds`` rounds of every mode, interleaved round by round.

    Interleaving (plain, masking, ..., plain, masking, ...) exposes every mode to the same
    drift of a shared machine, which matters because the training inside each round is the
    same work in every mode and dominates it with realistic workloads.
    """
    clients = make_clients(clients_count, 784, hidden, workload)
    start = initial_parameters(functools.partial(mlp, 784, hidden))
    keys = deal_threshold_keys(2048, n_parties=3, threshold=2) if "paillier" in modes else None
    executors = {
        mode: federated.ProcessPoolExecutor(args.workers) if args.workers > 1 else None
        for mode in modes
    }
    samples: dict[str, list[tuple[federated.RoundRecord, float]]] = {mode: [] for mode in modes}
    try:
        # Warm-up (worker processes, torch kernels, imports, numba's compiled kernels,
        # caches): one unmeasured masking + distributed DP round per executor.
        warm_up = config_for("masking+ddp", clients_count, 1, args.neighbours)
        for executor in {id(e): e for e in executors.values()}.values():
            federated.run(warm_up, clients, start, progress=False, executor=executor)
        for _ in range(args.rounds):
            for mode in modes:
                samples[mode].append(one_round(mode, args, clients, start, keys, executors[mode]))
    finally:
        for executor in executors.values():
            if executor is not None:
                executor.close()
    results = [summarise(mode, samples[mode]) for mode in modes]
    reference = next((r for r in results if r["mode"] == "plain"), results[0])
    for row in results:
        row["ratio_wall"] = row["round_wall_s"] / reference["round_wall_s"]
        row["ratio_cpu"] = row["round_cpu_s"] / reference["round_cpu_s"]
    return {"workload": {**asdict(workload), "updates": workload.updates}, "results": results}


def blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts, default=None)


def print_table(entry: dict[str, Any]) -> None:
    head = ("mode", "wall s", "x plain", "cpu s", "x plain", "MB sent")
    print(f"{head[0]:<12} " + " ".join(f"{h:>8}" for h in head[1:]) + "  top stages")
    for row in entry["results"]:
        top = sorted(row["stages_s"].items(), key=lambda kv: -kv[1])[:4]
        stages = ", ".join(f"{k} {v:.2f}" for k, v in top)
        print(
            f"{row['mode']:<12} {row['round_wall_s']:8.2f} {row['ratio_wall']:8.2f} "
            f"{row['round_cpu_s']:8.2f} {row['ratio_cpu']:8.2f} "
            f"{row['bytes_sent'] / 1e6:8.1f}  {stages}"
        )


def print_sweep(entries: list[dict[str, Any]]) -> None:
    print()
    print("sweep: wall (cpu) ratios against the plain round of the same workload")
    head = ("workload", "E", "B", "u", "plain s", "masking", "mask+ddp")
    cells = " ".join(f"{h:>13}" for h in head[4:])
    print(f"{head[0]:<14} {head[1]:>2} {head[2]:>3} {head[3]:>4} {cells}")
    for entry in entries:
        w = entry["workload"]
        rows = {r["mode"]: r for r in entry["results"]}
        plain = rows.get("plain")
        cells = [f"{plain['round_wall_s']:6.2f} ({plain['round_cpu_s']:.2f})" if plain else "-"]
        for mode in ("masking", "masking+ddp"):
            r = rows.get(mode)
            cells.append(f"{r['ratio_wall']:5.2f}x ({r['ratio_cpu']:.2f}x)" if r else "-")
        print(
            f"{w['name']:<14} {w['epochs']:>2} {w['batch_size']:>3} {w['updates']:>4} "
            + " ".join(f"{c:>13}" for c in cells)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 clients, ~10k parameters")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None, help="MLP hidden width")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neighbours", type=int, default=14)
    parser.add_argument("--modes", default=None, help=f"comma-separated, from {','.join(MODES)}")
    parser.add_argument(
        "--workload", choices=sorted(WORKLOADS), default=FEDAVG_E1_B10.name, help="local work"
    )
    parser.add_argument("--local-examples", type=int, help="custom workload (with the next two)")
    parser.add_argument("--local-epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="plain, masking and masking+ddp for the four workloads (--workload and the "
        "--local-* options are ignored)",
    )
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
    custom = (args.local_examples, args.local_epochs, args.batch_size)
    if any(v is not None for v in custom):
        preset = WORKLOADS[args.workload]
        custom = (
            args.local_examples or preset.examples,
            args.local_epochs or preset.epochs,
            args.batch_size or preset.batch_size,
        )
        if min(custom) < 1:
            parser.error("--local-examples, --local-epochs and --batch-size must be >= 1")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.sweep:
        workloads: tuple[Workload, ...] = SWEEP
        modes = (args.modes or ",".join(SWEEP_MODES)).split(",")
    else:
        if all(v is not None for v in custom):
            workloads = (Workload("custom", *custom),)
        else:
            workloads = (WORKLOADS[args.workload],)
        modes = (args.modes or ",".join(MODES)).split(",")
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes {unknown}; choose from {MODES}")
    entries = []
    for workload in workloads:
        if not args.json:
            print(f"running {workload.name} ...", file=sys.stderr, flush=True)
        entries.append(bench_workload(workload, modes, args, clients_count, hidden))
    parameters = int(initial_parameters(functools.partial(mlp, 784, hidden)).size)
    summary = {
        "clients": clients_count,
        "parameters": parameters,
        "neighbours": args.neighbours,
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        "workers": args.workers,
        "workloads": entries,
    }
    if not args.sweep:
        summary["results"] = entries[0]["results"]  # the single-workload layout of before
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"one round, {clients_count} clients, {parameters:,} parameters, SecAgg+ k = "
        f"{args.neighbours}; median of {args.rounds} rounds; ratios against plain"
    )
    for entry in entries:
        w = entry["workload"]
        print(
            f"\n{w['name']}: {w['examples']} examples per client, E = {w['epochs']}, "
            f"B = {w['batch_size']}, u = {w['updates']} local updates"
        )
        print_table(entry)
    if args.sweep:
        print_sweep(entries)


if __name__ == "__main__":
    main()
