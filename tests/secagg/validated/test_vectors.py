"""The published test vectors of draft-irtf-cfrg-vdaf-07 (tests/vectors/vdaf07/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secagg.validated import Field128, Prio3, prio3_count, prio3_histogram, prio3_sum, prio3_sumvec
from secagg.validated.hazmat import XofShake128

VECTORS = Path(__file__).parents[2] / "vectors" / "vdaf07"


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text())


def test_xof_shake128() -> None:
    v = _load("XofShake128")
    seed, dst, binder = (bytes.fromhex(v[k]) for k in ("seed", "dst", "binder"))
    assert XofShake128.derive_seed(seed, dst, binder).hex() == v["derived_seed"]
    vec = XofShake128.expand_into_vec(Field128, seed, dst, binder, v["length"])
    assert Field128.encode_vec(vec).hex() == v["expanded_vec_field128"]


def _vdaf(name: str, v: dict[str, Any]) -> Prio3:
    shares = v["shares"]
    if name.startswith("Prio3Count"):
        return prio3_count(shares)
    if name.startswith("Prio3SumVec"):
        return prio3_sumvec(v["length"], v["bits"], v["chunk_length"], shares)
    if name.startswith("Prio3Sum"):
        return prio3_sum(v["bits"], shares)
    return prio3_histogram(v["length"], v["chunk_length"], shares)


NAMES = [f"Prio3{kind}_{i}" for kind in ("Count", "Sum", "SumVec", "Histogram") for i in range(2)]


@pytest.mark.parametrize("name", NAMES)
def test_prio3(name: str) -> None:
    v = _load(name)
    vdaf = _vdaf(name, v)
    verify_key = bytes.fromhex(v["verify_key"])
    out_shares: list[list[Any]] = [[] for _ in range(vdaf.SHARES)]
    for report in v["prep"]:
        nonce, rand = bytes.fromhex(report["nonce"]), bytes.fromhex(report["rand"])
        public, inputs = vdaf.shard(report["measurement"], nonce, rand)
        assert vdaf.encode_public_share(public).hex() == report["public_share"]
        encoded = [vdaf.encode_input_share(s).hex() for s in inputs]
        assert encoded == report["input_shares"]
        # The aggregators work from the decoded wire bytes, as they would in deployment.
        public = vdaf.decode_public_share(bytes.fromhex(report["public_share"]))
        inputs = [
            vdaf.decode_input_share(j, bytes.fromhex(s))
            for j, s in enumerate(report["input_shares"])
        ]
        states, prep_shares = [], []
        for j, share in enumerate(inputs):
            state, prep_share = vdaf.prep_init(verify_key, j, nonce, public, share)
            states.append(state)
            prep_shares.append(prep_share)
        assert [vdaf.encode_prep_share(s).hex() for s in prep_shares] == report["prep_shares"][0]
        decoded = [vdaf.decode_prep_share(bytes.fromhex(s)) for s in report["prep_shares"][0]]
        message = vdaf.prep_shares_to_prep(decoded)
        assert vdaf.encode_prep_message(message).hex() == report["prep_messages"][0]
        for j, state in enumerate(states):
            out = vdaf.prep_next(state, message)
            size = vdaf.field.ENCODED_SIZE
            enc = vdaf.field.encode_vec(out)
            assert [enc[k : k + size].hex() for k in range(0, len(enc), size)] == report[
                "out_shares"
            ][j]
            out_shares[j].append(out)
    agg_shares = [vdaf.aggregate(o) for o in out_shares]
    assert [vdaf.encode_agg_share(a).hex() for a in agg_shares] == v["agg_shares"]
    assert vdaf.unshard(agg_shares, len(v["prep"])) == v["agg_result"]
