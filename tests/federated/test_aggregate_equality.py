"""The masked aggregate equals the plain aggregate up to the quantisation bound."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federated._aggregation import EncodedContributions, RoundInput, StageTimer
from federated._codecs import FixedPointCodec
from federated._masked import MaskingAggregator
from federated._plain import PlainInsecureAggregator
from federated.config import MaskingSettings, Stage
from federated.errors import InvalidArgument
from federated.server import AggregationServer

CLIP = 1.0
EARLY = [Stage.ADVERTISE_KEYS, Stage.SHARE_KEYS, Stage.MASKED_INPUT]
LATE = [Stage.CONSISTENCY_CHECK, Stage.UNMASK]


@st.composite
def rounds(draw: st.DrawFn) -> tuple[RoundInput, int]:
    n = draw(st.integers(3, 7))
    dimension = draw(st.integers(1, 6))
    threshold = n // 2 + 1
    cohort = tuple(range(n))
    # Up to n - threshold clients drop, each at any stage.
    dropping = draw(st.lists(st.sampled_from(cohort), unique=True, max_size=n - threshold))
    dropouts = {c: draw(st.sampled_from(EARLY + LATE)) for c in dropping}
    contributions = {}
    for c in cohort:
        if dropouts.get(c) in EARLY:
            continue
        raw = np.array(draw(st.lists(st.floats(-1, 1), min_size=dimension, max_size=dimension)))
        norm = float(np.linalg.norm(raw))
        contributions[c] = raw if norm <= CLIP else raw * (CLIP / norm)
    return RoundInput(1, cohort, contributions, dropouts, threshold), dimension


@settings(max_examples=10)
@given(rounds(), st.sampled_from([None, 2]), st.sampled_from([24, 32, 64]))
def test_masked_sum_matches_plain_sum_within_quantisation(
    case: tuple[RoundInput, int], neighbours: int | None, bits: int
) -> None:
    round_input, dimension = case
    n = len(round_input.cohort)
    codec = FixedPointCodec(bits, dimension, n, CLIP)
    settings_ = MaskingSettings(threshold_fraction=0.51, modulus_bits=bits, neighbours=neighbours)
    masked = MaskingAggregator(AggregationServer(), settings_, lambda size: codec)
    plain = PlainInsecureAggregator(AggregationServer(allow_insecure_plaintext=True))
    # The clients encode their own contributions with the round's codec.
    words = {c: codec.encode(v) for c, v in round_input.contributions.items()}
    encoded = replace(round_input, contributions={}, encoded=EncodedContributions(codec, words))
    secure = masked.aggregate(encoded, StageTimer())
    baseline = plain.aggregate(round_input, StageTimer())
    if secure.total is None:
        # Only a sparse graph may fail to rebuild a mask; the complete graph never does
        # with at least the threshold of survivors.
        assert neighbours is not None
        return
    assert baseline.total is not None
    assert secure.survivors == baseline.survivors == tuple(sorted(round_input.contributions))
    bound = len(secure.survivors) * codec.step
    assert np.max(np.abs(secure.total - baseline.total)) <= bound


def test_masking_refuses_contributions_the_clients_did_not_encode() -> None:
    round_input = RoundInput(1, (0, 1, 2), {c: np.zeros(2) for c in range(3)}, {}, 2)
    codec = FixedPointCodec(32, 2, 3, CLIP)
    masked = MaskingAggregator(AggregationServer(), MaskingSettings(), lambda size: codec)
    with pytest.raises(InvalidArgument, match="encoded"):
        masked.aggregate(round_input, StageTimer())
