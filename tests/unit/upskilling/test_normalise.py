"""Each provider's payload shapes normalise into the one model; malformed payloads name their bad fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.kit.connectors import payloads
from services.upskilling.domain import webhooks
from services.upskilling.domain.errors import InvalidWebhook
from services.upskilling.domain.model import CredentialType, Delivery, ProgressStatus, Provider
from tests.unit.upskilling import support

S = ProgressStatus


def _normalise(provider: Provider, data: dict[str, Any]) -> Delivery:
    return webhooks.normalise(provider, support.body(data))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


EC, IT, G = Provider.ECORNELL, Provider.ITSLEARNING, Provider.GENERIC
START_E, START_G = "2026-02-20T09:00:00Z", "2026-01-05T08:00:00Z"
Expected = tuple[ProgressStatus, float | None, str | None, str | None]
PROGRESS_CASES: list[tuple[Provider, dict[str, Any], Expected]] = [
    (EC, support.ecornell("enrollment.created"), (S.ENROLLED, None, None, None)),
    (EC, support.ecornell("course.started"), (S.IN_PROGRESS, 35.0, START_E, None)),
    (EC, support.ecornell("course.completed"), (S.COMPLETED, 100.0, START_E, "2026-03-01T09:30:00Z")),
    (IT, support.itslearning("CourseEnrollment"), (S.ENROLLED, None, None, None)),
    (IT, support.itslearning("CourseProgress"), (S.IN_PROGRESS, 60.5, "2026-02-01", None)),
    (IT, support.itslearning("CourseCompletion"), (S.COMPLETED, 100.0, "2026-02-01", "2026-02-28T16:00:00Z")),
    (G, support.generic("enrolled", progress_percent=0), (S.ENROLLED, 0.0, START_G, None)),
    (G, support.generic("in_progress"), (S.IN_PROGRESS, 20.0, START_G, None)),
    (G, support.generic("completed"), (S.COMPLETED, 100.0, START_G, "2026-02-15T08:00:00Z")),
    (G, support.generic("dropped"), (S.DROPPED, 20.0, START_G, None)),
]


@pytest.mark.parametrize(("provider", "data", "expected"), PROGRESS_CASES)
def test_progress_events_normalise_status_percent_and_dates(
    provider: Provider, data: dict[str, Any], expected: Expected
) -> None:
    status, percent, started, completed = expected
    delivery = _normalise(provider, data)
    report = delivery.progress
    assert report is not None
    assert (report.status, report.percent) == (status, percent)
    assert report.started_at == (_at(started) if started else None)
    assert report.completed_at == (_at(completed) if completed else None)
    assert report.course.provider is provider
    assert delivery.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("provider", "data", "expected"),
    [
        (EC, support.ecornell("course.started"), ("ec-1", "ada@example.org", "u-42", "", "PY101")),
        (IT, support.itslearning("CourseProgress"), ("it-1", "grace@example.org", "7781", "", "MATH-2")),
        (G, support.generic("in_progress"), ("g-1", "linus@example.org", "", "coursera", "ml-1")),
    ],
)
def test_identity_of_learner_course_and_delivery_is_normalised(
    provider: Provider, data: dict[str, Any], expected: tuple[str, ...]
) -> None:
    delivery = _normalise(provider, data)
    assert delivery.progress is not None
    learner, course = delivery.progress.learner, delivery.progress.course
    found = (delivery.event_id, learner.email, learner.external_id, course.provider_name, course.course_id)
    assert found == expected


def test_ecornell_carries_names_and_course_url() -> None:
    report = _normalise(Provider.ECORNELL, support.ecornell("enrollment.created")).progress
    assert report is not None
    assert (report.learner.given_name, report.learner.family_name) == ("Ada", "Lovelace")
    assert (report.course.course_name, report.course.course_url) == ("Python Basics", "https://ecornell.example/py101")


def test_generic_external_identifier_and_metadata() -> None:
    report = _normalise(Provider.GENERIC, support.generic("in_progress", user_identifier="emp-0042")).progress
    assert report is not None
    assert (report.learner.email, report.learner.external_id) == ("", "emp-0042")
    assert report.metadata == {"cohort": "2026-Q1", "hours": 12}


@pytest.mark.parametrize(
    ("provider", "data", "external_id", "url", "issued"),
    [
        (
            Provider.ECORNELL,
            support.ecornell("certificate.issued"),
            "CERT-9",
            "https://ecornell.example/c/9",
            "2026-03-02T00:00:00Z",
        ),
        (
            Provider.ITSLEARNING,
            support.itslearning("CourseCompletion"),
            "",
            "https://itslearning.example/cert/1",
            "2026-02-28T16:00:00Z",
        ),
    ],
)
def test_certificates_normalise_into_credentials(
    provider: Provider, data: dict[str, Any], external_id: str, url: str, issued: str
) -> None:
    credential = _normalise(provider, data).credential
    assert credential is not None
    assert credential.credential_type is CredentialType.CERTIFICATE
    assert (credential.external_credential_id, credential.url, credential.issued_at) == (external_id, url, _at(issued))


def test_ecornell_certificate_without_progress_status_reports_no_progress() -> None:
    delivery = _normalise(Provider.ECORNELL, support.ecornell("certificate.issued"))
    assert delivery.progress is None


def test_a_progress_event_without_a_certificate_reports_no_credential() -> None:
    assert _normalise(Provider.ITSLEARNING, support.itslearning("CourseProgress")).credential is None


@pytest.mark.parametrize(
    ("provider", "data", "fields"),
    [
        (Provider.ECORNELL, support.ecornell("course.finished"), ["event_type"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", event_id=""), ["event_id"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", timestamp="yesterday"), ["timestamp"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", user={"email": "nope"}), ["user.email"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", user=None), ["user"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", user={"names": {}}), ["user.email"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", course={"name": "x"}), ["course.id"]),
        (Provider.ECORNELL, support.ecornell("enrollment.created", course="PY101"), ["course"]),
        (Provider.ECORNELL, support.ecornell("certificate.issued", certificate=None), ["certificate"]),
        (
            Provider.ECORNELL,
            support.ecornell("course.started", progress={"status": "completed"}),
            ["progress.status"],
        ),
        (
            Provider.ECORNELL,
            support.ecornell("course.started", progress={"percent_complete": 140}),
            ["progress.percent_complete"],
        ),
        (
            Provider.ECORNELL,
            support.ecornell("course.started", progress={"percent_complete": True}),
            ["progress.percent_complete"],
        ),
        (
            Provider.ECORNELL,
            support.ecornell("course.completed", progress={"started_at": "2026-03-02", "completed_at": "2026-03-01"}),
            ["progress.completed_at"],
        ),
        (
            Provider.ECORNELL,
            support.ecornell("enrollment.created", course={"id": "x", "url": "ftp://x"}),
            ["course.url"],
        ),
        (Provider.ITSLEARNING, support.itslearning("CourseStarted"), ["eventType"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", userId=None, userEmail=None), ["userEmail"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", progressPercentage=-1), ["progressPercentage"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", status="paused"), ["status"]),
        (Provider.ITSLEARNING, support.itslearning("CourseEnrollment", status="Completed"), ["status"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", courseId=["x"]), ["courseId"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", courseName="x" * 501), ["courseName"]),
        (Provider.ITSLEARNING, support.itslearning("CourseProgress", eventId="a\nb"), ["eventId"]),
        (Provider.GENERIC, support.generic("in_progress", provider=None), ["provider"]),
        (Provider.GENERIC, support.generic("in_progress", user_identifier="bad@"), ["user_identifier"]),
        (Provider.GENERIC, support.generic("in_progress", user_identifier=""), ["user_identifier"]),
        (Provider.GENERIC, support.generic("", course_id=None), ["course_id", "status"]),
        (Provider.GENERIC, support.generic("in_progress", metadata=[1]), ["metadata"]),
        (Provider.GENERIC, support.generic("in_progress", metadata={"k": "v" * 9000}), ["metadata"]),
        (Provider.GENERIC, support.generic("in_progress", progress_percent="50"), ["progress_percent"]),
    ],
)
def test_malformed_payloads_are_refused_naming_each_field(
    provider: Provider, data: dict[str, Any], fields: list[str]
) -> None:
    with pytest.raises(InvalidWebhook) as refused:
        _normalise(provider, data)
    assert [v.field for v in refused.value.violations] == fields


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        (b"", "is empty"),
        (b"{" + b" " * payloads.MAX_BYTES + b"}", "larger"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event_id": "a", "event_id": "b"}', "duplicate key"),
        (b'{"progress_percent": NaN}', "not valid JSON"),
    ],
)
def test_bodies_that_are_not_one_json_object_are_refused(raw: bytes, description: str) -> None:
    with pytest.raises(InvalidWebhook, match=description) as refused:
        webhooks.normalise(Provider.GENERIC, raw)
    assert [v.field for v in refused.value.violations] == ["body"]


def test_fields_beyond_the_documented_shape_are_ignored() -> None:
    data = support.itslearning("CourseProgress", attempt=3, extra={"anything": True})
    assert _normalise(Provider.ITSLEARNING, data).progress is not None
    assert json.loads(support.body(data))["attempt"] == 3
