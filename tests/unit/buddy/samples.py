"""Sample Buddy exports and webhook payloads shared by the buddy tests."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from services.buddy.domain.csv_schemas import SPECS

MATCH = {
    "match_id": "m-1",
    "participant_email": "Ada@Example.org",
    "participant_external_id": "bp-1",
    "participant_given_name": "Ada",
    "participant_family_name": "Lovelace",
    "buddy_email": "bob@example.org",
    "buddy_external_id": "bb-1",
    "buddy_given_name": "Bob",
    "buddy_family_name": "",
    "matched_at": "2026-01-05T09:00:00+01:00",
    "status": "active",
    "ended_at": "",
    "languages": "en, ar",
    "interests": "chess,cooking",
    "location": "Oslo",
}
EVENT = {
    "event_id": "e-1",
    "match_id": "m-1",
    "event_type": "hangout",
    "event_date": "2026-01-10",
    "description": "Coffee at the library",
    "location": "Oslo",
    "attendee_emails": "ada@example.org,bob@example.org",
}
CHECKIN = {
    "checkin_id": "c-1",
    "match_id": "m-1",
    "person_email": "ada@example.org",
    "checkin_date": "2026-01-12T18:00:00Z",
    "mood": "good",
    "notes": "We practised ordering food.",
    "question_responses": '{"How often did you meet?": "twice"}',
}
FEEDBACK = {
    "feedback_id": "f-1",
    "match_id": "m-1",
    "author_email": "bob@example.org",
    "submitted_at": "2026-01-20",
    "rating": "0.9",
    "feedback_text": "Ada is making great progress.",
    "communication": "1",
    "helpfulness": "0.75",
    "engagement": "",
}
ROWS = {"matches": MATCH, "events": EVENT, "checkins": CHECKIN, "feedback": FEEDBACK}
JSON_TYPES = {"rating": float, "communication": float, "helpfulness": float, "engagement": float}


def csv_of(kind: str, *rows: dict[str, str]) -> bytes:
    """A CSV export of `kind` with the schema's header and these rows (defaults to the sample row)."""
    names = [column.name for column in SPECS[kind].schema.columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, names, lineterminator="\r\n")
    writer.writeheader()
    for row in rows or (ROWS[kind],):
        writer.writerow({**ROWS[kind], **row})
    return out.getvalue().encode()


def data_of(kind: str, **changes: Any) -> dict[str, Any]:
    """The sample record of `kind` as webhook JSON (typed values, empty fields left out)."""
    data: dict[str, Any] = {}
    for name, value in ROWS[kind].items():
        if not value:
            continue
        if name in JSON_TYPES:
            data[name] = float(value)
        elif name in ("languages", "interests", "attendee_emails"):
            data[name] = [item.strip() for item in value.split(",")]
        elif name == "question_responses":
            data[name] = json.loads(value)
        else:
            data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def delivery(kind: str, delivery_id: str = "d-1", **changes: Any) -> bytes:
    """A webhook body for the sample record of `kind`."""
    return json.dumps({"delivery_id": delivery_id, "data": data_of(kind, **changes)}).encode()
