"""Benchmark dp's accountants beside dp_accounting (Google) and Opacus in one process.

For each setting (Poisson sampling rate q, noise multiplier sigma, steps, delta) it reports
epsilon from our PLD (upper and lower bound) and RDP accountants, dp_accounting's PLD and
RDP accountants and Opacus' RDP accountant, with the time of each, then the per-round
pattern (compose one round, query epsilon, repeat) and noise calibration. Times are CPU
seconds of this process (the development machine is shared, so wall time is noisy).

    .venv-bench/bin/python benchmarks/accountant.py            # full run (a few minutes)
    .venv-bench/bin/python benchmarks/accountant.py --quick    # < 60 s
    .venv-bench/bin/python benchmarks/accountant.py --json     # machine-readable output
    .venv-bench/bin/python benchmarks/accountant.py --write-vectors FILE  # peer values
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dp_accounting as dpa
from dp_accounting.pld import pld_privacy_accountant as dpa_pld
from dp_accounting.rdp import rdp_privacy_accountant as dpa_rdp
from opacus.accountants.analysis import rdp as opacus_rdp

import dp

logging.getLogger().setLevel(logging.ERROR)

OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))

SETTINGS: list[tuple[float, float, int, float]] = [
    (1 / 250, 1.1, 15_000, 1e-5),  # Opacus MNIST README
    (0.01, 1.0, 10_000, 1e-5),  # the reference setting
    (0.001, 1.0, 100_000, 1e-5),
    (0.0005, 0.9, 50_000, 1e-6),
    (0.001, 0.8, 1_000, 1e-6),
    (0.1, 2.0, 500, 1e-5),
    (0.05, 0.6, 200, 1e-7),
    (1.0, 5.0, 100, 1e-5),
    (0.02, 1.5, 3_000, 1e-8),
]
QUICK_SETTINGS = SETTINGS[:2] + SETTINGS[5:6] + SETTINGS[7:8]


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of the call (the machine is shared; CPU time is what the code costs)."""
    start = time.process_time()
    result = function()
    return time.process_time() - start, result


def dpa_event(q: float, sigma: float) -> Any:
    gaussian = dpa.GaussianDpEvent(sigma)
    return gaussian if q >= 1.0 else dpa.PoissonSampledDpEvent(q, gaussian)


def our_event(q: float, sigma: float) -> dp.DpEvent:
    gaussian = dp.Gaussian(sigma)
    return gaussian if q >= 1.0 else dp.PoissonSampled(q, gaussian)


def compare(q: float, sigma: float, steps: int, delta: float) -> dict[str, Any]:
    row: dict[str, Any] = {"q": q, "sigma": sigma, "steps": steps, "delta": delta}

    accountant = dp.PldAccountant()
    row["t_ours_pld"], row["ours_pld"] = timed(
        lambda: accountant.compose(our_event(q, sigma), steps).get_epsilon(delta)
    )
    row["t_ours_pld_lower"], row["ours_pld_lower"] = timed(
        lambda: accountant.get_epsilon(delta, bound="lower")
    )
    row["t_ours_rdp"], row["ours_rdp"] = timed(
        lambda: dp.RdpAccountant().compose(our_event(q, sigma), steps).get_epsilon(delta)
    )

    def peer_pld() -> float:
        accountant = dpa_pld.PLDAccountant()
        accountant.compose(dpa_event(q, sigma), steps)
        return float(accountant.get_epsilon(delta))

    def peer_rdp() -> float:
        accountant = dpa_rdp.RdpAccountant()
        accountant.compose(dpa_event(q, sigma), steps)
        return float(accountant.get_epsilon(delta))

    def opacus() -> float:
        rdp = opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=OPACUS_ORDERS)
        return float(opacus_rdp.get_privacy_spent(orders=OPACUS_ORDERS, rdp=rdp, delta=delta)[0])

    row["t_dpa_pld"], row["dpa_pld"] = timed(peer_pld)
    row["t_dpa_rdp"], row["dpa_rdp"] = timed(peer_rdp)
    row["t_opacus_rdp"], row["opacus_rdp"] = timed(opacus)
    return row


def per_round(q: float, sigma: float, rounds: int, peer_rounds: int) -> dict[str, Any]:
    event = our_event(q, sigma)
    accountant = dp.PldAccountant()
    start = time.process_time()
    ours = []
    for _ in range(rounds):
        accountant.compose(event)
        ours.append(accountant.get_epsilon(1e-5))
    t_ours = time.process_time() - start
    peer = dpa_pld.PLDAccountant()
    start = time.process_time()
    for _ in range(peer_rounds):
        peer.compose(dpa_event(q, sigma))
        peer_last = float(peer.get_epsilon(1e-5))
    t_peer = time.process_time() - start
    return {
        "q": q,
        "sigma": sigma,
        "rounds": rounds,
        "t_ours": t_ours,
        "ours_last": ours[-1],
        "ours_at_peer_rounds": ours[peer_rounds - 1],
        "peer_rounds": peer_rounds,
        "t_peer": t_peer,
        "peer_last": peer_last,
    }


def calibration(target: float, delta: float, q: float, steps: int) -> dict[str, Any]:
    t_ours, sigma = timed(
        lambda: dp.calibrate_noise_multiplier(target, delta, sampling_rate=q, steps=steps)
    )
    check = dp.PldAccountant().compose(our_event(q, sigma), steps).get_epsilon(delta)

    def peer() -> float:
        return float(
            dpa.calibrate_dp_mechanism(
                dpa_pld.PLDAccountant,
                lambda s: dpa.SelfComposedDpEvent(dpa_event(q, s), steps),
                target,
                delta,
            )
        )

    t_peer, peer_sigma = timed(peer)
    peer_check = dp.PldAccountant().compose(our_event(q, peer_sigma), steps).get_epsilon(delta)
    return {
        "target_epsilon": target,
        "delta": delta,
        "q": q,
        "steps": steps,
        "t_ours": t_ours,
        "ours_sigma": sigma,
        "ours_epsilon": check,
        "t_peer": t_peer,
        "peer_sigma": peer_sigma,
        "peer_epsilon_by_our_pld": peer_check,
    }


def print_tables(result: dict[str, Any]) -> None:
    print(
        f"{'q':>7} {'sigma':>5} {'steps':>7} {'delta':>6} | {'PLD lo':>8} {'PLD':>8} "
        f"{'dpa PLD':>8} {'diff%':>6} | {'RDP':>8} {'dpa RDP':>8} {'opacus':>8} | "
        f"{'t PLD':>6} {'t dpa':>6} {'ratio':>6}"
    )
    for r in result["settings"]:
        diff = 100 * (r["ours_pld"] - r["dpa_pld"]) / r["dpa_pld"]
        print(
            f"{r['q']:7.4g} {r['sigma']:5.2f} {r['steps']:7d} {r['delta']:6.0e} | "
            f"{r['ours_pld_lower']:8.4f} {r['ours_pld']:8.4f} {r['dpa_pld']:8.4f} {diff:6.3f} | "
            f"{r['ours_rdp']:8.4f} {r['dpa_rdp']:8.4f} {r['opacus_rdp']:8.4f} | "
            f"{r['t_ours_pld']:6.3f} {r['t_dpa_pld']:6.2f} {r['t_dpa_pld'] / r['t_ours_pld']:6.1f}x"
        )
    for r in result["per_round"]:
        print(
            f"per-round q={r['q']} sigma={r['sigma']}: ours {r['rounds']} rounds in "
            f"{r['t_ours']:.2f} s (eps {r['ours_last']:.4f}); dp_accounting {r['peer_rounds']} "
            f"rounds in {r['t_peer']:.2f} s (eps {r['peer_last']:.4f}, ours at that round "
            f"{r['ours_at_peer_rounds']:.4f})"
        )
    for r in result["calibration"]:
        print(
            f"calibrate eps={r['target_epsilon']} delta={r['delta']} q={r['q']} "
            f"steps={r['steps']}: ours sigma={r['ours_sigma']:.4f} (eps {r['ours_epsilon']:.4f})"
            f" in {r['t_ours']:.2f} s; dp_accounting sigma={r['peer_sigma']:.4f} "
            f"(eps by our PLD {r['peer_epsilon_by_our_pld']:.4f}) in {r['t_peer']:.2f} s"
        )


def vectors(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "provenance": (
            "Generated by benchmarks/accountant.py --write-vectors with "
            f"dp-accounting {metadata.version('dp-accounting')} (PLDAccountant with its "
            "default value_discretization_interval=1e-4, and RdpAccountant with its default "
            f"orders) and opacus {metadata.version('opacus')} (compute_rdp and "
            "get_privacy_spent over Opacus' default orders), for Poisson-sampled Gaussian "
            "steps under add/remove adjacency."
        ),
        "cases": [
            {
                key: r[key]
                for key in ("q", "sigma", "steps", "delta", "dpa_pld", "dpa_rdp", "opacus_rdp")
            }
            for r in rows
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer settings, < 60 s")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--write-vectors", metavar="FILE", help="store peer values as vectors")
    args = parser.parse_args(argv)
    settings = QUICK_SETTINGS if args.quick else SETTINGS
    result: dict[str, Any] = {"settings": [compare(*s) for s in settings]}
    result["per_round"] = [per_round(0.01, 1.0, 1000, 20 if args.quick else 100)]
    result["calibration"] = [calibration(2.0, 1e-5, 0.01, 1000 if args.quick else 10_000)]
    if args.write_vectors:
        with open(args.write_vectors, "w") as handle:
            json.dump(vectors(result["settings"]), handle, indent=2)
            handle.write("\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
