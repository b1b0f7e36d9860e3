"""Each aggregator's share alone is uniform: its marginal does not depend on the measurement.

Over the small field (p = 193) the marginal of every share element can be tested against the
uniform law with a chi-square test: the leader's measurement and proof shares (vectors) and a
helper's expanded shares, for two different measurements. A leaky share (say, the leader
getting the measurement itself) fails at p-values far below the 1e-6 threshold.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from secagg.errors import InvalidProof
from secagg.validated import HelperShare, LeaderShare, Prio3
from secagg.validated.hazmat import Sum

from .strategies import toy_field

F = toy_field()
VDAF = Prio3(Sum(8, field=F), 0xFFFF00F0)
REPORTS = 250


def _chi2_pvalue(samples: list[int]) -> float:
    counts = Counter(samples)
    observed = np.array([counts.get(v, 0) for v in range(F.MODULUS)], dtype=float)
    return float(chisquare(observed).pvalue)


@pytest.mark.parametrize("measurement", [0, 255])
def test_every_share_is_uniform(measurement: int) -> None:
    leader_meas, leader_proof, helper_meas, helper_proof = [], [], [], []
    for _ in range(REPORTS):
        _, shares = VDAF.shard(measurement, os.urandom(16), os.urandom(VDAF.RAND_SIZE))
        leader, helper = shares
        assert isinstance(leader, LeaderShare)
        assert isinstance(helper, HelperShare)
        leader_meas += F.to_ints(leader.meas)
        leader_proof += F.to_ints(leader.proof)
        meas, proof = VDAF.expand_input_share(1, helper)
        helper_meas += F.to_ints(meas)
        helper_proof += F.to_ints(proof)
    for samples in (leader_meas, leader_proof, helper_meas, helper_proof):
        assert _chi2_pvalue(samples) > 1e-6


def test_the_test_detects_a_leak() -> None:
    # Without the helper's share subtracted, the leader's vector would be the bits themselves.
    bits = F.to_ints(VDAF.flp.encode(0b10110101)) * REPORTS
    assert _chi2_pvalue(bits) < 1e-12


@pytest.mark.parametrize("measurement", [0, 255])
def test_the_combined_verifier_reveals_nothing_but_validity(measurement: int) -> None:
    # BBCGGI19 (zero knowledge): for a valid input the verifier message is [0, x, G(x)] with x
    # uniform (the random wire seed at alpha^0 randomises every wire polynomial at t).
    xs = []
    key = os.urandom(16)
    while len(xs) < REPORTS * 4:
        nonce = os.urandom(16)
        public, shares = VDAF.shard(measurement, nonce, os.urandom(VDAF.RAND_SIZE))
        try:
            prep = [VDAF.prep_init(key, j, nonce, public, s)[1] for j, s in enumerate(shares)]
        except InvalidProof:  # the query point hit a root of unity (16 / 193 here): abort
            continue
        verifier = F.add(prep[0].verifier, prep[1].verifier)
        assert int(verifier[0]) == 0
        xs.append(int(verifier[1]))
    assert _chi2_pvalue(xs) > 1e-6
