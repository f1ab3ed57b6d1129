"""Rows as each service's first revision stored them: what an old database holds before it upgrades.

Only the columns that carry meaning are written here; `filled` gives every other column of the
reflected first-revision table a plain value of its type, so each row fills the whole old schema.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

Rows = dict[str, list[dict[str, Any]]]
AT = datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)
LATER = AT + timedelta(days=3, hours=2)


def uid(n: int) -> str:
    return str(uuid.UUID(int=n))


def filled(table: sa.Table, n: int, given: dict[str, Any]) -> dict[str, Any]:
    """`given` plus a value for every other column of `table` (the n-th row: values differ per row)."""
    return {column.name: given[column.name] if column.name in given else _plain(column, n) for column in table.c}


def allowed_values(checks: list[Any], table: sa.Table) -> dict[str, Any]:
    """For a CHECK that lists the values of one column (`state IN ('a', 'b')` or PostgreSQL's ANY(ARRAY[...])),
    its last value (for signing keys `retired`, the one state several rows may share)."""
    values: dict[str, Any] = {}
    for check in checks:
        text = str(check["sqltext"])
        columns = [c.name for c in table.columns if re.search(rf"\b{c.name}\b", text)]
        quoted = re.findall(r"'([^']*)'", text)
        if len(columns) == 1 and quoted:
            values[columns[0]] = quoted[-1]
    return values


def _plain(column: sa.Column[Any], n: int) -> Any:
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return AT + timedelta(minutes=n)
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.Integer):
        return n + 1
    if isinstance(kind, sa.Float):
        return n + 0.5
    if isinstance(kind, sa.LargeBinary):
        return f"{column.name}-{n}".encode()
    if isinstance(kind, sa.String):
        return f"{n}-{column.name}"[: kind.length or None]
    raise TypeError(f"no plain value for {column.table.name}.{column.name} ({kind})")


def _person(role: str, email: str) -> dict[str, str]:
    return {f"{role}_email": email, f"{role}_given_name": "Ada", f"{role}_family_name": "Lovelace"}


def _events(event_type: str) -> Rows:
    envelope = b"\n$" + uid(900).encode() + b"\x12\x0bteei.events"
    return {
        "outbox": [
            {"event_id": uid(900), "event_type": event_type, "envelope": envelope, "published_at": LATER},
            {"event_id": uid(901), "event_type": event_type, "envelope": envelope, "published_at": None},
        ],
        "inbox": [{"consumer": "profile-projector", "event_id": uid(902), "processed_at": AT}],
    }


def _imports(kind: str) -> Rows:
    batch: dict[str, Any] = {"batch_id": uid(800), "company_id": "acme", "kind": kind, "schema": f"{kind}-csv"}
    batch |= {"schema_version": "1.0", "status": "completed_with_errors", "rows_total": 3, "rows_stored": 2}
    errors = json.dumps([{"row": 3, "column": "email", "message": "not an e-mail address"}])
    quarantined = {"batch_id": uid(800), "row_number": 3, "raw": json.dumps({"email": "nope"}), "errors": errors}
    return {"import_batches": [batch], "quarantined_rows": [quarantined]}


def _buddy_record(n: int, company: str) -> dict[str, Any]:
    return {"record_id": uid(n), "company_id": company, "external_id": f"b-{n}", "channel": "csv_import"}


def _attendees(*emails: str | None) -> str:
    people = [{"external_id": "x-1"} if email is None else {"email": email, "given_name": "A"} for email in emails]
    return json.dumps(people)


def buddy() -> Rows:
    match = _buddy_record(1, "acme") | _person("participant", " Ada@Example.org ") | _person("buddy", "bo@example.org")
    ended = _buddy_record(2, "globex") | _person("participant", "ada@example.org") | _person("buddy", "  ")
    return {
        "buddy_matches": [
            match | {"matched_at": AT, "status": "active", "languages": '["en", "de"]', "ended_at": None},
            ended | {"matched_at": AT, "status": "ended", "interests": '["chess"]', "ended_at": LATER},
        ],
        "buddy_events": [
            _buddy_record(3, "acme")
            | {
                "match_id": uid(1),
                "event_type": "hangout",
                "attendees": _attendees("ada@example.org", "ADA@example.org"),
            },
            _buddy_record(4, "acme") | {"match_id": uid(1), "attendees": _attendees("", None, "cy@example.org")},
            _buddy_record(5, "globex") | {"match_id": uid(2), "attendees": "[]"},
        ],
        "buddy_checkins": [
            _buddy_record(6, "acme")
            | {"match_id": uid(1), "side": "participant", "mood": "great", "answers": "{}"}
            | _person("person", "ada@example.org"),
        ],
        "buddy_feedback": [
            _buddy_record(7, "acme")
            | {"match_id": uid(1), "side": "buddy", "rating": 4.5, "text": "Lovely."}
            | _person("author", "Bo@Example.org")
            | {"communication": None, "helpfulness": 5.0},
        ],
        "buddy_webhook_deliveries": [
            {"company_id": "acme", "delivery_id": "d-1", "kind": "match", "record_id": uid(1)}
        ],
        **_imports("matches"),
        **_events("buddy.match.created"),
    }


def gateway() -> Rows:
    jwk = json.dumps({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"})
    key = {"algorithm": "ES256", "public_jwk": jwk, "sealed_private_key": b"\x01sealed", "created_at": AT}
    return {
        "signing_keys": [
            key | {"kid": "k-2026-01", "state": "retired", "activated_at": AT, "retired_at": LATER},
            key | {"kid": "k-2026-02", "state": "active", "activated_at": LATER, "retired_at": None},
            key | {"kid": "k-2026-03", "state": "next", "activated_at": None, "retired_at": None},
        ],
        "oauth_clients": [
            {"client_id": "acme-hris", "company_id": "acme", "role": "company_admin", "scopes": "profiles.read"}
            | {"secret_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "email": None, "disabled": False},
            {"client_id": "acme-old", "company_id": "acme", "role": "integration", "email": "ops@acme.example"}
            | {"disabled": True},
        ],
    }


def kintell() -> Rows:
    def session(n: int, company: str, participant: str, volunteer: str) -> dict[str, Any]:
        people = _person("participant", participant) | _person("volunteer", volunteer)
        return {"session_id": uid(n), "company_id": company, "external_session_id": f"k-{n}", **people}

    return {
        "kintell_sessions": [
            session(1, "acme", "Pia@Example.org", "vic@corp.example")
            | {"session_type": "language", "completed_at": LATER, "rating": 4.0, "metadata_json": '{"room": 3}'},
            session(2, "globex", "pia@example.org", "")
            | {"session_type": "mentorship", "completed_at": None, "duration_minutes": None, "rating": None},
        ],
        "kintell_ratings": [
            {"rating_id": uid(11), "company_id": "acme", "session_id": uid(1), "external_rating_id": "r-1"}
            | {"rater_role": "participant", "rating": 5.0, "feedback_text": "Great."},
            {"rating_id": uid(12), "company_id": "acme", "session_id": uid(1), "external_rating_id": None},
        ],
        "kintell_webhook_deliveries": [{"company_id": "acme", "delivery_id": "wh-1", "kind": "session.completed"}],
        **_imports("sessions"),
        **_events("kintell.session.completed"),
    }


def profile() -> Rows:
    return {
        "profiles": [
            {"profile_id": uid(1), "company_id": "acme", "email": "ada@example.org", "role": "participant"},
            {"profile_id": uid(2), "company_id": "acme", "email": "bo@example.org", "role": "volunteer"},
        ]
    }


def q2q() -> Rows:
    labels = json.dumps(["confidence", "belonging"])
    return {
        "q2q_classifications": [
            {"classification_id": uid(1), "company_id": "acme", "source_type": "buddy_feedback", "source_id": "f-1"}
            | {"profile_id": uid(50), "labels": labels, "method": "rules", "model_version": "rules-1"},
        ],
        "q2q_scores": [
            {"score_id": uid(2), "company_id": "acme", "classification_id": uid(1), "profile_id": uid(50)}
            | {"dimension": "confidence", "score": 0.75, "confidence": 0.9, "labels": labels, "note": ""},
            {"score_id": uid(3), "company_id": "acme", "classification_id": None, "profile_id": uid(50)}
            | {"source_type": None, "source_id": None, "method": "manual", "recorded_by": "coach@acme.example"},
        ],
        "q2q_evidence": [{"company_id": "acme", "evidence_hash": "e" * 64, "label": "confidence", "snippet": "I can"}],
        "q2q_score_evidence": [
            {"score_id": uid(2), "evidence_hash": "e" * 64, "start_offset": 0, "company_id": "acme", "end_offset": 5}
        ],
        "q2q_pending_texts": [
            {"company_id": "acme", "source_type": "kintell_feedback", "source_id": "k-1", "profile_id": uid(50)}
            | {"text": "held for review", "review_id": uid(60), "state": "held"},
        ],
        **_events("q2q.score.recorded"),
    }


def safety() -> Rows:
    return {
        "safety_flags": [
            {"flag_id": uid(1), "company_id": "acme", "source_text_id": "m-1", "source_text_type": "survey_response"}
            | {"findings": json.dumps([{"type": "insult"}]), "finding_types": "insult", "is_unsafe": True},
            {"flag_id": uid(2), "company_id": "acme", "source_text_id": None, "review_id": None, "is_unsafe": False},
        ],
        "safety_reviews": [{"review_id": uid(3), "company_id": "acme", "flag_id": uid(1), "status": "decided"}],
        "safety_review_actions": [
            {"action_id": 1, "review_id": uid(3), "decision": "confirmed", "reviewer": "reviewer@acme.example"}
        ],
        **_events("safety.flag.raised"),
    }


def upskilling() -> Rows:
    course = {"provider": "ecornell", "provider_name": "eCornell", "course_id": "c-101", "course_name": "Leading"}
    learner = {"email": "ada@example.org", "external_id": "l-1", "given_name": "Ada", "family_name": "Lovelace"}
    learner |= {"profile_id": uid(50)}
    return {
        "upskilling_progress": [
            {"progress_id": uid(1), "company_id": "acme", **course, **learner, "learner_key": "email:ada@example.org"}
            | {"status": "completed", "percent": 100.0, "started_at": AT, "completed_at": LATER, "final_score": None},
        ],
        "upskilling_credentials": [
            {"credential_id": uid(2), "company_id": "acme", "credential_key": "cert-1", **course, **learner}
            | {"credential_type": "certificate", "issued_at": LATER, "expires_at": None},
        ],
        "upskilling_webhook_deliveries": [
            {"company_id": "acme", "provider": "ecornell", "event_id": "ev-1", "event_type": "course.completed"}
        ],
        **_imports("completions"),
        **_events("upskilling.progress.updated"),
    }


FIRST_ROWS = {
    "buddy": buddy,
    "gateway": gateway,
    "kintell": kintell,
    "profile": profile,
    "q2q": q2q,
    "safety": safety,
    "upskilling": upskilling,
}
