"""Interop with the tools users already have: Google's dp_accounting and Opacus.

* :func:`to_dp_accounting` / :func:`from_dp_accounting` convert events both ways, under a
  neighbouring relation that travels beside them (:func:`dp_accounting_relation`);
  :func:`dp_accounting_accountant` composes one of our ledgers into dp_accounting's
  accountants to check our numbers, and :func:`accountant_from_dp_accounting` accounts a
  dp_accounting event with ours.
* :class:`OpacusPldAccountant` and :class:`OpacusRdpAccountant` are Opacus accountants
  backed by ours; :func:`register_opacus_accountants` lets
  ``opacus.PrivacyEngine(accountant="fedcrypt_pld")`` use them.

The peers are optional (``pip install 'fedcrypt[interop]'``) and imported only inside the
functions that use them: importing :mod:`dp.interop` imports neither. A function that needs
a missing peer raises :class:`InteropNotInstalled`, naming the extra. See
``docs/dp/interop.md``.
"""

from __future__ import annotations

from dp.interop._imports import InteropNotInstalled
from dp.interop.dp_accounting import (
    AccountantKind,
    accountant_from_dp_accounting,
    dp_accounting_accountant,
    dp_accounting_relation,
    from_dp_accounting,
    neighbouring_from_dp_accounting,
    to_dp_accounting,
)
from dp.interop.opacus import (
    OpacusAccountant,
    OpacusPldAccountant,
    OpacusRdpAccountant,
    register_opacus_accountants,
)

__all__ = [
    "InteropNotInstalled",
    # dp_accounting
    "AccountantKind",
    "to_dp_accounting",
    "from_dp_accounting",
    "dp_accounting_relation",
    "neighbouring_from_dp_accounting",
    "dp_accounting_accountant",
    "accountant_from_dp_accounting",
    # Opacus
    "OpacusAccountant",
    "OpacusPldAccountant",
    "OpacusRdpAccountant",
    "register_opacus_accountants",
]
