"""Client side of packed Paillier aggregation over Flower.

``encrypt``: train on the global model, clip the update and encrypt it packed under the
committee's public key (after checking the key against a pinned fingerprint, when the node
has one). ``decrypt``: a key-holder node returns its decryption share of the sum, with a
proof (:mod:`secagg.paillier.threshold`); other nodes return nothing. A holder refuses a
vector that claims fewer summands than the round's minimum; the header is the server's
word, so this is defence in depth, not a guarantee: the committee must not collude with
the server.
"""

from __future__ import annotations

from collections.abc import Callable

from flwr.app import Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from federated.flower._envelope import Envelope, Protocol, get_bytes, get_float, get_int, plan_of
from federated.flower._training import local_update, with_metrics
from federated.flower._vectors import clip_l2
from federated.flower.errors import MalformedMessage
from secagg.paillier import EncryptedVector
from secagg.paillier.threshold import KeyShare, VerificationKeys

__all__ = ["KeyShareProvider", "handle_paillier"]

KeyShareProvider = Callable[[Context], KeyShare | None]
"""Returns this node's Paillier key share, or ``None`` if the node holds none."""


def handle_paillier(
    msg: Message,
    ctxt: Context,
    call_next: ClientAppCallable,
    envelope: Envelope,
    *,
    key_share: KeyShareProvider,
    allow_insecure_key: bool,
    pinned_fingerprint: bytes | None,
) -> RecordDict:
    """Run one Paillier stage on this node; return the reply content."""
    plan = plan_of(msg.content)
    try:
        verification = VerificationKeys.from_bytes(get_bytes(plan, "verification"))
        public_key = verification.public_key(allow_insecure=allow_insecure_key)
    except ValueError as exc:
        raise MalformedMessage(f"unusable Paillier key in the plan: {exc}") from exc
    if pinned_fingerprint is not None and public_key.fingerprint != pinned_fingerprint:
        raise MalformedMessage("the server sent a Paillier key other than the pinned one")
    round_number = envelope.round_number
    if envelope.stage == "encrypt":
        update = local_update(msg, ctxt, call_next, get_int(plan, "vector_length"))
        clipped = clip_l2(update.delta, get_float(plan, "clip"))
        vector = public_key.encrypt_vector(
            clipped,
            scale_bits=get_int(plan, "scale_bits"),
            value_bits=get_int(plan, "value_bits"),
            max_summands=get_int(plan, "max_summands"),
        )
        content = Envelope(Protocol.PAILLIER, "encrypt", round_number, vector.to_bytes())
        return with_metrics(content.to_content(), update.metrics)
    if envelope.stage == "decrypt":
        share = key_share(ctxt)
        body = b""
        if share is not None:
            if share.n != verification.n:
                raise MalformedMessage("this node's key share belongs to another key")
            total = EncryptedVector.from_bytes(envelope.body, public_key)
            if total.summands < get_int(plan, "min_summands"):
                raise MalformedMessage("refusing to decrypt a sum of too few clients")
            body = share.partial_decrypt_vector(total).to_bytes(verification)
    else:
        raise MalformedMessage(f"unknown paillier stage {envelope.stage!r}")
    return Envelope(Protocol.PAILLIER, envelope.stage, round_number, body).to_content()
