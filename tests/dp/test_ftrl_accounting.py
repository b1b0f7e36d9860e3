"""Accounting of matrix-factorisation (DP-FTRL) mechanisms: closed forms and relations.

Single participation with a strategy whose largest column norm is ``s`` is the Gaussian
mechanism of sensitivity ``s``: epsilon at delta is Balle and Wang's exact formula (2018,
Theorem 8), evaluated here independently with scipy, and rho is ``s^2 / (2 z^2)``.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize
from scipy.stats import norm

import dp
from dp.events import MatrixFactorizationGaussian


def _balle_wang_epsilon(mu: float, delta: float) -> float:
    """Epsilon of a mu-GDP Gaussian at delta, root-found from the closed form."""

    def excess(eps: float) -> float:
        return float(norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2))

    return float(optimize.brentq(lambda e: excess(e) - delta, 0.0, 200.0, xtol=1e-12))


def _event(z: float = 2.0, s: float = 1.5, **kw: object) -> MatrixFactorizationGaussian:
    return MatrixFactorizationGaussian(z, s, rounds=kw.pop("rounds", 100), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("relation", "scale"), [("zero_out", 1.0), ("replace_one", 2.0)])
@pytest.mark.parametrize(("z", "s"), [(1.0, 1.0), (4.0, 2.3), (10.0, 5.1)])
def test_single_participation_is_the_gaussian_mechanism(
    relation: dp.Neighbouring, scale: float, z: float, s: float
) -> None:
    event = MatrixFactorizationGaussian(z, s, rounds=64, strategy="tree")
    delta = 1e-6
    expected = _balle_wang_epsilon(scale * s / z, delta)
    pld = dp.PldAccountant(neighbouring=relation).compose(event).get_epsilon(delta)
    rdp = dp.RdpAccountant(neighbouring=relation).compose(event).get_epsilon(delta)
    assert pld == pytest.approx(expected, rel=1e-7)
    assert pld >= expected * (1 - 1e-9)  # never below the truth
    assert rdp >= expected
    # RDP of a Gaussian is alpha * rho; the best conversion is within a few percent here.
    assert rdp <= expected * 1.25 + 0.05
    assert event.rho(scale) == pytest.approx((scale * s) ** 2 / (2 * z * z))


def test_rho_bounds_the_epsilon() -> None:
    """zCDP to (eps, delta): eps <= rho + 2 sqrt(rho log(1/delta)) (Bun and Steinke 2016)."""
    event = _event(3.0, 2.0)
    rho = event.rho()
    delta = 1e-10
    bound = rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))
    assert dp.RdpAccountant(neighbouring="zero_out").compose(event).get_epsilon(delta) <= bound
    assert dp.PldAccountant(neighbouring="zero_out").compose(event).get_epsilon(delta) <= bound


@given(
    st.lists(st.floats(0.0, 3.0), min_size=1, max_size=12),
    st.floats(0.5, 20.0),
)
def test_prefix_increments_compose_to_the_prefix_mechanism(steps: list[float], z: float) -> None:
    """A ledger of per-round increments equals the whole-run event at the final sensitivity."""
    prefix = [1.0]
    for step in steps:
        prefix.append(prefix[-1] + step)
    ledger = [
        MatrixFactorizationGaussian(z, s, rounds=50, prior_sensitivity=p)
        for p, s in zip([0.0, *prefix[:-1]], prefix, strict=True)
    ]
    whole = MatrixFactorizationGaussian(z, prefix[-1], rounds=50)
    for relation in ("zero_out", "replace_one"):
        rdp = dp.RdpAccountant(neighbouring=relation)
        for event in ledger:
            rdp.compose(event)
        rdp_whole = dp.RdpAccountant(neighbouring=relation).compose(whole)
        pld = dp.PldAccountant(neighbouring=relation).compose_ledger((e, 1) for e in ledger)
        pld_whole = dp.PldAccountant(neighbouring=relation).compose(whole)
        # Floored increments (steps of 0) only ever add privacy loss, and only a little.
        for delta in (1e-5, 1e-9):
            assert pld.get_epsilon(delta) >= pld_whole.get_epsilon(delta) * (1 - 1e-9)
            assert pld.get_epsilon(delta) <= pld_whole.get_epsilon(delta) * (1 + 1e-6) + 1e-9
            assert rdp.get_epsilon(delta) == pytest.approx(rdp_whole.get_epsilon(delta), rel=1e-6)
        # The curve is monotone: a longer prefix never costs less.
        curve = pld.epsilon_curve(1e-5)
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(curve))


def test_add_remove_and_sampling_are_refused() -> None:
    event = _event()
    assert not dp.PldAccountant().supports(event)
    assert not dp.RdpAccountant().supports(event)
    with pytest.raises(dp.UnsupportedEvent, match="zero_out"):
        dp.RdpAccountant(neighbouring="add_remove").compose(event)
    for relation in ("zero_out", "replace_one"):
        for sampled in (
            dp.PoissonSampled(0.1, event),
            dp.SampledWithoutReplacement(100, 10, event),
        ):
            assert not dp.RdpAccountant(neighbouring=relation).supports(sampled)
            assert not dp.PldAccountant(neighbouring=relation).supports(sampled)
    # Composition with other events is fine (both are Gaussians then).
    mixed = dp.Composed((event, dp.Gaussian(3.0)))
    acc = dp.PldAccountant(neighbouring="zero_out").compose(mixed)
    expected = _balle_wang_epsilon(math.hypot(1.5 / 2.0, 1 / 3.0), 1e-6)
    assert acc.get_epsilon(1e-6) == pytest.approx(expected, rel=1e-7)


def test_serialisation_round_trip_and_validation() -> None:
    event = MatrixFactorizationGaussian(
        1.7, 3.2, rounds=2000, max_participations=4, min_separation=500,
        prior_sensitivity=3.0, strategy="blt",
    )  # fmt: skip
    data = event.to_dict()
    assert data["type"] == "matrix_factorization_gaussian"
    assert dp.event_from_dict(data) == event
    ledger = dp.ledger_to_dict([(event, 1)], neighbouring="zero_out")
    assert dp.ledger_from_dict(ledger) == [(event, 1)]
    bad = dict(data, strategy=3)
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict(bad)
    with pytest.raises(dp.SerializationError):
        dp.event_from_dict({k: v for k, v in data.items() if k != "rounds"})
    for kwargs in (
        {"prior_sensitivity": 4.0},  # prefix sensitivity cannot shrink
        {"max_participations": 3000},
        {"min_separation": 0},
        {"strategy": "magic"},
    ):
        with pytest.raises(dp.InvalidArgument):
            MatrixFactorizationGaussian(1.7, 3.2, rounds=2000, **kwargs)  # type: ignore[arg-type]
    for z, s in ((0.0, 1.0), (1.0, 0.0), (math.nan, 1.0), (1.0, math.inf)):
        with pytest.raises(dp.InvalidArgument):
            MatrixFactorizationGaussian(z, s, rounds=10)


def test_zero_increment_is_floored_not_free() -> None:
    event = MatrixFactorizationGaussian(2.0, 3.0, rounds=10, prior_sensitivity=3.0)
    assert event.gaussian_noise_multiplier() == pytest.approx(2.0 / 3e-6)
    assert dp.RdpAccountant(neighbouring="zero_out").compose(event).get_epsilon(1e-5) > 0.0


def test_a_reports_prefix_entries_show_as_one_mechanism_row() -> None:
    from dp.report import PrivacyReport
    from dp.report._render import mechanism_rows

    # 40 rounds of a DP-FTRL run: one entry per round, each growing the prefix; then a
    # plateau (increments at the floor, equal entries) and an unrelated Gaussian.
    sens = [math.sqrt(t) for t in range(41)]
    common = {"noise_multiplier": 3.0, "rounds": 50, "strategy": "blt"}
    ledger: list[tuple[dp.DpEvent, int]] = [
        (
            MatrixFactorizationGaussian(
                sensitivity=sens[t], prior_sensitivity=sens[t - 1], **common
            ),
            1,
        )
        for t in range(1, 41)
    ]
    ledger.append(
        (MatrixFactorizationGaussian(sensitivity=sens[40], prior_sensitivity=sens[40], **common), 3)
    )
    ledger.append((dp.Gaussian(5.0), 1))
    report = PrivacyReport.from_ledger(ledger, delta=1e-6, neighbouring="zero_out", tight=False)
    rows = mechanism_rows(report)
    assert [count for count, _ in rows] == ["43", "1"]
    # sqrt(40) = 6.325: the whole prefix, from nothing to the last round's sensitivity.
    assert "sensitivity=6.325, prior_sensitivity=0," in rows[0][1]
    # A different noise level does not continue the chain.
    other = MatrixFactorizationGaussian(
        sensitivity=7.0, prior_sensitivity=sens[40], **{**common, "noise_multiplier": 2.0}
    )
    rows = mechanism_rows(
        PrivacyReport.from_ledger(
            [*ledger[:40], (other, 1)], delta=1e-6, neighbouring="zero_out", tight=False
        )
    )
    assert [count for count, _ in rows] == ["40", "1"]
