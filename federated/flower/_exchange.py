"""One protocol stage over a Flower :class:`~flwr.serverapp.Grid`: send, wait, sort replies.

A stage sends one message to each addressed node and waits (up to a timeout) for replies,
polling the grid at a short, growing interval rather than Flower's fixed three seconds.
A node that replies with a Flower error, replies twice, or does not reply in time has
dropped out at this stage; the protocol state machines decide what a dropout means.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from flwr.app import Message, MessageType, RecordDict
from flwr.serverapp import Grid

__all__ = ["StageReplies", "exchange", "content_bytes", "push_and_pull"]


@dataclass(frozen=True, slots=True)
class StageReplies:
    """What one stage brought back.

    Attributes:
        replies: the content of each well-formed reply, by node id.
        failures: why each other addressed node dropped (error text or ``"no reply"``).
        seconds: wall time of the stage.
        bytes_received: bytes of the fedcrypt payloads in ``replies``.
    """

    replies: dict[int, RecordDict]
    failures: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    bytes_received: int = 0


def content_bytes(content: RecordDict) -> int:
    """Payload size of a message content: its bytes and str fields, and its arrays."""
    total = 0
    for record in content.config_records.values():
        for value in record.values():
            items = value if isinstance(value, list) else [value]
            total += sum(len(v) if isinstance(v, bytes | str) else 8 for v in items)
    for arrays in content.array_records.values():
        total += sum(len(array.data) for array in arrays.values())
    return total


_FIRST_POLL = 0.02
_MAX_POLL = 0.5


def push_and_pull(grid: Grid, messages: list[Message], timeout: float | None) -> list[Message]:
    """Push, then poll for replies with a short, growing interval (Flower's own is 3 s)."""
    pending = {mid for mid in grid.push_messages(messages) if mid}
    deadline = None if timeout is None else time.monotonic() + timeout
    received: list[Message] = []
    wait = _FIRST_POLL
    while pending:
        replies = list(grid.pull_messages(sorted(pending)))
        received.extend(replies)
        pending.difference_update(reply.metadata.reply_to_message_id for reply in replies)
        if not pending or (deadline is not None and time.monotonic() >= deadline):
            break
        time.sleep(wait)
        wait = min(wait * 1.5, _MAX_POLL)
    return received


def exchange(
    grid: Grid,
    requests: Mapping[int, RecordDict],
    *,
    group_id: str,
    timeout: float | None,
    message_type: str = MessageType.TRAIN,
) -> StageReplies:
    """Send ``requests[node]`` to every node and collect the replies of this stage.

    Args:
        grid: the Flower grid of the running ServerApp.
        requests: message content per destination node id.
        group_id: Flower's group id (we use the round number).
        timeout: seconds to wait for replies (``None``: wait for all of them).
        message_type: Flower message type; ``"train"`` routes to the ClientApp's train
            function, through the fedcrypt mod.

    Returns:
        The replies by node id and the reasons of the nodes that dropped.
    """
    start = time.perf_counter()
    messages = [
        Message(content, dst_node_id=node, message_type=message_type, group_id=group_id)
        for node, content in requests.items()
    ]
    received = push_and_pull(grid, messages, timeout) if messages else []
    replies: dict[int, RecordDict] = {}
    failures: dict[int, str] = {}
    seen: set[int] = set()
    for reply in received:
        node = int(reply.metadata.src_node_id)
        if node not in requests:
            continue
        if node in seen:
            replies.pop(node, None)
            failures[node] = "replied twice"
            continue
        seen.add(node)
        if reply.has_error():
            failures[node] = f"error {reply.error.code}: {reply.error.reason}"
        elif not reply.has_content():
            failures[node] = "empty reply"
        else:
            replies[node] = reply.content
    for node in requests:
        if node not in seen:
            failures[node] = "no reply"
    size = sum(content_bytes(content) for content in replies.values())
    return StageReplies(replies, failures, time.perf_counter() - start, size)
