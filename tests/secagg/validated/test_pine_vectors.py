"""The published test vectors of draft-chen-cfrg-vdaf-pine (tests/vectors/pine01/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# The draft's XOF is TurboSHAKE128 (pycryptodome, in the dev extra): the vectors always run.
from Crypto.Hash import TurboSHAKE128  # noqa: F401

from secagg.validated import Field64, Field128, Pine, PineValid

VECTORS = Path(__file__).parents[2] / "vectors" / "pine01"
NAMES = [f"Pine{bits}_{i}" for bits in (64, 128) for i in range(4)]


def _vdaf(v: dict[str, Any]) -> Pine:
    field = Field64 if v["field"] == "Field64" else Field128
    valid = PineValid(
        field,
        v["dimension"],
        v["l2_norm_bound"] ** 2,
        v["chunk_length"],
        alpha=v["alpha"],
        num_wr_checks=v["num_wr_checks"],
        num_wr_successes=v["num_wr_successes"],
    )
    return Pine(
        valid,
        0xFFFFFFFF,  # the reference's test id (poc/vdaf_pine.py, Pine.ID)
        v["shares"],
        v["proofs"],
        v["proofs_norm_equality"],
        norm_chunk_length=v["chunk_length_norm_equality"],
        draft_xof=True,
    )


@pytest.mark.parametrize("name", NAMES)
def test_pine(name: str) -> None:
    v = json.loads((VECTORS / f"{name}.json").read_text())
    vdaf = _vdaf(v)
    field = vdaf.field
    verify_key = bytes.fromhex(v["verify_key"])
    out_shares: list[list[Any]] = [[] for _ in range(vdaf.SHARES)]
    for report in v["prep"]:
        measurement = [round(x * 2 ** v["num_frac_bits"]) for x in report["measurement"]]
        nonce, rand = bytes.fromhex(report["nonce"]), bytes.fromhex(report["rand"])
        public, shares = vdaf.shard(measurement, nonce, rand)
        assert vdaf.encode_public_share(public).hex() == report["public_share"]
        assert [vdaf.encode_input_share(s).hex() for s in shares] == report["input_shares"]
        states, prep_shares = [], []
        for j in range(vdaf.SHARES):
            share = vdaf.decode_input_share(j, bytes.fromhex(report["input_shares"][j]))
            state, prep_share = vdaf.prep_init(
                verify_key,
                j,
                nonce,
                vdaf.decode_public_share(bytes.fromhex(report["public_share"])),
                share,
            )
            assert vdaf.encode_prep_share(prep_share).hex() == report["prep_shares"][0][j]
            states.append(state)
            prep_shares.append(prep_share)
        message = vdaf.prep_shares_to_prep(prep_shares)
        assert message is not None
        assert message.hex() == report["prep_messages"][0]
        for j, state in enumerate(states):
            out = vdaf.prep_next(state, message)
            assert [field.encode_vec(field.vec([x])).hex() for x in field.to_ints(out)] == (
                report["out_shares"][j]
            )
            out_shares[j].append(out)
    agg_shares = [vdaf.aggregate(s) for s in out_shares]
    assert [vdaf.encode_agg_share(a).hex() for a in agg_shares] == v["agg_shares"]
    result = vdaf.unshard(agg_shares, len(v["prep"]))
    assert [x / 2 ** v["num_frac_bits"] for x in result] == v["agg_result"]
