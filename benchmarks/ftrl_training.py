"""DP-FTRL without sampling against DP-FedAvg with sampling, at the same epsilon.

The digits task of ``make demo`` (scikit-learn's digits split non-IID over 100 clients, a
small MLP; ``--task line`` for the regression y = 2x) trained five ways, every private run
at the same (epsilon, delta) under the zero-out relation:

* plain FedAvg, no DP (the ceiling);
* DP-FedAvg with Poisson sampling at rate ``q`` (cohort ``q N`` on average) and noise
  multiplier ``--fedavg-noise``: its epsilon is the target of the other runs, and it holds
  only if every cohort really is a Poisson sample of the whole population;
* BLT-DP-FTRL (4 buffers) with a :class:`~federated.ParticipationSelection` of the same
  cohort size, each client in at most ``k`` rounds at least ``b`` apart (``k`` and ``b``
  the fewest participations that fill every cohort): no sampling assumption, noise
  calibrated to the target epsilon;
* tree-aggregation DP-FTRL, same schema and epsilon;
* independent noise under the same schema, no sampling (the identity factorisation,
  ``banded`` with one band): DP-FedAvg when nothing can be sampled.

Each private run is repeated ``--repeats`` times (the DP noise is fresh CSPRNG noise every
time; the data split is fixed); the table gives the mean and the spread of the final test
accuracy (digits) or loss (line). The runs use the ``plain_insecure`` backend for speed:
secure aggregation changes neither the noise nor the accounting (tests/federated/
test_ftrl_runs.py runs DP-FTRL under masking and Paillier with the same ledger).

Usage: python benchmarks/ftrl_training.py [--json] [--task digits|line] [--rounds 40]
       [--repeats 3] [--cohort 20] [--fedavg-noise 1.0]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from dp.ftrl import ParticipationSchema
from dp.ftrl_accounting import calibrate_noise_multiplier
from federated import run
from federated._demo_data import make_digits_task, make_linear_task
from federated._ftrl import build_strategy
from federated.config import (
    Aggregation,
    DPMode,
    FederatedConfig,
    FtrlSettings,
    ParticipationSelection,
    PoissonSelection,
    PrivacyConfig,
)
from federated.torch import initial_parameters

DELTA = 1e-4
POPULATION = 100


def _schema(rounds: int, cohort: int) -> ParticipationSchema:
    """The tightest schema that still fills every cohort: k = ceil(n m / N), b = floor(N / m)."""
    k = math.ceil(rounds * cohort / POPULATION)
    b = max(1, POPULATION // cohort)
    return ParticipationSchema(rounds, min(k, rounds), b)


def _metric(history: Any, task: str) -> float:
    last = history.records[-1].metrics
    return float(last["accuracy"] if task == "digits" else last["loss"])


def _runs(args: argparse.Namespace) -> dict[str, Any]:
    task_maker: Callable[..., Any] = make_digits_task if args.task == "digits" else make_linear_task
    task = task_maker(n_clients=POPULATION)
    start = initial_parameters(task.model_fn)
    rate = args.cohort / POPULATION
    common: dict[str, Any] = {
        "rounds": args.rounds,
        "clip_norm": 1.0,
        "aggregation": Aggregation.PLAIN_INSECURE,
    }
    # DP-FedAvg with sampling sets the target epsilon.
    fedavg = FederatedConfig(
        selection=PoissonSelection(rate, expected_cohort=float(args.cohort)),
        privacy=PrivacyConfig(
            DPMode.CENTRAL, args.fedavg_noise, delta=DELTA, neighbouring="zero_out"
        ),
        **common,
    )
    schema = _schema(args.rounds, args.cohort)
    selection = ParticipationSelection(
        args.cohort, schema.max_participations, schema.min_separation
    )
    cache = tempfile.mkdtemp(prefix="ftrl-cache-")
    rows: list[dict[str, Any]] = []

    def measure(name: str, config: FederatedConfig, assumption: str, repeats: int) -> None:
        values, epsilons, seconds = [], [], []
        for _ in range(repeats):
            began = time.perf_counter()
            history = run(config, task.clients, start, evaluate=task.evaluate)
            seconds.append(time.perf_counter() - began)
            values.append(_metric(history, args.task))
            epsilons.append(history.final_epsilon)
            print(f"{name}: {values[-1]:.4f} ({seconds[-1]:.0f} s)", file=sys.stderr)
        rows.append(
            {
                "name": name,
                "assumption": assumption,
                "noise_multiplier": config.privacy.noise_multiplier or None,
                "epsilon": epsilons[0],
                "metric_mean": statistics.fmean(values),
                "metric_sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "metric_values": values,
                "seconds_per_run": statistics.fmean(seconds),
            }
        )

    measure("plain FedAvg, no DP", FederatedConfig(selection=PoissonSelection(rate), **common),
            "none (no privacy)", 1)  # fmt: skip
    measure("DP-FedAvg, Poisson sampling", fedavg,
            f"every cohort a Poisson sample, q = {rate:g}", args.repeats)  # fmt: skip
    target = rows[-1]["epsilon"]
    for name, settings in (
        ("BLT-DP-FTRL (4 buffers)", FtrlSettings("blt", buffers=4, cache_dir=cache)),
        ("tree-DP-FTRL", FtrlSettings("tree")),
        ("independent noise, no sampling", FtrlSettings("banded", bands=1, cache_dir=cache)),
    ):
        z = calibrate_noise_multiplier(build_strategy(settings, schema), schema, target, DELTA)
        config = FederatedConfig(
            selection=selection,
            privacy=PrivacyConfig(DPMode.CENTRAL, z, delta=DELTA, neighbouring="zero_out"),
            ftrl=settings,
            **common,
        )
        assumption = (
            f"participation schema only: <= {schema.max_participations} rounds per client, "
            f">= {schema.min_separation} apart"
        )
        measure(name, config, assumption, args.repeats)
    return {
        "task": args.task,
        "metric": "test accuracy" if args.task == "digits" else "test loss (MSE)",
        "rounds": args.rounds,
        "population": POPULATION,
        "cohort": args.cohort,
        "delta": DELTA,
        "neighbouring": "zero_out",
        "target_epsilon": target,
        "schema": {
            "rounds": schema.rounds,
            "max_participations": schema.max_participations,
            "min_separation": schema.min_separation,
        },
        "repeats": args.repeats,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--task", choices=("digits", "line"), default="digits")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cohort", type=int, default=20)
    parser.add_argument("--fedavg-noise", type=float, default=1.0)
    args = parser.parse_args(argv)
    result = _runs(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    schema = result["schema"]
    print(
        f"{result['task']}: {result['population']} clients, {result['rounds']} rounds, cohort "
        f"{result['cohort']}; every private run at epsilon {result['target_epsilon']:.3f}, "
        f"delta {result['delta']:g} (zero-out); DP-FTRL schema k = "
        f"{schema['max_participations']}, b = {schema['min_separation']}"
    )
    print(f"{'run':34} {'z':>6} {'epsilon':>8} {result['metric']:>18} {'s/run':>6}  assumption")
    for row in result["rows"]:
        z = row["noise_multiplier"]
        eps = row["epsilon"]
        print(
            f"{row['name']:34} {z if z else 0:6.3f} {eps if eps else 0:8.3f} "
            f"{row['metric_mean']:10.3f} +- {row['metric_sd']:5.3f} {row['seconds_per_run']:6.1f}"
            f"  {row['assumption']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
