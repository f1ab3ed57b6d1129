"""Webhook bodies read through pydantic models, and the one mapping of a pydantic ValidationError to
a service's InvalidArgument with one FieldViolation per bad field (`match.participant_email`).

The body is decoded here, not by pydantic: its JSON parser keeps the last of repeated keys and
accepts NaN, and a repeated key would let the signed bytes and the parsed value disagree."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from services.kit import characters
from services.kit.errors import FieldViolation, InvalidArgument

MAX_BYTES = 1024 * 1024
MAX_VIOLATIONS = 20  # enough to fix a body; more would only swell the error's trailers
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
ModelT = TypeVar("ModelT", bound=BaseModel)

_DESCRIPTIONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "datetime_type": "must be an ISO date-time or YYYY-MM-DD",
}


class Payload(BaseModel):
    """A strict JSON payload: exact JSON types, unknown keys refused, and a null or blank string value
    taken as not given (so a required field says "is required" and an optional one keeps its default)."""

    model_config = STRICT
    empty_means_absent: ClassVar[bool] = False
    """Whether an empty list or object is not given either."""

    @model_validator(mode="before")
    @classmethod
    def _given(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if not _absent(value, cls.empty_means_absent)}


def _absent(value: object, empty_means_absent: bool) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return empty_means_absent and isinstance(value, list | dict) and not value


def read(
    model: type[ModelT],
    body: bytes,
    *,
    invalid: type[InvalidArgument],
    what: str = "webhook",
    max_bytes: int = MAX_BYTES,
) -> ModelT:
    """The body as `model`; any fault raises `invalid`, naming `body` or every bad field."""
    document = load_object(body, invalid=invalid, max_bytes=max_bytes)
    found = control_violations(document)
    try:
        if found:
            raise invalid(f"the {what} payload is invalid: {summary(found)}", violations=found)
        return model.model_validate(document)
    except ValidationError as exc:
        found = violations(exc)
        raise invalid(f"the {what} payload is invalid: {summary(found)}", violations=found) from None


def summary(found: Sequence[FieldViolation], *, shown: int = 3) -> str:
    """The first violations as one sentence for the error message (`person.email is not a valid …`)."""
    said = "; ".join(f"{v.field} {v.description}" if v.field else v.description for v in found[:shown])
    return said if len(found) <= shown else f"{said}; and {len(found) - shown} more"


def control_violations(document: object) -> list[FieldViolation]:
    """Every string (value or name) holding a control character other than tab or a line break, named
    like pydantic names fields: by dotted path, a list item by its position in the description."""
    found: list[FieldViolation] = []
    # (field path, what inside a list the value is, value); a stack, not recursion: depth is the sender's.
    pending: list[tuple[str, str, object]] = [("", "", document)]
    while pending and len(found) < MAX_VIOLATIONS:
        field, inside, value = pending.pop()
        if isinstance(value, _Name):
            fault = characters.control_fault(value, free_text=False)
            if fault is not None:
                found.append(FieldViolation(field, f"{inside}its name {fault}"))
        elif isinstance(value, str):
            fault = characters.control_fault(value)
            if fault is not None:
                found.append(FieldViolation(field, f"{inside}{fault}"))
        elif isinstance(value, dict):
            members = [entry for key, item in value.items() for entry in _member(field, inside, key, item)]
            pending.extend(reversed(members))
        elif isinstance(value, list):
            pending.extend(reversed([(field, f"{inside}item {n} ", item) for n, item in enumerate(value, 1)]))
    return found


class _Name(str):
    """An object member's name, checked as one line of text."""

    __slots__ = ()


def _member(field: str, inside: str, key: str, value: object) -> list[tuple[str, str, object]]:
    """An object member's name and value as pending checks, named by the path (or, inside a list, the
    description) they extend."""
    name = characters.visible(key)
    if inside:
        return [(field, f"{inside}{name}: ", _Name(key)), (field, f"{inside}{name} ", value)]
    path = f"{field}.{name}" if field else name
    return [(path, "", _Name(key)), (path, "", value)]


def load_object(body: bytes, *, invalid: type[InvalidArgument], max_bytes: int = MAX_BYTES) -> dict[str, object]:
    """The body as one JSON object: UTF-8, at most `max_bytes`, no repeated keys, no NaN or Infinity."""
    if not body.strip():
        raise _body_fault("is empty", invalid)
    if len(body) > max_bytes:
        raise _body_fault(f"is larger than {max_bytes} bytes", invalid)
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _body_fault("is not UTF-8", invalid) from None
    except (ValueError, RecursionError) as exc:
        raise _body_fault(f"is not valid JSON: {exc}", invalid) from None
    if not isinstance(document, dict):
        raise _body_fault("must be a JSON object", invalid)
    return document


def _no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"duplicate key {', '.join(repeated)[:120]}")
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _body_fault(description: str, invalid: type[InvalidArgument]) -> InvalidArgument:
    return invalid(f"the body {description}", violations=[FieldViolation("body", description)])


def fault(description: str, *, field: str) -> PydanticCustomError:
    """A rule across fields, raised by a model validator and reported under `field` of that model."""
    return PydanticCustomError("rule", "{description}", {"description": description, "field": field})


def violations(error: ValidationError) -> list[FieldViolation]:
    """One violation per error, named by its dotted path; a list position becomes `item N` in the text."""
    return [_violation(detail) for detail in error.errors(include_url=False, include_input=False)]


def _violation(detail: ErrorDetails) -> FieldViolation:
    context: Mapping[str, object] = detail.get("ctx") or {}
    description = _description(detail, context)
    path: list[str] = []
    for part in detail["loc"]:
        if isinstance(part, int):
            description = f"item {part + 1} {description}"
            break
        path.append(part)
    if context.get("field"):
        path.append(str(context["field"]))
    return FieldViolation(".".join(path), description)


def _description(detail: ErrorDetails, context: Mapping[str, object]) -> str:
    if detail["type"] in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    if detail["type"] == "enum" and "expected" in context:
        return f"must be one of {context['expected']}"
    return _DESCRIPTIONS.get(detail["type"], detail["msg"])
