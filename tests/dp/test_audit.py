"""Unit tests of dp.audit: exact formulas, the record, validation (fast, deterministic).

The statistical targets (coverage over repetitions, estimates, planted bugs) are in
test_audit_statistical.py and test_audit_bugs.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

import dp
from dp import audit
from dp.audit import AuditResult

# --- Gaussian DP conversions --------------------------------------------------------------


@pytest.mark.parametrize("z", [0.5, 1.0, 2.0, 4.0])
def test_gdp_epsilon_matches_exact_gaussian_accounting(z: float) -> None:
    pld = dp.PldAccountant().compose(dp.Gaussian(z)).get_epsilon(1e-5)
    assert audit.gdp_epsilon(1 / z, 1e-5) == pytest.approx(pld, rel=1e-8)


@pytest.mark.parametrize("eps", [0.5, 1.0, 4.0, 8.0])
def test_gdp_mu_inverts_gdp_epsilon(eps: float) -> None:
    mu = audit.gdp_mu(eps, 1e-5)
    assert audit.gdp_epsilon(mu, 1e-5) == pytest.approx(eps, rel=1e-8)
    assert audit.gdp_delta(mu, eps) == pytest.approx(1e-5, rel=1e-6)


def test_gdp_edge_cases() -> None:
    assert audit.gdp_delta(0.0, 1.0) == 0.0
    assert audit.gdp_epsilon(0.0, 1e-5) == 0.0
    assert audit.gdp_epsilon(1e-9, 0.5) == 0.0
    with pytest.raises(dp.InvalidArgument):
        audit.gdp_epsilon(-1.0, 1e-5)
    with pytest.raises(ValueError, match="delta"):
        audit.gdp_epsilon(1.0, 0.0)


# --- Steinke, Nasr, Jagielski -------------------------------------------------------------


def test_p_value_without_delta_is_the_binomial_tail() -> None:
    q = special.expit(2.0)
    expected = stats.binom.sf(69, 100, q)
    assert audit.one_run_p_value(1000, 100, 70, 2.0) == pytest.approx(expected, rel=1e-12)


def test_p_value_with_delta_adds_the_largest_average_lower_mass() -> None:
    m, r, v, eps, delta = 500, 40, 30, 1.0, 1e-4
    q = special.expit(eps)
    averages = [
        stats.binom.cdf(v - 1, r, q) - stats.binom.cdf(v - 1 - i, r, q) for i in range(1, v + 1)
    ]
    best = max(a / i for a, i in zip(averages, range(1, v + 1), strict=True))
    expected = stats.binom.sf(v - 1, r, q) + 2 * m * delta * best
    assert audit.one_run_p_value(m, r, v, eps, delta) == pytest.approx(expected, rel=1e-9)


def test_all_correct_ceiling_is_the_closed_form() -> None:
    # r correct guesses out of r: (e^eps/(1+e^eps))^r = 0.05, so eps = logit(0.05^(1/r)).
    for r in (100, 1000, 10_000):
        ceiling = special.logit(0.05 ** (1 / r))
        bound = audit.one_run_epsilon_lower_bound(r, r, r, confidence=0.95)
        assert bound == pytest.approx(ceiling, abs=1e-5)
        assert bound <= ceiling
    assert audit.one_run_epsilon_lower_bound(1000, 1000, 1000) == pytest.approx(5.81, abs=0.01)


def test_chance_level_guesses_refute_nothing() -> None:
    assert audit.one_run_epsilon_lower_bound(1000, 1000, 500, delta=1e-5) == 0.0
    assert audit.gdp_one_run_mu_lower_bound(1000, 1000, 500) == 0.0
    assert audit.gdp_one_run_mu_lower_bound(1000, 0, 0) == 0.0


def test_lower_bound_is_refuted_and_slightly_more_is_not() -> None:
    bound = audit.one_run_epsilon_lower_bound(2000, 400, 330, delta=1e-5, confidence=0.95)
    assert audit.one_run_p_value(2000, 400, 330, bound, 1e-5) <= 0.05
    assert audit.one_run_p_value(2000, 400, 330, bound + 1e-4, 1e-5) > 0.05


def test_guesses_and_counts() -> None:
    scores = [0.3, -1.0, 2.0, 0.1, 5.0, -3.0]
    guesses = audit.guesses_from_scores(scores, 2, 1)
    assert guesses.tolist() == [0, 0, 1, 0, 1, -1]
    inclusion = [True, False, True, True, False, False]
    assert audit.count_correct(inclusion, guesses) == (3, 2)
    with pytest.raises(dp.InvalidArgument):
        audit.guesses_from_scores(scores, 4, 3)
    with pytest.raises(dp.InvalidArgument):
        audit.count_correct(inclusion, [2, 0, 0, 0, 0, 0])


# Fixed synthetic scores (seeded numpy: the randomness here is data, not DP noise).
def _synthetic(mu: float, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    inclusion = rng.random(m) < 0.5
    return inclusion, inclusion * mu + rng.standard_normal(m)


def test_audit_one_run_pays_bonferroni_for_the_guess_search() -> None:
    inclusion, scores = _synthetic(1.5, 2000, seed=7)
    pairs = audit.default_guess_counts(2000)
    result = audit.audit_one_run(inclusion, scores, delta=1e-5, claimed_epsilon=9.0)
    level = 1 - 0.05 / len(pairs)
    best = max(
        audit.one_run_epsilon_lower_bound(
            2000,
            *audit.count_correct(inclusion, audit.guesses_from_scores(scores, p, n)),
            delta=1e-5,
            confidence=level,
        )
        for p, n in pairs
    )
    assert result.epsilon_lower_bound == pytest.approx(best)
    assert result.method == "one_run"
    assert not result.violation
    assert result.mu_estimate == pytest.approx(1.5, rel=0.1)


def test_audit_one_run_with_abstaining_guesses() -> None:
    inclusion = np.array([True] * 60 + [False] * 60)
    guesses = np.array([1] * 55 + [0] * 5 + [-1] * 50 + [0] * 5 + [1] * 5)  # 5 wrong of 110
    result = audit.audit_one_run(inclusion, guesses=guesses, delta=1e-6)
    assert (result.guesses, result.correct) == (110, 105)
    expected = audit.one_run_epsilon_lower_bound(120, 110, 105, delta=1e-6)
    assert result.epsilon_lower_bound == pytest.approx(expected)
    assert result.epsilon_estimate is None


def test_gdp_refinement_is_tighter_and_monotone() -> None:
    inclusion, scores = _synthetic(audit.gdp_mu(8.0, 1e-5), 1000, seed=11)
    snj = audit.audit_one_run(inclusion, scores, delta=1e-5)
    gdp = audit.audit_one_run_gdp(inclusion, scores, delta=1e-5)
    assert gdp.epsilon_lower_bound is not None
    assert snj.epsilon_lower_bound is not None
    assert gdp.epsilon_lower_bound > snj.epsilon_lower_bound
    mu = gdp.mu_lower_bound
    assert mu is not None
    assert mu > 0
    assert gdp.epsilon_lower_bound == pytest.approx(audit.gdp_epsilon(mu, 1e-5))
    r, v = gdp.guesses, gdp.correct
    assert r is not None
    assert v is not None
    level = 1 - 0.05 / len(audit.default_guess_counts(1000))
    assert audit.gdp_one_run_refutes(mu, 1000, r, v, confidence=level)
    assert audit.gdp_one_run_refutes(mu / 2, 1000, r, v, confidence=level)
    assert not audit.gdp_one_run_refutes(mu * 1.01, 1000, r, v, confidence=level)


def test_noise_free_scores_give_no_estimate_but_a_capped_bound() -> None:
    inclusion = np.array([True, False] * 500)
    result = audit.audit_one_run_gdp(inclusion, inclusion.astype(float), delta=1e-5)
    assert result.epsilon_estimate is None
    assert result.epsilon_lower_bound is not None
    assert result.epsilon_lower_bound > 6


# --- canary clients (Andrew et al.) -------------------------------------------------------


def test_random_canary_directions_are_unit_and_isotropic() -> None:
    rows = audit.random_canary_directions(400, 50)
    assert rows.shape == (400, 50)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    # Mean direction near 0 and coordinate second moments near 1/d (loose, 400 draws).
    assert np.abs(rows.mean(axis=0)).max() < 0.05
    assert np.abs((rows**2).mean(axis=0) - 1 / 50).max() < 0.01
    with pytest.raises(dp.InvalidArgument):
        audit.random_canary_directions(2**20, 2**10)


def test_canary_cosines_and_estimate_on_fixed_data() -> None:
    rows = np.eye(4)
    assert audit.canary_cosines(rows, [1.0, 0.0, 0.0, 0.0]).tolist() == [1.0, 0.0, 0.0, 0.0]
    rng = np.random.default_rng(3)
    d, mu = 10_000, 1.2
    cosines = (mu + rng.standard_normal(2000)) / math.sqrt(d)
    result = audit.canary_client_estimate(cosines, delta=1e-5, dimension=d)
    assert result.method == "canary_clients"
    assert result.epsilon_lower_bound is None
    assert result.mu_estimate == pytest.approx(mu, rel=0.1)
    null = rng.standard_normal(2000) / math.sqrt(d)
    with_null = audit.canary_client_estimate(cosines, delta=1e-5, null_cosines=null)
    assert with_null.mu_estimate == pytest.approx(mu, rel=0.1)
    with pytest.raises(dp.InvalidArgument):
        audit.canary_client_estimate(cosines, delta=1e-5)
    with pytest.raises(dp.InvalidArgument):
        audit.canary_cosines(rows, np.zeros(4))


# --- Clopper-Pearson ----------------------------------------------------------------------


def test_clopper_pearson_upper_is_the_beta_quantile() -> None:
    assert audit.clopper_pearson_upper(3, 100, 0.975) == pytest.approx(stats.beta.ppf(0.975, 4, 97))
    assert audit.clopper_pearson_upper(0, 10, 0.95) == pytest.approx(1 - 0.05 ** (1 / 10))
    assert audit.clopper_pearson_upper(10, 10, 0.95) == 1.0


def test_epsilon_from_error_counts() -> None:
    fpr = stats.beta.ppf(0.975, 11, 99_990)
    fnr = stats.beta.ppf(0.975, 50_001, 50_000)
    expected = math.log((1 - 1e-5 - fnr) / fpr)
    got = audit.epsilon_from_error_counts(10, 100_000, 50_000, 100_000, delta=1e-5)
    assert got == pytest.approx(expected)
    assert audit.epsilon_from_error_counts(50, 100, 50, 100, delta=1e-5) == 0.0


def test_audit_samples_uses_a_held_out_half() -> None:
    s0 = np.arange(1000, dtype=float)  # fixed, perfectly separated samples
    s1 = s0 + 10_000
    result = audit.audit_samples(s0, s1, delta=1e-5, claimed_epsilon=1.0)
    # 500 held-out runs per side without an error: both rates below 1 - 0.025^(1/500).
    cap = 1 - 0.025 ** (1 / 500)
    assert result.epsilon_lower_bound == pytest.approx(math.log((1 - 1e-5 - cap) / cap))
    assert result.violation
    reverse = audit.audit_samples(s1, s0, delta=1e-5)
    assert reverse.epsilon_lower_bound == pytest.approx(result.epsilon_lower_bound)


def test_audit_mechanism_runs_a_callable() -> None:
    mech = dp.mechanisms.GaussianMechanism(1.0, 1.0, 2)
    result = audit.audit_mechanism(mech.release, [0.0, 0.0], [1.0, 0.0], trials=200, delta=1e-5)
    assert result.canaries == 400
    assert result.epsilon_lower_bound is not None
    assert result.epsilon_lower_bound < audit.gdp_epsilon(1.0, 1e-5)
    with pytest.raises(dp.InvalidArgument):
        audit.audit_mechanism(mech.release, [0.0, 0.0], [0.0, 0.0], trials=10, delta=1e-5)


def test_claimed_epsilon_falls_back_to_rdp() -> None:
    event = dp.DiscreteGaussian(sigma=3.0, sensitivity_l2=1.0)
    assert audit.claimed_epsilon(event, 1e-5) == pytest.approx(
        dp.RdpAccountant().compose(event).get_epsilon(1e-5)
    )
    assert audit.claimed_epsilon(dp.Gaussian(1.0), 1e-5, count=4) == pytest.approx(
        audit.gdp_epsilon(2.0, 1e-5), rel=1e-6
    )


# --- the record ---------------------------------------------------------------------------


def _record(**changes: object) -> AuditResult:
    fields: dict[str, object] = {
        "method": "one_run_gdp",
        "delta": 1e-5,
        "epsilon_lower_bound": 2.5,
        "confidence": 0.95,
        "epsilon_estimate": 4.1,
        "mu_lower_bound": 0.6,
        "mu_estimate": 0.93,
        "claimed_epsilon": 4.38,
        "canaries": 1000,
        "guesses": 124,
        "correct": 108,
    }
    fields.update(changes)
    return AuditResult(**fields)  # type: ignore[arg-type]


def test_record_round_trips_through_json() -> None:
    record = _record()
    again = AuditResult.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record
    assert record.to_dict()["version"] == audit.AUDIT_FORMAT_VERSION
    assert not record.violation
    assert _record(claimed_epsilon=2.0).violation
    with pytest.raises(AttributeError):
        record.delta = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("version", 2),
        ("version", True),
        ("type", "dp_event"),
        ("method", "guesswork"),
        ("method", ["one_run"]),
        ("delta", 0.0),
        ("delta", "1e-5"),
        ("epsilon_lower_bound", -1.0),
        ("epsilon_lower_bound", float("inf")),
        ("confidence", None),
        ("confidence", 1.0),
        ("canaries", 1.5),
        ("canaries", True),
        ("canaries", 2**70),
        ("guesses", 2000),
        ("correct", 200),
    ],
)
def test_record_refuses_bad_fields(key: str, value: object) -> None:
    data = _record().to_dict()
    data[key] = value
    with pytest.raises(dp.SerializationError):
        AuditResult.from_dict(data)


def test_record_refuses_missing_and_extra_fields() -> None:
    data = _record().to_dict()
    del data["canaries"]
    with pytest.raises(dp.SerializationError, match="missing"):
        AuditResult.from_dict(data)
    data = _record().to_dict() | {"comment": "x"}
    with pytest.raises(dp.SerializationError, match="extra"):
        AuditResult.from_dict(data)
    with pytest.raises(dp.SerializationError):
        AuditResult.from_dict([1, 2])  # type: ignore[arg-type]


@given(st.dictionaries(st.text(max_size=12), st.none() | st.floats() | st.integers() | st.text()))
def test_record_loader_fuzz(data: dict[str, object]) -> None:
    merged = _record().to_dict() | data
    try:
        loaded = AuditResult.from_dict(merged)
    except dp.SerializationError:
        return
    assert AuditResult.from_dict(loaded.to_dict()) == loaded


def test_inputs_are_validated() -> None:
    with pytest.raises(dp.InvalidArgument):
        audit.audit_one_run([True, False], [0.1, 0.2], guesses=[1, 0], delta=1e-5)
    with pytest.raises(dp.InvalidArgument):
        audit.audit_one_run([True, False], [0.1, float("nan")], delta=1e-5)
    with pytest.raises(dp.InvalidArgument):
        audit.audit_one_run(["a", "b"], [0.1, 0.2], delta=1e-5)
    with pytest.raises(dp.InvalidArgument):
        audit.audit_one_run([True, False], [0.1, 0.2], delta=1e-5, confidence=1.0)
    with pytest.raises(dp.InvalidArgument):
        audit.one_run_p_value(10, 5, 6, 1.0)
    with pytest.raises(dp.InvalidArgument):
        audit.audit_samples([1.0, 2.0], [3.0, 4.0], delta=1e-5)


def test_docs_quick_start_runs() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "dp" / "audit.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs"}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, AuditResult)
    assert not result.violation
    assert namespace["again"] == result


def test_one_run_bound_is_valid_and_tight_on_randomised_response() -> None:
    # Randomised response on each canary's inclusion bit is exactly eps-DP, and guessing its
    # output for all m canaries makes the number of correct guesses exactly
    # Binomial(m, e^eps/(1+e^eps)). The bound exceeds eps exactly when v >= v_crit, so its
    # exceedance probability is P[Binomial >= v_crit]: computed exactly, it must be at most
    # 5% (validity) and one more allowed success must push it over 5% (no slack).
    eps, m = 1.0, 1000
    q = special.expit(eps)
    v_crit = next(
        v for v in range(m // 2, m + 1) if audit.one_run_epsilon_lower_bound(m, m, v) > eps
    )
    assert stats.binom.sf(v_crit - 1, m, q) <= 0.05
    assert stats.binom.sf(v_crit - 2, m, q) > 0.05
    assert stats.binom.sf(v_crit - 1, m, q) == pytest.approx(0.0463, abs=1e-4)


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_gdp_bound_is_valid_on_an_exact_gaussian_game(mu: float) -> None:
    # Scores N(mu * included, 1) are exactly mu-GDP per canary; guessing "included iff
    # score > mu/2" for all m canaries makes the correct count exactly
    # Binomial(m, Phi(mu/2)). The smallest count whose bound exceeds mu has, under that law,
    # probability at most 5% (here it is astronomically smaller: the bound gains from
    # abstention, not from guessing everything).
    m = 1000
    low, high = m // 2, m + 1
    while low < high:
        mid = (low + high) // 2
        if audit.gdp_one_run_mu_lower_bound(m, m, mid) > mu:
            high = mid
        else:
            low = mid + 1
    assert stats.binom.sf(low - 1, m, special.ndtr(mu / 2)) <= 0.05


def test_describe_is_one_line() -> None:
    line = _record().describe()
    assert line == (
        "one_run_gdp, 1000 canaries: epsilon >= 2.500 (95% confidence), estimate 4.100, "
        "claimed 4.380 at delta 1e-05: consistent"
    )
    assert _record(claimed_epsilon=2.0).describe().endswith("CLAIM REFUTED")
    estimate_only = _record(
        method="canary_clients",
        epsilon_lower_bound=None,
        confidence=None,
        mu_lower_bound=None,
        guesses=None,
        correct=None,
    )
    assert estimate_only.describe() == (
        "canary_clients, 1000 canaries: estimate 4.100, claimed 4.380 at delta 1e-05"
    )
