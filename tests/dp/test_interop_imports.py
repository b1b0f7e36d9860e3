"""dp.interop imports no peer until a function needs it, and says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import dp
import dp.interop
from dp.interop import (
    InteropNotInstalled,
    OpacusPldAccountant,
    from_dp_accounting,
    register_opacus_accountants,
    to_dp_accounting,
)


def test_importing_dp_and_interop_imports_no_peer() -> None:
    script = textwrap.dedent(
        """
        import sys
        import dp, dp.interop, dp.interop.dp_accounting, dp.interop.opacus
        from dp.interop import *
        acc = dp.interop.OpacusPldAccountant()
        acc.step(noise_multiplier=1.0, sample_rate=0.01)
        acc.get_epsilon(1e-5)
        print(sorted(m for m in ("dp_accounting", "opacus", "torch") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("peer", ["dp_accounting", "opacus"])
def test_a_missing_peer_names_the_extra(monkeypatch: pytest.MonkeyPatch, peer: str) -> None:
    monkeypatch.setitem(sys.modules, peer, None)  # what an absent package looks like to import
    call = (
        (lambda: to_dp_accounting(dp.Gaussian(1.0)))
        if peer == "dp_accounting"
        else register_opacus_accountants
    )
    with pytest.raises(InteropNotInstalled, match=r"fedcrypt\[interop\]") as caught:
        call()
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, dp.DPError)
    assert peer in str(caught.value)


def test_our_names_work_without_dp_accounting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dp_accounting", None)
    assert dp.interop.neighbouring_from_dp_accounting("zero_out") == "zero_out"
    with pytest.raises(InteropNotInstalled):
        from_dp_accounting(object())
    accountant = OpacusPldAccountant()  # the Opacus adapter itself needs no peer
    accountant.step(noise_multiplier=2.0, sample_rate=0.5)
    assert accountant.get_epsilon(1e-5) > 0
