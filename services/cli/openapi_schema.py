"""OpenAPI 3.1 schemas of the contracts: one path item per `google.api.http` binding, described exactly
as the edge serves it (proto field names, int64 as strings, enums as names, google.rpc.Status errors).

Requests are described as strictly as the services validate them (UUID ids, non-negative page sizes,
required fields); every error answer an operation can give is listed with the google.rpc.Status body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from services.cli.spec import REPO_ROOT

DESCRIPTOR_SET = REPO_ROOT / "envoy" / "descriptors.binpb"
OUT_DIR = REPO_ROOT / "gen" / "openapi"
FD = descriptor.FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
}
HTTP_BODY = "google.api.HttpBody"
STATUS = "google.rpc.Status"
INT32_RANGE = {"minimum": -(2**31), "maximum": 2**31 - 1}
UINT32_MAX = 2**32 - 1
# Platform record ids: the services parse these as UUIDs and refuse anything else with 400
# (profile/domain/model.py, buddy/handlers.py, kintell/queries.py, upskilling/handlers.py,
# safety/domain/commands.py, q2q/domain/model.py). External ids, client ids and source text ids are free text.
UUID_FIELDS = frozenset(
    {
        "profile_id",
        "duplicate_profile_id",
        "batch_id",
        "match_id",
        "session_id",
        "event_id",
        "checkin_id",
        "feedback_id",
        "progress_id",
        "credential_id",
        "flag_id",
        "review_id",
        "request_id",
    }
)
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_INTEGER_STRING = {"int64": "^-?[0-9]{1,19}$", "uint64": "^[0-9]{1,20}$"}
# Error answers by HTTP status: the gRPC codes behind them and who answers them.
ERRORS: dict[str, str] = {
    "400": "Invalid argument: a malformed request refused by the edge's transcoder or by the service",
    "401": "No valid credentials (bearer token, client credentials or webhook signature)",
    "403": "The caller's role lacks the RPC's permission, or the client is refused by the edge",
    "404": "Unknown resource, or no route for this path",
    "409": "Conflict with the current state (already exists, aborted)",
    "413": "Request body too large",
    "414": "Request URI too long",
    "429": "Rate limit exceeded (x-ratelimit-* headers tell when to retry)",
    "431": "Request headers too large",
    "501": "Not built yet: this RPC answers UNIMPLEMENTED",
}


def load_pool(path: Path = DESCRIPTOR_SET) -> tuple[descriptor_pool.DescriptorPool, dict[str, str]]:
    """A descriptor pool from the set, and leading comments by element full name."""
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    pool = descriptor_pool.DescriptorPool()
    comments: dict[str, str] = {}
    for proto in files:
        pool.Add(proto)
        comments.update(_comments(proto))
    return pool, comments


def _comments(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    by_path = {tuple(loc.path): loc.leading_comments.strip() for loc in proto.source_code_info.location}
    found: dict[str, str] = {}
    for i, service in enumerate(proto.service):
        found[f"{proto.package}.{service.name}"] = by_path.get((6, i), "")
        for j, method in enumerate(service.method):
            found[f"{proto.package}.{service.name}.{method.name}"] = by_path.get((6, i, 2, j), "")
    for i, message in enumerate(proto.message_type):
        found[f"{proto.package}.{message.name}"] = by_path.get((4, i), "")
        for k, field in enumerate(message.field):
            found[f"{proto.package}.{message.name}.{field.name}"] = by_path.get((4, i, 2, k), "")
    return found


class Builder:
    """Accumulates paths and the component schemas they reach."""

    def __init__(self, comments: dict[str, str], unbuilt: frozenset[str] = frozenset()) -> None:
        self.comments = comments
        self.unbuilt = unbuilt
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {}

    def add_service(self, service: descriptor.ServiceDescriptor) -> None:
        """Every bound method of a service."""
        for method in service.methods:
            rule = http_rule(method)
            if rule is None:
                continue
            for number, binding in enumerate((rule, *rule.additional_bindings)):
                verb = binding.WhichOneof("pattern")
                if verb in (None, "custom"):
                    continue
                operation = self._operation(method, binding, verb)
                if number:
                    operation["operationId"] += f"_{number + 1}"
                self.paths.setdefault(_openapi_path(getattr(binding, verb)), {})[verb] = operation

    def _operation(self, method: descriptor.MethodDescriptor, binding: http_pb2.HttpRule, verb: str) -> dict[str, Any]:
        request = method.input_type
        path_fields = _path_fields(getattr(binding, verb))
        operation: dict[str, Any] = {
            "operationId": f"{method.containing_service.name}_{method.name}",
            "tags": [method.containing_service.full_name],
            "summary": _first_line(self.comments.get(method.full_name, "")) or method.name,
            "description": f"gRPC: `/{method.containing_service.full_name}/{method.name}`",
            "parameters": [self._path_param(request, name) for name in path_fields],
            "responses": {
                "200": self._response(method.output_type, binding.response_body),
                **self._errors(method, verb, has_body=bool(binding.body)),
            },
        }
        if binding.body:
            operation["requestBody"] = self._request_body(request, binding.body, path_fields)
        operation["parameters"] += self._query_params(request, binding.body, path_fields)
        return operation

    def _errors(self, method: descriptor.MethodDescriptor, verb: str, *, has_body: bool) -> dict[str, Any]:
        """The error answers of one operation, each a google.rpc.Status JSON body."""
        codes = ["400", "401", "403", "404", "414", "429", "431"]
        if verb != "get":
            codes.append("409")
        if has_body:
            codes.append("413")
        if method.full_name in self.unbuilt:
            codes.append("501")
        status = _json(self._ref_name(STATUS))
        return {code: {"description": ERRORS[code], "content": status} for code in sorted(codes)}

    def _path_param(self, message: descriptor.Descriptor, dotted: str) -> dict[str, Any]:
        field = _field_at(message, dotted)
        schema = self._field_schema(field, repeated=False, request=True)
        if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
            schema["minLength"] = 1
        return {"name": dotted, "in": "path", "required": True, "schema": schema}

    def _query_params(self, message: descriptor.Descriptor, body: str, taken: list[str]) -> list[dict[str, Any]]:
        if body == "*":
            return []
        params = []
        for field in message.fields:
            if field.name in taken or field.name == body or _is_message(field, exclude_well_known=True):
                continue
            schema = self._field_schema(field, request=True)
            params.append({"name": field.name, "in": "query", "required": False, "schema": schema})
        return params

    def _request_body(self, message: descriptor.Descriptor, body: str, taken: list[str]) -> dict[str, Any]:
        if body == "*":
            return {"required": True, "content": _json(self._message_schema(message, exclude=taken, request=True))}
        field = message.fields_by_name[body]
        if field.message_type is not None and field.message_type.full_name == HTTP_BODY:
            return {"required": True, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
        return {"required": True, "content": _json(self._field_schema(field))}

    def _response(self, message: descriptor.Descriptor, response_body: str) -> dict[str, Any]:
        if response_body:
            field = message.fields_by_name[response_body]
            if field.message_type is not None and field.message_type.full_name == HTTP_BODY:
                return {"description": "Raw body", "content": {"*/*": {"schema": {"type": "string"}}}}
            return {"description": "OK", "content": _json(self._field_schema(field))}
        return {"description": "OK", "content": _json(self._ref_name(message.full_name, message))}

    def _ref_name(self, full_name: str, message: descriptor.Descriptor | None = None) -> dict[str, Any]:
        if full_name == STATUS and STATUS not in self.schemas:
            self.schemas[STATUS] = {
                "type": "object",
                "description": "An error: the gRPC status code, a message for developers, and typed details "
                "(google.rpc.ErrorInfo, google.rpc.BadRequest, ...).",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 16},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
                },
            }
        elif message is not None and full_name not in self.schemas:
            self.schemas[full_name] = {}
            self.schemas[full_name] = self._message_schema(message)
        return {"$ref": f"#/components/schemas/{full_name}"}

    def _message_schema(
        self, message: descriptor.Descriptor, exclude: Iterable[str] = (), *, request: bool = False
    ) -> dict[str, Any]:
        skipped = set(exclude)
        fields = [f for f in message.fields if f.name not in skipped]
        properties = {f.name: self._property(f, request=request) for f in fields}
        # The edge refuses JSON bodies naming a field the message does not have (envoy/body_fields.lua).
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        required = [f.name for f in fields if field_behaviors(f) & {field_behavior_pb2.REQUIRED}]
        if required:
            schema["required"] = required
        description = self.comments.get(message.full_name)
        if description:
            schema["description"] = description
        return schema

    def _property(self, field: descriptor.FieldDescriptor, *, request: bool) -> dict[str, Any]:
        schema = self._field_schema(field, request=request)
        if field_behaviors(field) & {field_behavior_pb2.OUTPUT_ONLY}:
            return {"allOf": [schema], "readOnly": True} if "$ref" in schema else {**schema, "readOnly": True}
        return schema

    def _field_schema(
        self, field: descriptor.FieldDescriptor, *, repeated: bool = True, request: bool = False
    ) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._field_schema(value)}
        if repeated and field.is_repeated:
            return {"type": "array", "items": self._field_schema(field, repeated=False, request=request)}
        if field.enum_type is not None:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        if field.message_type is not None:
            name = field.message_type.full_name
            return dict(_WELL_KNOWN[name]) if name in _WELL_KNOWN else self._ref_name(name, field.message_type)
        return _scalar_schema(field, request=request)


def _scalar_schema(field: descriptor.FieldDescriptor, *, request: bool) -> dict[str, Any]:
    """A scalar's JSON schema; in requests, also the bounds and formats the edge and services enforce."""
    schema = dict(_SCALARS[field.type])
    if not request:
        return schema
    if schema.get("format") == "int32":
        schema.update(INT32_RANGE)
    elif schema["type"] == "integer" and "minimum" in schema:
        schema["maximum"] = UINT32_MAX
    elif schema.get("format") in _INTEGER_STRING:
        schema["pattern"] = _INTEGER_STRING[schema["format"]]
    if field.name == "page_size":
        schema["minimum"] = 0
    if field.name in UUID_FIELDS and field.type == FD.TYPE_STRING:
        schema.update({"format": "uuid", "pattern": UUID_PATTERN})
    return schema


def field_behaviors(field: descriptor.FieldDescriptor) -> set[int]:
    """The google.api.field_behavior values declared on a field."""
    options = descriptor_pb2.FieldOptions.FromString(field.GetOptions().SerializeToString())
    return set(options.Extensions[field_behavior_pb2.field_behavior])


def http_rule(method: descriptor.MethodDescriptor) -> http_pb2.HttpRule | None:
    options = descriptor_pb2.MethodOptions.FromString(method.GetOptions().SerializeToString())
    return options.Extensions[annotations_pb2.http] if options.HasExtension(annotations_pb2.http) else None


_VARIABLE = re.compile(r"\{([^}=]+)(=[^}]*)?\}")


def _openapi_path(template: str) -> str:
    return _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", template)


def _path_fields(template: str) -> list[str]:
    return [m.group(1) for m in _VARIABLE.finditer(template)]


def _field_at(message: descriptor.Descriptor, dotted: str) -> descriptor.FieldDescriptor:
    head, _, rest = dotted.partition(".")
    field = message.fields_by_name[head]
    if not rest:
        return field
    if field.message_type is None:
        raise ValueError(f"{message.full_name}.{head} is not a message")
    return _field_at(field.message_type, rest)


def _is_message(field: descriptor.FieldDescriptor, *, exclude_well_known: bool) -> bool:
    if field.message_type is None:
        return False
    return not (exclude_well_known and field.message_type.full_name == "google.protobuf.Timestamp")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _first_line(text: str) -> str:
    return text.splitlines()[0].strip() if text else ""
