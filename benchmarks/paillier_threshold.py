"""Benchmark threshold decryption (secagg.paillier.threshold) against single-key decryption.

No peer library offers threshold Paillier, so the reference is what threshold decryption
replaces: python-paillier (phe, with gmpy2) decrypting with the whole private key, in the same
process. ``ratio`` = phe seconds / ours seconds (below 1: threshold decryption costs more).

Like for like: the process is pinned to one CPU (our default ``workers`` is then 1; phe is
single-threaded) and times are process CPU time; ``--wall`` switches to wall time. The
aggregate is encrypted with the default call ``encrypt_vector(x, scale_bits=16,
max_summands=100)`` (18-bit values, 81 per 2048-bit ciphertext).

Measured, for n = 5, 10, 20 key holders with t = n // 2 + 1, at 2048 and 3072 bits:
dealer key generation (safe primes dominate; every run is reported, not the best), partial
decryption with its proof per ciphertext, verification of one share, combination of t shares,
and the whole committee's cost per value for a packed aggregate of 100,000 floats (the sum of
100 clients' vectors). ``--quick`` runs 2048 bits only, n = 5 and 10, a 5,000-float aggregate
and single timing rounds (< 60 s on an idle machine).

    .venv-bench/bin/python benchmarks/paillier_threshold.py --quick
    .venv-bench/bin/python benchmarks/paillier_threshold.py --json
    .venv-bench/bin/python benchmarks/paillier_threshold.py --bits 2048 --committees 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import phe

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cores import describe, single_core

from secagg.paillier import EncryptedVector
from secagg.paillier import _threshold_math as tmath
from secagg.paillier._threshold_keys import keys_from_dealt
from secagg.paillier.threshold import (
    combine_shares,
    combine_vector_shares,
    verify_decryption_share,
    verify_vector_share,
)

ROUNDS = 3
# Process CPU time on one core (see _cores.py); --wall switches to wall time.
CLOCK: Callable[[], float] = time.process_time
THREADS = 1


def per_op(function: Callable[[], Any], repeat: int) -> float:
    """Seconds per call, best of ``ROUNDS`` rounds of ``repeat`` calls."""
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


def keygen_rows(bits: int, runs: int) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Time safe-prime moduli (every run) against phe's ordinary keygen."""
    times, primes = [], None
    for _ in range(runs):
        elapsed, primes = timed(lambda: tmath.generate_safe_modulus(bits))
        times.append(elapsed)
    phe_times = [timed(lambda: phe.generate_paillier_keypair(n_length=bits))[0] for _ in range(3)]
    assert primes is not None
    row = {
        "bits": bits,
        "operation": "keygen: safe-prime modulus",
        "ours_s": statistics.median(times),
        "ours_runs_s": times,
        "phe_s": statistics.median(phe_times),
        "ratio": statistics.median(phe_times) / statistics.median(times),
        "unit": "s/key",
    }
    return [row], primes


def committee_rows(bits: int, primes: tuple[int, int], n_parties: int) -> list[dict[str, Any]]:
    threshold = n_parties // 2 + 1
    deal_s, dealt = timed(lambda: tmath.deal_from_primes(*primes, n_parties, threshold))
    keys = keys_from_dealt(dealt, allow_insecure=False)
    public_key = keys.public_key
    phe_public = phe.paillier.PaillierPublicKey(public_key.n)
    phe_private = phe.paillier.PaillierPrivateKey(phe_public, *primes)
    phe_ct = phe_public.encrypt(123456789)
    phe_decrypt = per_op(lambda: phe_private.decrypt(phe_ct), 20)

    ct = public_key.encrypt(123456789)
    holder = keys.shares[0]
    reps = 2 if ROUNDS == 1 else 5
    partial = per_op(lambda: holder.partial_decrypt(ct), reps)
    shares = [s.partial_decrypt(ct) for s in keys.shares[:threshold]]
    verify = per_op(lambda: verify_decryption_share(keys.verification, ct, shares[0]), reps)
    values = {s.holder: s.value for s in shares}
    combine = per_op(lambda: tmath.combine(values, public_key.n, keys.verification.delta), reps)
    whole = per_op(lambda: combine_shares(keys.verification, ct, shares), 1)
    assert combine_shares(keys.verification, ct, shares).plaintext == 123456789

    def row(name: str, ours: float, unit: str = "s/ciphertext") -> dict[str, Any]:
        return {
            "bits": bits,
            "n_parties": n_parties,
            "threshold": threshold,
            "operation": name,
            "ours_s": ours,
            "phe_s": phe_decrypt,
            "ratio": phe_decrypt / ours,
            "unit": unit,
        }

    return [
        {**row("deal shares (given primes)", deal_s, "s/key"), "phe_s": None, "ratio": None},
        row("partial decrypt + proof", partial),
        row("verify one share", verify),
        row("combine t shares", combine),
        row("decrypt: verify t + combine", whole),
    ]


def vector_rows(bits: int, primes: tuple[int, int], n_parties: int, d: int) -> list[dict[str, Any]]:
    """Committee cost per value of a packed aggregate of ``d`` floats (sum of 100 clients)."""
    threshold = n_parties // 2 + 1
    keys = keys_from_dealt(
        tmath.deal_from_primes(*primes, n_parties, threshold), allow_insecure=False
    )
    public_key = keys.public_key
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=d)
    params: dict[str, Any] = {"scale_bits": 16, "max_summands": 100}  # the default call
    total = EncryptedVector.sum([public_key.encrypt_vector(x, **params)] * 100)
    count = len(total.ciphertexts)

    partial_s, shares = timed(
        lambda: [s.partial_decrypt_vector(total) for s in keys.shares[:threshold]]
    )
    verify_s, _ = timed(lambda: [verify_vector_share(keys.verification, total, s) for s in shares])
    result = combine_vector_shares(keys.verification, total, shares)
    expected = 100 * np.rint(x * 2**16) / 2**16
    assert np.array_equal(result.values, expected), "threshold vector decrypted wrongly"
    # The combination alone (combine_vector_shares also verifies every share first).
    values = {s.holder: s.values for s in shares}
    combine_s, _ = timed(
        lambda: total.decode(
            tmath.combine_many(values, public_key.n, keys.verification.delta, THREADS)
        )
    )

    phe_public = phe.paillier.PaillierPublicKey(public_key.n)
    phe_private = phe.paillier.PaillierPrivateKey(phe_public, *primes)
    subset = [phe_public.encrypt(float(v)) for v in x[:50]]
    phe_per_value = per_op(lambda: [phe_private.decrypt(c) for c in subset], 1) / len(subset)

    def row(name: str, seconds: float) -> dict[str, Any]:
        return {
            "bits": bits,
            "n_parties": n_parties,
            "threshold": threshold,
            "operation": name,
            "ours_s": seconds / d,
            "phe_s": phe_per_value,
            "ratio": phe_per_value / (seconds / d),
            "unit": "s/value",
            "values": d,
            "ciphertexts": count,
        }

    return [
        row(f"vector: t partial decrypts (d={d})", partial_s),
        row(f"vector: verify t shares (d={d})", verify_s),
        row(f"vector: combine + decode (d={d})", combine_s),
        row(f"vector: whole committee (d={d})", partial_s + verify_s + combine_s),
    ]


def print_header(wall: bool, setup: dict[str, Any]) -> None:
    clock = "wall time" if wall else "process CPU time"
    print(
        f"one core (CPU {setup['cpus_allowed']}, our workers = {setup['our_default_workers']}), "
        f"{clock}; phe = single-key decryption (no threshold); ratio = phe / ours"
    )
    print(f"{'bits':>5} {'l':>3} {'t':>3} {'operation':<40} {'ours':>11} {'phe':>11} {'ratio':>8}")


def print_rows(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        phe_s = "-" if r.get("phe_s") is None else f"{r['phe_s'] * 1e3:9.3f}ms"
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:7.3f}x"
        print(
            f"{r['bits']:>5} {r.get('n_parties', '-'):>3} {r.get('threshold', '-'):>3} "
            f"{r['operation']:<40} {r['ours_s'] * 1e3:9.3f}ms {phe_s:>11} {ratio:>8}  {r['unit']}"
        )
        if "ours_runs_s" in r:
            runs = ", ".join(f"{t:.1f}" for t in r["ours_runs_s"])
            print(f"{'':>13}safe-prime keygen runs (s): {runs}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 bits, l <= 10, d = 5k")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--committees", type=int, nargs="*", default=None, help="sizes l")
    parser.add_argument("--bits", type=int, nargs="*", default=None, help="modulus sizes")
    parser.add_argument("--values", type=int, default=None, help="floats in the aggregate")
    parser.add_argument("--keygen-runs", type=int, default=None, help="safe-prime keygen runs")
    args = parser.parse_args()
    sizes = args.bits or ([2048] if args.quick else [2048, 3072])
    committees = args.committees or ([5, 10] if args.quick else [5, 10, 20])
    d = args.values or (5_000 if args.quick else 100_000)
    keygen_runs = args.keygen_runs or (1 if args.quick else 3)
    global ROUNDS, CLOCK
    ROUNDS = 1 if args.quick else 3
    CLOCK = time.perf_counter if args.wall else time.process_time
    setup = single_core()
    rows: list[dict[str, Any]] = []

    def emit(new: list[dict[str, Any]]) -> None:
        rows.extend(new)
        if not args.json:
            print_rows(new)

    if not args.json:
        print_header(args.wall, setup)
    for bits in sizes:
        keygen, primes = keygen_rows(bits, keygen_runs)
        emit(keygen)
        for n_parties in committees:
            emit(committee_rows(bits, primes, n_parties))
        emit(vector_rows(bits, primes, 5, d))
    if args.json:
        clock = "wall" if args.wall else "cpu"
        output = {
            "benchmark": "paillier_threshold",
            "quick": args.quick,
            "clock": clock,
            "single_core": setup,
            "single_core_after": describe(),
        }
        print(json.dumps({**output, "results": rows}))


if __name__ == "__main__":
    main()
