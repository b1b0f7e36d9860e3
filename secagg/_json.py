"""Strict, bounded JSON reading for the package's loaders (internal).

``json.loads`` on untrusted text can fail in ways a caller cannot catch as one error: deep
nesting raises :class:`RecursionError`, bytes that are not UTF-8 raise
:class:`UnicodeDecodeError`, a long integer literal raises :class:`ValueError` from Python's
int-string conversion limit, and ``str.isdigit`` accepts digits such as ``"²"`` that
``int`` refuses. Here the size and the nesting depth are checked before parsing, integer
literals are bounded, ``NaN``/``Infinity`` and repeated keys are refused, and every
failure is a :class:`~secagg.errors.DeserializationError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import gmpy2  # type: ignore[import-untyped]

from secagg.errors import DeserializationError

__all__ = ["load_object", "parse_decimal"]

_MAX_INT_LITERAL = 32  # the formats' JSON integers are small (versions, counts)
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII digits only, no sign, no leading zero


def _nesting_depth(text: str, limit: int, what: str) -> None:
    """Refuse ``text`` if arrays/objects nest deeper than ``limit`` (strings skipped)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise DeserializationError(f"{what}: JSON nested deeper than {limit}")
        elif ch in "]}":
            depth -= 1


def _bounded_int(literal: str) -> int:
    if len(literal) > _MAX_INT_LITERAL:
        raise ValueError(f"integer literal of {len(literal)} characters")
    return int(literal)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("repeated object key")
    return out


def load_object(text: object, *, what: str, max_chars: int, max_depth: int = 2) -> dict[str, Any]:
    """Parse ``text`` (``str``, or UTF-8 ``bytes``) as one JSON object, within bounds.

    Args:
        text: the JSON text.
        what: names the object in error messages.
        max_chars: refuse longer text (bytes are measured before decoding).
        max_depth: refuse arrays/objects nested deeper than this (the top object is 1).

    Raises:
        DeserializationError: wrong type, too long, not UTF-8, too deep, malformed JSON,
            an integer literal over 32 characters, ``NaN``/``Infinity``, a repeated key,
            or a top level that is not an object.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        if len(raw) > max_chars:
            raise DeserializationError(f"{what}: {len(raw)} bytes exceed the {max_chars} limit")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeserializationError(f"{what}: not UTF-8 text") from exc
    if not isinstance(text, str):
        raise DeserializationError(f"{what}: expected str or bytes, got {type(text).__name__}")
    if len(text) > max_chars:
        raise DeserializationError(f"{what}: {len(text)} characters exceed the {max_chars} limit")
    _nesting_depth(text, max_depth, what)
    try:
        obj = json.loads(
            text,
            parse_int=_bounded_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise DeserializationError(f"{what}: malformed JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise DeserializationError(f"{what}: expected a JSON object")
    return obj


def parse_decimal(value: object, *, what: str, max_digits: int) -> int:
    """The non-negative integer written as canonical ASCII decimal ``value``.

    Only ``0-9`` without sign, spaces, underscores or leading zeros, at most ``max_digits``
    digits. Conversion goes through GMP, so it is not subject to Python's int-string
    conversion limit (4300 digits by default) and stays subquadratic.

    Raises:
        DeserializationError: ``value`` is not such a string.
    """
    if not isinstance(value, str) or len(value) > max_digits or not _DECIMAL.fullmatch(value):
        raise DeserializationError(
            f"{what} must be a decimal string of at most {max_digits} ASCII digits"
        )
    return int(gmpy2.mpz(value, 10))
