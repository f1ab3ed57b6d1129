"""Stable person ids: a profile's id is derived from its company and primary identity key, so every
service can name the same person without a call to the profile service (and without racing it)."""

from __future__ import annotations

import functools
import uuid

_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-5b7a-9a43-2f0d6c1e8b90")


def normalise_email(raw: str) -> str:
    """The primary identity key: trimmed and lower-cased."""
    return raw.strip().lower()


# An import names each person on many rows, and every row's person is derived for storage and events.
@functools.lru_cache(maxsize=65536)
def profile_id_for_email(company_id: str, email: str) -> str:
    """The profile id of the person with this e-mail in this company."""
    return str(uuid.uuid5(_NAMESPACE, f"{company_id}\x1femail\x1f{normalise_email(email)}"))


def profile_id_for_external(company_id: str, provider: str, external_id: str) -> str:
    """The profile id of a person first seen by a source's external id (no e-mail known)."""
    return str(uuid.uuid5(_NAMESPACE, f"{company_id}\x1f{provider.lower()}\x1f{external_id.strip()}"))
