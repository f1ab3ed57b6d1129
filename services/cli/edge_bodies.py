"""The JSON request bodies the edge accepts, from the contracts: which fields each body may name.

The transcoder drops unknown JSON fields without a word and has no option to refuse them, so the
edge checks them itself (``envoy/body_fields.lua``). This module gives that script its table, read
from the descriptor set Envoy transcodes with: for every RPC whose REST binding takes a JSON body
(``body: "*"`` or a message field), the message the body parses into, and for every message
reachable from it the names the proto3 JSON parser accepts (the field name and its JSON name).
Raw bodies (``google.api.HttpBody``: CSV imports, webhooks, the token endpoint's form) are not
JSON the edge judges; their services read them. Well-known types (``google.protobuf.*``:
timestamps, durations, structs) are leaves, parsed by the transcoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.api import http_pb2
from google.protobuf import descriptor

from services.cli import edge_policy

WELL_KNOWN_PACKAGE = "google.protobuf."


@dataclass(frozen=True)
class Nested:
    """A field whose JSON value is checked as a message (an object, or an array of them)."""

    message: str


@dataclass(frozen=True)
class MapOf:
    """A map field with message values: any key, each value checked as the message."""

    message: str


# A field's value: not checked here (None), or checked as a message.
FieldSpec = Nested | MapOf | None


@dataclass(frozen=True)
class BodySchemas:
    """gRPC path → message of its JSON body, and every such message's accepted field names."""

    methods: Mapping[str, str]
    messages: Mapping[str, Mapping[str, FieldSpec]]


def load_body_schemas(descriptor_set: Path, services: Iterable[str]) -> BodySchemas:
    """The JSON bodies of the REST bindings of `services` found in the descriptor set."""
    if not descriptor_set.exists():
        return BodySchemas(methods={}, messages={})
    pool = edge_policy.descriptor_pool_of(descriptor_set)
    methods: dict[str, str] = {}
    messages: dict[str, dict[str, FieldSpec]] = {}
    for method in edge_policy.methods_of(pool, services):
        body = _json_body(method)
        if body is not None:
            methods[f"/{method.containing_service.full_name}/{method.name}"] = body.full_name
            _add_message(body, messages)
    return BodySchemas(methods=methods, messages=messages)


def _json_body(method: descriptor.MethodDescriptor) -> descriptor.Descriptor | None:
    """The message a REST JSON body of `method` parses into; None when no binding takes JSON."""
    bodies = {body.full_name: body for b in edge_policy.http_bindings(method) if (body := _binding_body(method, b))}
    if len(bodies) > 1:
        # The check runs after the transcoder, which tells the method but not the binding it chose.
        raise ValueError(f"{method.full_name}: REST bindings with different JSON bodies {sorted(bodies)}")
    return next(iter(bodies.values()), None)


def _binding_body(method: descriptor.MethodDescriptor, binding: http_pb2.HttpRule) -> descriptor.Descriptor | None:
    body = str(binding.body)
    if not body or edge_policy.raw_body(method, binding):
        return None
    if body == "*":
        return method.input_type
    field = method.input_type.fields_by_name.get(body)
    return None if field is None else field.message_type


def _add_message(message: descriptor.Descriptor, messages: dict[str, dict[str, FieldSpec]]) -> None:
    if message.full_name in messages:
        return
    fields: dict[str, FieldSpec] = {}
    messages[message.full_name] = fields
    for field in message.fields:
        checked = _checked_message(field)
        spec: FieldSpec = None
        if checked is not None:
            spec = MapOf(checked.full_name) if _is_map(field) else Nested(checked.full_name)
            _add_message(checked, messages)
        fields[field.name] = fields[field.json_name] = spec


def _is_map(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _checked_message(field: descriptor.FieldDescriptor) -> descriptor.Descriptor | None:
    """The message the field's JSON value (or a map's values) is checked as; None for a leaf."""
    value = field.message_type
    if value is not None and _is_map(field):
        value = value.fields_by_name["value"].message_type
    if value is None or value.full_name.startswith(WELL_KNOWN_PACKAGE):
        return None
    return value


def lua_prelude(schemas: BodySchemas) -> str:
    """The tables envoy/body_fields.lua reads, as Lua source:

    METHODS["/pkg.Service/Method"] = "pkg.Body"
    MESSAGES["pkg.Body"] = {field = true | {message = "pkg.Nested"} | {map_of = "pkg.Value"}, ...}
    """
    methods = ",\n".join(
        f"  [{_lua_string(path)}] = {_lua_string(body)}" for path, body in sorted(schemas.methods.items())
    )
    messages = ",\n".join(
        f"  [{_lua_string(name)}] = {{{', '.join(_lua_field(f, spec) for f, spec in sorted(fields.items()))}}}"
        for name, fields in sorted(schemas.messages.items())
    )
    return f"local METHODS = {{\n{methods}\n}}\nlocal MESSAGES = {{\n{messages}\n}}\n"


def _lua_field(name: str, spec: FieldSpec) -> str:
    if spec is None:
        value = "true"
    elif isinstance(spec, MapOf):
        value = f"{{map_of = {_lua_string(spec.message)}}}"
    else:
        value = f"{{message = {_lua_string(spec.message)}}}"
    return f"[{_lua_string(name)}] = {value}"


def _lua_string(text: str) -> str:
    """A Lua string literal of `text`; every byte but letters, digits and ``._/`` as a decimal escape."""
    return (
        '"'
        + "".join(chr(b) if b < 128 and (chr(b).isalnum() or chr(b) in "._/") else f"\\{b:03d}" for b in text.encode())
        + '"'
    )
