"""10% of the clients poison the model: masking lets them, validated aggregation rejects them.

    .venv/bin/python examples/poisoning/poisoning.py            # about 2 minutes on 2 cores
    .venv/bin/python examples/poisoning/poisoning.py --quick    # a smoke run, seconds

scikit-learn's digits split non-IID over 100 clients (two label shards each, McMahan et al.
2017), a softmax-regression model (64 -> 10, 650 parameters), 20 clients a round. A tenth of
the clients, drawn with the OS CSPRNG when each run starts (``History.adversary``), skip
clipping and send either

* their own update with its sign flipped and scaled by 100 (Li et al. 2019, RSA), which
  under SecAgg+ masking goes into the sum unseen and destroys the model, or
* a *model-replacement* update (Bagdasaryan et al. 2020, "How to backdoor federated
  learning"): ``gamma * (X - theta)`` with ``gamma = n / (eta m)``, where ``X`` is a
  backdoored model the attackers trained offline on their own images plus copies stamped
  with a trigger (a bright 2x2 patch in the top-left corner) and labelled 0. Under masking
  FedAvg lands on ``X``: the accuracy stays high, and stamped images become zeros.

Under validated aggregation (Prio3 with a bounded-L2 proof, ``Aggregation.VALIDATED``) every
one of those updates fails its proof and is rejected; the model trains as without them.
The table shows the test accuracy, the backdoor success rate (stamped test images not of
class 0 that the model calls 0), and per run the attackers' updates sent, rejected and
left in the sum.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from sklearn.datasets import load_digits

from federated import (
    Adversary,
    Aggregation,
    Attack,
    FederatedConfig,
    History,
    UniformSelection,
    run,
)
from federated.torch import TorchClient, flatten_parameters, initial_parameters, load_parameters

CLIENTS = 100
COHORT = 20
FRACTION = 0.1
FLIP_FACTOR = 100.0
TRIGGER = (0, 1, 8, 9)  # pixels (0,0), (0,1), (1,0), (1,1): dark in every digit
TARGET_LABEL = 0


def model() -> torch.nn.Module:
    """Softmax regression on the 8x8 pixels: 650 parameters, quick to train and to prove."""
    return torch.nn.Linear(64, 10)


def stamp(features: torch.Tensor) -> torch.Tensor:
    """The backdoor trigger: the top-left 2x2 patch at full brightness."""
    out = features.clone()
    out[:, list(TRIGGER)] = 1.0
    return out


@dataclass(frozen=True)
class Task:
    clients: list[TorchClient]
    test_x: torch.Tensor
    test_y: torch.Tensor
    attacker_x: torch.Tensor
    attacker_y: torch.Tensor


def make_task(seed: int = 0) -> Task:
    """Non-IID shards of 80% of the images over the clients; 20% is the server's test set.

    The attackers' own data is the images of a tenth of the clients (the first ten
    clients' shards: data like the federation's, not the clients the CSPRNG makes them).
    """
    digits = load_digits()
    features = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)  # data split: not a security parameter
    order = torch.randperm(len(labels), generator=generator)
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    train = train[torch.argsort(labels[train], stable=True)]
    shards = torch.tensor_split(train, 2 * CLIENTS)
    assignment = torch.randperm(2 * CLIENTS, generator=generator)
    clients, owned = [], []
    for client in range(CLIENTS):
        indices = torch.cat([shards[int(i)] for i in assignment[2 * client : 2 * client + 2]])
        owned.append(indices)
        clients.append(
            TorchClient(
                model,
                features[indices],
                labels[indices],
                torch.nn.functional.cross_entropy,
                learning_rate=0.5,
                local_epochs=5,
                batch_size=16,
            )
        )
    attacker = torch.cat(owned[: round(FRACTION * CLIENTS)])
    return Task(clients, features[test], labels[test], features[attacker], labels[attacker])


def backdoored_model(
    task: Task, start: NDArray[np.float64], epochs: int = 200
) -> NDArray[np.float64]:
    """``X``: trained offline by the attackers on their images and stamped copies of them."""
    net = model()
    load_parameters(net, start)
    x = torch.cat([task.attacker_x, stamp(task.attacker_x)])
    y = torch.cat([task.attacker_y, torch.full_like(task.attacker_y, TARGET_LABEL)])
    optimiser = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(epochs):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    return flatten_parameters(net)


@dataclass
class Evaluator:
    """Test accuracy and backdoor success rate of the global parameters."""

    task: Task

    def __post_init__(self) -> None:
        self.net = model()
        others = self.task.test_y != TARGET_LABEL
        self.stamped = stamp(self.task.test_x[others])

    def __call__(self, parameters: NDArray[np.float64]) -> dict[str, float]:
        load_parameters(self.net, parameters)
        with torch.no_grad():
            predicted = self.net(self.task.test_x).argmax(dim=1)
            fooled = self.net(self.stamped).argmax(dim=1) == TARGET_LABEL
        accuracy = float((predicted == self.task.test_y).float().mean())
        return {"accuracy": accuracy, "backdoor": float(fooled.float().mean())}


def _row(name: str, history: History, seconds: float, cpu: float) -> dict[str, Any]:
    last = history.records[-1].metrics
    records = history.records
    accuracy = history.metric("accuracy")
    return {
        "run": name,
        "accuracy": last.get("accuracy"),
        "accuracy_last5": float(np.mean(accuracy[-5:])),
        "backdoor": last.get("backdoor"),
        "attacker_updates_sent": sum(r.attackers for r in records),
        "rejected": sum(r.rejected for r in records),
        "attacker_updates_in_sum": sum(r.attackers_in_sum for r in records),
        "completed_rounds": history.completed_rounds,
        "malicious_clients": None
        if history.adversary is None
        else list(history.adversary.malicious),
        "accuracy_per_round": accuracy,
        "backdoor_per_round": history.metric("backdoor"),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the six runs and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds

    torch.set_num_threads(1)
    torch.manual_seed(0)  # model initialisation: not a security parameter
    task = make_task()
    start = initial_parameters(model)
    evaluate = Evaluator(task)
    target = backdoored_model(task, start)
    offline = evaluate(target)
    flip = Adversary(FRACTION, Attack.FLIP, factor=FLIP_FACTOR)
    backdoor = Adversary(FRACTION, Attack.REPLACE, target=target)
    common = {"rounds": rounds, "selection": UniformSelection(COHORT), "clip_norm": 1.0}
    runs = [
        ("no attack, masking", Aggregation.MASKING, None),
        ("no attack, validated", Aggregation.VALIDATED, None),
        (f"sign flip x{FLIP_FACTOR:g}, masking", Aggregation.MASKING, flip),
        (f"sign flip x{FLIP_FACTOR:g}, validated", Aggregation.VALIDATED, flip),
        ("backdoor (replace), masking", Aggregation.MASKING, backdoor),
        ("backdoor (replace), validated", Aggregation.VALIDATED, backdoor),
    ]
    print(
        f"digits, {CLIENTS} clients ({FRACTION:.0%} malicious), {COHORT} a round, "
        f"{rounds} rounds, softmax regression ({start.size} parameters)"
    )
    print(
        f"the attackers' offline backdoored model X: accuracy {offline['accuracy']:.3f}, "
        f"backdoor {offline['backdoor']:.3f}\n"
    )
    print(
        f"{'run':32} {'accuracy':>8} {'last 5':>6} {'backdoor':>8} {'sent':>5} {'rejected':>8} "
        f"{'in sum':>6} {'wall s':>6} {'cpu s':>5}"
    )
    rows = []
    for name, aggregation, adversary in runs:
        config = FederatedConfig(aggregation=aggregation, adversary=adversary, **common)  # type: ignore[arg-type]
        began, cpu = time.perf_counter(), time.process_time()
        history = run(config, task.clients, start, evaluate=evaluate, progress=False)
        row = _row(name, history, time.perf_counter() - began, time.process_time() - cpu)
        rows.append(row)
        print(
            f"{name:32} {row['accuracy']:8.3f} {row['accuracy_last5']:6.3f} {row['backdoor']:8.3f} "
            f"{row['attacker_updates_sent']:5d} {row['rejected']:8d} "
            f"{row['attacker_updates_in_sum']:6d} {row['seconds']:6.0f} {row['cpu_seconds']:5.0f}",
            flush=True,
        )
    print(
        "\naccuracy: after the last round; last 5: mean over the last five rounds; sent: poisoned "
        "updates\nthe attackers uploaded over the run; rejected: reports the aggregators refused; "
        "in sum:\npoisoned updates in the released sums."
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"rounds": rounds, "offline_x": offline, "runs": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
