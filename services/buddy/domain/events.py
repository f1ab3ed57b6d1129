"""What the buddy service announces, as plain values; events.py (the service's) turns them into the
typed `buddy.*` envelopes. Only a new record is announced, never an update, so a replay never counts
twice downstream."""

from __future__ import annotations

from dataclasses import dataclass

from services.buddy.domain.model import Match, Record


@dataclass(frozen=True)
class RecordCreated:
    """A record was stored for the first time; a check-in or feedback carries its match's pair."""

    record: Record
    match: Match | None = None


DomainEvent = RecordCreated
