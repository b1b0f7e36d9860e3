"""The simulated adversary: who is malicious, what each attack sends, and what it does to a run.

The runs use identical clients whose update is a fixed vector at the clip bound, so every
honest contribution is known exactly and each aggregate can be asserted (up to the codec's
grid step) whatever clients the CSPRNG draws.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from federated import Adversary, AdversaryRecord, Attack, ClientUpdate
from federated._codecs import FixedPointCodec
from federated.adversary import (
    MaliciousStep,
    attackers_among,
    choose_malicious,
    encode_unchecked,
    paillier_entry_limit,
    poison,
)
from federated.config import (
    Aggregation,
    FederatedConfig,
    UniformSelection,
    ValidatedSettings,
)
from federated.errors import InvalidArgument
from federated.history import RoundStatus
from federated.runner import run
from secagg.paillier.threshold import ThresholdKeys
from tests.federated.conftest import TEST_PAILLIER

DELTA = np.array([0.6, -0.8])  # norm 1.0 = the clip bound: honest clients send it unchanged
START = np.zeros(2)
N = 10


@dataclass
class FixedClient:
    """Always proposes the same update, whatever the global parameters."""

    delta: NDArray[np.float64]
    num_examples: int = 10

    def fit(self, parameters: NDArray[np.float64]) -> ClientUpdate:
        del parameters
        return ClientUpdate(self.delta.copy(), self.num_examples)


def _clients() -> list[FixedClient]:
    return [FixedClient(DELTA) for _ in range(N)]


def _config(
    aggregation: Aggregation, adversary: Adversary | None, **extra: object
) -> FederatedConfig:
    return FederatedConfig(
        rounds=1,
        selection=UniformSelection(N),
        aggregation=aggregation,
        clip_norm=1.0,
        adversary=adversary,
        **extra,  # type: ignore[arg-type]
    )


# -- who is malicious ------------------------------------------------------------------------


@given(
    population=st.integers(min_value=0, max_value=300),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_the_draw_has_the_configured_size_and_distinct_ids_in_range(
    population: int, fraction: float
) -> None:
    adversary = Adversary(fraction=fraction)
    chosen = choose_malicious(adversary, population)
    assert len(chosen) == adversary.count(population)
    wanted = fraction * population
    # Never fewer attackers than asked (up to float error), never a whole one more, and a
    # positive fraction of a non-empty population is at least one attacker.
    assert wanted - 1e-9 <= len(chosen)
    assert len(chosen) - 1 < wanted
    assert (len(chosen) >= 1) == (wanted > 0)
    assert len(set(chosen)) == len(chosen)
    assert list(chosen) == sorted(chosen)
    assert all(0 <= c < population for c in chosen)


def test_the_draw_is_random_and_covers_the_population() -> None:
    # 200 draws of 1 in 10: a client never drawn has odds 0.9^200 < 1e-9 each.
    seen = {choose_malicious(Adversary(fraction=0.1), 10)[0] for _ in range(200)}
    assert seen == set(range(10))


def test_explicit_clients_are_used_as_given_and_checked_against_the_population() -> None:
    adversary = Adversary(clients=(7, 2))
    assert adversary.clients == (2, 7)
    assert choose_malicious(adversary, 8) == (2, 7)
    with pytest.raises(InvalidArgument, match="beyond the population"):
        choose_malicious(adversary, 7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fraction": -0.1},
        {"fraction": 1.5},
        {"fraction": True},
        {"attack": "poison"},
        {"factor": 0.0},
        {"factor": float("inf")},
        {"target": np.ones(2)},  # a target needs the replace attack
        {"attack": "replace", "target": np.array([1.0, np.nan])},
        {"attack": "replace", "target": np.ones((2, 2))},
        {"clients": (1, 1)},
        {"clients": (-1,)},
        {"clients": (True,)},
    ],
)
def test_bad_adversaries_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        Adversary(**kwargs)  # type: ignore[arg-type]


def test_a_config_takes_only_an_adversary() -> None:
    with pytest.raises(InvalidArgument, match="adversary"):
        _config(Aggregation.PLAIN_INSECURE, "scale")  # type: ignore[arg-type]


def test_the_attack_name_is_accepted_and_a_step_pickles_for_the_executors() -> None:
    adversary = Adversary(attack="replace", target=[1.0, 2.0])  # type: ignore[arg-type]
    assert adversary.attack is Attack.REPLACE
    step = MaliciousStep(adversary, 10, 2, 1.0)
    copy = pickle.loads(pickle.dumps(step))
    np.testing.assert_array_equal(copy.adversary.target, [1.0, 2.0])
    assert AdversaryRecord(adversary, (3,)).to_dict()["malicious"] == [3]


# -- what each attack sends ------------------------------------------------------------------

vectors = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=1, max_size=8
).map(np.array)
factors = st.floats(min_value=1e-3, max_value=1e3)


@given(delta=vectors, factor=factors)
def test_scale_and_flip_are_the_factor_times_the_update(delta: NDArray, factor: float) -> None:
    theta = np.zeros_like(delta)
    kwargs = {"cohort_size": 10, "attackers": 1, "learning_rate": 1.0}
    scaled = poison(Adversary(attack=Attack.SCALE, factor=factor), delta, theta, **kwargs)
    flipped = poison(Adversary(attack=Attack.FLIP, factor=factor), delta, theta, **kwargs)
    np.testing.assert_array_equal(scaled, factor * delta)
    np.testing.assert_array_equal(flipped, -factor * delta)
    np.testing.assert_array_equal(
        poison(Adversary(attack=Attack.FLIP), delta, theta, **kwargs), -delta
    )


@given(
    target=vectors,
    n=st.integers(min_value=1, max_value=500),
    data=st.data(),
    eta=st.floats(min_value=0.01, max_value=10.0),
)
def test_model_replacement_lands_fedavg_on_the_target(
    target: NDArray, n: int, data: st.DataObject, eta: float
) -> None:
    # Bagdasaryan et al. 2020, eq. (3): with only the m attackers' updates in the mean,
    # theta + eta/n * m * gamma (X - theta) = X for gamma = n / (eta m).
    m = data.draw(st.integers(min_value=1, max_value=n))
    theta = data.draw(vectors.filter(lambda v: v.size == target.size), label="theta")
    adversary = Adversary(attack=Attack.REPLACE, target=target)
    update = poison(
        adversary, np.zeros_like(target), theta, cohort_size=n, attackers=m, learning_rate=eta
    )
    landed = theta + eta / n * m * update
    np.testing.assert_allclose(landed, target, rtol=1e-9, atol=1e-9 * (1 + np.abs(theta).max()))


def test_replacement_without_a_target_boosts_the_own_update_and_checks_lengths() -> None:
    out = poison(
        Adversary(attack=Attack.REPLACE),
        DELTA,
        START,
        cohort_size=20,
        attackers=2,
        learning_rate=0.5,
    )
    np.testing.assert_allclose(out, 20 / (0.5 * 2) * DELTA)
    with pytest.raises(InvalidArgument, match="length"):
        poison(
            Adversary(attack=Attack.REPLACE, target=np.ones(3)),
            DELTA,
            START,
            cohort_size=2,
            attackers=1,
            learning_rate=1.0,
        )


@given(
    values=st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=1, max_size=16),
    attackers=st.integers(min_value=1, max_value=10),
)
def test_unchecked_fixed_point_words_are_the_unclipped_integers_up_to_the_free_ring(
    values: list[float], attackers: int
) -> None:
    codec = FixedPointCodec(32, len(values), N, 1.0)
    vector = np.array(values)
    words = encode_unchecked(codec, vector, attackers)
    assert words.dtype == np.uint64
    assert np.all(words < 2**32)
    room = (2**30 // attackers) * codec.step  # n C / m in value units
    decoded = codec.decode(words, 1)
    expected = np.clip(vector, -room, room)
    assert np.max(np.abs(decoded - expected)) <= codec.step / 2 + 1e-9 * room
    # m saturated attackers plus N - m honest clients at the bound never wrap into the
    # other sign.
    total = (words.astype(np.uint64) * np.uint64(attackers)) & np.uint64(2**32 - 1)
    honest = codec.encode(np.sign(vector) * (1.0 / np.sqrt(len(values))))
    for _ in range(N - attackers if attackers < N else 0):
        total = (total + honest) & np.uint64(2**32 - 1)
    summed = codec.decode(total, N)
    assert np.all(np.sign(summed) * np.sign(expected) >= 0)


def test_the_paillier_entry_limit_is_the_packing_range() -> None:
    config = _config(Aggregation.PAILLIER, None, paillier=TEST_PAILLIER)
    # clip 1, 20 fraction bits: 23-bit entries, so (2^22 - 1) / 2^20 = 4 - 2^-20.
    assert paillier_entry_limit(config) == 4.0 - 2.0**-20
    step = MaliciousStep(Adversary(factor=1e6), N, 1, 1.0, entry_limit=4.0)
    np.testing.assert_array_equal(step.contribution(DELTA, START), [4.0, -4.0])
    weighted = MaliciousStep(Adversary(factor=2.0), N, 1, 1.0, weighted=True)
    np.testing.assert_array_equal(weighted.contribution(DELTA, START), [1.2, -1.6, 1.0])


def test_attackers_among_counts_only_senders() -> None:
    assert attackers_among({1, 4, 9}, [0, 1, 2, 4]) == 2
    assert attackers_among(set(), range(5)) == 0


# -- what it does to a run -------------------------------------------------------------------


def _mean_with(attack_total: NDArray[np.float64], attackers: int) -> NDArray[np.float64]:
    return ((N - attackers) * DELTA + attack_total) / N


@pytest.mark.parametrize(
    ("adversary", "poisoned_sum"),
    [
        # Within the ring's room of n C / m = 5 per entry and attacker.
        (Adversary(attack=Attack.SCALE, factor=5.0, clients=(0, 5)), 2 * 5.0 * DELTA),
        (Adversary(attack=Attack.FLIP, factor=3.0, clients=(3, 9)), -2 * 3.0 * DELTA),
        # gamma = n / (eta m) = 5: the attackers' mean brings the model to X, plus 8/10 DELTA.
        (
            Adversary(attack=Attack.REPLACE, target=np.array([0.5, 0.25]), clients=(1, 2)),
            N * np.array([0.5, 0.25]),
        ),
    ],
)
@pytest.mark.parametrize("aggregation", [Aggregation.PLAIN_INSECURE, Aggregation.MASKING])
def test_unseen_poison_goes_into_the_sum(
    adversary: Adversary, poisoned_sum: NDArray[np.float64], aggregation: Aggregation
) -> None:
    history = run(_config(aggregation, adversary), _clients(), START)
    expected = _mean_with(poisoned_sum, 2)
    codec_step = FixedPointCodec(32, 2, N, 1.0).step
    np.testing.assert_allclose(history.parameters, expected, rtol=0, atol=N * codec_step)
    record = history.records[0]
    assert (record.attackers, record.attackers_in_sum, record.rejected) == (2, 2, 0)
    assert history.adversary is not None
    assert history.adversary.malicious == adversary.clients


def test_a_ten_percent_scale_attack_destroys_the_masked_aggregate() -> None:
    # One attacker in ten boosts by 1000: its words saturate at n C / m = 10 per entry, so
    # the decoded mean is 9/10 DELTA + (10, -10) / 10, whichever client the CSPRNG drew.
    adversary = Adversary(fraction=0.1, attack=Attack.SCALE, factor=1000.0)
    history = run(_config(Aggregation.MASKING, adversary), _clients(), START)
    assert history.adversary is not None
    assert len(history.adversary.malicious) == 1
    expected = _mean_with(np.array([10.0, -10.0]), 1)
    step = FixedPointCodec(32, 2, N, 1.0).step
    np.testing.assert_allclose(history.parameters, expected, rtol=0, atol=N * step)
    honest = run(_config(Aggregation.MASKING, None), _clients(), START).parameters
    assert np.linalg.norm(history.parameters - honest) > 1.0  # the honest step has norm 1


def test_the_paillier_attacker_is_held_to_the_packing_range(
    committee_keys: ThresholdKeys,
) -> None:
    adversary = Adversary(attack=Attack.SCALE, factor=1e6, clients=(4,))
    config = _config(Aggregation.PAILLIER, adversary, paillier=TEST_PAILLIER)
    history = run(config, _clients(), START, paillier_keys=committee_keys)
    limit = paillier_entry_limit(config)
    expected = _mean_with(np.array([limit, -limit]), 1)
    np.testing.assert_allclose(history.parameters, expected, rtol=0, atol=2.0**-16)
    assert history.records[0].attackers_in_sum == 1


def test_distributed_dp_attackers_send_their_unclipped_update() -> None:
    from federated import DPMode, PrivacyConfig

    adversary = Adversary(attack=Attack.SCALE, factor=50.0, clients=(0,))
    config = _config(
        Aggregation.MASKING,
        adversary,
        privacy=PrivacyConfig(DPMode.DISTRIBUTED, 0.01, delta=1e-3, colluders=0),
    )
    history = run(config, _clients(), START)
    # Noise of z = 0.01 on the sum, plus the rounding: well under 0.5 per coordinate.
    expected = _mean_with(50.0 * DELTA, 1)
    np.testing.assert_allclose(history.parameters, expected, rtol=0, atol=0.5)


def test_validated_aggregation_rejects_every_attacker_and_matches_the_honest_run() -> None:
    adversary = Adversary(fraction=0.2, attack=Attack.SCALE, factor=100.0)
    config = _config(Aggregation.VALIDATED, adversary, validated=ValidatedSettings(bits=16))
    history = run(config, _clients(), START)
    assert history.adversary is not None
    record = history.records[0]
    assert record.status is RoundStatus.COMPLETED
    assert record.rejected_clients == history.adversary.malicious
    assert (record.attackers, record.attackers_in_sum, record.rejected) == (2, 0, 2)
    # The mean of the 8 honest DELTAs, up to the 16-bit grid (step 2^-15 for clip 1).
    np.testing.assert_allclose(history.parameters, DELTA, rtol=0, atol=2.0**-14)
    summary = history.to_dict()
    assert summary["adversary"]["malicious"] == list(history.adversary.malicious)
    assert summary["rounds"][0]["attackers_in_sum"] == 0


def test_no_adversary_is_recorded_as_none() -> None:
    history = run(_config(Aggregation.PLAIN_INSECURE, None), _clients(), START)
    assert history.adversary is None
    assert history.to_dict()["adversary"] is None
    assert history.records[0].attackers == 0
    np.testing.assert_allclose(history.parameters, DELTA)


def test_the_poisoning_page_snippet_runs_and_prints_what_it_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "federated" / "poisoning.md"
    snippets = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    assert snippets
    for snippet in snippets:
        exec(compile(snippet, str(page), "exec"), {"__name__": "__docs__"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("masking ")
    assert lines[0].endswith("1 poisoned update(s) in the sum, 0 rejected, weight 0.95")
    assert lines[1].endswith("0 poisoned update(s) in the sum, 1 rejected, weight 0.50")
