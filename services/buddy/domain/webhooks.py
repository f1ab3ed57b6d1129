"""Buddy webhook deliveries: strict JSON `{"data": {...}}`, one record per delivery.

Deliveries are signed (Standard Webhooks, checked before the body is read) and their signed
`webhook-id` header is the delivery id. A legacy `delivery_id` in the body is accepted; it keys only
a delivery handed to the handlers in-process without a signed id.

`data` carries the fields of the kind's CSV schema under the same names, typed as JSON: strings
for ids, e-mails, dates, choices and text; numbers for rating and scores; arrays of strings for
languages, interests and attendee_emails; an object of question → answer for question_responses.
Unknown or repeated keys, wrong types and out-of-range values are refused, naming each field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.domain.specs import ID, RecordSpec
from services.kit.connectors.csvimport import FieldInvalid
from services.kit.errors import FieldViolation

SOURCE = "buddy"  # the webhook source whose secrets sign these deliveries
MAX_BYTES = 1024 * 1024
ENVELOPE_KEYS = frozenset({"delivery_id", "data"})


@dataclass(frozen=True)
class Delivery:
    """A validated delivery: the body's delivery id ('' when absent) and the record's field values."""

    delivery_id: str
    values: dict[str, Any]


def parse_delivery(spec: RecordSpec, body: bytes, *, max_bytes: int = MAX_BYTES) -> Delivery:
    """The delivery in `body`; raises InvalidBuddyRequest naming every bad field."""
    document = _document(body, max_bytes)
    unknown = sorted(set(document) - ENVELOPE_KEYS)
    violations = [FieldViolation(name[:60], "is not a known field") for name in unknown]
    delivery_id = _delivery_id(document["delivery_id"], violations) if "delivery_id" in document else ""
    data = document.get("data")
    values: dict[str, Any] = {}
    if isinstance(data, dict):
        values = _values(spec, data, violations)
    else:
        violations.append(FieldViolation("data", "is required and must be a JSON object"))
    if violations:
        raise InvalidBuddyRequest("the webhook payload is invalid", violations=violations)
    return Delivery(delivery_id, values)


def _document(body: bytes, max_bytes: int) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise _body_error(f"the payload is larger than {max_bytes} bytes")
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _body_error("the payload is not UTF-8") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise _body_error(f"the payload is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _body_error("the payload must be a JSON object")
    return document


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"repeated keys {', '.join(repeated)[:120]}")
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _body_error(message: str) -> InvalidBuddyRequest:
    return InvalidBuddyRequest(message, violations=[FieldViolation("body", message)])


def _delivery_id(value: object, violations: list[FieldViolation]) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        violations.append(FieldViolation("delivery_id", "is required"))
        return ""
    try:
        return ID.from_json(value)
    except FieldInvalid as exc:
        violations.append(FieldViolation("delivery_id", str(exc)))
        return ""


def _values(spec: RecordSpec, data: dict[str, Any], violations: list[FieldViolation]) -> dict[str, Any]:
    known = {f.name for f in spec.fields}
    violations.extend(FieldViolation(f"data.{name}"[:80], "is not a known field") for name in sorted(set(data) - known))
    values: dict[str, Any] = {}
    for field in spec.fields:
        raw = data.get(field.name)
        if raw is None or (isinstance(raw, str | list | dict) and not raw):
            values[field.name] = None
            if field.required:
                violations.append(FieldViolation(f"data.{field.name}", "is required"))
            continue
        try:
            values[field.name] = field.kind.from_json(raw)
        except FieldInvalid as exc:
            violations.append(FieldViolation(f"data.{field.name}", str(exc)))
    return values
