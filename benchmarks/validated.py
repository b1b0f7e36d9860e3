"""Benchmark: validated aggregation (PINE and the bit-decomposed circuit, on Prio3 draft 07).

For d coordinates of ``bits``-bit signed integers and a squared-norm bound ``B = d * 2^20``
(coordinates of typical size 2^10), one report through the real parties
(:mod:`secagg.validated`), in one process:

* client: ``Client.report`` (encode, share, expand the helper's seed share, wraparound tests,
  prove, seal);
* leader: ``Leader.prepare`` for the one report (parse, wraparound dot products, query);
* helper: ``Helper.prepare`` (open the sealed share, expand it, dot products, query, decide);
* leader: ``finish_prepare`` (decide) and ``collect``;
* upload: the report's bytes against the bare encoded update (``d * bits / 8`` bytes) and
  against one vector of field elements (``d * ENCODED_SIZE`` bytes), and the proofs' share;
* the soundness error bound (against a client making 2^40 XOF calls);
* for each circuit ("pine", the default, and "bits", draft 07's bit-decomposed bounded-L2)
  and field (Field64 with 3 proofs, the default, and Field128 with 1).

Every time is given as wall-clock seconds and as CPU seconds of this process
(``time.process_time``: all threads), with the BLAS thread count fixed by ``--threads``
(default 1; the only multithreaded step is PINE's float32 matrix product of the wraparound
tests). A whole round of 100 clients (``--round-clients``; none with ``--quick``) at
``min(max(sizes), 10^5)`` is compared with a SecAgg+ masking round of the same workload
(``benchmarks/masking.py``'s ``bench_round``: complete graph would be n^2, so k = 2 ceil(log2
n) neighbours, no dropouts, 32-bit ring).

Usage: ``python benchmarks/validated.py [--quick] [--json] [--sizes 1000,100000]
[--circuits pine,bits] [--fields Field64,Field128] [--round-clients 100] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def _timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    cpu, start = time.process_time(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu, out


def _update(d: int) -> list[int]:
    half = 1 << 10
    return [secrets.randbelow(2 * half) - half for _ in range(d)]


def _config(d: int, bits: int, field: str, circuit: str, public: bytes) -> Any:
    from secagg.validated import ValidatedConfig

    return ValidatedConfig(
        length=d,
        bits=bits,
        norm_bound=d * 2**20,
        helper_public_key=public,
        field=field,
        proofs=3 if field == "Field64" else 1,
        circuit=circuit,
    )


def measure(d: int, bits: int, repeats: int, field: str, circuit: str) -> dict[str, Any]:
    from secagg.validated import Client, Helper, HelperKeyPair, Leader

    keys = HelperKeyPair()
    config = _config(d, bits, field, circuit, keys.public)
    vdaf = config.vdaf
    update = _update(d)
    names = ("client", "leader", "helper", "decide")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    size = 0
    for _ in range(repeats):
        vk = os.urandom(16)
        w, c, report = _timed(Client(config).report, update)
        wall["client"].append(w)
        cpu["client"].append(c)
        data = report.to_bytes()
        size = len(data)
        leader, helper = Leader(config, vk), Helper(config, vk, keys, min_batch_size=0)
        w, c, request = _timed(leader.prepare, [data])
        wall["leader"].append(w)
        cpu["leader"].append(c)
        w, c, response = _timed(helper.prepare, request.to_bytes())
        wall["helper"].append(w)
        cpu["helper"].append(c)
        w, c, _ = _timed(leader.finish_prepare, response.to_bytes())
        wall["decide"].append(w)
        cpu["decide"].append(c)
        result = leader.collect(helper.aggregate_share().to_bytes())
        assert result.sum == update, "the round must return the update"
    bare = d * bits // 8
    vector = d * vdaf.field.ENCODED_SIZE
    if circuit == "pine":
        shared, proof = vdaf.SHARED_LEN, vdaf.proof_elements
    else:
        shared, proof = vdaf.flp.MEAS_LEN, vdaf.flp.PROOF_LEN * vdaf.PROOFS
    row: dict[str, Any] = {
        "d": d,
        "circuit": circuit,
        "field": field,
        "proofs": config.proofs,
        "norm_proofs": config.norm_proofs,
        "bits": bits,
        "norm_bound": config.norm_bound,
        "meas_len": shared,
        "proof_len": proof,
        "upload_bytes": size,
        "bare_bytes": bare,
        "field_vector_bytes": vector,
        "upload_ratio": size / bare,
        "upload_ratio_vs_field_vector": size / vector,
        "proof_bytes": proof * vdaf.field.ENCODED_SIZE,
        "soundness_log2": config.soundness.log2,
        "repeats": repeats,
    }
    for k in names:
        row[f"{k}_s"] = statistics.median(wall[k])
        row[f"{k}_cpu_s"] = statistics.median(cpu[k])
    return row


def measure_round(n: int, d: int, bits: int, field: str, circuit: str) -> dict[str, Any]:
    """A whole round of ``n`` clients (each report made here, one after the other)."""
    from secagg.validated import Client, Helper, HelperKeyPair, Leader

    keys = HelperKeyPair()
    config = _config(d, bits, field, circuit, keys.public)
    updates = [_update(d) for _ in range(n)]
    vk = os.urandom(16)
    w_c, c_c, reports = _timed(lambda: [Client(config).report(u).to_bytes() for u in updates])
    leader, helper = Leader(config, vk), Helper(config, vk, keys, min_batch_size=0)
    w_l, c_l, request = _timed(leader.prepare, reports)
    w_h, c_h, response = _timed(helper.prepare, request.to_bytes())
    w_d, c_d, _ = _timed(leader.finish_prepare, response.to_bytes())
    w_a, c_a, result = _timed(lambda: leader.collect(helper.aggregate_share().to_bytes()))
    assert result.sum == [sum(c) for c in zip(*updates, strict=True)]
    return {
        "n": n,
        "d": d,
        "circuit": circuit,
        "field": field,
        "clients_total_s": w_c,
        "clients_total_cpu_s": c_c,
        "per_client_s": w_c / n,
        "leader_s": w_l + w_d + w_a,
        "leader_cpu_s": c_l + c_d + c_a,
        "helper_s": w_h,
        "helper_cpu_s": c_h,
        "aggregators_per_client_s": (w_l + w_d + w_a + w_h) / n,
        "whole_round_cpu_s": c_c + c_l + c_d + c_a + c_h,
        "upload_bytes_total": sum(len(r) for r in reports),
        "leader_to_helper_bytes": len(request.to_bytes()),
        "helper_to_leader_bytes": len(response.to_bytes()),
    }


def masking_round(n: int, d: int) -> dict[str, Any]:
    """SecAgg+ masking of the same workload, via benchmarks/masking.py's ``bench_round``."""
    path = Path(__file__).with_name("masking.py")
    spec = importlib.util.spec_from_file_location("_bench_masking", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    k = min(2 * math.ceil(math.log2(n)), n - 1 - (n - 1) % 2)  # even, below n
    row: dict[str, Any] = module.bench_round(n, d, k, 0.0)
    row["neighbours"] = k
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 10^3 and 10^4 only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--sizes", default="", help="comma-separated d values")
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument("--circuits", default="pine", help="pine and/or bits")
    parser.add_argument(
        "--fields", default="Field64,Field128", help="Field64 (3 proofs) and/or Field128 (1)"
    )
    parser.add_argument(
        "--round-clients", type=int, default=None, help="whole round of n (default 100; 0: none)"
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy loads (secagg imports it lazily here)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5, 10**6]
    fields = args.fields.split(",")
    circuits = args.circuits.split(",")
    rows = [
        measure(d, args.bits, 3 if d <= 10**4 else 1, f, c)
        for c in circuits
        for d in sizes
        for f in fields
        if not (c == "bits" and d > 10**5)  # the bit-decomposed circuit: minutes at 10^6
        and not (f == "Field128" and d > 10**5)
    ]
    rounds: list[dict[str, Any]] = []
    n_round = args.round_clients
    if n_round is None:
        n_round = 0 if args.quick else 100
    if n_round:
        n, d = n_round, min(max(sizes), 10**5)
        rounds.append(measure_round(n, d, args.bits, fields[0], circuits[0]))
        rounds.append(masking_round(n, d))
    meta = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "blas_threads": args.threads,
        "load_average": os.getloadavg(),
    }
    if args.json:
        json.dump({"meta": meta, "rows": rows, "rounds": rounds}, sys.stdout, indent=1)
        print()
        return
    print(f"# {meta}")
    print(
        f"{'d':>8} {'circuit':>7} {'field':>8} {'client s':>9} {'(cpu)':>7} {'leader s':>9} "
        f"{'(cpu)':>7} {'helper s':>9} {'(cpu)':>7} {'upload':>10} {'x bare':>7} "
        f"{'x vector':>8} {'log2 err':>8}"
    )
    for r in rows:
        print(
            f"{r['d']:>8} {r['circuit']:>7} {r['field']:>8} {r['client_s']:>9.3f} "
            f"{r['client_cpu_s']:>7.3f} {r['leader_s']:>9.3f} {r['leader_cpu_s']:>7.3f} "
            f"{r['helper_s']:>9.3f} {r['helper_cpu_s']:>7.3f} {r['upload_bytes']:>10} "
            f"{r['upload_ratio']:>7.2f} {r['upload_ratio_vs_field_vector']:>8.3f} "
            f"{r['soundness_log2']:>8.1f}"
        )
    for r in rounds:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
