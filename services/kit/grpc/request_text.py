"""The strings of a request message that hold control characters, each named by its field path
(`profile.email`, `external_ids[1].external_id`, `labels["k"]`, a Struct's `metadata["room"]`).

Every string field is walked: nested messages, repeated fields and maps (keys and values). `bytes`
fields and `google.api.HttpBody` payloads are not: the CSV and webhook parsers that read them apply
the same rule and name the field inside the payload."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from services.kit import characters
from services.kit.errors import FieldViolation

MAX_VIOLATIONS = 20  # enough to fix a request; more would only swell the error's trailers
_SKIPPED = frozenset({"google.api.HttpBody"})
# Fields of the JSON well-known types that a JSON path does not spell: Struct `data["k"][0]`.
_UNSPELLED = frozenset(
    {
        "google.protobuf.Struct.fields",
        "google.protobuf.Value.string_value",
        "google.protobuf.Value.struct_value",
        "google.protobuf.Value.list_value",
        "google.protobuf.ListValue.values",
    }
)


def control_violations(message: Message) -> list[FieldViolation]:
    """One violation per string (or map key) holding a control character other than tab or a line
    break, in field order, at most MAX_VIOLATIONS."""
    found = (_violation(path, text, is_key) for path, text, is_key in _strings(message, ""))
    return list(itertools.islice((v for v in found if v is not None), MAX_VIOLATIONS))


def _violation(path: str, text: str, is_key: bool) -> FieldViolation | None:
    fault = characters.control_fault(text, free_text=not is_key)
    if fault is None:
        return None
    return FieldViolation(path, f"its key {fault}" if is_key else fault)


def _strings(message: Message, path: str) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is a map key) of every string set in `message`."""
    if message.DESCRIPTOR.full_name in _SKIPPED:
        return
    for field, value in message.ListFields():
        name = path if field.full_name in _UNSPELLED else (f"{path}.{field.name}" if path else field.name)
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            yield from _map_strings(entry.fields_by_name["value"], value, name)
        elif field.is_repeated:
            for position, item in enumerate(value):
                yield from _value_strings(field, item, f"{name}[{position}]")
        else:
            yield from _value_strings(field, value, name)


def _map_strings(
    value_field: FieldDescriptor, entries: Mapping[Any, Any], name: str
) -> Iterator[tuple[str, str, bool]]:
    for key in sorted(entries):
        item = entries[key]
        path = f'{name}["{characters.visible(key)}"]' if isinstance(key, str) else f"{name}[{key}]"
        if isinstance(key, str):
            yield path, key, True
        yield from _value_strings(value_field, item, path)


def _value_strings(field: FieldDescriptor, value: object, path: str) -> Iterator[tuple[str, str, bool]]:
    if field.type == FieldDescriptor.TYPE_STRING and isinstance(value, str):
        yield path, value, False
    elif field.type == FieldDescriptor.TYPE_MESSAGE and isinstance(value, Message):
        yield from _strings(value, path)
