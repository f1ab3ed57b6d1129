"""Commands and queries the buddy service handles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.buddy.domain.model import EventType, MatchStatus, Side
from services.kit.connectors.commands import GetImport, GetImportErrors, ImportRecords, ListImports

__all__ = [
    "GetImport",
    "GetImportErrors",
    "GetRecord",
    "ImportRecords",
    "ListImports",
    "ListRecords",
    "ReceiveWebhook",
    "RecordFilter",
]


@dataclass(frozen=True)
class ReceiveWebhook:
    """Store the record of one webhook delivery.

    `delivery_id` is the signed webhook-id the RPC verified; it is empty only for a delivery handed
    over in-process (tests, tools), which the body's own `delivery_id` then identifies."""

    company_id: str
    kind: str
    body: bytes
    delivery_id: str = ""


@dataclass(frozen=True)
class GetRecord:
    """Read one record of a kind by platform id."""

    company_id: str
    kind: str
    record_id: str


@dataclass(frozen=True)
class RecordFilter:
    """Filters of the list queries; empty values do not filter. Combined with AND.

    `profile_id` matches a record when any of its people has that unified profile id: a match's
    participant or buddy, an event's attendees, a check-in's person, a feedback's author."""

    match_id: str = ""
    email: str = ""
    profile_id: str = ""
    status: MatchStatus | None = None
    event_type: EventType | None = None
    side: Side | None = None
    since: datetime | None = None
    before: datetime | None = None


@dataclass(frozen=True)
class ListRecords:
    """A page of a kind's records, newest first."""

    company_id: str
    kind: str
    filter: RecordFilter
    page_size: int = 0
    page_token: str = ""
