"""Aggregators can leave memory between calls: save_state / load_state round trips."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg.errors import DeserializationError
from secagg.validated import (
    Client,
    Helper,
    HelperKeyPair,
    Leader,
    RejectReason,
    ValidatedConfig,
    WrongSession,
)

KEYS = HelperKeyPair()
CONFIG = ValidatedConfig(length=4, bits=6, norm_bound=200, helper_public_key=KEYS.public)
VK = os.urandom(16)


def test_a_round_through_saved_states_equals_a_direct_round() -> None:
    updates = [[1, 2, 3, 4], [-5, 0, 5, 1], [0, 0, 0, -1]]
    reports = [Client(CONFIG).report(u).to_bytes() for u in updates]
    reports.append(reports[1])  # a replay, so the state carries a rejection
    leader = Leader(CONFIG, VK)
    request = leader.prepare(reports)
    leader = Leader.load_state(leader.save_state(), CONFIG, VK)
    helper = Helper.load_state(
        Helper(CONFIG, VK, KEYS, min_batch_size=0).save_state(), CONFIG, VK, KEYS
    )
    response = helper.prepare(request.to_bytes())
    helper = Helper.load_state(helper.save_state(), CONFIG, VK, KEYS, min_batch_size=0)
    leader.finish_prepare(response)
    leader = Leader.load_state(leader.save_state(), CONFIG, VK)
    result = leader.collect(helper.aggregate_share())
    assert result.sum == [sum(c) for c in zip(*updates, strict=True)]
    assert [r.reason for r in result.rejected] == [RejectReason.REPLAYED]
    assert leader.seen_nonces == helper.seen_nonces


def test_state_of_another_round_is_refused() -> None:
    leader = Leader(CONFIG, VK)
    leader.prepare([Client(CONFIG).report([0, 0, 0, 0])])
    with pytest.raises(WrongSession):
        Leader.load_state(leader.save_state(), replace(CONFIG, round_number=3), VK)
    with pytest.raises(DeserializationError):
        Helper.load_state(leader.save_state(), CONFIG, VK, KEYS, min_batch_size=0)


@settings(max_examples=30)
@given(data=st.data())
def test_mutated_state_raises_only_typed_errors(data: st.DataObject) -> None:
    leader = Leader(CONFIG, VK)
    leader.prepare([Client(CONFIG).report([1, 1, 1, 1])])
    state = leader.save_state()
    i = data.draw(st.integers(0, len(state) - 1))
    mutant = data.draw(
        st.sampled_from(
            [
                state[:i],
                state[:i] + bytes([state[i] ^ 0x40]) + state[i + 1 :],
                state + b"\x01",
            ]
        )
    )
    # The state is sealed: every change is refused, with a typed error.
    with pytest.raises(DeserializationError):
        Leader.load_state(mutant, CONFIG, VK)


def test_a_flipped_bit_in_the_aggregate_share_never_gives_a_wrong_sum() -> None:
    helper = Helper(CONFIG, VK, KEYS, min_batch_size=0)
    leader = Leader(CONFIG, VK)
    reports = [Client(CONFIG).report([1, 2, 3, 4]).to_bytes()]
    response = helper.prepare(leader.prepare(reports).to_bytes())
    leader.finish_prepare(response)
    state = bytearray(leader.save_state())
    for position in range(len(state)):
        mutant = (
            bytes(state[:position]) + bytes([state[position] ^ 1]) + bytes(state[position + 1 :])
        )
        with pytest.raises(DeserializationError):
            Leader.load_state(mutant, CONFIG, VK)
    with pytest.raises(DeserializationError):  # another verification key
        Leader.load_state(bytes(state), CONFIG, os.urandom(16))
    with pytest.raises(DeserializationError):  # the leader's state offered as the helper's
        Helper.load_state(bytes(state), CONFIG, VK, KEYS, min_batch_size=0)
