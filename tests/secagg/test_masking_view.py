"""The server's view of a round is independent of any single client's input.

Bonawitz et al. (CCS 2017, Theorem 6.2): the view is simulatable from the sum alone. We test
the observable consequences: every masked vector is uniform in ``Z_{2^B}`` (chi-square),
whatever the input, and two input sets with the same sum give server views of identical
shape and distribution.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from secagg.masking import Stage
from tests.secagg.strategies_masking import make_round

BITS = 8
D = 4096


def _server_view(inputs: dict[int, np.ndarray], drop: int | None = None) -> dict[str, object]:
    r = make_round(n=5, threshold=3, d=D, bits=BITS)
    r.inputs = inputs
    adverts = [c.advertise_keys() for c in r.clients.values()]
    roster = r.server.collect_keys(adverts)
    r.roster = roster
    share_msgs = [c.share_keys(roster[c.client_id]) for c in r.clients.values()]
    r.bundles = r.server.collect_shares(share_msgs)
    alive = [i for i in range(5) if i != drop]
    masked = [r.clients[i].masked_input(r.bundles[i], inputs[i]) for i in alive]
    request = r.server.collect_masked_inputs(masked)
    consistency = [r.clients[i].consistency_check(request) for i in request.survivors]
    unmask = r.server.collect_consistency(consistency)
    responses = [r.clients[i].unmask(unmask) for i in request.survivors]
    result = r.server.collect_unmask(responses)
    received = [*adverts, *share_msgs, *masked, *consistency, *responses]
    return {
        "masked": [m.vector for m in masked],
        "sizes": [len(m.to_bytes()) for m in received],
        "sum": result.sum,
    }


def _uniform_p(values: np.ndarray) -> float:
    counts = np.bincount(values.astype(np.int64), minlength=2**BITS)
    return float(stats.chisquare(counts).pvalue)


def test_masked_vectors_are_uniform_for_extreme_inputs() -> None:
    zeros = {i: np.zeros(D, dtype=np.uint8) for i in range(5)}
    peaks = {i: np.full(D, 255, dtype=np.uint8) for i in range(5)}
    for inputs in (zeros, peaks):
        view = _server_view(inputs)
        for vector in view["masked"]:  # type: ignore[attr-defined]
            assert _uniform_p(vector) > 1e-6
        # The pooled masked vectors of all clients are uniform too.
        assert _uniform_p(np.concatenate(view["masked"])) > 1e-6  # type: ignore[arg-type]


def test_masked_vector_is_uniform_when_a_neighbour_dropped() -> None:
    inputs = {i: np.zeros(D, dtype=np.uint8) for i in range(5)}
    view = _server_view(inputs, drop=4)
    for vector in view["masked"]:  # type: ignore[attr-defined]
        assert _uniform_p(vector) > 1e-6


def test_same_sum_gives_the_same_view() -> None:
    rng = np.random.default_rng(3)
    a = {i: rng.integers(0, 256, size=D, dtype=np.uint8) for i in range(5)}
    b = dict(a)
    # Move mass between clients 0 and 1: same sum, different individual inputs.
    delta = rng.integers(0, 256, size=D, dtype=np.uint8)
    b[0] = (a[0] + delta).astype(np.uint8)
    b[1] = (a[1] - delta).astype(np.uint8)
    view_a, view_b = _server_view(a), _server_view(b)
    assert view_a["sizes"] == view_b["sizes"]
    np.testing.assert_array_equal(view_a["sum"], view_b["sum"])
    # Client 0's masked vector: uniform in both worlds, and the two samples are
    # indistinguishable (two-sample chi-square on the histograms).
    ma, mb = view_a["masked"][0], view_b["masked"][0]  # type: ignore[index]
    table = np.stack([np.bincount(ma, minlength=256), np.bincount(mb, minlength=256)]).astype(
        np.int64
    )
    assert stats.chi2_contingency(table).pvalue > 1e-6
    # The masked vector minus the input is not a fixed function of the input.
    assert not np.array_equal(ma, mb)


def test_server_view_holds_no_plain_input() -> None:
    inputs = {i: np.full(D, 7 * (i + 1), dtype=np.uint8) for i in range(5)}
    view = _server_view(inputs)
    for i, vector in enumerate(view["masked"]):  # type: ignore[arg-type]
        assert np.mean(vector == inputs[i]) < 0.02  # ~1/256 by chance


def test_dropped_client_input_is_never_revealed() -> None:
    # A client that drops after ShareKeys: the server rebuilds its mask key only, never sees
    # its input; the sum excludes it.
    r = make_round(n=5, threshold=3, d=16, bits=16)
    r.keys()
    r.shares()
    r.masked([0, 1, 2, 3])
    r.consistent()
    assert r.unmask_request is not None
    responses = [r.clients[i].unmask(r.unmask_request) for i in range(4)]
    assert all(4 not in dict(resp.seed_shares) for resp in responses)
    assert all(4 in dict(resp.key_shares) for resp in responses)
    result = r.server.collect_unmask(responses)
    assert result.dropped == (4,)
    assert Stage.MASKED_INPUT.name == "MASKED_INPUT"
