"""The fedcrypt client mod: put it in a Flower ``ClientApp`` to run our protocols.

Usage::

    from flwr.clientapp import ClientApp
    from federated.flower import fedcrypt_mod

    app = ClientApp(mods=[fedcrypt_mod])

    @app.train()
    def train(msg, context):  # an ordinary Flower train function
        ...
        return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)

The mod intercepts messages that carry a fedcrypt envelope and drives the protocol state
machines (:mod:`secagg.masking`, :mod:`secagg.paillier`); it calls the user's ``train``
function once per round, on the global model, and sends only the masked or encrypted
update. Messages without an envelope pass through untouched. Any protocol violation aborts
the node's round: its secrets are erased and the server receives a Flower error reply,
which it treats as a dropout. :func:`make_fedcrypt_mod` configures the Paillier side (key
shares of committee nodes, pinned key fingerprint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from flwr.app import Context, Error, Message
from flwr.clientapp.typing import ClientAppCallable
from flwr.clientapp.typing import Mod as FlowerMod

from federated.errors import FederatedError
from federated.flower._client_masking import ClientPolicy, erase_masking_state, handle_masking
from federated.flower._client_paillier import KeyShareProvider, handle_paillier
from federated.flower._client_plain import handle_plain
from federated.flower._envelope import Envelope, Protocol, has_envelope
from secagg.paillier.threshold import KeyShare

__all__ = [
    "ABORT_ERROR_CODE",
    "KEY_SHARE_NODE_CONFIG",
    "KEY_FINGERPRINT_NODE_CONFIG",
    "key_share_from_node_config",
    "make_fedcrypt_mod",
    "fedcrypt_mod",
]

ABORT_ERROR_CODE = 4_290
"""Flower error code of a reply whose node aborted the protocol to protect itself."""

KEY_SHARE_NODE_CONFIG = "fedcrypt-key-share"
"""Node-config key: path of this node's Paillier key share (``KeyShare.to_bytes``)."""

KEY_FINGERPRINT_NODE_CONFIG = "fedcrypt-key-fingerprint"
"""Node-config key: hex fingerprint of the only Paillier public key this node encrypts to."""


def key_share_from_node_config(ctxt: Context) -> KeyShare | None:
    """Load the key share named by the node's ``fedcrypt-key-share`` config, if any."""
    path = ctxt.node_config.get(KEY_SHARE_NODE_CONFIG)
    if not path:
        return None
    return KeyShare.from_bytes(Path(str(path)).read_bytes())


def make_fedcrypt_mod(
    *,
    key_share: KeyShareProvider = key_share_from_node_config,
    allow_insecure_paillier_keys: bool = False,
    min_noise_multiplier: float | None = None,
    min_threshold_fraction: float = 0.5,
    min_colluders: int | Literal["secagg"] | None = None,
) -> FlowerMod:
    """Build the fedcrypt mod.

    Args:
        key_share: returns this node's Paillier key share (committee members only); by
            default read from the file named by the ``fedcrypt-key-share`` node config.
        allow_insecure_paillier_keys: accept Paillier moduli below 2048 bits (tests only).
            Off by default so a server cannot downgrade the key size.
        min_noise_multiplier: refuse masking rounds whose distributed-DP noise multiplier is
            below this (so a server cannot quietly turn the noise down or off).
        min_threshold_fraction: refuse masking rounds whose Shamir threshold is below this
            fraction of a neighbourhood (never below one half, which the protocol enforces).
        min_colluders: refuse distributed-DP rounds whose noise shares assume fewer clients
            colluding with the server than this (``"secagg"``: the Shamir threshold minus
            one, the server's default), so a server cannot shrink every share by assuming
            that no client colludes with it.

    Returns:
        A Flower mod for ``ClientApp(mods=[...])``.
    """
    policy = ClientPolicy(min_noise_multiplier, min_threshold_fraction, min_colluders)

    def mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        if not msg.has_content() or not has_envelope(msg.content):
            return call_next(msg, ctxt)
        try:
            envelope = Envelope.from_content(msg.content)
        except FederatedError as exc:
            return Message(Error(ABORT_ERROR_CODE, f"fedcrypt: {exc}"), reply_to=msg)
        try:
            if envelope.protocol is Protocol.MASKING:
                content = handle_masking(msg, ctxt, call_next, envelope, policy)
            elif envelope.protocol is Protocol.PAILLIER:
                pinned = ctxt.node_config.get(KEY_FINGERPRINT_NODE_CONFIG)
                content = handle_paillier(
                    msg,
                    ctxt,
                    call_next,
                    envelope,
                    key_share=key_share,
                    allow_insecure_key=allow_insecure_paillier_keys,
                    pinned_fingerprint=bytes.fromhex(str(pinned)) if pinned else None,
                )
            else:
                content = handle_plain(msg, ctxt, call_next, envelope)
        except Exception as exc:  # any failure, even in the user's train function, aborts
            if envelope.protocol is Protocol.MASKING:
                erase_masking_state(ctxt, envelope.round_number, "aborted")
            reason = f"fedcrypt {envelope.protocol.value}/{envelope.stage} aborted: {exc}"
            return Message(Error(ABORT_ERROR_CODE, reason), reply_to=msg)
        return Message(content, reply_to=msg)

    return mod


fedcrypt_mod: FlowerMod = make_fedcrypt_mod()
"""The fedcrypt mod with default settings (see :func:`make_fedcrypt_mod`)."""
