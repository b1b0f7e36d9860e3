"""Benchmark: fedcrypt SecAgg+ masking vs Flower's SecAgg+ primitives vs the AES-CTR limit.

Runs in one process, side by side:

* client masking with k neighbours and d entries: ``Client.masked_input`` (everything: share
  decryption, key agreement, HKDF, PRG, sums) and the bare mask expansion, against Flower's
  ``pseudo_rand_gen`` / ``generate_shared_key`` loop (``flwr.common.secure_aggregation``)
  and against the raw AES-256-CTR keystream of the same size (the limit);
* Shamir split and combine of a 32-byte secret, n = 100, t = 50, against Flower's
  ``create_shares`` / ``combine_shares``;
* key agreement + HKDF per pair: X25519 (ours) against ECDH P-384 (Flower);
* a whole round in one process (n = 100, complete graph, 10% dropping after ShareKeys);
* SecAgg+ (Harary graph, k = 2 ceil(log2 n)) for growing n: per-client cost ~ O(log n);
* ``--scaling``: per-client CPU time of each client step (advertise, share_keys,
  masked_input, consistency, unmask) for n = 100, 1,000, 3,000 with k = 2 ceil(log2 n) and
  small d, in one process, plus ``share_keys`` on the client's roster slice parsed from
  bytes, resumed from saved state, as on a client's own device,
  and ``share_keys`` in a signed round (Ed25519 adverts).

Usage: ``python benchmarks/masking.py [--quick] [--json] [--scaling]`` (run with
``.venv-bench``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from secagg.masking import (
    Client,
    KeyRoster,
    MaskingConfig,
    Server,
    Stage,
    StateKey,
    run_round,
)
from secagg.masking.hazmat import add_prgs, combine, lagrange_weights, pair_mask_key, split

try:  # the peer; present in .venv-bench
    from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares
    from flwr.common.secure_aggregation.crypto.symmetric_encryption import generate_shared_key
    from flwr.common.secure_aggregation.ndarrays_arithmetic import (
        parameters_addition,
        parameters_mod,
        parameters_subtraction,
    )
    from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen
    from flwr.supercore.primitives.asymmetric import generate_key_pairs

    HAVE_FLWR = True
except ImportError:  # pragma: no cover
    HAVE_FLWR = False


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls, in seconds."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# -- client masking ----------------------------------------------------------------------------


def _client_ready_to_mask(k: int, d: int) -> tuple[Client, Any, np.ndarray]:
    """A complete-graph round of k + 1 clients advanced to the masking step of client 0."""
    n = k + 1
    config = MaskingConfig(
        client_ids=tuple(range(n)), threshold=n // 2 + 1, vector_length=d, modulus_bits=32
    )
    server = Server(config)
    clients = [Client(config, i) for i in range(n)]
    rosters = server.collect_keys([c.advertise_keys() for c in clients])
    bundles = server.collect_shares([c.share_keys(rosters[c.client_id]) for c in clients])
    x = np.arange(d, dtype=np.uint32)
    return clients[0], bundles[0], x


def bench_client_masking(k: int, d: int, repeat: int) -> list[dict[str, Any]]:
    rows = []
    ours = math.inf
    for _ in range(repeat):
        client, bundle, x = _client_ready_to_mask(k, d)
        start = time.perf_counter()
        client.masked_input(bundle, x)
        ours = min(ours, time.perf_counter() - start)

    keys = [os.urandom(32) for _ in range(k + 1)]

    def ours_masks() -> None:
        acc = np.arange(d, dtype=np.uint32)
        add_prgs(acc, [(key, 1 if i % 2 else -1) for i, key in enumerate(keys)])

    masks_only = best_of(ours_masks, repeat)

    zeros = bytes(4 * d)
    out = bytearray(4 * d + 15)

    def limit() -> None:
        for key in keys:
            Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update_into(zeros, out)

    aes = best_of(limit, repeat)
    peer = math.nan
    if HAVE_FLWR:
        own_sk, _ = generate_key_pairs()
        peers = [generate_key_pairs()[1] for _ in range(k)]
        seed = os.urandom(32)
        shape = [(d,)]

        def flower() -> None:
            params = [np.arange(d, dtype=np.int64)]
            params = parameters_addition(params, pseudo_rand_gen(seed, 1 << 32, shape))
            for i, pk in enumerate(peers):
                shared = generate_shared_key(own_sk, pk)
                mask = pseudo_rand_gen(shared, 1 << 32, shape)
                if i % 2:
                    params = parameters_addition(params, mask)
                else:
                    params = parameters_subtraction(params, mask)
            parameters_mod(params, 1 << 32)

        peer = best_of(flower, repeat)
    name = f"client masking k={k} d={d:.0e}"
    rows.append(_row(f"{name}: Client.masked_input", ours, peer, aes))
    rows.append(_row(f"{name}: masks only (add_prgs)", masks_only, peer, aes))
    rows.append(_row(f"{name}: AES-CTR keystream limit", aes, peer, aes))
    return rows


# -- Shamir ----------------------------------------------------------------------------------


def bench_shamir(n: int, t: int, repeat: int) -> list[dict[str, Any]]:
    secret = os.urandom(32)
    value = int.from_bytes(secret, "big")
    xs = list(range(1, n + 1))
    shares = split(value, xs, t)
    points = list(zip(xs, shares, strict=True))[:t]
    ours_split = best_of(lambda: split(value, xs, t), repeat)
    ours_combine = best_of(lambda: combine(points, t), repeat)
    weights = lagrange_weights(xs[:t])
    ours_cached = best_of(lambda: combine(points, t, weights=weights), repeat)
    assert combine(points, t) == value
    peer_split = peer_combine = math.nan
    if HAVE_FLWR:
        peer_repeat = max(1, repeat // 3)
        flower_shares = create_shares(secret, t, n)
        assert combine_shares(flower_shares[:t]) == secret
        peer_split = best_of(lambda: create_shares(secret, t, n), peer_repeat)
        peer_combine = best_of(lambda: combine_shares(flower_shares[:t]), peer_repeat)
    return [
        _row(f"Shamir split n={n} t={t}", ours_split, peer_split),
        _row(f"Shamir combine n={n} t={t}", ours_combine, peer_combine),
        _row(f"Shamir combine n={n} t={t}, weights reused", ours_cached, peer_combine),
    ]


# -- key agreement ---------------------------------------------------------------------------


def bench_key_agreement(pairs: int) -> list[dict[str, Any]]:
    mine = X25519PrivateKey.generate()
    theirs = [X25519PrivateKey.generate().public_key() for _ in range(pairs)]
    session = os.urandom(32)

    def ours() -> None:
        for i, pk in enumerate(theirs):
            pair_mask_key(mine.exchange(pk), session, 0, i + 1)

    ours_t = best_of(ours, 3) / pairs
    peer = math.nan
    if HAVE_FLWR:
        sk, _ = generate_key_pairs()
        pks = [generate_key_pairs()[1] for _ in range(pairs)]

        def flower() -> None:
            for pk in pks:
                generate_shared_key(sk, pk)

        peer = best_of(flower, 3) / pairs
    return [_row("key agreement + HKDF per pair", ours_t, peer)]


# -- whole rounds ----------------------------------------------------------------------------


def bench_round(n: int, d: int, neighbours: int | None, drop_fraction: float) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 2**32, size=d, dtype=np.uint64) for _ in range(n)]
    step = round(1 / drop_fraction) if drop_fraction else 0
    drops = dict.fromkeys(range(0, n, step), Stage.MASKED_INPUT) if step else {}
    size = n if neighbours is None else neighbours + 1
    start, cpu = time.perf_counter(), time.process_time()
    result = run_round(x, threshold=size // 2 + 1, neighbours=neighbours, dropouts=drops)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    expected = np.sum([x[i] for i in result.survivors], axis=0) % 2**32
    assert np.array_equal(result.sum, expected)
    graph = "complete" if neighbours is None else f"k={neighbours}"
    row = _row(f"round n={n} d={d:.0e} {graph}, {len(drops)} drop", wall, math.nan)
    row["cpu_s"] = cpu
    row["per_client_ms"] = 1e3 * wall / n
    return row


# -- per-client scaling ----------------------------------------------------------------------

_STEPS = ("advertise", "share_keys", "masked_input", "consistency", "unmask")


def bench_scaling(n: int, d: int, cold_clients: int) -> dict[str, Any]:
    """Mean per-client CPU time (ms) of each client step of one SecAgg+ round of ``n``."""
    k = min(2 * math.ceil(math.log2(n)), n - 1 - (n - 1) % 2)
    config = MaskingConfig(
        client_ids=tuple(range(n)),
        threshold=k // 2 + 1,
        vector_length=d,
        modulus_bits=32,
        neighbours=k,
    )
    clients = [Client(config, i) for i in range(n)]
    server = Server(config)
    cpu = dict.fromkeys(_STEPS, 0.0)

    def timed(step: str, call: Callable[[], Any]) -> Any:
        start = time.process_time()
        out = call()
        cpu[step] += time.process_time() - start
        return out

    roster = server.collect_keys([timed("advertise", c.advertise_keys) for c in clients])
    state_key = StateKey.generate()
    saved = {c.client_id: c.save_state(state_key) for c in clients[:cold_clients]}
    shares = [timed("share_keys", partial(c.share_keys, roster[c.client_id])) for c in clients]
    bundles = server.collect_shares(shares)
    x = np.ones(d, dtype=np.uint32)
    masked = [
        timed("masked_input", partial(c.masked_input, bundles[c.client_id], x)) for c in clients
    ]
    server.collect_masked_inputs(masked)
    answers = [
        timed("consistency", partial(c.consistency_check, server.consistency_request_for(i)))
        for i, c in enumerate(clients)
    ]
    server.collect_consistency(answers)
    result = server.collect_unmask(
        [
            timed("unmask", partial(c.unmask, server.unmask_request_for(i)))
            for i, c in enumerate(clients)
        ]
    )
    assert int(result.sum[0]) == n
    row: dict[str, Any] = {"n": n, "k": k, "d": d}
    row.update({f"{step}_ms": 1e3 * cpu[step] / n for step in _STEPS})
    row["total_ms"] = sum(row[f"{step}_ms"] for step in _STEPS)
    wires = {cid: roster[cid].to_bytes() for cid in saved}
    row["share_keys_cold_ms"] = _cold_share_keys(config, wires, saved, state_key)
    row["share_keys_signed_ms"] = _signed_share_keys(config, cold_clients)
    return row


def _signed_share_keys(plain: MaskingConfig, count: int) -> float:
    """Mean CPU (ms) of ``share_keys`` in a signed round (Ed25519 adverts), ``count`` clients."""
    signers = [Ed25519PrivateKey.generate() for _ in plain.client_ids]
    config = dataclasses.replace(
        plain,
        verify_keys=tuple(
            s.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for s in signers
        ),
    )
    clients = [Client(config, i, signing_key=signers[i]) for i in config.client_ids]
    roster = Server(config).collect_keys([c.advertise_keys() for c in clients])
    start = time.process_time()
    for client in clients[:count]:
        client.share_keys(roster[client.client_id])
    return 1e3 * (time.process_time() - start) / min(count, len(clients))


def _cold_share_keys(
    config: MaskingConfig, wires: dict[int, bytes], saved: dict[int, bytes], key: StateKey
) -> float:
    """Mean CPU (ms) of parsing a client's roster slice from bytes plus ``share_keys``.

    What one client pays on its own device: the clients resume from their state saved right
    after advertising (nothing in :mod:`secagg.masking` is memoised across clients).
    """
    total = 0.0
    for cid, state in saved.items():
        client = Client.load_state(state, config, cid, key=key)
        start = time.process_time()
        client.share_keys(KeyRoster.from_bytes(wires[cid]))
        total += time.process_time() - start
    return 1e3 * total / max(len(saved), 1)


def print_scaling(rows: list[dict[str, Any]]) -> None:
    """The per-client scaling table, each column also as a ratio to the first row."""
    base = rows[0]
    head = f"{'n':>6} {'k':>3} " + " ".join(f"{s:>14}" for s in (*_STEPS, "total"))
    print("per-client CPU (ms), SecAgg+ k = 2 ceil(log2 n), ratio to the first row in ()")
    print(head + f" {'share_keys cold':>16} {'share_keys signed':>18}")
    for row in rows:
        cells = [f"{row['n']:>6} {row['k']:>3}"]
        for step in (*_STEPS, "total"):
            value = row[f"{step}_ms"]
            cells.append(f"{value:6.3f} ({value / base[f'{step}_ms']:.1f}x)".rjust(14))
        cold = row["share_keys_cold_ms"]
        cells.append(f"{cold:7.3f} ({cold / base['share_keys_cold_ms']:.1f}x)".rjust(16))
        signed = row["share_keys_signed_ms"]
        cells.append(f"{signed:7.3f} ({signed / base['share_keys_signed_ms']:.1f}x)".rjust(18))
        print(" ".join(cells))
    ratios = ", ".join(f"{row['k'] / base['k']:.2f}x" for row in rows)
    print(f"k ratio to the first row: {ratios}")


# -- output ----------------------------------------------------------------------------------


def _row(name: str, ours: float, peer: float, limit: float | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "ours_s": ours, "peer_s": peer}
    row["speedup_vs_peer"] = peer / ours if peer == peer else None
    if limit is not None:
        row["ratio_to_aes_limit"] = ours / limit
    return row


def _fmt(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--scaling", action="store_true", help="only the per-client scaling table over n"
    )
    parser.add_argument(
        "--flower-round",
        action="store_true",
        help="only the whole-round comparison on Flower's simulation engine: our workflow vs "
        "Flower's SecAggPlusWorkflow, same n, d and dropouts (benchmarks/flower_round.py)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    if args.flower_round:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import flower_round

        return int(
            flower_round.main([*(["--quick"] if quick else []), *(["--json"] if args.json else [])])
        )
    if args.scaling:
        sizes = (100, 300, 1000) if quick else (100, 1000, 3000)
        scaling = [bench_scaling(n, d=16, cold_clients=10 if quick else 30) for n in sizes]
        if args.json:
            json.dump({"quick": quick, "scaling": scaling}, sys.stdout, indent=1)
            print()
        else:
            print_scaling(scaling)
        return 0
    rows: list[dict[str, Any]] = []
    rows += bench_client_masking(k=100, d=10**5 if quick else 10**6, repeat=2 if quick else 3)
    rows += bench_shamir(n=100, t=50, repeat=5 if quick else 20)
    rows += bench_key_agreement(pairs=100 if quick else 500)
    rows.append(bench_round(100, 10**4 if quick else 10**5, None, 0.1))
    for n in (100, 250) if quick else (100, 250, 500, 1000):
        k = 2 * math.ceil(math.log2(n))
        rows.append(bench_round(n, 10**4 if not quick else 10**3, k, 0.05))
    if args.json:
        json.dump({"quick": quick, "flwr": HAVE_FLWR, "rows": rows}, sys.stdout, indent=1)
        print()
        return 0
    print(f"{'benchmark':<62} {'fedcrypt':>10} {'flwr':>10} {'speedup':>8} {'vs AES':>7}")
    for row in rows:
        speed = row["speedup_vs_peer"]
        extra = row.get("ratio_to_aes_limit")
        print(
            f"{row['name']:<62} {_fmt(row['ours_s']):>10} {_fmt(row['peer_s']):>10} "
            f"{'' if speed is None else f'{speed:.1f}x':>8} "
            f"{'' if extra is None else f'{extra:.2f}x':>7}"
            + (
                f"  cpu {row['cpu_s']:.2f} s, per client {row['per_client_ms']:.1f} ms"
                if "per_client_ms" in row
                else ""
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
