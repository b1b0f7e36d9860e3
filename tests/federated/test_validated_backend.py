"""The validated backend's pieces: the fixed-point grid and its bound, the aggregators' noise,
forged reports, rejection bookkeeping and the helper's minimum batch."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp.mechanisms.clipping import clip_l2_unchecked
from federated._aggregation import RoundInput, StageTimer
from federated._validated import (
    AggregatorNoise,
    BoundedEncoding,
    SimulatedHelper,
    ValidatedAggregator,
    client_report,
)
from federated.config import ValidatedSettings
from federated.errors import InvalidArgument
from federated.server import AggregationServer
from secagg.validated import Helper, HelperKeyPair, Leader, RejectReason, ValidatedConfig

SETTINGS = ValidatedSettings(bits=12)
REFUSED = (RejectReason.INVALID, RejectReason.JOINT_RAND)
"""A forged report's proof fails, or its joint randomness no longer matches its shares."""


def _round(
    contributions: dict[int, np.ndarray], threshold: int = 1, round_number: int = 1
) -> RoundInput:
    return RoundInput(round_number, tuple(sorted(contributions)), contributions, {}, threshold)


def _aggregator(
    length: int, bound: float = 1.0, noise: object = None, settings: ValidatedSettings = SETTINGS
) -> tuple[ValidatedAggregator, BoundedEncoding, list[object]]:
    received: list[object] = []
    encoding = BoundedEncoding(settings.bits, length, bound)
    server = AggregationServer(observer=received.append)
    aggregator = ValidatedAggregator(server, settings, encoding, noise)  # type: ignore[arg-type]
    return aggregator, encoding, received


# -- the grid and the proven bound ---------------------------------------------------------


@pytest.mark.parametrize(("bits", "bound"), [(16, 1.0), (16, 0.5), (12, 3.0), (8, 0.01), (32, 7.0)])
def test_scale_is_the_largest_power_of_two_inside_the_coordinate_range(
    bits: int, bound: float
) -> None:
    encoding = BoundedEncoding(bits, 10, bound)
    limit = 2 ** (bits - 1) - 1
    assert math.log2(encoding.scale).is_integer()
    assert bound * encoding.scale <= limit < 2 * bound * encoding.scale
    reach = bound * encoding.scale + math.sqrt(10)
    assert reach**2 <= encoding.norm_bound <= reach**2 * (1 + 2**-39) + 2


def test_too_few_bits_for_the_bound_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        BoundedEncoding(4, 100, 1.0)  # 4 grid units for the bound, sqrt(100) of rounding


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.floats(1e-3, 1e3),
    st.sampled_from([8, 12, 16]),
)
def test_every_clipped_vector_encodes_inside_the_proven_bounds(
    values: list[float], bound: float, bits: int
) -> None:
    vector = clip_l2_unchecked(np.asarray(values, dtype=np.float64), bound)
    encoding = BoundedEncoding(bits, vector.size, bound)
    ints = encoding.encode(vector)
    half = 2 ** (bits - 1)
    assert all(-half < v < half for v in ints)
    assert sum(v * v for v in ints) <= encoding.norm_bound
    # Each coordinate moved by less than one grid unit.
    assert np.max(np.abs(np.asarray(ints) - vector * encoding.scale)) < 1.0


def test_decode_divides_by_the_scale() -> None:
    encoding = BoundedEncoding(16, 3, 1.0)
    np.testing.assert_array_equal(encoding.decode([2**14, -(2**13), 0]), [1.0, -0.5, 0.0])


# -- the aggregators' noise ---------------------------------------------------------------


def test_noise_event_is_one_share_at_the_proven_sensitivity() -> None:
    noise = AggregatorNoise(0.8, 10_000, 5)
    assert noise.sigma_squared == Fraction(0.8) ** 2 * 10_000
    event = noise.event
    assert event.sensitivity_l2 >= 100.0
    assert event.sigma <= math.sqrt(0.8**2 * 10_000)
    assert event.sigma == pytest.approx(80.0, rel=1e-12)
    assert noise.sample(7).dtype == np.int64


def test_noise_outside_the_samplers_range_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        AggregatorNoise(1e30, 2**62, 3)


class _TaggedNoise:
    """Deterministic stand-in: the first draw is all 7, the second all 11 (grid units)."""

    sigma_squared = Fraction(1)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def sample(self, size: int) -> np.ndarray:
        self.calls.append(size)
        return np.full(size, 7 if len(self.calls) == 1 else 11, dtype=np.int64)


def test_each_aggregator_adds_its_own_noise_to_its_share() -> None:
    noise = _TaggedNoise()
    aggregator, encoding, _ = _aggregator(3, noise=noise)
    updates = {0: np.array([0.5, 0.0, -0.25]), 1: np.array([0.0, 0.25, 0.25])}
    result = aggregator.aggregate(_round(updates), StageTimer())
    assert noise.calls == [3, 3]  # the helper's share, then the server's
    assert result.total is not None
    expected = (updates[0] + updates[1]) * encoding.scale + 18
    np.testing.assert_allclose(result.total * encoding.scale, expected, atol=2.0)
    assert np.all(np.abs(result.total * encoding.scale - expected) <= 2.0)


def test_released_noise_has_the_variance_of_both_shares() -> None:
    # 1000 coordinates: the sample variance over 2 sigma^2 is 1 +- 0.045; the band below
    # is more than 5 standard deviations wide on either side (one share alone gives 0.5).
    d = 1000
    noise = AggregatorNoise(0.5, BoundedEncoding(SETTINGS.bits, d, 1.0).norm_bound, d)
    aggregator, encoding, _ = _aggregator(d, noise=noise)
    zeros = {0: np.zeros(d), 1: np.zeros(d)}
    result = aggregator.aggregate(_round(zeros), StageTimer())
    assert result.total is not None
    ratio = float(np.mean((result.total * encoding.scale) ** 2)) / (2 * float(noise.sigma_squared))
    assert 0.75 < ratio < 1.3


# -- rejection ------------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", ["pine", "bits"])
def test_a_client_that_skips_clipping_is_rejected_and_left_out(circuit: str) -> None:
    settings = ValidatedSettings(bits=12, circuit=circuit)
    aggregator, encoding, _ = _aggregator(4, bound=1.0, settings=settings)
    honest = {c: clip_l2_unchecked(np.array([0.3, -0.2, 0.1, c / 10]), 1.0) for c in range(4)}
    poisoned = dict(honest)
    poisoned[2] = 100 * np.array([0.3, -0.2, 0.1, 0.2])  # unclipped, scaled by 100
    result = aggregator.aggregate(_round(poisoned), StageTimer())
    assert result.rejected == 1
    assert result.rejected_clients == (2,)
    assert result.survivors == (0, 1, 3)
    assert result.total is not None
    plain = honest[0] + honest[1] + honest[3]
    assert np.max(np.abs(result.total - plain)) < 3 * encoding.step
    assert any(reason.name in result.note for reason in REFUSED)


def test_out_of_bound_contributions_get_forged_reports_that_fail() -> None:
    keys = HelperKeyPair()
    encoding = BoundedEncoding(8, 3, 1.0)
    config = ValidatedConfig(3, 8, encoding.norm_bound, keys.public, round_number=4)
    verify_key = b"k" * 16
    reports = [
        client_report(config, encoding, np.array([0.6, 0.0, 0.0])),  # inside: honest
        client_report(config, encoding, np.array([0.9, 0.9, 0.0])),  # norm 1.27 > 1
        client_report(config, encoding, np.array([50.0, -50.0, 50.0])),  # clamped, still out
    ]
    leader, helper = Leader(config, verify_key), Helper(config, verify_key, keys, min_batch_size=0)
    leader.finish_prepare(helper.prepare(leader.prepare(reports)))
    result = leader.collect(helper.aggregate_share())
    assert [r.index for r in result.rejected] == [1, 2]
    assert all(r.reason in REFUSED for r in result.rejected)
    assert abs(result.sum[0] - 0.6 * encoding.scale) < 1


def test_too_few_valid_reports_release_nothing() -> None:
    aggregator, _, received = _aggregator(2, bound=1.0)
    contributions = {0: np.array([0.5, 0.5]), 1: np.array([30.0, 0.0]), 2: np.array([0.0, 9.0])}
    result = aggregator.aggregate(_round(contributions, threshold=2), StageTimer())
    assert result.total is None
    assert result.rejected == 2
    assert "fewer than the threshold" in result.note
    # The server never received the helper's share of the sum.
    assert not any(type(m).__name__ == "AggregateShare" for m in received)


def test_fewer_senders_than_the_threshold_skip_before_any_proof() -> None:
    aggregator, _, received = _aggregator(2)
    result = aggregator.aggregate(_round({0: np.zeros(2)}, threshold=2), StageTimer())
    assert result.total is None
    assert received == []


def test_weak_soundness_is_refused_before_the_run() -> None:
    server = AggregationServer()
    with pytest.raises(InvalidArgument, match="soundness"):
        ValidatedAggregator(server, ValidatedSettings(proofs=1), BoundedEncoding(16, 10, 1.0), None)


def test_helper_refuses_its_share_below_the_minimum() -> None:
    helper = SimulatedHelper(None)
    with pytest.raises(InvalidArgument):
        helper.aggregate_share(1)
