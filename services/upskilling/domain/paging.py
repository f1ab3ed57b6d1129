"""Pagination: page sizes capped at MAX_PAGE_SIZE and opaque tokens bound to the query they came from."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from services.kit.errors import FieldViolation
from services.upskilling.domain.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """Where a page starts: after the record with this sort time and id (nothing for the first page)."""

    size: int
    after_time: str = ""
    after_id: str = ""


def page_size(requested: int) -> int:
    """The page size to use: the default for 0, at most MAX_PAGE_SIZE."""
    if requested < 0:
        raise InvalidRequest("page_size must not be negative", violations=[FieldViolation("page_size", "must be >= 0")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def fingerprint(query: Any) -> str:
    """A short digest of a query's filters, so a token cannot be replayed against other filters."""
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def encode(*, query: str, after_time: str, after_id: str) -> str:
    """The opaque token of the page after (after_time, after_id)."""
    raw = json.dumps({"q": query, "t": after_time, "i": after_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, *, query: str, size: int) -> Page:
    """The page a token designates; refuses tokens that are malformed or were issued for other filters."""
    if not token:
        return Page(size)
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        valid = isinstance(raw, dict) and raw.get("q") == query
        after_time, after_id = (str(raw["t"]), str(raw["i"])) if valid else ("", "")
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError):
        valid = False
    if not valid or len(token) > 512:
        raise InvalidRequest(
            "page_token is invalid", violations=[FieldViolation("page_token", "not a token from this query")]
        )
    return Page(size, after_time, after_id)
