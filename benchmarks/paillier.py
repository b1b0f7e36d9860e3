"""Benchmark secagg.paillier against python-paillier (phe, with gmpy2) in one process.

Measures keygen, scalar encrypt / decrypt / add and, for a float vector of ``d`` values,
encrypt, the sum of 100 vectors and decrypt. phe handles one Python object per value, so its
vector figures are measured on a subset and extrapolated per value. Also measures our vector
encryption with one and with two threads.

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

from secagg.paillier import EncryptedVector, generate_keypair
from secagg.paillier.phe_compat import to_phe

# Wall-clock time by default; --cpu-time switches to process CPU time (all threads summed),
# which is robust on a loaded machine but cannot show the gain from a second thread.
CLOCK: Callable[[], float] = time.perf_counter


def per_op(function: Callable[[], Any], repeat: int) -> float:
    """Return seconds per call, best of 3 rounds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(3):
        start = CLOCK()
        for _ in range(repeat):
            function()
        best = min(best, (CLOCK() - start) / repeat)
    return best


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = CLOCK()
    result = function()
    return CLOCK() - start, result


def run(bits: int, quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(name: str, ours: float, peer: float, unit: str = "s/op") -> None:
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
            }
        )

    # Prime search takes a random time: report the mean of several key pairs, alternating.
    keygen_reps = 3 if quick else 12
    ours_times: list[float] = []
    phe_times: list[float] = []
    for _ in range(keygen_reps):
        ours_times.append(timed(lambda: generate_keypair(bits))[0])
        phe_times.append(timed(lambda: phe.generate_paillier_keypair(n_length=bits))[0])
    ours_keygen = sum(ours_times) / keygen_reps
    phe_keygen = sum(phe_times) / keygen_reps
    row("keygen", ours_keygen, phe_keygen, "s/key")

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
    params = {"scale_bits": 16, "value_bits": 24, "max_summands": 128}

    # Best of 3, alternating one and two threads, so that load from other processes hits both.
    enc_runs: list[float] = []
    enc1_runs: list[float] = []
    for _ in range(3):
        seconds, ev = timed(lambda: pk.encrypt_vector(x, workers=2, **params))
        enc_runs.append(seconds)
        enc1_runs.append(timed(lambda: pk.encrypt_vector(x, workers=1, **params))[0])
    enc_s, enc1_s = min(enc_runs), min(enc1_runs)
    phe_enc_s, phe_vec = timed(lambda: [ppk.encrypt(float(v)) for v in x[:subset]])
    row(f"vector encrypt (d={d})", enc_s / d, phe_enc_s / subset, "s/value")

    sum_s, total = timed(lambda: EncryptedVector.sum([ev] * summands))
    phe_vectors = [phe_vec] * summands

    def phe_sum() -> list[Any]:
        acc = list(phe_vectors[0])
        for other in phe_vectors[1:]:
            acc = [a + b for a, b in zip(acc, other, strict=True)]
        return acc

    phe_sum_s, phe_total = timed(phe_sum)
    row(f"sum of {summands} vectors", sum_s / d, phe_sum_s / subset, "s/value")

    dec_s, decoded = timed(lambda: sk.decrypt_vector(total))
    phe_dec_s, _ = timed(lambda: [psk.decrypt(c) for c in phe_total])
    expected = summands * np.rint(x * 2**16) / 2**16
    assert np.array_equal(decoded, expected), "vector sum decoded wrongly"
    row(f"vector decrypt (d={d})", dec_s / d, phe_dec_s / subset, "s/value")

    rows.append(
        {
            "bits": bits,
            "operation": "vector encrypt, 2 threads vs 1",
            "ours_s": enc_s,
            "one_thread_s": enc1_s,
            "speedup": enc1_s / enc_s,
            "slots_per_ciphertext": ev.layout.slots,
            "ciphertexts": len(ev.ciphertexts),
            "fixed_base_table_build_s": table_s,
        }
    )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'bits':>5} {'operation':<32} {'ours/s':>12} {'phe/s':>12} {'ratio':>9}  unit")
    for r in rows:
        if "ratio" in r:
            print(
                f"{r['bits']:>5} {r['operation']:<32} {r['ours_ops_per_s']:>12.1f} "
                f"{r['phe_ops_per_s']:>12.1f} {r['ratio']:>8.1f}x  {r['unit'].replace('s/', '')}"
            )
        else:
            print(
                f"{r['bits']:>5} {r['operation']:<32} 1 thread {r['one_thread_s']:.2f} s, "
                f"2 threads {r['ours_s']:.2f} s: {r['speedup']:.2f}x "
                f"({r['slots_per_ciphertext']} slots/ciphertext; fixed-base table built in "
                f"{r['fixed_base_table_build_s']:.2f} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (< 60 s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--bits", type=int, nargs="*", default=None, help="modulus sizes")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time with process CPU time instead of wall time"
    )
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    sizes = args.bits or ([2048] if args.quick else [2048, 3072])
    load_before = os.getloadavg()[0]
    rows = [r for bits in sizes for r in run(bits, args.quick)]
    load_after = os.getloadavg()[0]
    if args.json:
        report = {
            "benchmark": "paillier",
            "quick": args.quick,
            "clock": "process_time" if args.cpu_time else "perf_counter",
            "cpus": os.cpu_count(),
            "load_average_1min": [load_before, load_after],
            "results": rows,
        }
        print(json.dumps(report, indent=2))
    else:
        print_table(rows)
        print(
            f"(1-min load average {load_before:.1f} before, {load_after:.1f} after, on "
            f"{os.cpu_count()} CPUs: timings from a loaded machine are noisy)"
        )


if __name__ == "__main__":
    main()
