"""Imported first by the demo: refuse with the install hint when the 'demo' extra is missing.

The demo trains torch models on scikit-learn's digits; without either, importing
:mod:`federated.demo` raises :class:`~federated.errors.MissingExtra` naming the ``demo``
extra, not a bare ``No module named ...``.
"""

from __future__ import annotations

from federated.errors import MissingExtra

try:
    import sklearn  # noqa: F401
    import torch  # noqa: F401
except ImportError as _error:
    raise MissingExtra("federated.demo", "demo", _error.name or "torch") from _error
