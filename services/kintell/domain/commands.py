"""Commands and queries the Kintell connector handles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.kintell.domain.model import SessionStatus, SessionType
from services.kit.connectors.commands import GetImport, GetImportErrors, ListImports

__all__ = [
    "GetImport",
    "GetImportErrors",
    "GetSession",
    "ImportSessions",
    "ListImports",
    "ListSessions",
    "ReceiveWebhook",
    "SessionFilter",
]


@dataclass(frozen=True)
class ImportSessions:
    """Import one Kintell CSV export as one batch."""

    company_id: str
    data: bytes


@dataclass(frozen=True)
class ReceiveWebhook:
    """Apply one webhook delivery (raw JSON bytes).

    `delivery_id` is the signed webhook-id the RPC verified; it is empty only for a delivery handed
    over in-process (tests, tools), which the body's own `delivery_id` then identifies."""

    company_id: str
    body: bytes
    delivery_id: str = ""


@dataclass(frozen=True)
class GetSession:
    """Read one session with its ratings."""

    company_id: str
    session_id: str


@dataclass(frozen=True)
class SessionFilter:
    """Filters of ListSessions; empty values do not filter, the others combine with AND."""

    session_type: SessionType | None = None
    status: SessionStatus | None = None
    participant_email: str = ""
    volunteer_email: str = ""
    profile_id: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None


@dataclass(frozen=True)
class ListSessions:
    """A page of sessions, newest schedule first."""

    company_id: str
    filter: SessionFilter = SessionFilter()
    page_size: int = 0
    page_token: str = ""
