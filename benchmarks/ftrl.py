"""DP-FTRL correlated noise: error, sensitivity, optimisation time and noise cost.

For ``n`` rounds (default 2,000) and a few participation schemas ``(k, b)`` (at most ``k``
participations, at least ``b`` rounds apart), each strategy's RMSE of the released prefix
sums at noise multiplier 1, ``sqrt(sens^2 * ||S C^{-1}||_F^2 / n)`` (the normalisation of
Choquette-Choo et al. 2023's and McMahan et al. 2024's tables):

* tree aggregation with Honaker's online estimator (closed form, checked against the dense
  estimator matrix);
* banded Toeplitz, ``p = b`` bands (``p = n`` for single participation, the optimal Toeplitz
  factorisation), optimised here;
* BLT with 3, 4 and 5 buffers, optimised here, with the ratio to the banded optimum;
* when ``jax-privacy`` is importable, or with ``--jax-privacy-python PATH`` (a Python where it
  is installed, e.g. a scratch venv), jax-privacy's ``buffered_toeplitz.optimize`` BLTs for
  the same schemas, evaluated with our formulas, and their optimisation time.

Then the per-round cost of drawing the noise for ``d = 10^6`` (wall and CPU time, median of
10 rounds) and the noise state of each stream. Figures on a shared machine vary with load;
CPU time is the steadier measure.

Usage: python benchmarks/ftrl.py [--json] [--quick] [--rounds N] [--jax-privacy-python PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from dp.ftrl import BandedStrategy, BLTStrategy, ParticipationSchema, Strategy, TreeAggregation

#: (k, b) for n = 2000; b scales with n for other round counts.
SCHEMAS = [(1, None), (4, 500), (20, 100)]

_JAX_PRIVACY_SCRIPT = """
import json, sys, time
import jax
jax.config.update("jax_enable_x64", True)
from jax_privacy.matrix_factorization import buffered_toeplitz
n, k, b, nbuf = map(int, sys.argv[1:5])
start = time.time()
blt = buffered_toeplitz.optimize(n=n, min_sep=b, max_participations=k, error="mean",
                                 min_buffers=nbuf, max_buffers=nbuf)
print(json.dumps({"theta": [float(v) for v in blt.buf_decay],
                  "omega": [float(v) for v in blt.output_scale],
                  "seconds": time.time() - start}))
"""


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _rmse(strategy: Strategy, schema: ParticipationSchema) -> float:
    return math.sqrt(strategy.expected_error(schema=schema))


def _jax_privacy(python: str, schema: ParticipationSchema, buffers: int) -> dict[str, Any]:
    args = [
        python,
        "-c",
        _JAX_PRIVACY_SCRIPT,
        str(schema.rounds),
        str(schema.effective_participations),
        str(schema.min_separation),
        str(buffers),
    ]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    strategy = BLTStrategy(schema.rounds, data["theta"], data["omega"])
    return {
        "rmse": _rmse(strategy, schema),
        "seconds": data["seconds"],
        "theta": data["theta"],
        "omega": data["omega"],
    }


def schema_rows(n: int, buffers: list[int], jax_python: str | None) -> list[dict[str, Any]]:
    rows = []
    for k, b in SCHEMAS:
        b = None if b is None else max(1, b * n // 2000)
        schema = ParticipationSchema(n, k, b if b is not None else n)
        row: dict[str, Any] = {"schema": {"rounds": n, "k": k, "b": b}}
        tree = TreeAggregation(n)
        closed = tree.expected_error()
        dense = float(np.mean(np.sum(np.cumsum(tree.noise_matrix(), axis=0) ** 2, axis=1)))
        row["tree"] = {
            "rmse": _rmse(tree, schema),
            "sensitivity": tree.sensitivity(schema),
            "sensitivity_exact": tree.sensitivity_is_exact(schema),
            "closed_form_vs_dense_rel_diff": abs(closed - dense) / dense,
        }
        banded, wall, cpu = _timed(lambda s=schema: BandedStrategy.optimise(s))
        row["banded"] = {
            "bands": banded.bands,
            "rmse": _rmse(banded, schema),
            "sensitivity_exact": banded.sensitivity_is_exact(schema),
            "optimise_wall_s": wall,
            "optimise_cpu_s": cpu,
        }
        for nbuf in buffers:
            blt, wall, cpu = _timed(lambda s=schema, m=nbuf: BLTStrategy.optimise(s, buffers=m))
            entry: dict[str, Any] = {
                "rmse": _rmse(blt, schema),
                "ratio_to_banded": _rmse(blt, schema) / row["banded"]["rmse"],
                "sensitivity_exact": blt.sensitivity_is_exact(schema),
                "optimise_wall_s": wall,
                "optimise_cpu_s": cpu,
                "theta": blt.theta.tolist(),
                "omega": blt.omega.tolist(),
            }
            if jax_python is not None:
                theirs = _jax_privacy(jax_python, schema, nbuf)
                entry["jax_privacy"] = theirs
                if "rmse" in theirs:
                    entry["ratio_to_jax_privacy"] = entry["rmse"] / theirs["rmse"]
            row[f"blt_{nbuf}"] = entry
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def noise_cost(n: int, dimension: int) -> dict[str, Any]:
    strategies: dict[str, Strategy] = {
        "blt_4": BLTStrategy(
            n, [0.5264, 0.9040, 0.9847, 0.99859], [0.2116, 0.1640, 0.0753, 0.0479]
        ),
        "tree": TreeAggregation(n),
        "banded_8": BandedStrategy(n, [1.0, 0.5, 0.375, 0.3125, 0.27, 0.25, 0.23, 0.21]),
    }
    out: dict[str, Any] = {"dimension": dimension}
    for name, strategy in strategies.items():
        stream = strategy.noise_stream(dimension, 1.0)
        walls, cpus = [], []
        for _ in range(12):
            _, wall, cpu = _timed(stream.next)
            walls.append(wall)
            cpus.append(cpu)
        out[name] = {
            "wall_ms_median": 1e3 * statistics.median(walls[2:]),
            "cpu_ms_median": 1e3 * statistics.median(cpus[2:]),
            "state_floats": stream.state_floats,
            "state_floats_per_d": stream.state_floats / dimension,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="n = 256, d = 10^5, 4 buffers")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--jax-privacy-python", default=None)
    args = parser.parse_args()
    if args.jax_privacy_python is None and importlib.util.find_spec("jax_privacy") is not None:
        args.jax_privacy_python = sys.executable  # installed in the bench environment itself
    n = 256 if args.quick else args.rounds
    buffers = [4] if args.quick else [3, 4, 5]
    result = {
        "rounds": n,
        "schemas": schema_rows(n, buffers, args.jax_privacy_python),
        "noise_cost": noise_cost(n, 10**5 if args.quick else 10**6),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in result["schemas"]:
        s = row["schema"]
        print(f"n={s['rounds']} k={s['k']} b={s['b']}")
        print(f"  tree (Honaker)   RMSE {row['tree']['rmse']:.4f}")
        bd = row["banded"]
        print(
            f"  banded p={bd['bands']:<5}  RMSE {bd['rmse']:.4f}  ({bd['optimise_wall_s']:.1f} s)"
        )
        for nbuf in buffers:
            e = row[f"blt_{nbuf}"]
            extra = ""
            if "ratio_to_jax_privacy" in e:
                extra = f"  vs jax-privacy x{e['ratio_to_jax_privacy']:.5f}"
            print(
                f"  BLT {nbuf} buffers    RMSE {e['rmse']:.4f}"
                f"  x{e['ratio_to_banded']:.4f} of banded  ({e['optimise_wall_s']:.1f} s){extra}"
            )
    for name, cost in result["noise_cost"].items():
        if isinstance(cost, dict):
            print(
                f"noise {name}: {cost['wall_ms_median']:.1f} ms wall,"
                f" {cost['cpu_ms_median']:.1f} ms CPU per round,"
                f" state {cost['state_floats_per_d']:.0f} d"
            )


if __name__ == "__main__":
    main()
