"""Scale: SecAgg+ rounds with distributed DP for 100 to 10,000 clients on three executors.

For each population size n, every client is selected, trains a small least-squares model
locally, and the round runs SecAgg+ masking over the Harary graph of degree
``k = 2 * ceil(log2 n)`` (Bell et al. 2020: ``k = O(log n)``) with distributed discrete
noise (Kairouz et al. 2021). Measured:

* per-round wall time of :func:`federated.run` (split into local training and the rest)
  with the serial, process-pool and Ray executors, as ratios to the serial executor;
* per-client cost of the masking protocol for n = 100, 1,000, 3,000 and 10,000: a client's
  own CPU time per stage (measured on the public :mod:`secagg.masking` parties, one whole
  round, every received message parsed from bytes inside the timed call, nothing shared
  between clients) and the bytes it receives and sends. SecAgg+ targets
  ``O(k log n + d)`` for both (the roster slice with its Merkle proofs), against ``O(n + d)``
  for the complete graph of the original SecAgg; the table prints the measured growth next
  to ``k``, ``log n`` and ``n``.

There is no peer library here: the comparison is between executors (Ray against the
serial and process-pool executors) and against the asymptotic targets.

    .venv-bench/bin/python benchmarks/scale.py            # n = 100, 1,000, 10,000 (minutes)
    .venv-bench/bin/python benchmarks/scale.py --costs-only  # the per-client cost table only
    .venv-bench/bin/python benchmarks/scale.py --sizes 10000 --round-sizes 10000  # one big round
    .venv-bench/bin/python benchmarks/scale.py --quick    # n = 100 and 300 (< 60 s)
    .venv-bench/bin/python benchmarks/scale.py --json     # machine-readable output
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from federated.client import ClientUpdate
from federated.config import (
    DPMode,
    FederatedConfig,
    MaskingSettings,
    PrivacyConfig,
    UniformSelection,
)
from federated.executors import Executor, ProcessPoolExecutor, SerialExecutor
from federated.runner import run
from secagg.masking import (
    Client,
    ConsistencyRequest,
    KeyRoster,
    MaskingConfig,
    Server,
    ShareBundle,
    StateKey,
    UnmaskRequest,
)

FULL_SIZES = {100: 64, 1_000: 64, 10_000: 16}  # n -> d: a small d for the largest n
COST_SIZES = (100, 1_000, 3_000, 10_000)  # the per-client cost table
QUICK_SIZES = {100: 16, 300: 16}
QUICK_ROUNDS_UP_TO = 100
ROUNDS_UP_TO = 1_000  # a 10,000-client round takes minutes in secagg.masking (see docs)
COST_D = 16  # the per-client cost is compared across n at one vector length
EXAMPLES = 256
LOCAL_STEPS = 100  # a few milliseconds of local training per client and round
THRESHOLD_FRACTION = 0.6


@dataclass
class RegressionClient:
    """Local least squares on ``EXAMPLES`` points: a few gradient steps per round."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    steps: int = LOCAL_STEPS
    learning_rate: float = 0.1

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        weights = parameters.copy()
        for _ in range(self.steps):
            gradient = self.x.T @ (self.x @ weights - self.y) / len(self.y)
            weights -= self.learning_rate * gradient
        return ClientUpdate(weights - parameters, len(self.y))


def population(n: int, d: int, seed: int = 0, steps: int = LOCAL_STEPS) -> list[RegressionClient]:
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(d) / math.sqrt(d)
    clients = []
    for _ in range(n):
        x = rng.standard_normal((EXAMPLES, d))
        y = x @ truth + 0.1 * rng.standard_normal(EXAMPLES)
        clients.append(RegressionClient(x, y, steps=steps))
    return clients


def degree(n: int) -> int:
    """The SecAgg+ graph degree ``2 ceil(log2 n)`` (even), at most ``n - 1``."""
    k = 2 * math.ceil(math.log2(n))
    return min(k, (n - 1) // 2 * 2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- per-round time on each executor -----------------------------------------------------


def round_times(
    executor: Executor, clients: list[RegressionClient], d: int, rounds: int
) -> dict[str, Any]:
    n = len(clients)
    config = FederatedConfig(
        rounds=rounds,
        selection=UniformSelection(n),
        clip_norm=1.0,
        masking=MaskingSettings(neighbours=degree(n), threshold_fraction=THRESHOLD_FRACTION),
        privacy=PrivacyConfig(
            mode=DPMode.DISTRIBUTED, noise_multiplier=1.0, delta=min(1e-5, 1 / (10 * n))
        ),
    )
    history = run(config, clients, np.zeros(d), executor=executor, progress=False)
    records = list(history.records)
    totals = [sum(r.stage_seconds.values()) for r in records]
    trains = [r.stage_seconds.get("train", 0.0) for r in records]
    steady = slice(1, None) if len(records) > 1 else slice(None)  # round 1 warms up
    return {
        "first_round_s": totals[0],
        "round_s": statistics.mean(totals[steady]),
        "train_s": statistics.mean(trains[steady]),
        "protocol_s": statistics.mean(totals[steady]) - statistics.mean(trains[steady]),
        "bytes_per_client": statistics.mean(r.bytes_sent / max(r.selected, 1) for r in records),
        "survivors": min(r.survivors for r in records),
        "epsilon": history.final_epsilon,
        "stage_seconds": {
            stage: statistics.mean(r.stage_seconds.get(stage, 0.0) for r in records[steady])
            for stage in records[-1].stage_seconds
        },
    }


def training_times(executor: Executor, clients: list[RegressionClient], d: int) -> dict[str, Any]:
    """Local training alone through ``executor.map``: the part an executor parallelises."""
    jobs = [(client, np.zeros(d)) for client in clients]
    seconds = []
    for _ in range(3):  # the first call also places the clients on Ray workers
        start = time.perf_counter()
        updates = executor.map(_fit, jobs)
        seconds.append(time.perf_counter() - start)
        assert len(updates) == len(clients)
    return {"first_map_s": seconds[0], "map_s": min(seconds[1:])}


def _fit(job: tuple[RegressionClient, NDArray[np.float64]]) -> ClientUpdate:
    client, parameters = job
    return client.fit(parameters)


# -- per-client cost of the protocol -----------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start


STAGES = ("advertise", "share", "masked", "check", "unmask")
COLD_SAMPLE = 20  # clients that also get a configuration object of their own ("cold")


def _fresh_config(config: MaskingConfig) -> MaskingConfig:
    """An equal configuration object that shares no memoised digest with ``config``."""
    return MaskingConfig(
        client_ids=tuple(config.client_ids),
        threshold=config.threshold,
        vector_length=config.vector_length,
        modulus_bits=config.modulus_bits,
        neighbours=config.neighbours,
        verify_keys=config.verify_keys,
        round_number=config.round_number,
    )


def client_cost(n: int, d: int) -> dict[str, Any]:
    """One whole SecAgg+ round on the public parties, timing each client's calls apart.

    Every message a client receives is handed to it as bytes and parsed inside the timed
    call, as on its own device: its roster slice (``KeyRoster``), its share bundle and its
    own consistency and unmask requests. Nothing in :mod:`secagg.masking` is shared between
    clients (no memo cache); the only shared object is the configuration, so
    ``COLD_SAMPLE`` clients get their own copy and its construction and digest (``O(n)``:
    the configuration lists the ``n`` invited ids) are timed apart, as ``config_ms``. One
    client is also replayed alone in a fresh interpreter (``fresh_process``).
    """
    k = degree(n)
    neighbourhood = k + 1
    config = MaskingConfig(
        client_ids=tuple(range(n)),
        threshold=max(neighbourhood // 2 + 1, math.ceil(THRESHOLD_FRACTION * neighbourhood)),
        vector_length=d,
        neighbours=k,
    )
    inputs = np.zeros(d, dtype=np.uint64)
    seconds = {stage: [0.0] * n for stage in STAGES}
    sent = dict.fromkeys(STAGES, 0)
    received = dict.fromkeys(STAGES, 0)
    cold = set(range(0, n, max(1, n // COLD_SAMPLE)))
    config_seconds = 0.0

    def timed(stage: str, cid: int, call: Callable[[], Any], incoming: bytes = b"") -> Any:
        start = time.process_time()  # CPU time: the figure a loaded machine distorts least
        out = call()
        seconds[stage][cid] += time.process_time() - start
        sent[stage] += len(out.to_bytes())
        received[stage] += len(incoming)
        return out

    server = Server(config)
    parties = []
    for i in range(n):
        start = time.process_time()
        own = _fresh_config(config) if i in cold else config
        own.digest()
        if i in cold:
            config_seconds += time.process_time() - start
        start = time.process_time()
        parties.append(Client(own, i))  # key generation: part of stage 0
        seconds["advertise"][i] += time.process_time() - start
    adverts = [timed("advertise", p.client_id, p.advertise_keys) for p in parties]
    probe = n // 2  # also replayed alone in a fresh interpreter (see fresh_process_cost)
    state_key = StateKey.generate()  # travels to the child beside the state, as in a test
    wire: dict[str, str] = {
        "state": parties[probe].save_state(state_key).hex(),
        "state_key": state_key.to_bytes().hex(),
    }
    views = server.collect_keys(adverts)

    def stage(name: str, request_of: Callable[[int], Any], respond: Callable[..., Any]) -> list:
        """Every client parses its request from bytes and answers it, timed."""
        answers = []
        for p in parties:
            body = request_of(p.client_id).to_bytes()
            if p.client_id == probe:
                wire[name] = body.hex()
            answers.append(timed(name, p.client_id, lambda p=p, b=body: respond(p, b), body))
        return answers

    shares = stage("share", views.__getitem__, lambda p, b: p.share_keys(KeyRoster.from_bytes(b)))
    bundles = server.collect_shares(shares)
    masked = stage(
        "masked",
        bundles.__getitem__,
        lambda p, b: p.masked_input(ShareBundle.from_bytes(b), inputs),
    )
    server.collect_masked_inputs(masked)
    checks = stage(
        "check",
        server.consistency_request_for,
        lambda p, b: p.consistency_check(ConsistencyRequest.from_bytes(b)),
    )
    server.collect_consistency(checks)
    answers = stage(
        "unmask", server.unmask_request_for, lambda p, b: p.unmask(UnmaskRequest.from_bytes(b))
    )
    result = server.collect_unmask(answers)
    assert len(result.survivors) == n
    row: dict[str, Any] = {"n": n, "d": d, "k": k, "sampled": False}
    for stage in STAGES:
        row[f"{stage}_ms"] = 1e3 * statistics.mean(seconds[stage])
        row[f"{stage}_bytes"] = sent[stage] / n
        row[f"{stage}_received_bytes"] = received[stage] / n
        row[f"{stage}_max_ms"] = 1e3 * max(seconds[stage])
    row["keys_ms"] = row["advertise_ms"] + row["share_ms"]
    row["keys_bytes"] = row["advertise_bytes"] + row["share_bytes"]
    row["client_ms"] = sum(row[f"{s}_ms"] for s in STAGES)
    row["client_bytes"] = sum(row[f"{s}_bytes"] for s in STAGES)
    row["client_received_bytes"] = sum(row[f"{s}_received_bytes"] for s in STAGES)
    row["cold_client_ms"] = 1e3 * statistics.mean(
        sum(seconds[stage][i] for stage in STAGES) for i in cold
    )
    row["config_ms"] = 1e3 * config_seconds / len(cold)
    row["fresh_process"] = fresh_process_cost(config, probe, wire)
    return row


def fresh_process_cost(config: MaskingConfig, client_id: int, wire: dict[str, str]) -> Any:
    """One client's stages replayed in a new Python process: nothing warm, nothing shared.

    The client resumes from its state saved after advertising and receives exactly the
    bytes the server sent it in the round (its roster slice, share bundle and requests).
    The configuration is rebuilt there and timed apart; imports are not timed.
    """
    job = {
        "n": len(config.client_ids),
        "threshold": config.threshold,
        "d": config.vector_length,
        "k": config.neighbours,
        "client_id": client_id,
        "wire": wire,
    }
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--replay-client"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def replay_client() -> None:
    """The child side of :func:`fresh_process_cost` (reads the job as JSON on stdin)."""
    job = json.loads(sys.stdin.read())
    wire = {key: bytes.fromhex(value) for key, value in job["wire"].items()}
    cpu: dict[str, float] = {}

    def timed(stage: str, call: Callable[[], Any]) -> Any:
        start = time.process_time()
        out = call()
        cpu[f"{stage}_ms"] = 1e3 * (time.process_time() - start)
        return out

    def build_config() -> MaskingConfig:
        config = MaskingConfig(
            client_ids=tuple(range(job["n"])),
            threshold=job["threshold"],
            vector_length=job["d"],
            neighbours=job["k"],
        )
        config.digest()
        return config

    config = timed("config", build_config)
    key = StateKey.from_bytes(wire["state_key"])
    client = timed(
        "load", lambda: Client.load_state(wire["state"], config, job["client_id"], key=key)
    )
    zeros = np.zeros(job["d"], dtype=np.uint64)
    timed("share", lambda: client.share_keys(KeyRoster.from_bytes(wire["share"])))
    timed("masked", lambda: client.masked_input(ShareBundle.from_bytes(wire["masked"]), zeros))
    timed("check", lambda: client.consistency_check(ConsistencyRequest.from_bytes(wire["check"])))
    timed("unmask", lambda: client.unmask(UnmaskRequest.from_bytes(wire["unmask"])))
    cpu["client_ms"] = sum(cpu[f"{s}_ms"] for s in ("share", "masked", "check", "unmask"))
    cpu["received_bytes"] = sum(len(wire[s]) for s in ("share", "masked", "check", "unmask"))
    print(json.dumps(cpu))


# -- driver ------------------------------------------------------------------------------


def make_executors(names: list[str]) -> tuple[dict[str, Executor], dict[str, float]]:
    executors: dict[str, Executor] = {}
    start_s: dict[str, float] = {}
    for name in names:
        started = time.perf_counter()
        if name == "serial":
            executors[name] = SerialExecutor()
        elif name == "process":
            executors[name] = ProcessPoolExecutor(2)
        elif name == "ray":
            from federated.ray_executor import RayExecutor

            executors[name] = RayExecutor(num_cpus=2, object_store_memory=512 * 2**20)
        else:
            raise SystemExit(f"unknown executor {name!r}")
        start_s[name] = time.perf_counter() - started
    return executors, start_s


def main() -> None:
    if sys.argv[1:] == ["--replay-client"]:
        replay_client()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 100 and 300 only (< 60 s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per run (default 2)")
    parser.add_argument(
        "--sizes", default=None, help="comma-separated client counts (default 100,1000,10000)"
    )
    parser.add_argument(
        "--round-sizes",
        default=None,
        help="client counts for the executor rounds (default: the sizes up to 1,000)",
    )
    parser.add_argument(
        "--executors", default="serial,process,ray", help="comma-separated executor names"
    )
    parser.add_argument(
        "--no-rounds", action="store_true", help="skip the full rounds (training and costs only)"
    )
    parser.add_argument(
        "--costs-only",
        action="store_true",
        help="only the per-client cost table (n = 100, 1,000, 3,000, 10,000; no executors)",
    )
    parser.add_argument(
        "--local-steps",
        type=int,
        default=LOCAL_STEPS,
        help=f"gradient steps of local training per client and round (default {LOCAL_STEPS})",
    )
    args = parser.parse_args()
    sizes = dict(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.sizes:
        sizes = {int(n): FULL_SIZES.get(int(n), COST_D) for n in args.sizes.split(",")}
    if args.round_sizes:
        round_sizes = {int(n): FULL_SIZES.get(int(n), COST_D) for n in args.round_sizes.split(",")}
    else:
        limit = QUICK_ROUNDS_UP_TO if args.quick else ROUNDS_UP_TO
        round_sizes = {n: d for n, d in sizes.items() if n <= limit}
    if args.no_rounds or args.costs_only:
        round_sizes = {}
    rounds = args.rounds or 2
    names = [name for name in args.executors.split(",") if name]

    costs = []
    cost_sizes = list(sizes) if args.quick or args.sizes else list(COST_SIZES)
    for n in cost_sizes:
        log(f"per-client cost: n={n} d={COST_D}")
        costs.append(client_cost(n, COST_D))

    if args.costs_only:
        names, sizes = [], {}
    executors, start_s = make_executors(names)
    rows = []
    training = []
    try:
        for n, d in sizes.items():
            clients = population(n, d, steps=args.local_steps)
            for name, executor in executors.items():
                log(f"training only: n={n} d={d} executor={name}")
                training.append(
                    {"n": n, "d": d, "executor": name} | training_times(executor, clients, d)
                )
            release = getattr(executors.get("ray"), "release", None)
            if release is not None:  # the next population replaces this one on the workers
                release()
        for n, d in round_sizes.items():
            clients = population(n, d, steps=args.local_steps)
            for name, executor in executors.items():
                log(f"rounds: n={n} d={d} executor={name}")
                rows.append(
                    {"n": n, "d": d, "k": degree(n), "executor": name}
                    | round_times(executor, clients, d, rounds)
                )
    finally:
        for executor in executors.values():
            executor.close()

    for row in rows:
        serial = [r for r in rows if r["n"] == row["n"] and r["executor"] == "serial"]
        row["vs_serial"] = row["round_s"] / serial[0]["round_s"] if serial else None
    for row in training:
        serial = [r for r in training if r["n"] == row["n"] and r["executor"] == "serial"]
        row["vs_serial"] = row["map_s"] / serial[0]["map_s"] if serial else None
    base = costs[0]
    for cost in costs:
        for what in (
            "keys_ms",
            "keys_bytes",
            "client_ms",
            "client_bytes",
            "client_received_bytes",
            "cold_client_ms",
        ):
            value = cost[what]
            cost[f"{what}_growth"] = value / base[what] if value is not None else None
        cost["k_growth"] = cost["k"] / base["k"]
        cost["log_n_growth"] = math.log(cost["n"]) / math.log(base["n"])
        cost["n_growth"] = cost["n"] / base["n"]

    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "scale",
                    "quick": args.quick,
                    "rounds": rounds,
                    "local_steps": args.local_steps,
                    "cores": os.cpu_count(),
                    "executor_start_s": start_s,
                    "training_by_executor": training,
                    "rounds_by_executor": rows,
                    "per_client_cost": costs,
                },
                indent=2,
            )
        )
        return
    print("executor start-up (s): " + ", ".join(f"{k} {v:.2f}" for k, v in start_s.items()))
    print("local training only (executor.map over all clients; best of 2 after the first call)")
    print(f"{'n':>6} {'d':>4} {'executor':<8} {'map s':>8} {'1st map s':>9} {'vs serial':>9}")
    for t in training:
        ratio = f"{t['vs_serial']:.2f}x" if t["vs_serial"] is not None else "-"
        print(
            f"{t['n']:>6} {t['d']:>4} {t['executor']:<8} {t['map_s']:>8.3f} "
            f"{t['first_map_s']:>9.3f} {ratio:>9}"
        )
    print()
    print("full rounds: SecAgg+ with distributed DP through federated.run")
    print(
        f"{'n':>6} {'d':>4} {'k':>3} {'executor':<8} {'round s':>9} {'train s':>9} "
        f"{'rest s':>9} {'1st round s':>11} {'B/client':>9} {'vs serial':>9}"
    )
    for r in rows:
        ratio = f"{r['vs_serial']:.2f}x" if r["vs_serial"] is not None else "-"
        print(
            f"{r['n']:>6} {r['d']:>4} {r['k']:>3} {r['executor']:<8} {r['round_s']:>9.3f} "
            f"{r['train_s']:>9.3f} {r['protocol_s']:>9.3f} {r['first_round_s']:>11.3f} "
            f"{r['bytes_per_client']:>9.0f} {ratio:>9}"
        )
    print()
    print(
        "per-client cost of one SecAgg+ round (a client's own CPU time in ms, every message "
        "parsed from bytes; bytes received and sent; growth vs the smallest n)"
    )
    print(
        f"{'n':>6} {'k':>3} {'share ms':>8} {'mask ms':>8} {'check ms':>8} {'unmask ms':>9} "
        f"{'all ms':>7} {'cold ms':>7} {'fresh ms':>8} {'cfg ms':>7} {'recv B':>7} {'sent B':>7} "
        f"{'all ms gr':>9} {'recv B gr':>9} {'k gr':>6} {'log n gr':>8} {'n gr':>6}"
    )
    for c in costs:
        print(
            f"{c['n']:>6} {c['k']:>3} {c['share_ms']:>8.3f} {c['masked_ms']:>8.3f} "
            f"{c['check_ms']:>8.3f} {c['unmask_ms']:>9.3f} {c['client_ms']:>7.3f} "
            f"{c['cold_client_ms']:>7.3f} {c['fresh_process']['client_ms']:>8.3f} "
            f"{c['config_ms']:>7.3f} "
            f"{c['client_received_bytes']:>7.0f} {c['client_bytes']:>7.0f} "
            f"{c['client_ms_growth']:>8.2f}x {c['client_received_bytes_growth']:>8.2f}x "
            f"{c['k_growth']:>5.2f}x {c['log_n_growth']:>7.2f}x {c['n_growth']:>5.0f}x"
        )


if __name__ == "__main__":
    main()
