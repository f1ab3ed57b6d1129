"""Page sizes and opaque page tokens (a keyset cursor: creation time and id of the last item)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from services.kit.errors import FieldViolation
from services.safety.domain.errors import InvalidSafetyRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended."""

    created_at: datetime
    item_id: str


@dataclass(frozen=True)
class PageRequest:
    """How many items to return and after which one."""

    size: int
    after: Cursor | None


def page_request(page_size: int, page_token: str) -> PageRequest:
    """Validates the size (0 means the default, above the cap means the cap) and decodes the token."""
    if page_size < 0:
        raise InvalidSafetyRequest(
            "page_size must not be negative", violations=[FieldViolation("page_size", "must be 0 or more")]
        )
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return PageRequest(size, decode_token(page_token) if page_token else None)


def encode_token(cursor: Cursor) -> str:
    """The opaque token that continues after `cursor`."""
    raw = json.dumps({"t": cursor.created_at.isoformat(), "i": cursor.item_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str) -> Cursor:
    """The cursor in a token from a previous response; anything else is a malformed request."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return Cursor(datetime.fromisoformat(data["t"]), str(data["i"]))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidSafetyRequest(
            "page_token is not a token from a previous response",
            violations=[FieldViolation("page_token", "is malformed")],
        ) from None
