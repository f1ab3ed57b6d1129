"""Keyset pagination shared by every listing: capped page sizes and opaque, fingerprinted page tokens.

A token carries the sort key of the last item served plus a fingerprint of the listing it belongs to
(tenant, filters, order), so a token replayed against another tenant or other filters is refused
instead of silently skipping or leaking rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.kit.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_TOKEN_LENGTH = 512

Key = tuple[str, ...]


@dataclass(frozen=True)
class PageRequest:
    """What to read: how many items, after which key (None for the first page), for which listing."""

    size: int
    after: Key | None
    scope: tuple[str, ...]

    def next_token(self, last: Sequence[str | datetime], *, more: bool) -> str:
        """The token for the page after `last` when more items follow, else ''."""
        return encode(last, scope=self.scope) if more else ""


def page_request(
    page_size: int,
    page_token: str,
    *,
    scope: Sequence[str],
    invalid: type[InvalidArgument] = InvalidArgument,
    max_size: int = MAX_PAGE_SIZE,
) -> PageRequest:
    """The page a request asks for: 0 means the default size, above the cap (`max_size`) means the cap.

    A negative size, or a token that was not issued for this listing (`scope`), raises `invalid`.
    """
    if page_size < 0:
        raise invalid("page_size must not be negative", violations=[FieldViolation("page_size", "must be 0 or more")])
    size = min(page_size or DEFAULT_PAGE_SIZE, max_size)
    scope_key = tuple(scope)
    return PageRequest(size, decode(page_token, scope=scope_key, invalid=invalid) if page_token else None, scope_key)


def encode(last: Sequence[str | datetime], *, scope: Sequence[str]) -> str:
    """An opaque token resuming after the item whose sort key is `last`."""
    key = [value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in last]
    raw = json.dumps({"k": key, "s": _fingerprint(scope)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, *, scope: Sequence[str], invalid: type[InvalidArgument] = InvalidArgument) -> Key:
    """The sort key a token resumes after; a forged, oversized or foreign token raises `invalid`."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key, fingerprint = data["k"], data["s"]
        if fingerprint != _fingerprint(scope) or not isinstance(key, list):
            raise ValueError("a token of another listing")
        if not all(isinstance(part, str) for part in key):
            raise ValueError("malformed key")
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise invalid(
            "page_token is not valid",
            violations=[FieldViolation("page_token", "use the next_page_token of the same listing")],
        ) from None
    return tuple(key)


def time_and_id(key: Key, *, invalid: type[InvalidArgument] = InvalidArgument) -> tuple[datetime, str]:
    """A (time, id) key, the sort key of newest-first listings, with the time as aware UTC."""
    try:
        at, item_id = key
        parsed = datetime.fromisoformat(at)
    except ValueError:
        raise invalid(
            "page_token is not valid",
            violations=[FieldViolation("page_token", "use the next_page_token of the same listing")],
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), item_id


def _fingerprint(scope: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(scope).encode()).hexdigest()[:16]
