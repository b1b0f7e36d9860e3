"""dp.audit: analysis time for 10,000 canaries, coverage of the true epsilon, detection rates.

Table 1 (always): wall-clock and CPU seconds to analyse one run of 10,000 canaries (scores
already computed) with each method: Steinke-Nasr-Jagielski one-run bound (seven guess
counts, Bonferroni), its Gaussian-DP refinement (Mahloujifar-Melis-Chaudhuri), the
canary-client estimate (Andrew et al.) on 10,000 cosines, and a Clopper-Pearson audit of
10,000 runs per input. Target: each at most 1 s.

``--coverage N``: N independent runs of the Gaussian harness of tests/dp/test_audit_statistical.py
(1,000 canaries, true epsilon 1, 4, 8 at delta 1e-5) and how often each lower bound exceeds
the truth, with the mean bound. ``--detection N``: N independent audits of each planted bug
of tests/dp/test_audit_bugs.py (and of the correct pipeline), the share flagged and the
bound's mean and standard deviation against the claim. Noise comes from the library's
CSPRNG-fed samplers; the synthetic scores of table 1 from a seeded numpy generator (data,
not DP noise).

Usage: python benchmarks/audit.py [--json] [--coverage N] [--detection N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import dp
from dp import audit
from dp._rng import random_bits
from dp.mechanisms import GaussianMechanism, clip_l2

DELTA = 1e-5


def _timed(fn: Callable[[], object], repeat: int = 3) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_s": min(walls), "cpu_s": min(cpus)}


def analysis_times() -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    m = 10_000
    included = rng.random(m) < 0.5
    scores = included * audit.gdp_mu(4.0, DELTA) + rng.standard_normal(m)
    cosines = (0.9 + rng.standard_normal(m)) / 100.0
    s0, s1 = rng.standard_normal(m), 1.0 + rng.standard_normal(m)
    return {
        "one_run (Steinke et al.)": _timed(
            lambda: audit.audit_one_run(included, scores, delta=DELTA)
        ),
        "one_run_gdp (Mahloujifar et al.)": _timed(
            lambda: audit.audit_one_run_gdp(included, scores, delta=DELTA)
        ),
        "canary_clients (Andrew et al.)": _timed(
            lambda: audit.canary_client_estimate(cosines, delta=DELTA, dimension=10_000)
        ),
        "clopper_pearson (10,000 runs per input)": _timed(
            lambda: audit.audit_samples(s0, s1, delta=DELTA)
        ),
    }


def coverage(runs: int) -> list[dict[str, Any]]:
    rows = []
    for epsilon in (1.0, 4.0, 8.0):
        z = 1.0 / audit.gdp_mu(epsilon, DELTA)
        bounds: dict[str, list[float]] = {"one_run": [], "one_run_gdp": []}
        for _ in range(runs):
            included = random_bits(1000)
            scores = GaussianMechanism(z, 1.0, 1000).release(included.astype(np.float64))
            for result in (
                audit.audit_one_run(included, scores, delta=DELTA),
                audit.audit_one_run_gdp(included, scores, delta=DELTA),
            ):
                assert result.epsilon_lower_bound is not None
                bounds[result.method].append(result.epsilon_lower_bound)
        for method, values in bounds.items():
            rows.append(
                {
                    "epsilon": epsilon,
                    "method": method,
                    "runs": runs,
                    "exceed": sum(v > epsilon for v in values),
                    "mean_bound": statistics.fmean(values),
                    "max_bound": max(values),
                }
            )
    return rows


def detection(runs: int) -> list[dict[str, Any]]:
    m, z = 10_000, 1.0
    claim = audit.claimed_epsilon(dp.Gaussian(z), DELTA)

    def clip(bound: float) -> Callable[[np.ndarray], np.ndarray]:
        return lambda u: clip_l2(u, bound)

    good, half = GaussianMechanism(z, 1.0, m).release, GaussianMechanism(z / 2, 1.0, m).release
    pipelines = {
        "correct": (clip(1.0), good),
        "noise off": (clip(1.0), lambda s: s),
        "sigma halved": (clip(1.0), half),
        "clipping skipped": (lambda u: u, good),
        "sensitivity doubled": (clip(2.0), good),
    }
    rows = []
    for name, (client, server) in pipelines.items():
        values = []
        for _ in range(runs):
            result = audit.audit_canary_pipeline(
                client,
                server,
                canaries=m,
                canary_norm=4.0,
                delta=DELTA,
                claimed_epsilon=claim,
                guess_counts=[(m // 16, m // 16)],
            )
            assert result.epsilon_lower_bound is not None
            values.append(result.epsilon_lower_bound)
        rows.append(_row(name, claim, values))
    wrong = audit.claimed_epsilon(dp.PoissonSampled(0.5, dp.Gaussian(1.5)), DELTA)
    right = audit.claimed_epsilon(dp.SampledWithoutReplacement(4, 2, dp.Gaussian(1.5)), DELTA)
    values = []
    for _ in range(runs):
        result = audit.audit_fixed_size_cohort(4, 2, 1.5, trials=200_000, delta=DELTA)
        assert result.epsilon_lower_bound is not None
        values.append(result.epsilon_lower_bound)
    rows.append(_row("fixed-size cohort vs Poisson claim", wrong, values))
    rows.append(_row("fixed-size cohort vs displacement claim", right, values))
    return rows


def _row(name: str, claim: float, values: list[float]) -> dict[str, Any]:
    return {
        "pipeline": name,
        "claimed": claim,
        "runs": len(values),
        "flagged": sum(v > claim for v in values),
        "mean_bound": statistics.fmean(values),
        "sd_bound": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min_bound": min(values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--coverage", type=int, default=0, metavar="N")
    parser.add_argument("--detection", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"analysis_10000_canaries": analysis_times()}
    if args.coverage:
        out["coverage"] = coverage(args.coverage)
    if args.detection:
        out["detection"] = detection(args.detection)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print("Analysis of 10,000 canaries (best of 3):")
    for name, t in out["analysis_10000_canaries"].items():
        print(f"  {name:42s} wall {t['wall_s']:.3f} s  cpu {t['cpu_s']:.3f} s")
    for row in out.get("coverage", []):
        print(
            f"  coverage eps={row['epsilon']:g} {row['method']:12s} exceed {row['exceed']}/"
            f"{row['runs']}  mean bound {row['mean_bound']:.3f}  max {row['max_bound']:.3f}"
        )
    for row in out.get("detection", []):
        print(
            f"  {row['pipeline']:40s} claim {row['claimed']:.3f} flagged {row['flagged']}/"
            f"{row['runs']}  bound {row['mean_bound']:.3f} +- {row['sd_bound']:.3f}"
            f" (min {row['min_bound']:.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
