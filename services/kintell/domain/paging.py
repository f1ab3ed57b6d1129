"""Opaque page tokens for keyset pagination: the last item's position plus a fingerprint of the
query, so a token is refused when replayed against different filters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime

from services.kintell.domain.errors import InvalidRequest
from services.kit.errors import FieldViolation

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(requested: int) -> int:
    """The page size to use: default when 0, capped at MAX_PAGE_SIZE; negative is refused."""
    if requested < 0:
        raise InvalidRequest("page_size must not be negative", violations=[FieldViolation("page_size", "must be >= 0")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def fingerprint(*parts: object) -> str:
    """A short digest of the query a token belongs to."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode(at: datetime, item_id: str, query: str) -> str:
    """The token for the page after the item (`at`, `item_id`) in a newest-first listing."""
    raw = json.dumps({"p": [at.isoformat(), item_id], "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, query: str) -> tuple[datetime, str] | None:
    """The position a token continues after (None for the first page); refuses foreign tokens."""
    if not token:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        at, item_id = raw["p"]
        if raw["q"] != query or not isinstance(item_id, str):
            raise ValueError("a token of another query")
        parsed = datetime.fromisoformat(at)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), item_id
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidRequest(
            "page_token is not a token of this query",
            violations=[FieldViolation("page_token", "use the next_page_token of the same query")],
        ) from None
