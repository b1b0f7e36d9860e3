"""Exact integer noise samplers and the distributed-DP bit-width trade-off.

Table 1: draws per second of fedcrypt's exact, CSPRNG-fed samplers (with numba's compiled
kernels when installed, and their numpy path, ``ours, numpy``) against
  * torch.normal (what Opacus adds by default: float noise from a non-cryptographic PRNG,
    open to the Mironov 2012 attack), when torch is installed;
  * numpy's Generator.normal (float, non-cryptographic);
  * a scalar textbook implementation of Canonne-Kamath-Steinke Algorithm 3 (one draw at a
    time with fractions and ``secrets``), the usual way exact samplers are written.
Table 2: distributed discrete Gaussian / Skellam over Z_{2^B}: grid step, per-client noise,
measured error of the decoded sum against the clipped sum, the ideal (noise-only) error,
and the one-round epsilon against the continuous Gaussian with the same noise.

Usage: python benchmarks/samplers.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import time
from fractions import Fraction

import numpy as np

import dp
from dp.mechanisms import (
    DistributedConfig,
    clip_l2,
    decode_aggregate,
    encode_update,
    sample_discrete_gaussian,
    sample_discrete_laplace,
    sample_skellam,
)
from dp.mechanisms._compiled import compiled_disabled, kernels

# ------------------------------------------------------------ scalar textbook reference


def _bern_frac(p: Fraction) -> bool:
    return secrets.randbelow(p.denominator) < p.numerator


def _bern_exp(gamma: Fraction) -> bool:
    while gamma > 1:
        if not _bern_exp(Fraction(1)):
            return False
        gamma -= 1
    k = 1
    while _bern_frac(gamma / k):
        k += 1
    return k % 2 == 1


def _scalar_dgauss(sigma_sq: Fraction) -> int:
    t = math.isqrt(math.floor(sigma_sq)) + 1
    while True:
        u = secrets.randbelow(t)
        if not _bern_exp(Fraction(u, t)):
            continue
        v = 0
        while _bern_exp(Fraction(1)):
            v += 1
        y = u + t * v
        if secrets.randbits(1) and y == 0:
            continue
        z = -y if secrets.randbits(1) else y
        if _bern_exp((abs(z) - sigma_sq / t) ** 2 / (2 * sigma_sq)):
            return z


def _rate(fn, n: int) -> float:
    """Draws per CPU second (process time: robust to a loaded machine)."""
    start = time.process_time()
    fn(n)
    return n / (time.process_time() - start)


def sampler_table(n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    try:
        import torch
    except ImportError:
        torch = None
    numpy_gen = np.random.default_rng()
    for sigma in (1.0, 10.0, 1000.0):
        # Untimed: loads numba's compiled kernels (when installed) and builds the tables.
        sample_discrete_gaussian(sigma, 10)
        ours = _rate(lambda k, s=sigma: sample_discrete_gaussian(s, k), n)
        row: dict[str, object] = {"sampler": f"discrete Gaussian sigma={sigma:g}", "ours": ours}
        if kernels() is not None:
            with compiled_disabled():
                row["ours_numpy_path"] = _rate(lambda k, s=sigma: sample_discrete_gaussian(s, k), n)
        row["numpy_normal"] = _rate(lambda k, s=sigma: numpy_gen.normal(0, s, k), n)
        if torch is not None:
            row["torch_normal"] = _rate(lambda k, s=sigma: torch.normal(0.0, s, (k,)), n)
        small = max(200, n // 500)
        row["scalar_exact"] = _rate(
            lambda k, s=sigma: [_scalar_dgauss(Fraction(s) ** 2) for _ in range(k)], small
        )
        rows.append(row)
    rows.append(
        {
            "sampler": "discrete Laplace scale=10",
            "ours": _rate(lambda k: sample_discrete_laplace(10, k), n),
        }
    )
    rows.extend(
        {"sampler": f"Skellam mu={mu:g}", "ours": _rate(lambda k, m=mu: sample_skellam(m, k), n)}
        for mu in (10.0, 1e6)
    )
    return rows


# ------------------------------------------------------------ distributed trade-off


def tradeoff_table(quick: bool) -> list[dict[str, object]]:
    d, clients, n_min, z, clip = (256, 10, 8, 1.0, 1.0) if quick else (4096, 40, 32, 1.0, 1.0)
    rng = np.random.default_rng(1)
    updates = [rng.normal(size=d) for _ in range(clients)]
    truth = sum(clip_l2(u, clip) for u in updates)
    ideal = z * clip * math.sqrt(clients / n_min)  # noise-only RMSE per coordinate
    gaussian_eps = dp.RdpAccountant().compose(dp.Gaussian(z)).get_epsilon(1e-5)
    rows = []
    for noise in ("discrete_gaussian", "skellam"):
        for bits in (8, 10, 12, 14, 16, 20, 24, 32):
            try:
                cfg = DistributedConfig.calibrate(
                    dimension=d,
                    l2_clip=clip,
                    noise_multiplier=z,
                    n_min=n_min,
                    num_clients=clients,
                    modulus_bits=bits,
                    noise=noise,
                )
            except dp.DPError as exc:
                rows.append({"noise": noise, "bits": bits, "error": str(exc)})
                continue
            seed = os.urandom(32)
            start = time.process_time()
            encodings = [encode_update(u, cfg, seed) for u in updates]
            encode_s = (time.process_time() - start) / clients
            total = np.zeros(cfg.padded_dimension, dtype=np.uint64)
            for e in encodings:
                total = (total + e) & np.uint64((1 << bits) - 1)
            decoded = decode_aggregate(total, cfg, seed, clients)
            rmse = float(np.sqrt(np.mean((decoded.values - truth) ** 2)))
            eps = dp.RdpAccountant().compose(cfg.event(n_min)).get_epsilon(1e-5)
            rows.append(
                {
                    "noise": noise,
                    "bits": bits,
                    "gamma": cfg.scale,
                    "client_sigma_units": math.sqrt(float(cfg.client_variance)),
                    "rmse": rmse,
                    "ideal_rmse": ideal,
                    "rmse_ratio": rmse / ideal,
                    "epsilon": eps,
                    "gaussian_epsilon": gaussian_eps,
                    "encode_ms": 1000 * encode_s,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    samplers = sampler_table(n)
    tradeoff = tradeoff_table(args.quick)
    if args.json:
        print(json.dumps({"draws": n, "samplers": samplers, "tradeoff": tradeoff}, indent=2))
        return
    print(f"Draws per CPU second ({n} draws; ratio = ours / peer)")
    print(
        f"{'sampler':34} {'ours':>11} {'ours, numpy':>11} {'numpy':>11} {'torch':>11}"
        f" {'scalar exact':>13}  ratios"
    )
    for row in samplers:
        cells = [f"{row['sampler']:34}", f"{row['ours']:11.3g}"]
        ratios = []
        for key in ("ours_numpy_path", "numpy_normal", "torch_normal", "scalar_exact"):
            value = row.get(key)
            cells.append(f"{value:11.3g}" if value else f"{'-':>11}")
            if value:
                ratios.append(f"{key.removesuffix('_normal')} {row['ours'] / value:.3g}x")
        print(" ".join(cells), " ", ", ".join(ratios))
    print()
    print("Distributed DP over Z_2^B (RMSE per coordinate of the decoded sum; epsilon at 1e-5)")
    print(
        f"{'noise':18} {'B':>3} {'gamma':>10} {'client sd':>10} {'rmse':>8} {'ideal':>8}"
        f" {'ratio':>7} {'eps':>7} {'eps cont.':>9} {'enc ms':>7}"
    )
    for row in tradeoff:
        if "error" in row:
            print(f"{row['noise']:18} {row['bits']:>3}  {row['error']}")
            continue
        print(
            f"{row['noise']:18} {row['bits']:>3} {row['gamma']:10.3g}"
            f" {row['client_sigma_units']:10.3g}"
            f" {row['rmse']:8.4f} {row['ideal_rmse']:8.4f} {row['rmse_ratio']:7.3f}"
            f" {row['epsilon']:7.3f} {row['gaussian_epsilon']:9.3f} {row['encode_ms']:7.2f}"
        )


if __name__ == "__main__":
    main()
