"""The fedcrypt envelope: how our protocol messages ride inside Flower messages.

Flower carries a :class:`flwr.app.RecordDict`; we put one :class:`flwr.app.ConfigRecord`
under the key :data:`ENVELOPE_KEY` holding a wire version, the protocol and stage names, the
round number and the protocol message itself as bytes, produced by that message's own
versioned ``to_bytes`` (never pickle). Round parameters that both sides need (for example the
masking configuration) travel as typed fields of a second record, :data:`PLAN_KEY`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flwr.app import ConfigRecord, RecordDict

from federated.flower.errors import MalformedMessage

__all__ = [
    "WIRE_VERSION",
    "ENVELOPE_KEY",
    "PLAN_KEY",
    "Protocol",
    "Envelope",
    "has_envelope",
    "get_int",
    "get_float",
    "get_str",
    "get_bytes",
    "get_int_list",
    "get_bytes_list",
]

WIRE_VERSION = 1
"""Version of the envelope layout; a receiver refuses any other."""

ENVELOPE_KEY = "fedcrypt"
"""Key of the envelope record inside a message's :class:`~flwr.app.RecordDict`."""

PLAN_KEY = "fedcrypt.plan"
"""Key of the round-parameters record, when a stage needs one."""

_MAX_ROUND = 2**63 - 1


class Protocol(str, enum.Enum):
    """Which aggregation protocol a message belongs to."""

    MASKING = "masking"
    PAILLIER = "paillier"
    PLAIN_INSECURE = "plain_insecure"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One protocol message in transit.

    Attributes:
        protocol: the aggregation protocol.
        stage: the protocol stage (for example ``"share_keys"``).
        round_number: the federated round, from 1.
        body: the protocol message, serialised by its own versioned codec.
    """

    protocol: Protocol
    stage: str
    round_number: int
    body: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, Protocol):
            raise MalformedMessage("protocol must be a Protocol member")
        if not isinstance(self.stage, str) or not self.stage.isidentifier():
            raise MalformedMessage("stage must be an identifier string")
        _check_round(self.round_number)
        if not isinstance(self.body, bytes):
            raise MalformedMessage("body must be bytes")

    def to_record(self) -> ConfigRecord:
        """The envelope as a Flower :class:`~flwr.app.ConfigRecord`."""
        return ConfigRecord(
            {
                "wire": WIRE_VERSION,
                "protocol": self.protocol.value,
                "stage": self.stage,
                "round": self.round_number,
                "body": self.body,
            }
        )

    def to_content(self, plan: Mapping[str, object] | None = None) -> RecordDict:
        """A fresh :class:`~flwr.app.RecordDict` holding the envelope (and the plan)."""
        content = RecordDict({ENVELOPE_KEY: self.to_record()})
        if plan is not None:
            content[PLAN_KEY] = ConfigRecord(dict(plan))  # type: ignore[arg-type]
        return content

    @classmethod
    def from_record(cls, record: object) -> Envelope:
        """Parse and validate an envelope record.

        Raises:
            MalformedMessage: on a wrong wire version, a missing field or a wrong type.
        """
        if not isinstance(record, ConfigRecord):
            raise MalformedMessage("the fedcrypt envelope must be a ConfigRecord")
        expected = {"wire", "protocol", "stage", "round", "body"}
        if set(record.keys()) != expected:
            raise MalformedMessage(f"envelope fields {sorted(record.keys())} != {sorted(expected)}")
        if get_int(record, "wire") != WIRE_VERSION:
            raise MalformedMessage(f"unsupported envelope version {record['wire']!r}")
        try:
            protocol = Protocol(get_str(record, "protocol"))
        except ValueError as exc:
            raise MalformedMessage(f"unknown protocol {record['protocol']!r}") from exc
        return cls(
            protocol,
            get_str(record, "stage"),
            get_int(record, "round"),
            get_bytes(record, "body"),
        )

    @classmethod
    def from_content(cls, content: RecordDict) -> Envelope:
        """Find and parse the envelope in a message's content."""
        if ENVELOPE_KEY not in content:
            raise MalformedMessage("the message carries no fedcrypt envelope")
        return cls.from_record(content[ENVELOPE_KEY])


def has_envelope(content: RecordDict) -> bool:
    """Whether ``content`` carries a fedcrypt envelope (mods pass other messages through)."""
    return ENVELOPE_KEY in content


def plan_of(content: RecordDict) -> ConfigRecord:
    """The round-parameters record of a message.

    Raises:
        MalformedMessage: if there is none.
    """
    record = content.get(PLAN_KEY)
    if not isinstance(record, ConfigRecord):
        raise MalformedMessage("the message carries no fedcrypt plan")
    return record


def _check_round(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ROUND:
        raise MalformedMessage("round_number must be an int in [0, 2^63)")


def _field(record: Mapping[str, object], key: str) -> object:
    if key not in record:
        raise MalformedMessage(f"missing field {key!r}")
    return record[key]


def get_int(record: Mapping[str, object], key: str) -> int:
    """A field that must be an ``int`` (``bool`` refused)."""
    value = _field(record, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedMessage(f"field {key!r} must be an int")
    return value


def get_float(record: Mapping[str, object], key: str) -> float:
    """A field that must be a real number."""
    value = _field(record, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedMessage(f"field {key!r} must be a number")
    return float(value)


def get_str(record: Mapping[str, object], key: str) -> str:
    """A field that must be a ``str``."""
    value = _field(record, key)
    if not isinstance(value, str):
        raise MalformedMessage(f"field {key!r} must be a str")
    return value


def get_bytes(record: Mapping[str, object], key: str) -> bytes:
    """A field that must be ``bytes``."""
    value = _field(record, key)
    if not isinstance(value, bytes):
        raise MalformedMessage(f"field {key!r} must be bytes")
    return value


def get_int_list(record: Mapping[str, object], key: str) -> list[int]:
    """A field that must be a list of ``int`` (possibly empty)."""
    value = _field(record, key)
    if not isinstance(value, list) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in value
    ):
        raise MalformedMessage(f"field {key!r} must be a list of ints")
    return list(value)


def get_bytes_list(record: Mapping[str, object], key: str) -> list[bytes]:
    """A field that must be a list of ``bytes`` (possibly empty)."""
    value = _field(record, key)
    if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
        raise MalformedMessage(f"field {key!r} must be a list of bytes")
    return list(value)


def int_sequence(values: Sequence[int]) -> list[int]:
    """A plain list of ints for a ConfigRecord field."""
    return [int(v) for v in values]
