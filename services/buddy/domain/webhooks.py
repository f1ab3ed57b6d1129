"""Buddy webhook deliveries: strict JSON `{"data": {...}}`, one record per delivery.

Deliveries are signed (Standard Webhooks, checked before the body is read) and their signed
`webhook-id` header is the delivery id. A legacy `delivery_id` in the body is accepted; it keys only
a delivery handed to the handlers in-process without a signed id.

`data` carries the fields of the kind's CSV schema under the same names, typed as JSON (see
csv_schemas.py). Unknown or repeated keys, wrong types and out-of-range values are refused, naming
each field (`data.rating`).
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from services.buddy.domain.csv_schemas import BuddyRow, CheckInRow, EventRow, FeedbackRow, MatchRow, RecordSpec
from services.buddy.domain.errors import InvalidBuddyRequest
from services.kit.connectors import fields, payloads
from services.kit.connectors.payloads import Payload

SOURCE = "buddy"  # the webhook source whose secrets sign these deliveries
MAX_BYTES = 1024 * 1024
RowT_co = TypeVar("RowT_co", bound=BuddyRow, covariant=True)


class Delivery(Payload, Generic[RowT_co]):
    """A delivery: the body's own delivery id ('' when absent) and the record."""

    delivery_id: Annotated[str, fields.line(255)] = ""
    data: RowT_co


DELIVERIES: dict[str, type[Delivery[BuddyRow]]] = {
    "matches": Delivery[MatchRow],
    "events": Delivery[EventRow],
    "checkins": Delivery[CheckInRow],
    "feedback": Delivery[FeedbackRow],
}


def parse_delivery(spec: RecordSpec, body: bytes, *, max_bytes: int = MAX_BYTES) -> Delivery[BuddyRow]:
    """The delivery in `body`; raises InvalidBuddyRequest naming every bad field."""
    return payloads.read(DELIVERIES[spec.kind], body, invalid=InvalidBuddyRequest, max_bytes=max_bytes)
