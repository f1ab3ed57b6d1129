"""Page sizes and opaque page tokens of ListProfiles (keyset pagination by profile id)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from services.kit.errors import FieldViolation
from services.profile.domain.model import InvalidProfile

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_TOKEN_LENGTH = 512


def page_size(requested: int) -> int:
    """The page size to serve: default when 0, capped at MAX_PAGE_SIZE, refused when negative."""
    if requested < 0:
        raise InvalidProfile("page_size is invalid", violations=[FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _fingerprint(scope: tuple[str, ...]) -> str:
    # Binds a token to the tenant and filter it was issued for, so it cannot be replayed elsewhere.
    return hashlib.sha256("\x1f".join(scope).encode()).hexdigest()[:16]


def encode(after: str, *, scope: tuple[str, ...]) -> str:
    """An opaque token resuming after the profile id `after`."""
    raw = json.dumps({"a": after, "s": _fingerprint(scope)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, *, scope: tuple[str, ...]) -> str:
    """The profile id a token resumes after ('' for the first page); refuses foreign or forged tokens."""
    if not token:
        return ""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, fingerprint = data["a"], data["s"]
        if not isinstance(after, str) or fingerprint != _fingerprint(scope):
            raise ValueError("foreign token")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidProfile(
            "page_token is invalid", violations=[FieldViolation("page_token", "is not a token of this listing")]
        ) from None
    return after
