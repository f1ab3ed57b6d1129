"""Proto ⇄ kit audit log for ListAuditEvents, and the audit entries of the dead-letter operations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC

from google.protobuf import struct_pb2

from services.kit import paging
from services.kit.audit.queries import AuditFilter
from services.kit.audit.records import AuditEntry, AuditRecord
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.messaging import deadletters
from teei.operations.v1 import operations_pb2

MAX_PAGE_SIZE = 500
MAX_FILTER_LENGTH = 255


@dataclass(frozen=True)
class AuditPage:
    """Which records a listing asks for: older than `before`, at most `size`, matching `where`."""

    where: AuditFilter
    before: int | None
    size: int
    request: paging.PageRequest


def list_audit_events(request: operations_pb2.ListAuditEventsRequest, *, tenant: str | None) -> AuditPage:
    """The page asked for; `tenant` (None: every tenant) comes from the caller's token, never the request."""
    action, actor = _filter(request.action, "action"), _filter(request.actor, "actor")
    since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
    until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
    if since is not None and until is not None and until <= since:
        raise InvalidArgument("until must be after since", violations=[FieldViolation("until", "must be after since")])
    scope = ("audit-events", tenant or "*", action or "*", actor or "*", str(since or "*"), str(until or "*"))
    page = paging.page_request(request.page_size, request.page_token, scope=scope, max_size=MAX_PAGE_SIZE)
    before = page.after[0] if page.after else None
    if before is not None and not before.isdecimal():
        raise InvalidArgument("invalid page_token", violations=[FieldViolation("page_token", "not a page token")])
    where = AuditFilter(tenant=tenant, action=action, actor=actor, since=since, until=until)
    return AuditPage(where, None if before is None else int(before), page.size, page)


def list_response(found: list[AuditRecord], page: AuditPage) -> operations_pb2.ListAuditEventsResponse:
    """One page, newest first, with the token of the next when more records match."""
    shown = found[: page.size]
    token = page.request.next_token((str(shown[-1].sequence),), more=len(found) > page.size) if shown else ""
    return operations_pb2.ListAuditEventsResponse(events=[to_proto(record) for record in shown], next_page_token=token)


def to_proto(record: AuditRecord) -> operations_pb2.AuditEvent:
    """The wire form of one record."""
    event = operations_pb2.AuditEvent(
        sequence=record.sequence,
        actor=record.actor,
        actor_kind=record.actor_kind,
        tenant=record.tenant or "",
        action=record.action,
        resource=record.resource,
        outcome=record.outcome,
        request_id=record.request_id,
        trace_id=record.trace_id,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )
    event.time.FromDatetime(record.recorded_at)
    diff = struct_pb2.Struct()
    try:
        diff.update(json.loads(record.diff))
    except (ValueError, TypeError):
        diff.update({"undecodable": True})  # a tampered row; `teei audit verify` names it
    event.diff.CopyFrom(diff)
    return event


def replayed(letter: deadletters.DeadLetter) -> AuditEntry:
    """A dead letter published again to its subject."""
    after = {"consumer": letter.consumer, "event_id": letter.event_id, "event_type": letter.event_type}
    return AuditEntry(
        action="dead_letter.replayed",
        resource=f"dead_letter:{letter.sequence}",
        tenant=letter.tenant or None,
        after=after,
    )


def purged(consumer: str | None, count: int) -> AuditEntry:
    """Dead letters dropped, every one or one consumer's."""
    return AuditEntry(
        action="dead_letters.purged", resource=f"dead_letters:{consumer or '*'}", after={"purged_count": count}
    )


def _filter(value: str, field: str) -> str | None:
    if len(value) > MAX_FILTER_LENGTH:
        raise InvalidArgument(f"invalid {field}", violations=[FieldViolation(field, "at most 255 characters")])
    return value or None
