"""Import an optional peer library only when a conversion needs it, with the extra to install.

``import dp.interop`` must stay cheap and must work without the peers, so each converter
calls :func:`import_peer` inside the function that uses the peer.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dp.errors import DPError

__all__ = ["InteropNotInstalled", "import_peer"]


class InteropNotInstalled(DPError, ImportError):
    """A :mod:`dp.interop` function needs a peer library that is not installed.

    The message names the extra that installs it (``pip install 'fedcrypt[interop]'``).
    It is also an :class:`ImportError`, so code that already catches that keeps working.
    """


def import_peer(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (``"dp_accounting"``, ``"opacus"``), or raise with the install hint.

    Raises:
        InteropNotInstalled: the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InteropNotInstalled(
            f"{purpose} needs {module}, which is not installed: pip install 'fedcrypt[interop]'"
        ) from error
