"""An UnsupportedEvent names the accountant (and relation) that does support the event."""

from __future__ import annotations

import re

import pytest

from dp import events as e
from dp.accountants import PldAccountant, RdpAccountant
from dp.errors import UnsupportedEvent
from dp.neighbouring import NEIGHBOURING_RELATIONS

ACCOUNTANTS = {"PldAccountant": PldAccountant, "RdpAccountant": RdpAccountant}
EVENTS = [
    e.ZCDP(0.5),
    e.Laplace(1.0),
    e.Gaussian(1.0),
    e.PoissonSampled(0.01, e.ZCDP(0.1)),
    e.SampledWithoutReplacement(100, 10, e.ZCDP(0.2)),
    e.Composed((e.Gaussian(2.0), e.ZCDP(0.1))),
]


def test_pld_points_to_rdp_for_zcdp() -> None:
    with pytest.raises(UnsupportedEvent, match="use RdpAccountant, which supports it"):
        PldAccountant().compose(e.ZCDP(0.5))


@pytest.mark.parametrize("event", EVENTS, ids=repr)
@pytest.mark.parametrize("relation", NEIGHBOURING_RELATIONS)
@pytest.mark.parametrize("name", sorted(ACCOUNTANTS))
def test_every_suggestion_is_true(event: e.DpEvent, relation: str, name: str) -> None:
    accountant = ACCOUNTANTS[name](neighbouring=relation)  # type: ignore[arg-type]
    try:
        accountant.compose(event)
    except UnsupportedEvent as error:
        message = str(error)
    else:
        return
    named = re.findall(r"(PldAccountant|RdpAccountant)(?:\(neighbouring='(\w+)'\))?", message)
    suggested = [(cls, rel or relation) for cls, rel in named if (cls, rel) != (name, "")]
    if "no accountant in dp supports it" in message:
        assert not any(
            cls(neighbouring=rel).supports(event)  # type: ignore[arg-type]
            for cls in ACCOUNTANTS.values()
            for rel in NEIGHBOURING_RELATIONS
        )
        return
    assert suggested, message
    for cls_name, rel in suggested:
        assert ACCOUNTANTS[cls_name](neighbouring=rel).supports(event), message  # type: ignore[arg-type]
