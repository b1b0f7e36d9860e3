"""Strict JSON reading with bounded time and memory, for reports, ledgers and CLI files.

:func:`json.loads` on untrusted text can recurse until :class:`RecursionError`
(``"[" * 100000``), build integers of thousands of digits (whose conversion to ``float``
then overflows), accept ``NaN`` and ``Infinity`` and silently keep the last of two equal
keys. :func:`loads_bounded` checks the size and the nesting depth *before* parsing, and
parses with hooks that refuse non-finite numbers, over-long integer literals and duplicate
keys, so every malformed input is one typed :class:`~dp.errors.SerializationError`.
:func:`check_depth` bounds the nesting of an already parsed object (a TOML table, or a dict
handed to ``from_dict``) without recursion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from dp.errors import SerializationError

__all__ = [
    "MAX_DEPTH",
    "MAX_BYTES",
    "MAX_CONTAINERS",
    "MAX_INT_DIGITS",
    "loads_bounded",
    "check_depth",
]

MAX_BYTES = 32 * 1024 * 1024
"""Largest JSON text read (32 MiB: a report whose ledger has ~100,000 distinct entries)."""

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (a report with nested events needs ~15)."""

MAX_CONTAINERS = 1_000_000
"""Most arrays and objects in one text (each costs a Python object when parsed)."""

MAX_INT_DIGITS = 40
"""Longest integer literal accepted; every legitimate count or size fits in far fewer."""

# A JSON string literal (the unrolled form runs in linear time, without backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in "[]{}"))


def _structure(text: str) -> tuple[int, int]:
    """The deepest bracket nesting outside string literals, and the containers opened.

    Returns ``(depth, containers)``: 0 depth for a scalar; the number of arrays and
    objects the text opens.
    """
    structure = _STRING.sub("", text)
    # Keep only ASCII brackets; non-ASCII characters can only sit inside strings in JSON
    # (elsewhere the parser refuses them), so dropping them is harmless here.
    brackets = structure.encode("ascii", "ignore").decode("ascii").translate(_BRACKETS)
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    deepest = level = opened = 0
    for start in range(0, codes.size, _CHUNK):  # chunks keep the temporaries small
        chunk = codes[start : start + _CHUNK]
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        opened += int(np.count_nonzero(opens))
        running = np.cumsum(np.where(opens, 1, -1).astype(np.int32), dtype=np.int64) + level
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
    return deepest, opened


_CHUNK = 1 << 20


def _parse_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise SerializationError(
            f"an integer of {len(literal)} digits exceeds the limit of {MAX_INT_DIGITS}"
        )
    return int(literal)


def _parse_float(literal: str) -> float:
    if len(literal) > 1000:
        raise SerializationError(f"a number literal of {len(literal)} characters is too long")
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise SerializationError(f"the number {literal[:40]} overflows a float")
    return value


def _parse_constant(name: str) -> float:
    raise SerializationError(f"{name} is not a JSON number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise SerializationError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def loads_bounded(
    data: str | bytes | bytearray, *, what: str = "JSON", max_bytes: int = MAX_BYTES
) -> object:
    """Parse JSON text (``str``, or UTF-8 ``bytes``) after checking its size and depth.

    Raises:
        SerializationError: not UTF-8, larger than ``max_bytes``, nested deeper than
            :data:`MAX_DEPTH`, more than :data:`MAX_CONTAINERS` arrays and objects, not
            JSON, a non-finite number, an integer literal longer than
            :data:`MAX_INT_DIGITS` digits, or a duplicate key.
    """
    if isinstance(data, bytes | bytearray):
        if len(data) > max_bytes:
            raise SerializationError(f"{what} is {len(data)} bytes, over the {max_bytes} limit")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise SerializationError(f"{what} is not UTF-8 text (byte {error.start})") from None
    elif isinstance(data, str):
        text = data
        if len(text) > max_bytes:
            raise SerializationError(f"{what} is {len(text)} characters, over the limit")
    else:
        raise SerializationError(f"{what} must be str or bytes, got {type(data).__name__}")
    depth, containers = _structure(text)
    if depth > MAX_DEPTH:
        raise SerializationError(f"{what} is nested {depth} deep, over the limit of {MAX_DEPTH}")
    if containers > MAX_CONTAINERS:
        raise SerializationError(
            f"{what} holds {containers} arrays and objects, over the limit of {MAX_CONTAINERS}"
        )
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_object,
        )
    except SerializationError as error:
        raise SerializationError(f"{what}: {error}") from None
    except json.JSONDecodeError as error:
        raise SerializationError(
            f"{what} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except (ValueError, RecursionError) as error:  # pragma: no cover - guarded above
        raise SerializationError(f"{what} is not valid JSON: {error}") from None


def check_depth(value: object, *, what: str = "the data", limit: int = MAX_DEPTH) -> None:
    """Refuse a parsed object nested deeper than ``limit`` (iteratively, no recursion).

    Raises:
        SerializationError: the nesting exceeds ``limit``.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: list[object] = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if depth + 1 > limit:
            raise SerializationError(f"{what} is nested deeper than {limit}")
        stack.extend((child, depth + 1) for child in children)
