"""Fuzzing the event and ledger loaders: only typed errors escape, quickly, nothing corrupt loads.

Every mutation of a valid serialised event or ledger (a truncation, a flipped bit, an
inserted byte, a field replaced by a huge number, a deep nest or a wrong type) either
parses to something that re-serialises to exactly what was parsed, or raises
``dp.SerializationError``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from tests.dp.strategies_events import events

MUTANT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**62, 2**62 + 1, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _parse_event(data: object) -> None:
    try:
        event = dp.event_from_dict(data)
    except dp.SerializationError:
        pass
    else:
        assert dp.event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def _parse_ledger(data: object) -> None:
    try:
        entries = dp.ledger_from_dict(data)
        relation = dp.ledger_neighbouring(data)
    except dp.SerializationError:
        pass
    else:
        again = dp.ledger_to_dict(entries, neighbouring=relation)
        assert dp.ledger_from_dict(json.loads(json.dumps(again))) == entries


def _paths(data: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested dicts and lists."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@settings(max_examples=150, deadline=None)
@given(event=events, data=st.data())
def test_any_field_replaced_by_anything_is_typed(event: dp.DpEvent, data: st.DataObject) -> None:
    payload = event.to_dict()
    path = data.draw(st.sampled_from(_paths(payload)))
    _parse_event(_replace(payload, path, data.draw(MUTANT_VALUES)))
    ledger = dp.ledger_to_dict([(event, 3)], neighbouring="zero_out")
    path = data.draw(st.sampled_from(_paths(ledger)))
    _parse_ledger(_replace(ledger, path, data.draw(MUTANT_VALUES)))


@settings(max_examples=150, deadline=None)
@given(event=events, data=st.data())
def test_byte_level_mutations_of_the_json_are_typed(event: dp.DpEvent, data: st.DataObject) -> None:
    text = json.dumps(dp.ledger_to_dict([(event, 2)])).encode()
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    if kind == "truncate":
        mutated = text[:position]
    elif kind == "flip":
        bit = data.draw(st.integers(min_value=0, max_value=7))
        mutated = text[:position] + bytes([text[position] ^ (1 << bit)]) + text[position + 1 :]
    else:
        mutated = text[:position] + data.draw(st.binary(min_size=1, max_size=4)) + text[position:]
    try:
        parsed = json.loads(mutated)
    except (ValueError, RecursionError):
        return  # not JSON: the loaders never see it
    _parse_ledger(parsed)
    _parse_event(parsed)


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        MUTANT_VALUES,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(
                st.sampled_from(["type", "version", "event", "events", "count", "entries"]),
                children,
                max_size=4,
            ),
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_values_are_typed(value: object) -> None:
    _parse_event(value)
    _parse_ledger(value)
