"""The distributed DP pipeline: encode on clients, sum mod 2^B, decode on the server."""

from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp.errors import CalibrationError, DPError, InvalidArgument
from dp.events import DistributedDiscreteGaussian, Skellam
from dp.mechanisms import (
    DistributedConfig,
    clip_l2,
    conditional_round,
    decode_aggregate,
    encode_update,
)
from dp.mechanisms._rotation import (
    FLATTENING,
    rotate,
    rotate_into,
    rotation_length,
    rotation_signs,
    shared_signs,
    unrotate,
)
from dp.mechanisms.distributed import _ExactFraction


def _modular_sum(encodings: list[np.ndarray], bits: int) -> np.ndarray:
    total = np.zeros_like(encodings[0])
    for e in encodings:
        total = (total + e) & np.uint64((1 << bits) - 1)
    return total


@given(
    st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=1, max_size=70),
    st.binary(min_size=32, max_size=32),
)
def test_rotation_is_orthogonal_and_invertible(values: list[float], seed: bytes) -> None:
    x = np.asarray(values)
    signs = rotation_signs(seed, rotation_length(x.size))
    y = rotate(x, signs)
    assert y.size == rotation_length(x.size)
    assert np.linalg.norm(y) == pytest.approx(np.linalg.norm(x), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(unrotate(y, signs, x.size), x, rtol=1e-9, atol=1e-9)


def test_rotation_signs_are_deterministic_in_the_seed() -> None:
    seed = bytes(range(32))
    a, b = rotation_signs(seed, 64), rotation_signs(seed, 64)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {-1.0, 1.0}
    assert not np.array_equal(a, rotation_signs(bytes(32), 64))
    with pytest.raises(InvalidArgument):
        rotation_signs(b"short", 8)


@settings(max_examples=15)
@given(
    st.integers(min_value=1, max_value=6),  # clients
    st.integers(min_value=1, max_value=50),  # dimension
    st.integers(min_value=12, max_value=40),  # bits
    st.floats(min_value=0.1, max_value=10.0),  # clip
    st.integers(min_value=0, max_value=2**32),  # data seed
)
def test_noise_free_decode_is_within_the_rounding_bound(
    clients: int, dimension: int, bits: int, clip: float, data_seed: int
) -> None:
    """decode(sum of encodes) = sum of clipped updates up to gamma * n * sqrt(d_pad)."""
    rng = np.random.default_rng(data_seed)
    cfg = DistributedConfig.calibrate(
        dimension=dimension,
        l2_clip=clip,
        noise_multiplier=0.0,
        n_min=1,
        num_clients=clients,
        modulus_bits=bits,
    )
    seed = os.urandom(32)
    updates = [rng.normal(size=dimension) * clip for _ in range(clients)]
    encodings = [encode_update(u, cfg, seed) for u in updates]
    assert all(e.dtype == np.uint64 and int(e.max()) < 1 << bits for e in encodings)
    decoded = decode_aggregate(_modular_sum(encodings, bits), cfg, seed, clients)
    truth = sum(clip_l2(u, clip) for u in updates)
    bound = cfg.scale * clients * math.sqrt(cfg.padded_dimension)
    assert np.linalg.norm(decoded.values - truth) <= bound * (1 + 1e-9) + 1e-9
    assert decoded.event is None


@pytest.mark.parametrize("noise", ["discrete_gaussian", "skellam"])
@pytest.mark.parametrize("survivors", [4, 7])
def test_aggregate_noise_variance_meets_the_target(noise: str, survivors: int) -> None:
    """Any survivors >= n_min carry variance survivors / n_min times the target."""
    n_min, z, clip, d = 4, 0.8, 2.0, 1024
    cfg = DistributedConfig.calibrate(
        dimension=d,
        l2_clip=clip,
        noise_multiplier=z,
        n_min=n_min,
        num_clients=8,
        modulus_bits=24,
        noise=noise,  # type: ignore[arg-type]
    )
    seed = os.urandom(32)
    encodings = [encode_update(np.zeros(d), cfg, seed) for _ in range(survivors)]
    decoded = decode_aggregate(_modular_sum(encodings, 24), cfg, seed, survivors)
    target = (z * clip) ** 2 * survivors / n_min
    var = float(np.mean(decoded.values**2))
    # Sample variance of 1024 near-Gaussian values: relative sd sqrt(2 / 1024) ~ 4.4%.
    assert var == pytest.approx(target, rel=0.25)
    assert var >= 0.8 * (z * clip) ** 2


def test_events_are_accounted_with_the_survivors() -> None:
    cfg = DistributedConfig.calibrate(
        dimension=100, l2_clip=1.0, noise_multiplier=1.0, n_min=5, num_clients=10, modulus_bits=20
    )
    event = cfg.event(7)
    assert isinstance(event, DistributedDiscreteGaussian)
    assert event.n_min == 7
    assert event.dimension == 100  # 100 = 2^2 5^2 needs no padding
    assert event.sensitivity_l2 == pytest.approx(cfg.sensitivity_l2)
    # n_min shares at sigma each carry the target: n_min sigma^2 = (z c / gamma)^2.
    assert 5 * event.sigma**2 == pytest.approx((1.0 / cfg.scale) ** 2)
    skellam = DistributedConfig.calibrate(
        dimension=100,
        l2_clip=1.0,
        noise_multiplier=1.0,
        n_min=5,
        num_clients=10,
        modulus_bits=20,
        noise="skellam",
    )
    sk_event = skellam.event(6)
    assert isinstance(sk_event, Skellam)
    assert 2 * sk_event.mu == pytest.approx(6 / 5 * (1.0 / skellam.scale) ** 2)


def test_fewer_survivors_than_n_min_is_flagged_and_accounted() -> None:
    cfg = DistributedConfig.calibrate(
        dimension=8, l2_clip=1.0, noise_multiplier=1.0, n_min=3, num_clients=4, modulus_bits=20
    )
    seed = os.urandom(32)
    enc = [encode_update(np.ones(8), cfg, seed) for _ in range(2)]
    out = decode_aggregate(_modular_sum(enc, 20), cfg, seed, 2)
    assert out.below_target
    assert isinstance(out.event, DistributedDiscreteGaussian)
    assert out.event.n_min == 2


def test_sensitivity_bound_matches_the_paper_formula() -> None:
    cfg = DistributedConfig(
        dimension=64,
        l2_clip=1.0,
        noise_multiplier=1.0,
        n_min=1,
        modulus_bits=20,
        scale=0.01,
    )
    c, d = 100.0, 64
    expected = math.sqrt(c * c + d / 4 + math.sqrt(2 * 0.5) * (c + math.sqrt(d) / 2))
    assert cfg.sensitivity_l2 == pytest.approx(min(expected, c + 8))
    assert cfg.sensitivity_l1 == pytest.approx(min(expected**2, 8 * expected))


@given(
    st.lists(st.floats(min_value=-100, max_value=100), min_size=1, max_size=40),
)
def test_conditional_rounding_is_within_one_and_bounded(values: list[float]) -> None:
    y = np.asarray(values)
    bound = float(np.linalg.norm(y)) + math.sqrt(y.size)
    z = conditional_round(y, bound)
    assert np.all(np.abs(z - y) < 1)
    assert np.linalg.norm(z) <= bound


def test_conditional_rounding_gives_up_loudly() -> None:
    with pytest.raises(DPError):
        conditional_round(np.full(16, 0.5), bound=0.1, max_attempts=3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 2.0**52, -(2.0**53)])
def test_conditional_rounding_refuses_values_it_cannot_round_exactly(bad: float) -> None:
    with pytest.raises(InvalidArgument):
        conditional_round(np.array([0.5, bad, -0.5]), bound=1e30)


def test_conditional_rounding_is_unbiased() -> None:
    y = np.full(50_000, 0.3)
    z = conditional_round(y, bound=1e9)
    assert z.mean() == pytest.approx(0.3, abs=0.01)


def test_bad_configurations_and_inputs_are_refused() -> None:
    with pytest.raises(CalibrationError):
        DistributedConfig.calibrate(
            dimension=10,
            l2_clip=1.0,
            noise_multiplier=1.0,
            n_min=1,
            num_clients=10**9,
            modulus_bits=8,
        )
    with pytest.raises(InvalidArgument):
        DistributedConfig(
            dimension=4, l2_clip=1.0, noise_multiplier=1.0, n_min=1, modulus_bits=16, scale=10.0
        )  # per-client noise below half a unit
    with pytest.raises(InvalidArgument):
        DistributedConfig(
            dimension=4,
            l2_clip=1.0,
            noise_multiplier=1.0,
            n_min=1,
            modulus_bits=16,
            scale=0.01,
            noise="gauss",  # type: ignore[arg-type]
        )
    cfg = DistributedConfig.calibrate(
        dimension=4, l2_clip=1.0, noise_multiplier=1.0, n_min=1, num_clients=2, modulus_bits=16
    )
    seed = os.urandom(32)
    with pytest.raises(InvalidArgument):
        encode_update(np.ones(5), cfg, seed)
    with pytest.raises(InvalidArgument):
        decode_aggregate(np.zeros(3, dtype=np.uint64), cfg, seed, 1)
    with pytest.raises(InvalidArgument):
        decode_aggregate(np.full(4, 1 << 20, dtype=np.uint64), cfg, seed, 1)
    with pytest.raises(InvalidArgument):
        decode_aggregate(np.zeros(4, dtype=np.uint64), cfg, seed, 0)
    cfg_free = DistributedConfig.calibrate(
        dimension=4,
        l2_clip=1.0,
        noise_multiplier=0.0,
        n_min=1,
        num_clients=2,
        modulus_bits=16,
    )
    with pytest.raises(InvalidArgument):
        cfg_free.event(3)


def test_end_to_end_with_secure_aggregation_and_a_dropout() -> None:
    masking = pytest.importorskip("secagg.masking")
    bits, d, n = 24, 20, 5
    cfg = DistributedConfig.calibrate(
        dimension=d, l2_clip=1.0, noise_multiplier=0.5, n_min=3, num_clients=n, modulus_bits=bits
    )
    seed = os.urandom(32)
    rng = np.random.default_rng(7)
    updates = [rng.normal(size=d) for _ in range(n)]
    inputs = [encode_update(u, cfg, seed) for u in updates]
    result = masking.run_round(
        inputs, threshold=3, modulus_bits=bits, dropouts={4: masking.Stage.MASKED_INPUT}
    )
    survivors = sorted(result.survivors)
    decoded = decode_aggregate(result.sum, cfg, seed, len(survivors))
    assert decoded.event is not None
    assert decoded.event.n_min == len(survivors) == 4
    truth = sum(clip_l2(updates[i], 1.0) for i in survivors)
    # noise sd per coordinate: 0.5 * sqrt(4 / 3); 6 sd over sqrt(d_pad) coordinates.
    bound = 6 * 0.5 * math.sqrt(4 / 3 * cfg.padded_dimension)
    assert np.linalg.norm(decoded.values - truth) < bound


def _dct_matrix(length: int) -> np.ndarray:
    """The orthonormal DCT-II matrix from its definition, entry by entry."""
    j = np.arange(length)[:, None]
    k = np.arange(length)[None, :]
    scale = np.where(j == 0, math.sqrt(1 / length), math.sqrt(2 / length))
    return scale * np.cos(np.pi * j * (2 * k + 1) / (2 * length))


@settings(max_examples=15)
@given(st.integers(min_value=1, max_value=90), st.binary(min_size=32, max_size=32))
def test_rotation_is_the_signed_dct_matrix(dimension: int, seed: bytes) -> None:
    length = rotation_length(dimension)
    signs = rotation_signs(seed, length)
    x = np.random.default_rng(dimension).standard_normal(dimension)
    padded = np.concatenate((x, np.zeros(length - dimension)))
    expected = _dct_matrix(length) @ (signs * padded)
    np.testing.assert_allclose(rotate(x, signs), expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=200_000))
def test_rotation_length_is_the_smallest_5_smooth_length(dimension: int) -> None:
    def smooth(n: int) -> bool:
        for prime in (2, 3, 5):
            while n % prime == 0:
                n //= prime
        return n == 1

    length = rotation_length(dimension)
    assert length >= dimension
    assert smooth(length)
    assert not any(smooth(n) for n in range(dimension, length))


def test_rotation_length_of_the_benchmark_model() -> None:
    assert rotation_length(100_180) == 101_250  # 2 3^4 5^4; the Hadamard needed 131,072


@pytest.mark.parametrize("length", [1, 2, 30, 1_000, 101_250])
def test_rotation_flattens_a_spike_to_the_dct_bound(length: int) -> None:
    """A vector on one coordinate spreads to at most sqrt(FLATTENING / L) of its norm."""
    signs = rotation_signs(os.urandom(32), length)
    for position in {0, length // 3, length - 1}:
        x = np.zeros(length)
        x[position] = 5.0
        y = rotate(x, signs)
        assert np.abs(y).max() <= 5.0 * math.sqrt(FLATTENING / length) * (1 + 1e-9)
        assert np.linalg.norm(y) == pytest.approx(5.0)


def test_rotation_flattens_dense_vectors_like_a_sub_gaussian() -> None:
    """max_j |(R x)_j| <= sqrt(2 FLATTENING ln(2 L / delta) / L) ||x|| but with prob. delta."""
    length, delta = 4_096, 1e-9
    x = np.random.default_rng(3).standard_normal(length) ** 3  # heavy-tailed, fixed
    bound = math.sqrt(2 * FLATTENING * math.log(2 * length / delta) / length)
    for _ in range(5):
        y = rotate(x, rotation_signs(os.urandom(32), length))
        assert np.abs(y).max() <= bound * np.linalg.norm(x)


def test_shared_signs_are_the_rotation_signs_read_only_and_rotate_into_matches() -> None:
    seed = os.urandom(32)
    signs = shared_signs(seed, 1 << 15)
    np.testing.assert_array_equal(signs, rotation_signs(seed, 1 << 15))
    assert shared_signs(seed, 1 << 15) is signs
    with pytest.raises(ValueError, match="read-only"):
        signs[0] = 1.0
    with pytest.raises(InvalidArgument):
        shared_signs(b"short", 8)
    x = np.random.default_rng(1).standard_normal(20_000)
    out = np.full(signs.size, np.nan)
    assert rotate_into(x, signs, out) is out
    np.testing.assert_array_equal(out, rotate(x, signs))


def test_results_never_share_the_reused_work_buffers() -> None:
    # Encodings and roundings are handed out, so each must be a fresh array.
    config = DistributedConfig(
        dimension=300, l2_clip=1.0, noise_multiplier=0.0, n_min=1, modulus_bits=32, scale=1e-4
    )
    seed = os.urandom(32)
    first = encode_update(np.full(300, 0.01), config, seed)
    kept = first.copy()
    second = encode_update(np.full(300, -0.02), config, seed)
    np.testing.assert_array_equal(first, kept)
    assert not np.shares_memory(first, second)
    y = np.linspace(-5, 5, 1000)
    a = conditional_round(y, 1e9)
    kept_a = a.copy()
    b = conditional_round(-y, 1e9)
    np.testing.assert_array_equal(a, kept_a)
    assert not np.shares_memory(a, b)


def test_decode_lifts_the_top_half_of_the_ring_to_negatives() -> None:
    config = DistributedConfig(
        dimension=4, l2_clip=1.0, noise_multiplier=0.0, n_min=1, modulus_bits=16, scale=1.0
    )
    seed = bytes(32)
    words = np.array([0, 1, 2**15 - 1, 2**15], dtype=np.uint64)
    signed = np.array([0.0, 1.0, 2**15 - 1, -(2**15)])
    decoded = decode_aggregate(words, config, seed, 1).values
    expected = unrotate(signed, rotation_signs(seed, 4), 4)
    np.testing.assert_array_equal(decoded, expected)
    with pytest.raises(InvalidArgument):
        decode_aggregate(np.array([0, 0, 0, 2**16], dtype=np.uint64), config, seed, 1)
    with pytest.raises(InvalidArgument):
        decode_aggregate(np.array([0, 0, 0, -1]), config, seed, 1)


def test_conditional_rounding_uses_the_exact_fraction_of_small_negatives() -> None:
    # 1 + y is not a float for y = -2^-60: the float fraction rounds to 1.0, the exact
    # probability of rounding up is 1 - 2^-60, and that is what the slow path compares with.
    y = np.array([-(2.0**-60), -0.3, 2.75, -7.5])
    floors = np.floor(y).astype(np.int64)
    exact = _ExactFraction(y, floors)
    assert float(y[0] - np.floor(y[0])) == 1.0
    assert exact(0) == 1 - Fraction(1, 2**60)
    assert exact(1) == Fraction(-0.3) + 1
    assert exact(2) == Fraction(3, 4)
    assert exact(3) == Fraction(1, 2)
    z = conditional_round(np.full(20_000, -0.3), bound=1e9)
    assert set(np.unique(z)) <= {-1, 0}
    assert z.mean() == pytest.approx(-0.3, abs=0.02)
