"""Benchmark secagg.paillier against python-paillier (phe, with gmpy2), one core, CPU time.

Measures keygen, scalar encrypt / decrypt / add and, for a float vector of ``d`` values in
``[-1, 1]``, the default call ``encrypt_vector(x, scale_bits=16, max_summands=100)``, the
sum of 100 such vectors and ``decrypt_vector`` of the sum. phe handles one Python object per
value, so its vector figures are measured on a subset and extrapolated per value.

Like for like: the process is pinned to one CPU (so our default ``workers`` is 1; phe is
single-threaded anyway) and every time is process CPU time (``time.process_time``), best of
3 for both libraries. ``--wall`` switches to wall time. A separate section then measures our
vector encryption with one and two threads in wall time on two CPUs (no phe ratio there).

    .venv-bench/bin/python benchmarks/paillier.py            # full run (a few minutes)
    .venv-bench/bin/python benchmarks/paillier.py --quick    # < 60 s
    .venv-bench/bin/python benchmarks/paillier.py --json     # machine-readable output
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import phe

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cores import describe, restore, single_core

from secagg.paillier import EncryptedVector, generate_keypair
from secagg.paillier.phe_compat import to_phe

# Process CPU time (one core, see _cores.py); --wall switches to wall-clock time.
CLOCK: Callable[[], float] = time.process_time
ROUNDS = 3
# The default call of the figures: |x| <= 1 (the default max_abs), 2^-16 steps and a
# budget of 100 summands, so 18-bit values in 25-bit slots.
DEFAULT_CALL: dict[str, Any] = {"scale_bits": 16, "max_summands": 100}


def per_op(function: Callable[[], Any], repeat: int) -> float:
    """Return seconds per call, best of ``ROUNDS`` rounds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = CLOCK()
        for _ in range(repeat):
            function()
        best = min(best, (CLOCK() - start) / repeat)
    return best


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = CLOCK()
    result = function()
    return CLOCK() - start, result


def best_of(function: Callable[[], Any]) -> tuple[float, Any]:
    """Best time of ``ROUNDS`` calls, and the last result."""
    runs = [timed(function) for _ in range(ROUNDS)]
    return min(t for t, _ in runs), runs[-1][1]


def run(bits: int, quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(name: str, ours: float, peer: float, unit: str = "s/op", **extra: Any) -> None:
        rows.append(
            {
                "bits": bits,
                "operation": name,
                "ours_s": ours,
                "phe_s": peer,
                "ours_ops_per_s": 1 / ours if ours else float("inf"),
                "phe_ops_per_s": 1 / peer if peer else float("inf"),
                "ratio": peer / ours if ours else float("inf"),
                "unit": unit,
                **extra,
            }
        )

    # Prime search takes a random time: report the mean of several key pairs, alternating.
    keygen_reps = 3 if quick else 12
    ours_times: list[float] = []
    phe_times: list[float] = []
    for _ in range(keygen_reps):
        ours_times.append(timed(lambda: generate_keypair(bits))[0])
        phe_times.append(timed(lambda: phe.generate_paillier_keypair(n_length=bits))[0])
    row("keygen", sum(ours_times) / keygen_reps, sum(phe_times) / keygen_reps, "s/key")

    pk, sk = generate_keypair(bits)
    ppk, psk = to_phe(pk), to_phe(sk)
    # The fixed-base table is built once per key, on first use: timed here, not below.
    table_s, _ = timed(lambda: pk._djn_table())

    scalar_reps = 20 if quick else 100
    row("scalar encrypt", per_op(lambda: pk.encrypt(123456789), scalar_reps),
        per_op(lambda: ppk.encrypt(123456789), max(5, scalar_reps // 5)))  # fmt: skip
    ours_c, peer_c = pk.encrypt(123456789), ppk.encrypt(123456789)
    row("scalar decrypt", per_op(lambda: sk.decrypt(ours_c), scalar_reps),
        per_op(lambda: psk.decrypt(peer_c), scalar_reps))  # fmt: skip
    row("scalar add", per_op(lambda: ours_c + ours_c, scalar_reps * 10),
        per_op(lambda: peer_c + peer_c, scalar_reps * 10))  # fmt: skip

    d = 10_000 if quick else 100_000
    subset = 20 if quick else 100
    summands = 100
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=d)

    enc_s, ev = best_of(lambda: pk.encrypt_vector(x, **DEFAULT_CALL))
    phe_enc_s, phe_vec = best_of(lambda: [ppk.encrypt(float(v)) for v in x[:subset]])
    layout = {"slots_per_ciphertext": ev.layout.slots, "slot_bits": ev.layout.slot_bits,
              "value_bits": ev.layout.value_bits, "ciphertexts": len(ev.ciphertexts)}  # fmt: skip
    row(f"vector encrypt (d={d})", enc_s / d, phe_enc_s / subset, "s/value", **layout)

    sum_s, total = best_of(lambda: EncryptedVector.sum([ev] * summands))
    phe_vectors = [phe_vec] * summands

    def phe_sum() -> list[Any]:
        acc = list(phe_vectors[0])
        for other in phe_vectors[1:]:
            acc = [a + b for a, b in zip(acc, other, strict=True)]
        return acc

    phe_sum_s, phe_total = best_of(phe_sum)
    row(f"sum of {summands} vectors", sum_s / d, phe_sum_s / subset, "s/value")

    dec_s, decoded = best_of(lambda: sk.decrypt_vector(total))
    phe_dec_s, _ = best_of(lambda: [psk.decrypt(c) for c in phe_total])
    expected = summands * np.rint(x * 2**16) / 2**16
    assert np.array_equal(decoded, expected), "vector sum decoded wrongly"
    row(f"vector decrypt (d={d})", dec_s / d, phe_dec_s / subset, "s/value")
    rows[-1]["fixed_base_table_build_s"] = table_s
    return rows


def thread_speedup(bits: int, quick: bool, cpus: set[int]) -> dict[str, Any]:
    """Our vector encryption with 1 and 2 threads, wall time, on two CPUs (no phe ratio)."""
    restore(cpus)
    try:
        pk, _ = generate_keypair(bits)
        pk._djn_table()
        x = np.random.default_rng(1).uniform(-1.0, 1.0, size=10_000 if quick else 100_000)
        one: list[float] = []
        two: list[float] = []
        for _ in range(ROUNDS):  # alternating, so that load from other processes hits both
            start = time.perf_counter()
            pk.encrypt_vector(x, workers=1, **DEFAULT_CALL)
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            pk.encrypt_vector(x, workers=2, **DEFAULT_CALL)
            two.append(time.perf_counter() - start)
        return {"bits": bits, "operation": "vector encrypt, 2 threads vs 1 (wall)",
                "one_thread_s": min(one), "two_threads_s": min(two),
                "speedup": min(one) / min(two), "cpus": sorted(cpus)}  # fmt: skip
    finally:
        single_core()


def print_table(rows: list[dict[str, Any]], setup: dict[str, Any]) -> None:
    clock = "process CPU time" if CLOCK is time.process_time else "wall time"
    print(
        f"one core (CPU {setup['cpus_allowed']}), {clock}, best of {ROUNDS}; our workers = "
        f"{setup['our_default_workers']}, phe single-threaded"
    )
    print(f"{'bits':>5} {'operation':<32} {'ours/s':>12} {'phe/s':>12} {'ratio':>9}  unit")
    for r in rows:
        if "ratio" in r:
            print(
                f"{r['bits']:>5} {r['operation']:<32} {r['ours_ops_per_s']:>12.1f} "
                f"{r['phe_ops_per_s']:>12.1f} {r['ratio']:>8.1f}x  {r['unit'].replace('s/', '')}"
            )
            if "slots_per_ciphertext" in r:
                print(
                    f"{'':>6}{r['value_bits']}-bit values in {r['slot_bits']}-bit slots, "
                    f"{r['slots_per_ciphertext']} per ciphertext, {r['ciphertexts']} ciphertexts"
                )
        else:
            print(
                f"{r['bits']:>5} {r['operation']:<32} 1 thread {r['one_thread_s']:.2f} s, "
                f"2 threads {r['two_threads_s']:.2f} s: {r['speedup']:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (< 60 s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--bits", type=int, nargs="*", default=None, help="modulus sizes")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument(
        "--no-threads", action="store_true", help="skip the 1-vs-2-thread wall-time section"
    )
    args = parser.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    cpus = set(os.sched_getaffinity(0))
    setup = single_core()
    sizes = args.bits or ([2048] if args.quick else [2048, 3072])
    rows = [r for bits in sizes for r in run(bits, args.quick)]
    setup_after = describe()
    if not args.no_threads and len(cpus) >= 2:
        rows += [thread_speedup(bits, args.quick, cpus) for bits in sizes]
    if args.json:
        report = {
            "benchmark": "paillier",
            "quick": args.quick,
            "clock": "perf_counter" if args.wall else "process_time",
            "single_core": setup,
            "single_core_after": setup_after,
            "default_call": DEFAULT_CALL,
            "results": rows,
        }
        print(json.dumps(report, indent=2))
    else:
        print_table(rows, setup)
        print(
            f"(1-min load average {setup['load_average_1min']:.1f} before, "
            f"{setup_after['load_average_1min']:.1f} after, on {setup['machine_cpus']} CPUs; "
            f"Python threads alive: {setup_after['python_threads_alive']})"
        )


if __name__ == "__main__":
    main()
