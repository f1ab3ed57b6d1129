"""Pagination: page sizes capped at 100 and opaque keyset tokens (time and id of the last item)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.buddy.domain.errors import InvalidBuddyRequest
from services.kit.errors import FieldViolation

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    """Position after the last item of a page in (time, id) descending order."""

    at: datetime
    item_id: str


@dataclass(frozen=True)
class Page:
    """What to read: how many items, and after which one."""

    size: int
    after: Cursor | None = None


def page(page_size: int, page_token: str) -> Page:
    """The page a request asks for; a negative size or a forged token is refused."""
    if page_size < 0:
        raise InvalidBuddyRequest("page_size must not be negative", violations=[_violation("page_size")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return Page(size, decode(page_token) if page_token else None)


def encode(cursor: Cursor) -> str:
    """An opaque token for the page after `cursor`."""
    raw = json.dumps({"t": cursor.at.isoformat(), "id": cursor.item_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str) -> Cursor:
    """The cursor in a token issued by `encode`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = Cursor(datetime.fromisoformat(raw["t"]), str(uuid.UUID(raw["id"])))
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidBuddyRequest("page_token is not valid", violations=[_violation("page_token")]) from None
    if cursor.at.tzinfo is None:
        raise InvalidBuddyRequest("page_token is not valid", violations=[_violation("page_token")])
    return cursor


def _violation(field: str) -> FieldViolation:
    return FieldViolation(field, "is not valid: use a value from a previous response")
