"""Benchmark: validated aggregation (Prio3 over the bounded-L2 circuit, draft-irtf-cfrg-vdaf-07).

For d coordinates of ``bits``-bit signed integers and a squared-norm bound ``B = d * 2^20``
(coordinates of typical size 2^10), one report through the real parties
(:mod:`secagg.validated`), in one process:

* client: ``Client.report`` (encode, share, expand the helper's seed share, prove, seal);
* leader: ``Leader.prepare`` for the one report (parse, query its shares);
* helper: ``Helper.prepare`` (open the sealed share, expand it, query, decide);
* leader: ``finish_prepare`` (decide) and ``collect``;
* upload: the report's bytes against the bare encoded update (``d * bits / 8`` bytes, and
  ``4 d`` bytes, the uint32 words the masking backend sends), and the proof's share of it;
* the soundness error bound (against a client making 2^40 XOF calls);
* for Field64 with 3 proofs (the default configuration) and Field128 with 1 proof.

Usage: ``python benchmarks/validated.py [--quick] [--json] [--sizes 1000,10000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from typing import Any

from secagg.validated import (
    Client,
    Helper,
    HelperKeyPair,
    Leader,
    ValidatedConfig,
    soundness_bound,
)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def measure(d: int, bits: int, repeats: int, field: str) -> dict[str, Any]:
    keys = HelperKeyPair()
    bound = d * 2**20
    proofs = 3 if field == "Field64" else 1
    config = ValidatedConfig(
        length=d,
        bits=bits,
        norm_bound=bound,
        helper_public_key=keys.public,
        field=field,
        proofs=proofs,
    )
    vdaf = config.vdaf
    vk = os.urandom(16)
    half = 1 << 10
    update = [secrets.randbelow(2 * half) - half for _ in range(d)]
    times: dict[str, list[float]] = {k: [] for k in ("client", "leader", "helper", "decide")}
    size = 0
    for _ in range(repeats):
        t, report = _timed(Client(config).report, update)
        times["client"].append(t)
        data = report.to_bytes()
        size = len(data)
        leader, helper = Leader(config, vk), Helper(config, vk, keys)
        t, request = _timed(leader.prepare, [data])
        times["leader"].append(t)
        t, response = _timed(helper.prepare, request.to_bytes())
        times["helper"].append(t)
        t, _ = _timed(leader.finish_prepare, response.to_bytes())
        times["decide"].append(t)
        result = leader.collect(helper.aggregate_share().to_bytes())
        assert result.sum == update, "the round must return the update"
    flp = vdaf.flp
    bare = d * bits // 8
    return {
        "d": d,
        "field": field,
        "proofs": proofs,
        "bits": bits,
        "norm_bound": bound,
        "meas_len": flp.MEAS_LEN,
        "proof_len": flp.PROOF_LEN,
        "client_s": statistics.median(times["client"]),
        "leader_s": statistics.median(times["leader"]),
        "helper_s": statistics.median(times["helper"]),
        "leader_decide_s": statistics.median(times["decide"]),
        "upload_bytes": size,
        "bare_bytes": bare,
        "upload_ratio": size / bare,
        "upload_ratio_vs_uint32": size / (4 * d),
        "proof_bytes": flp.PROOF_LEN * proofs * vdaf.field.ENCODED_SIZE,
        "soundness_log2": soundness_bound(flp.valid, xof_queries=2**40, proofs=proofs).log2,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 10^3 and 10^4 only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--sizes", default="", help="comma-separated d values")
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument(
        "--fields", default="Field64,Field128", help="Field64 (3 proofs) and/or Field128 (1)"
    )
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [10**3, 10**4] if args.quick else [10**3, 10**4, 10**5]
    fields = args.fields.split(",")
    rows = [measure(d, args.bits, 3 if d <= 10**4 else 1, f) for d in sizes for f in fields]
    if args.json:
        meta = {"python": platform.python_version(), "cpus": os.cpu_count()}
        json.dump({"meta": meta, "rows": rows}, sys.stdout, indent=1)
        print()
        return
    print(
        f"{'d':>8} {'client s':>9} {'leader s':>9} {'helper s':>9} {'upload':>10} "
        f"{'x bare':>7} {'x uint32':>8} {'log2 err':>8}"
    )
    for r in rows:
        print(
            f"{r['d']:>8} {r['field']:>9} {r['client_s']:>9.3f} {r['leader_s']:>9.3f} "
            f"{r['helper_s']:>9.3f} "
            f"{r['upload_bytes']:>10} {r['upload_ratio']:>7.1f} "
            f"{r['upload_ratio_vs_uint32']:>8.1f} "
            f"{r['soundness_log2']:>8.1f}"
        )


if __name__ == "__main__":
    main()
