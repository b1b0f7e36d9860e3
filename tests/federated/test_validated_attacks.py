"""Red-team tests of the validated backend: outsiders, duplicate uploads, an aborting helper.

The backend (``Aggregation.VALIDATED``, federated/_validated.py) must sum only the proven
reports of the round's cohort: a contribution from a client outside the cohort, a second
upload of the same report and a rejected client's data never reach the sum, and a helper
that aborts or misbehaves abandons the round (nothing released) instead of crashing the run
or leaving the server's leader state behind.
"""

from __future__ import annotations

import numpy as np
import pytest

from federated._aggregation import RoundInput, StageTimer
from federated._validated import (
    BoundedEncoding,
    SimulatedHelper,
    ValidatedAggregator,
    client_report,
)
from federated.config import ValidatedSettings
from federated.errors import InvalidArgument
from federated.server import AggregationServer
from secagg.errors import DeserializationError, ProtocolError
from secagg.validated import AggregateShare, PrepareResponse, RejectReason, ValidatedConfig

SETTINGS = ValidatedSettings(bits=12)
LENGTH = 3


def _aggregator() -> tuple[ValidatedAggregator, BoundedEncoding, list[object]]:
    received: list[object] = []
    encoding = BoundedEncoding(SETTINGS.bits, LENGTH, 1.0)
    server = AggregationServer(observer=received.append)
    return ValidatedAggregator(server, SETTINGS, encoding, None), encoding, received


def _on_grid(encoding: BoundedEncoding, *units: int) -> np.ndarray:
    """A contribution on the fixed-point grid, so stochastic rounding leaves it exact."""
    return np.asarray(units, dtype=np.float64) * encoding.step


def _input(contributions: dict[int, np.ndarray], cohort: tuple[int, ...]) -> RoundInput:
    return RoundInput(1, cohort, contributions, {}, 1)


def test_a_contribution_from_outside_the_cohort_is_refused() -> None:
    # Every backend sums what it is handed, so the round's input itself refuses an outsider.
    aggregator, encoding, _ = _aggregator()
    inside = {0: _on_grid(encoding, 5, 0, -3), 1: _on_grid(encoding, 1, 2, 3)}
    outsider = {99: _on_grid(encoding, 7, 7, 7)}
    with pytest.raises(InvalidArgument, match=r"\[99\] outside the cohort"):
        _input({**inside, **outsider}, (0, 1))
    result = aggregator.aggregate(_input(inside, (0, 1)), StageTimer())
    assert result.total is not None
    np.testing.assert_array_equal(result.total, _on_grid(encoding, 6, 2, 0))
    assert result.survivors == (0, 1)


def test_a_duplicate_upload_is_counted_once() -> None:
    encoding = BoundedEncoding(SETTINGS.bits, LENGTH, 1.0)
    server, helper = AggregationServer(), SimulatedHelper(None)
    config = ValidatedConfig(LENGTH, SETTINGS.bits, encoding.norm_bound, helper.public_key, 1)
    report = client_report(config, encoding, _on_grid(encoding, 4, -4, 1))
    other = client_report(config, encoding, _on_grid(encoding, 1, 1, 1))
    key = bytes(16)
    server.validated_begin(config, key)
    helper.begin(config, key)
    server.validated_finish_prepare(
        helper.prepare(server.validated_prepare([report, other, report]))
    )
    share = helper.aggregate_share(1)
    assert share is not None
    result = server.validated_collect(share)
    assert result.sum == [5, -3, 2]
    assert [(r.index, r.reason) for r in result.rejected] == [(2, RejectReason.REPLAYED)]


class _AbortingHelper(SimulatedHelper):
    """A helper that fails (crashes, or answers garbage) at one step of the round."""

    def __init__(self, step: str) -> None:
        super().__init__(None)
        self.step = step

    def prepare(self, request):  # type: ignore[no-untyped-def]
        response = super().prepare(request)
        if self.step == "prepare":
            raise ProtocolError("the helper went away")
        if self.step == "garbage response":
            return PrepareResponse(response.config_digest, response.round_number, ())
        return response

    def aggregate_share(self, minimum: int) -> AggregateShare | None:
        share = super().aggregate_share(minimum)
        if self.step == "share" or share is None:
            raise DeserializationError("the helper's share did not parse")
        if self.step == "wrong count":
            return AggregateShare(
                share.config_digest,
                share.round_number,
                share.count + 1,
                share.reports_digest,
                share.share,
            )
        return share


@pytest.mark.parametrize("step", ["prepare", "garbage response", "share", "wrong count"])
def test_a_round_where_the_helper_aborts_releases_nothing(step: str) -> None:
    aggregator, encoding, _ = _aggregator()
    aggregator._helper = _AbortingHelper(step)
    contributions = {0: _on_grid(encoding, 1, 0, 0), 1: _on_grid(encoding, 0, 1, 0)}
    result = aggregator.aggregate(_input(contributions, (0, 1)), StageTimer())
    assert result.total is None
    assert result.survivors == ()
    assert "abandoned" in result.note
    assert aggregator._server._leader is None  # no leader state left behind
    # The next round, with an honest helper, runs normally.
    aggregator._helper = _AbortingHelper("none")
    again = aggregator.aggregate(_input(contributions, (0, 1)), StageTimer())
    assert again.total is not None
    np.testing.assert_array_equal(again.total, _on_grid(encoding, 1, 1, 0))


def test_rejected_clients_data_never_reaches_the_sum() -> None:
    aggregator, encoding, received = _aggregator()
    honest = {c: _on_grid(encoding, c, -c, 2) for c in range(3)}
    poisoned = {3: np.array([50.0, -50.0, 50.0]), 4: np.array([0.9, 0.9, 0.0])}
    result = aggregator.aggregate(_input({**honest, **poisoned}, tuple(range(5))), StageTimer())
    assert result.rejected_clients == (3, 4)
    assert result.survivors == (0, 1, 2)
    assert result.total is not None
    np.testing.assert_array_equal(result.total, _on_grid(encoding, 3, -3, 6))
    # What the server received: reports, the helper's response and its share; no plaintext.
    kinds = {type(m).__name__ for m in received}
    assert kinds <= {"Report", "PrepareResponse", "AggregateShare"}, kinds
