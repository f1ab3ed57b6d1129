"""CSV import schemas of the upskilling connector, chosen by the exact header set (order-free,
case-insensitive), and the conversion of valid rows into reports.

`completions` — schema `course_completion`:
  v1.0: provider, course_id, course_name, email, completed_at, external_id?, started_at?, final_score?
  v1.1: v1.0 plus percent_complete? (0-100, default 100), course_url? (http(s), ≤2000) and
        metadata? (JSON object as text, ≤2000)
`credentials` — schema `credential`:
  v1.0: provider, credential_id, credential_type, email, issued_at, external_id?, course_id?,
        course_name?, expires_at?, url?, verification_code?
Columns: provider = `ecornell`, `itslearning` or any other provider's name (1-100 chars, stored as a
generic provider); course_id, credential_id, external_id 1-255 chars; course_name 1-500;
email a valid address (≤255, lower-cased); *_at ISO 8601 date-time or YYYY-MM-DD (UTC when no zone);
final_score 0-100; credential_type certificate | badge | diploma | transcript; url http(s) ≤2000;
verification_code ≤255. `?` marks an optional column (the header must still name it).
A file may not repeat a record: (provider, course_id, email) for completions and
(provider, credential_id) for credentials; later repeats are quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from services.kit.connectors import csvimport
from services.kit.connectors.csvimport import Column, Parsed, Row, RowError, Schema
from services.upskilling.domain.model import (
    Course,
    CredentialReport,
    CredentialType,
    Learner,
    ProgressReport,
    ProgressStatus,
    Provider,
)
from services.upskilling.domain.payload import URL_PATTERN

COMPLETIONS = "completions"
CREDENTIALS = "credentials"


def provider(value: str) -> tuple[Provider, str]:
    """A provider column: a named provider, or any other name as a generic provider."""
    name = csvimport.text(100)(value).lower()
    if name in (Provider.ECORNELL, Provider.ITSLEARNING):
        return Provider(name), ""
    return Provider.GENERIC, name


def url(value: str) -> str:
    """An http(s) URL of at most 2000 characters."""
    if len(value) > 2000 or not URL_PATTERN.match(value):
        raise csvimport.FieldInvalid("must be an http(s) URL of at most 2000 characters")
    return value


_ID = csvimport.text(255)
_COMPLETION_V1_0 = (
    Column("provider", provider),
    Column("course_id", _ID),
    Column("course_name", csvimport.text(500)),
    Column("email", csvimport.email),
    Column("completed_at", csvimport.timestamp),
    Column("external_id", _ID, required=False),
    Column("started_at", csvimport.timestamp, required=False),
    Column("final_score", csvimport.number(0, 100), required=False),
)
COMPLETION_SCHEMAS = (
    Schema("course_completion", "1.0", _COMPLETION_V1_0),
    Schema(
        "course_completion",
        "1.1",
        (
            *_COMPLETION_V1_0,
            Column("percent_complete", csvimport.number(0, 100), required=False),
            Column("course_url", url, required=False),
            Column("metadata", csvimport.json_object(2000), required=False),
        ),
    ),
)
CREDENTIAL_SCHEMAS = (
    Schema(
        "credential",
        "1.0",
        (
            Column("provider", provider),
            Column("credential_id", _ID),
            Column("credential_type", csvimport.choice(*(t.value for t in CredentialType))),
            Column("email", csvimport.email),
            Column("issued_at", csvimport.timestamp),
            Column("external_id", _ID, required=False),
            Column("course_id", _ID, required=False),
            Column("course_name", csvimport.text(500), required=False),
            Column("expires_at", csvimport.timestamp, required=False),
            Column("url", url, required=False),
            Column("verification_code", _ID, required=False),
        ),
    ),
)
SCHEMAS = {COMPLETIONS: COMPLETION_SCHEMAS, CREDENTIALS: CREDENTIAL_SCHEMAS}


def checked(parsed: Parsed, kind: str) -> Parsed:
    """The parse result with cross-field faults and in-file repeats moved to the quarantine."""
    ordering, key_fields = (
        (("started_at", "completed_at"), ("provider", "course_id", "email"))
        if kind == COMPLETIONS
        else (("issued_at", "expires_at"), ("provider", "credential_id"))
    )
    valid: list[Row] = []
    invalid = list(parsed.invalid)
    first_seen: dict[tuple[Any, ...], int] = {}
    for row in parsed.valid:
        error = _out_of_order(row, *ordering) or _repeat(row, key_fields, first_seen)
        if error is None:
            valid.append(row)
        else:
            invalid.append(replace(row, errors=(error,)))
    return Parsed(parsed.schema, valid, sorted(invalid, key=lambda r: r.number))


def _out_of_order(row: Row, earlier: str, later: str) -> RowError | None:
    first, second = row.values.get(earlier), row.values.get(later)
    if first is None or second is None or second >= first:
        return None
    return RowError(row.number, later, f"must not be before {earlier}", row.raw[later])


def _repeat(row: Row, key_fields: tuple[str, ...], first_seen: dict[tuple[Any, ...], int]) -> RowError | None:
    key = tuple(row.values[name] for name in key_fields)
    if key not in first_seen:
        first_seen[key] = row.number
        return None
    message = f"duplicate ({', '.join(key_fields)}) in this file (first at row {first_seen[key]})"
    return RowError(row.number, key_fields[1], message, row.raw[key_fields[1]])


def _course(values: dict[str, Any]) -> Course:
    named, name = values["provider"]
    return Course(
        provider=named,
        provider_name=name,
        course_id=values.get("course_id") or "",
        course_name=values.get("course_name") or "",
        course_url=values.get("course_url") or "",
    )


def _learner(values: dict[str, Any]) -> Learner:
    return Learner(email=values["email"], external_id=values.get("external_id") or "")


def completion(values: dict[str, Any]) -> ProgressReport:
    """A completion row as a progress report."""
    return ProgressReport(
        course=_course(values),
        learner=_learner(values),
        status=ProgressStatus.COMPLETED,
        reported_at=values["completed_at"],
        percent=values.get("percent_complete"),
        started_at=values.get("started_at"),
        completed_at=values["completed_at"],
        final_score=values.get("final_score"),
        metadata=values.get("metadata"),
    )


def credential(values: dict[str, Any]) -> CredentialReport:
    """A credential row as a credential report."""
    return CredentialReport(
        course=_course(values),
        learner=_learner(values),
        credential_type=CredentialType(values["credential_type"]),
        external_credential_id=values["credential_id"],
        issued_at=values["issued_at"],
        expires_at=values.get("expires_at"),
        url=values.get("url") or "",
        verification_code=values.get("verification_code") or "",
    )


ROW_READERS: dict[str, Callable[[dict[str, Any]], ProgressReport | CredentialReport]] = {
    COMPLETIONS: completion,
    CREDENTIALS: credential,
}
