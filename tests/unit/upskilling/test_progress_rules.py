"""Progress moves only forward, each change raises its events once, and a no-op stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.kit.connectors.model import Channel, Provenance
from services.upskilling.domain.events import CourseCompleted, CredentialIssued, ProgressUpdated
from services.upskilling.domain.model import (
    Course,
    CredentialReport,
    CredentialType,
    Learner,
    Progress,
    ProgressReport,
    ProgressStatus,
    Provider,
)
from services.upskilling.domain.progress import apply_credential, apply_progress

S = ProgressStatus
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
COURSE = Course(Provider.ECORNELL, "", "PY101", "Python")
ADA = Learner(email="ada@example.org")


def _report(status: ProgressStatus, percent: float | None = None, **extra: object) -> ProgressReport:
    return ProgressReport(COURSE, ADA, status, T1, percent, **extra)  # type: ignore[arg-type]


def _stored(status: ProgressStatus, percent: float) -> Progress:
    source = Provenance(Channel.WEBHOOK, T0, delivery_id="d0")
    outcome = apply_progress(None, ProgressReport(COURSE, ADA, status, T0, percent), company_id="acme", source=source)
    assert outcome.store is not None
    return outcome.store


def _apply(existing: Progress, report: ProgressReport) -> tuple[Progress | None, list[type], str]:
    outcome = apply_progress(
        existing, report, company_id="acme", source=Provenance(Channel.WEBHOOK, T1, delivery_id="d1")
    )
    return outcome.store, [type(e) for e in outcome.events], outcome.ignored


def test_a_first_completion_is_stored_with_both_events_and_completion_defaults() -> None:
    source = Provenance(Channel.WEBHOOK, T0, delivery_id="d0")
    outcome = apply_progress(None, ProgressReport(COURSE, ADA, S.COMPLETED, T0), company_id="acme", source=source)
    assert outcome.store is not None
    assert (outcome.store.percent, outcome.store.started_at, outcome.store.completed_at) == (100.0, T0, T0)
    assert [type(e) for e in outcome.events] == [ProgressUpdated, CourseCompleted]
    first = outcome.events[0]
    assert isinstance(first, ProgressUpdated)
    assert first.previous_status is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (S.ENROLLED, S.IN_PROGRESS),
        (S.ENROLLED, S.DROPPED),
        (S.IN_PROGRESS, S.DROPPED),
        (S.DROPPED, S.IN_PROGRESS),
        (S.DROPPED, S.ENROLLED),
    ],
)
def test_forward_moves_are_applied_with_one_progress_event(before: ProgressStatus, after: ProgressStatus) -> None:
    stored, events, ignored = _apply(_stored(before, 10), _report(after))
    assert stored is not None
    assert stored.status is after
    assert (events, ignored) == ([ProgressUpdated], "")


@pytest.mark.parametrize("before", [S.ENROLLED, S.IN_PROGRESS, S.DROPPED])
def test_completion_from_any_open_status_raises_course_completed_once(before: ProgressStatus) -> None:
    stored, events, _ = _apply(_stored(before, 40), _report(S.COMPLETED))
    assert stored is not None
    assert (stored.status, stored.percent, stored.completed_at) == (S.COMPLETED, 100.0, T1)
    assert events == [ProgressUpdated, CourseCompleted]


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (S.COMPLETED, S.IN_PROGRESS, "status completed does not move back to in_progress"),
        (S.COMPLETED, S.ENROLLED, "status completed does not move back to enrolled"),
        (S.COMPLETED, S.DROPPED, "status completed does not move back to dropped"),
        (S.IN_PROGRESS, S.ENROLLED, "status in_progress does not move back to enrolled"),
    ],
)
def test_backward_moves_are_ignored_with_a_reason(before: ProgressStatus, after: ProgressStatus, reason: str) -> None:
    assert _apply(_stored(before, 50), _report(after)) == (None, [], reason)


def test_a_lower_percent_in_the_same_status_is_ignored_as_stale() -> None:
    assert _apply(_stored(S.IN_PROGRESS, 60), _report(S.IN_PROGRESS, 40)) == (
        None,
        [],
        "percent 60 does not move back to 40",
    )


def test_a_higher_percent_is_a_progress_update() -> None:
    stored, events, _ = _apply(_stored(S.IN_PROGRESS, 40), _report(S.IN_PROGRESS, 70))
    assert stored is not None
    assert stored.percent == 70
    assert events == [ProgressUpdated]


def test_an_identical_report_stores_nothing() -> None:
    existing = _stored(S.IN_PROGRESS, 40)
    assert _apply(existing, _report(S.IN_PROGRESS, 40)) == (None, [], "")


def test_a_new_score_on_a_completed_course_is_stored_without_events() -> None:
    stored, events, ignored = _apply(_stored(S.COMPLETED, 100), _report(S.COMPLETED, final_score=87.5))
    assert stored is not None
    assert stored.final_score == 87.5
    assert (events, ignored) == ([], "")


def test_credentials_are_announced_once_and_updated_quietly() -> None:
    source = Provenance(Channel.CSV_IMPORT, T0, batch_id="b")
    report = CredentialReport(COURSE, ADA, CredentialType.BADGE, T0, external_credential_id="B-1")
    first = apply_credential(None, report, company_id="acme", source=source)
    assert [type(e) for e in first.events] == [CredentialIssued]
    assert first.store is not None
    assert apply_credential(first.store, report, company_id="acme", source=source).store is None
    changed = CredentialReport(
        COURSE, ADA, CredentialType.BADGE, T0, external_credential_id="B-1", url="https://x.example"
    )
    updated = apply_credential(first.store, changed, company_id="acme", source=source)
    assert updated.store is not None
    assert updated.events == ()
