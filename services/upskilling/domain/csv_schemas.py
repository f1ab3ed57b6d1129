"""CSV import schemas of the upskilling connector, chosen by the exact header set (order-free,
case-insensitive), as typed rows that know the report they make.

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
A file may not repeat a record: (course_id, provider, email) for completions and
(credential_id, provider) for credentials; later repeats are quarantined.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, model_validator

from services.kit.connectors import cells, payloads
from services.kit.connectors.cells import FieldInvalid
from services.kit.connectors.csvimport import Cell, Schema
from services.upskilling.domain.model import (
    Course,
    CredentialReport,
    CredentialType,
    Learner,
    ProgressReport,
    ProgressStatus,
    Provider,
)
from services.upskilling.domain.payload_types import MAX_URL, URL_PATTERN

COMPLETIONS = "completions"
CREDENTIALS = "credentials"


def provider(value: str) -> tuple[Provider, str]:
    """A provider column: a named provider, or any other name as a generic provider."""
    name = cells.text(100)(value).lower()
    if name in (Provider.ECORNELL, Provider.ITSLEARNING):
        return Provider(name), ""
    return Provider.GENERIC, name


def url(value: str) -> str:
    """An http(s) URL of at most 2000 characters."""
    if len(value) > MAX_URL or not URL_PATTERN.match(value):
        raise FieldInvalid(f"must be an http(s) URL of at most {MAX_URL} characters")
    return value


Id = Annotated[str, Cell(cells.line(255))]
OptionalId = Annotated[str | None, Cell(cells.line(255))]
Named = Annotated[tuple[Provider, str], Cell(provider)]
Email = Annotated[str, Cell(cells.email)]
When = Annotated[datetime, Cell(cells.timestamp)]
OptionalWhen = Annotated[datetime | None, Cell(cells.timestamp)]
Percent = Annotated[float | None, Cell(cells.number(0, 100))]
Url = Annotated[str | None, Cell(url)]


class UpskillingRow(BaseModel):
    """A valid row of an upskilling import."""

    model_config = ConfigDict(frozen=True)

    def report(self) -> ProgressReport | CredentialReport:
        """What the row reports."""
        raise NotImplementedError


def _in_order(first: datetime | None, then: datetime | None, *, earlier: str, later: str) -> None:
    if first is not None and then is not None and then < first:
        raise payloads.fault(f"must not be before {earlier}", field=later)


class CompletionRow(UpskillingRow):
    """`course_completion` v1.0: a completed course."""

    provider: Named
    course_id: Id
    course_name: Annotated[str, Cell(cells.text(500))]
    email: Email
    completed_at: When
    external_id: OptionalId = None
    started_at: OptionalWhen = None
    final_score: Percent = None

    @model_validator(mode="after")
    def _started_first(self) -> Self:
        _in_order(self.started_at, self.completed_at, earlier="started_at", later="completed_at")
        return self

    def course(self) -> Course:
        """The course completed."""
        named, name = self.provider
        return Course(named, name, self.course_id, self.course_name)

    def report(self) -> ProgressReport:
        """A completion row as a progress report."""
        return ProgressReport(
            course=self.course(),
            learner=Learner(email=self.email, external_id=self.external_id or ""),
            status=ProgressStatus.COMPLETED,
            reported_at=self.completed_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
            final_score=self.final_score,
        )


class CompletionRowV11(CompletionRow):
    """`course_completion` v1.1: v1.0 plus percent, course URL and metadata."""

    percent_complete: Percent = None
    course_url: Url = None
    metadata: Annotated[dict[str, object] | None, Cell(cells.json_object(2000))] = None

    def course(self) -> Course:
        """The course completed, with its URL."""
        named, name = self.provider
        return Course(named, name, self.course_id, self.course_name, self.course_url or "")

    def report(self) -> ProgressReport:
        """A completion row as a progress report, with its percent and metadata."""
        return replace(super().report(), percent=self.percent_complete, metadata=self.metadata)


class CredentialRow(UpskillingRow):
    """`credential` v1.0: a credential issued to a learner."""

    provider: Named
    credential_id: Id
    credential_type: Annotated[CredentialType, Cell(cells.choice(CredentialType))]
    email: Email
    issued_at: When
    external_id: OptionalId = None
    course_id: OptionalId = None
    course_name: Annotated[str | None, Cell(cells.text(500))] = None
    expires_at: OptionalWhen = None
    url: Url = None
    verification_code: OptionalId = None

    @model_validator(mode="after")
    def _issued_first(self) -> Self:
        _in_order(self.issued_at, self.expires_at, earlier="issued_at", later="expires_at")
        return self

    def report(self) -> CredentialReport:
        """A credential row as a credential report."""
        named, name = self.provider
        return CredentialReport(
            course=Course(named, name, self.course_id or "", self.course_name or ""),
            learner=Learner(email=self.email, external_id=self.external_id or ""),
            credential_type=self.credential_type,
            external_credential_id=self.credential_id,
            issued_at=self.issued_at,
            expires_at=self.expires_at,
            url=self.url or "",
            verification_code=self.verification_code or "",
        )


_COMPLETION_KEY = ("course_id", "provider", "email")
SCHEMAS: dict[str, tuple[Schema[UpskillingRow], ...]] = {
    COMPLETIONS: (
        Schema("course_completion", "1.0", CompletionRow, _COMPLETION_KEY),
        Schema("course_completion", "1.1", CompletionRowV11, _COMPLETION_KEY),
    ),
    CREDENTIALS: (Schema("credential", "1.0", CredentialRow, ("credential_id", "provider")),),
}
