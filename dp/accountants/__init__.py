"""Privacy accountants: RDP (fast, general) and PLD (tight, certifying, the default)."""

from __future__ import annotations

from dp.accountants.base import (
    PrivacyAccountant,
    ledger_from_dict,
    ledger_neighbouring,
    ledger_to_dict,
)
from dp.accountants.pld import PldAccountant
from dp.accountants.rdp import RdpAccountant

__all__ = [
    "PrivacyAccountant",
    "RdpAccountant",
    "PldAccountant",
    "ledger_to_dict",
    "ledger_from_dict",
    "ledger_neighbouring",
]
