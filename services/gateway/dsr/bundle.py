"""The export bundle: one section per service (its records as canonical JSON) and a manifest naming the
request, the subject and the SHA-256 of every section, so a recipient can check nothing was altered."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.gateway.domain.privacy import PrivacyRequest
from services.gateway.repository import Section


def canonical(value: object) -> bytes:
    """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8, whole numbers without a fraction
    (JSON has one number type: `45` and `45.0` are the same value, and transports write either)."""
    return json.dumps(_whole(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def section(service: str, records: Mapping[str, Any]) -> Section:
    """One service's section and its digest."""
    body = canonical(records)
    return Section(service, body, hashlib.sha256(body).hexdigest())


def build(request: PrivacyRequest, sections: Sequence[Section], *, generated_at: datetime) -> dict[str, Any]:
    """The bundle of a completed export: the manifest and each service's records."""
    subject = request.subject
    manifest = {
        "request_id": request.request_id,
        "company_id": subject.company_id,
        "subject": {"profile_id": subject.profile_id, "email": subject.email},
        "generated_at": generated_at.isoformat(),
        "format": "teei.privacy.export/v1",
        "sections": [
            {"service": s.service, "sha256": s.sha256, "records": _count(json.loads(s.body))} for s in sections
        ],
    }
    return {"manifest": manifest, "sections": {s.service: json.loads(s.body) for s in sections}}


def verify(bundle: Mapping[str, Any]) -> list[str]:
    """Services whose section does not match the digest in the manifest (none for an intact bundle)."""
    digests = {entry["service"]: entry["sha256"] for entry in bundle["manifest"]["sections"]}
    sections = bundle["sections"]
    return sorted(
        name
        for name in set(digests) | set(sections)
        if name not in sections or hashlib.sha256(canonical(sections[name])).hexdigest() != digests.get(name)
    )


def _whole(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def _count(records: Mapping[str, Any]) -> int:
    return sum(len(rows) for rows in records.values() if isinstance(rows, list))
