"""Run fedcrypt's secure aggregation and DP accounting on Flower (the ``flower`` extra).

Flower carries the bytes; our state machines run the protocols. On the client, put
:func:`fedcrypt_mod` in the ``ClientApp`` and write ordinary ``@app.train()`` and
``@app.evaluate()`` functions; on the server, :class:`SecureFedAvg` is a Flower ``Strategy``
with ``FedAvg``'s parameters: call its ``start`` from the ``ServerApp``'s ``main``, with:

* :class:`MaskingAggregation`: SecAgg+ masking (Bonawitz et al. 2017; Bell et al. 2020),
  optionally with :class:`DistributedDP` noise shares (Kairouz et al. 2021);
* :class:`PaillierAggregation`: packed Paillier encryption, summed on the server, decrypted
  by a key-holder node or a threshold committee;
* :class:`PlainInsecureAggregation`: the insecure baseline, for comparisons only.
"""

from __future__ import annotations

from federated.errors import MissingExtra

try:
    import flwr  # noqa: F401  (the 'flower' extra; checked first for a clear error)
except ImportError as _error:
    raise MissingExtra("federated.flower", "flower", "flwr") from _error

from federated.flower._envelope import Envelope, Protocol, has_envelope
from federated.flower._round import Observer, RoundOutcome
from federated.flower.errors import ClientStateError, MalformedMessage
from federated.flower.masking import MaskingAggregation, MaskingRound
from federated.flower.mod import (
    ABORT_ERROR_CODE,
    KEY_FINGERPRINT_NODE_CONFIG,
    KEY_SHARE_NODE_CONFIG,
    fedcrypt_mod,
    key_share_from_node_config,
    make_fedcrypt_mod,
)
from federated.flower.paillier import PaillierAggregation
from federated.flower.plain import PlainInsecureAggregation
from federated.flower.privacy import DistributedDP, RunAccountant
from federated.flower.strategy import FlowerRunResult, SecureFedAvg
from federated.flower.testing import dropout_mod

__all__ = [
    "SecureFedAvg",
    "FlowerRunResult",
    "MaskingAggregation",
    "MaskingRound",
    "PaillierAggregation",
    "PlainInsecureAggregation",
    "DistributedDP",
    "RunAccountant",
    "fedcrypt_mod",
    "make_fedcrypt_mod",
    "key_share_from_node_config",
    "KEY_SHARE_NODE_CONFIG",
    "KEY_FINGERPRINT_NODE_CONFIG",
    "dropout_mod",
    "ABORT_ERROR_CODE",
    "RoundOutcome",
    "Observer",
    "Envelope",
    "Protocol",
    "has_envelope",
    "MalformedMessage",
    "ClientStateError",
]
