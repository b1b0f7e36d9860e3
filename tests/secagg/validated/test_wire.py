"""Wire fuzzing: mutated messages raise typed errors only, and never corrupt a round.

Every message kind is mutated (bit flips, truncation, extension, splices of random bytes);
parsing either succeeds or raises DeserializationError, and a party fed the mutant either
rejects reports with a reason or raises one of fedcrypt's own errors, never anything else.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import DeserializationError, SecAggError
from secagg.validated import (
    AggregateShare,
    Client,
    Helper,
    HelperKeyPair,
    Leader,
    PrepareRequest,
    PrepareResponse,
    Report,
    ValidatedConfig,
)

KEYS = HelperKeyPair()
CONFIG = ValidatedConfig(length=4, bits=6, norm_bound=200, helper_public_key=KEYS.public)
VERIFY_KEY = os.urandom(16)
UPDATES = [[1, -2, 3, 0], [5, 5, -5, 0]]


def _round() -> dict[str, bytes]:
    reports = [Client(CONFIG).report(u) for u in UPDATES]
    leader, helper = Leader(CONFIG, VERIFY_KEY), Helper(CONFIG, VERIFY_KEY, KEYS, min_batch_size=0)
    request = leader.prepare(reports)
    response = helper.prepare(request)
    leader.finish_prepare(response)
    return {
        "report": reports[0].to_bytes(),
        "request": request.to_bytes(),
        "response": response.to_bytes(),
        "aggregate": helper.aggregate_share().to_bytes(),
    }


GOOD = _round()
PARSERS: dict[str, Any] = {
    "report": Report.from_bytes,
    "request": PrepareRequest.from_bytes,
    "response": PrepareResponse.from_bytes,
    "aggregate": AggregateShare.from_bytes,
}


@st.composite
def mutants(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if kind == "flip":
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1 :]
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "extend":
        return data + draw(st.binary(min_size=1, max_size=8))
    i = draw(st.integers(0, len(data)))
    return data[:i] + draw(st.binary(max_size=8)) + data[i + draw(st.integers(0, 8)) :]


@pytest.mark.parametrize("name", list(PARSERS))
@settings(max_examples=40)
@given(data=st.data())
def test_parsers_raise_only_deserialization_errors(name: str, data: st.DataObject) -> None:
    mutant = data.draw(mutants(GOOD[name]))
    with contextlib.suppress(DeserializationError):
        PARSERS[name](mutant)


@pytest.mark.parametrize("name", list(PARSERS))
def test_round_trips(name: str) -> None:
    assert PARSERS[name](GOOD[name]).to_bytes() == GOOD[name]
    with pytest.raises(DeserializationError):
        PARSERS[name](GOOD[name] + b"\x00")
    with pytest.raises(DeserializationError):
        PARSERS[name]("not bytes")


@settings(max_examples=15)
@given(data=st.data())
def test_parties_fed_mutants_reject_or_raise_typed_errors(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(list(PARSERS)))
    mutant = data.draw(mutants(GOOD[name]))
    honest = [Client(CONFIG).report(u) for u in UPDATES]
    leader, helper = Leader(CONFIG, VERIFY_KEY), Helper(CONFIG, VERIFY_KEY, KEYS, min_batch_size=0)
    try:
        if name == "report":
            request = leader.prepare([*honest, mutant])
            leader.finish_prepare(helper.prepare(request))
            result = leader.collect(helper.aggregate_share())
            # The honest reports are always in the sum, whatever the mutant did.
            assert len(result.accepted) >= len(UPDATES)
        elif name == "request":
            helper.prepare(mutant)
        elif name == "response":
            leader.prepare(honest)
            leader.finish_prepare(mutant)
        else:
            request = leader.prepare(honest)
            leader.finish_prepare(helper.prepare(request))
            leader.collect(mutant)
    except SecAggError:
        pass
